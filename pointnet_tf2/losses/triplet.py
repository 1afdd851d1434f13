"""Triplet loss for metric learning, written with `keras.ops` (any Keras backend).

Triplets are mined inside each batch from its labels, so batches should hold
several shapes of each of several classes: use
`pointnet_tf2.data.samplers.ClassBalancedSampler` (P classes x K shapes).

- batch-all: every valid triplet (anchor a, positive p of a's class, p != a,
  negative n of another class) contributes `max(d(a, p) - d(a, n) + margin, 0)`;
  the loss is their mean over the *active* (non-zero) triplets, as in Hermans
  et al., "In defense of the triplet loss" (2017), so easy triplets do not
  dilute the gradient. Zero when every triplet meets the margin.
- batch-hard: for every anchor, its farthest positive and nearest negative:
  `max(max_p d(a, p) - min_n d(a, n) + margin, 0)`, averaged over the anchors
  that have both a positive and a negative.
"""

import keras
from keras import ops

DISTANCES = ("l2", "cosine")
MINING = ("batch_all", "batch_hard")


def pairwise_distances(embeddings, distance="l2"):
    """All pairwise distances of a batch of embeddings.

    Args:
        embeddings: `(B, D)` tensor.
        distance: 'l2' (Euclidean; its gradient at zero distance is taken as
            0) or 'cosine' (`1 - cos(angle)`, in [0, 2]).

    Returns:
        float32 `(B, B)` tensor.

    Raises:
        ValueError: On an unknown distance.
    """
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    x = ops.cast(embeddings, "float32")
    if distance == "cosine":
        x = x / ops.maximum(ops.norm(x, axis=1, keepdims=True), 1e-12)
        return 1.0 - ops.matmul(x, ops.transpose(x))
    squares = ops.sum(x * x, axis=1)
    d2 = ops.maximum(ops.expand_dims(squares, 1) - 2.0 * ops.matmul(x, ops.transpose(x)) + ops.expand_dims(squares, 0), 0.0)
    zero = ops.cast(d2 <= 1e-12, "float32")
    # sqrt of 0 has an infinite gradient: take it at 1 where the distance is 0, then mask.
    return ops.sqrt(d2 + zero) * (1.0 - zero)


def triplet_loss(labels, embeddings, *, margin=0.2, distance="l2", mining="batch_hard"):
    """The triplet loss of one batch (see the module docstring).

    Args:
        labels: `(B,)` or `(B, 1)` integer class labels.
        embeddings: `(B, D)` embeddings.
        margin: The margin (>= 0).
        distance: 'l2' or 'cosine'.
        mining: 'batch_all' or 'batch_hard'.

    Returns:
        A float32 scalar tensor (0 when the batch has no valid triplet).

    Raises:
        ValueError: On a bad option.
    """
    if mining not in MINING:
        raise ValueError(f"mining must be one of {MINING}, got {mining!r}")
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    d = pairwise_distances(embeddings, distance)
    same = ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
    eye = ops.cast(ops.eye(ops.shape(labels)[0]), "bool")
    positive = ops.cast(ops.logical_and(same, ops.logical_not(eye)), "float32")
    negative = ops.cast(ops.logical_not(same), "float32")
    if mining == "batch_all":
        # (a, p, n) cube of d(a, p) - d(a, n) + margin over valid triplets.
        cube = ops.expand_dims(d, 2) - ops.expand_dims(d, 1) + margin
        valid = ops.expand_dims(positive, 2) * ops.expand_dims(negative, 1)
        losses = ops.relu(cube) * valid
        active = ops.sum(ops.cast(losses > 1e-16, "float32"))
        return ops.sum(losses) / ops.maximum(active, 1.0)
    hardest_positive = ops.max(d * positive, axis=1)
    large = ops.max(d) + 1.0
    hardest_negative = ops.min(d + large * (1.0 - negative), axis=1)
    valid = ops.cast(ops.logical_and(ops.max(positive, axis=1) > 0, ops.max(negative, axis=1) > 0), "float32")
    losses = ops.relu(hardest_positive - hardest_negative + margin) * valid
    return ops.sum(losses) / ops.maximum(ops.sum(valid), 1.0)


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class TripletLoss(keras.losses.Loss):
    """Keras loss: `triplet_loss(y_true labels, y_pred embeddings)` per batch.

    The value is already a batch mean (a scalar), so sample weights are not
    supported.

    Example:

    ```python
    model = get_model("pointnet_embed", embedding_dim=128)
    model.compile("adam", loss=TripletLoss(margin=0.2, mining="batch_hard"))
    model.fit(PointCloudSequence(path, sampler=ClassBalancedSampler(8, 4)), epochs=50)
    ```

    Args:
        margin: The margin (>= 0).
        distance: 'l2' or 'cosine'.
        mining: 'batch_all' or 'batch_hard'.
        name: Loss name.

    Raises:
        ValueError: On a bad option, quoting it.
    """

    def __init__(self, margin=0.2, distance="l2", mining="batch_hard", name="triplet_loss", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum", **kwargs)
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
            raise ValueError(f"TripletLoss: margin must be a number >= 0, got {margin!r}")
        if distance not in DISTANCES:
            raise ValueError(f"TripletLoss: distance must be one of {DISTANCES}, got {distance!r}")
        if mining not in MINING:
            raise ValueError(f"TripletLoss: mining must be one of {MINING}, got {mining!r}")
        self.margin, self.distance, self.mining = float(margin), distance, mining

    def call(self, y_true, y_pred):
        return triplet_loss(y_true, y_pred, margin=self.margin, distance=self.distance, mining=self.mining)

    def get_config(self):
        return {"name": self.name, "margin": self.margin, "distance": self.distance, "mining": self.mining}
