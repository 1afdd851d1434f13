"""Batch samplers for `PointCloudSequence(sampler=...)`.

`ClassBalancedSampler` builds every batch from P classes x K clouds, the
batches metric-learning losses (triplet loss with batch-hard or batch-all
mining) need: every anchor has positives and negatives in its batch.
"""

import numpy as np

from pointnet_tf2.data.checks import check_non_negative_int
from pointnet_tf2.data.checks import check_positive_int


class ClassBalancedSampler:
    """Batches of `classes_per_batch` classes x `shapes_per_class` clouds.

    Every batch draws P distinct classes (with replacement only when the
    data has fewer than P classes), then K clouds of each (without replacement
    when the class has at least K clouds). The order of an epoch depends only
    on (seed, epoch).

    Example:

    ```python
    sampler = ClassBalancedSampler(classes_per_batch=8, shapes_per_class=4)
    train = PointCloudSequence(path, num_points=1024, sampler=sampler)   # batches of 32
    ```

    Args:
        classes_per_batch: P (>= 1; >= 2 for a triplet loss to have negatives).
        shapes_per_class: K (>= 1; >= 2 for positives).
        seed: Seed of the draws.
        batches_per_epoch: Batches per epoch; default: clouds // (P * K), at least 1.
        labels: Per-cloud labels (the sequence passes them through `bind`).

    Raises:
        ValueError: On a bad argument.
    """

    def __init__(self, classes_per_batch=8, shapes_per_class=4, *, seed=0, batches_per_epoch=None, labels=None):
        self.classes_per_batch = check_positive_int("ClassBalancedSampler: classes_per_batch", classes_per_batch)
        self.shapes_per_class = check_positive_int("ClassBalancedSampler: shapes_per_class", shapes_per_class)
        self.seed = check_non_negative_int("ClassBalancedSampler: seed", seed)
        self.batches_per_epoch = None
        if batches_per_epoch is not None:
            self.batches_per_epoch = check_positive_int("ClassBalancedSampler: batches_per_epoch", batches_per_epoch)
        self.labels = None
        if labels is not None:
            labels = np.asarray(labels)
            if labels.ndim != 1 or len(labels) == 0 or labels.dtype.kind not in "iu":
                raise ValueError(f"ClassBalancedSampler: labels must be a non-empty 1-D integer array, got shape {labels.shape}")
            self.labels = labels.astype(np.int64)
            self._classes = np.unique(self.labels)
            self._members = [np.flatnonzero(self.labels == c) for c in self._classes]

    @property
    def batch_size(self):
        """P * K."""
        return self.classes_per_batch * self.shapes_per_class

    def bind(self, labels):
        """Returns a copy of this sampler over the given per-cloud labels."""
        return ClassBalancedSampler(self.classes_per_batch, self.shapes_per_class, seed=self.seed,
                                    batches_per_epoch=self.batches_per_epoch, labels=labels)

    def __len__(self):
        if self.batches_per_epoch is not None:
            return self.batches_per_epoch
        if self.labels is None:
            raise ValueError("ClassBalancedSampler: no labels bound yet (pass it to a PointCloudSequence)")
        return max(1, len(self.labels) // self.batch_size)

    def epoch_order(self, epoch):
        """Returns the positions of one epoch's clouds, `len(self) * batch_size` of them, batch after batch."""
        if self.labels is None:
            raise ValueError("ClassBalancedSampler: no labels bound yet (pass it to a PointCloudSequence)")
        rng = np.random.default_rng([self.seed, 7, int(epoch)])
        p, k = self.classes_per_batch, self.shapes_per_class
        num_classes = len(self._classes)
        batches = []
        for _ in range(len(self)):
            chosen = rng.choice(num_classes, size=p, replace=num_classes < p)
            for c in chosen:
                members = self._members[c]
                batches.append(rng.choice(members, size=k, replace=len(members) < k))
        return np.concatenate(batches).astype(np.int64)

    def __repr__(self):
        return (f"ClassBalancedSampler(classes_per_batch={self.classes_per_batch}, "
                f"shapes_per_class={self.shapes_per_class}, seed={self.seed})")
