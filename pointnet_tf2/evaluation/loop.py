"""The one prediction loop: votes, test rotations, voxel inputs, batching, running the model.

Evaluation (`pointnet_tf2.evaluation.predict_split`), retrieval
(`pointnet_tf2.retrieval.compute_features`) and prediction on one's own
clouds (`pointnet_tf2.inference.predict`) all run a model through a
`PredictionLoop`. They differ only in where the points come from, each an
option of the loop:

- a dataset split (`PredictionLoop.predict_split`): the stored clouds as
  `PointCloudSequence` serves a split for evaluation (the first `num_points`
  stored points of each cloud, as the original's `evaluate.py`; a seeded
  subset for a hold-out of the training split), optionally turned first by a
  test rotation protocol ('z' or 'so3', seeded by `seed`; see
  `pointnet_tf2.rotations`), with the object category of part segmentation
  shapes as the model's second input;
- one's own clouds of any size (`PredictionLoop.run`, driven by the task's
  `predict_clouds`): random subsets of `num_points` points, or chunks that
  cover every point, drawn anew for every vote.

Votes: pass `v` of `V` turns the points about the up axis by `2 pi v / V`
(`rotate_votes`; not for semantic segmentation, whose block features are not
rotation-invariant) and the outputs of the passes are averaged by the caller.
Voxel models get the (turned) points voxelised with their own `resolution`
and `inner` (`pointnet_tf2.data.voxels.Voxelize`), or read a dataset's stored
grids of their size (then there is nothing to turn: one vote, no test
rotation). Inputs are run in batches of `batch_size` with the model's
compiled `predict_on_batch` (traced once for any batch size); any other
callable `f(inputs, training=False)` works too.
"""

import keras
import numpy as np

from pointnet_tf2.data.augment import rotate_up
from pointnet_tf2.data.augment import rotation_augmentation
from pointnet_tf2.data.sequence import PointCloudSequence
from pointnet_tf2.data.voxels import Voxelize
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.data.checks import check_int
from pointnet_tf2.utils.progress import Progress


def input_transform(model):
    """The batch transform turning point batches into a model's inputs, or None.

    Args:
        model: A model of the zoo (or any model: points in).

    Returns:
        A `Voxelize` with the builder's `resolution` and `inner` for voxel
        models, None for point models.
    """
    if model_kinds(model)[0] != "voxels":
        return None
    config = model.builder_config
    return Voxelize(config["resolution"], config["inner"])


class PredictionLoop:
    """Runs a model over batches of clouds: votes, rotations, voxelising, batching.

    Args:
        model: The model (its kind picks the input transform: voxel models
            get occupancy grids).
        num_votes: Passes `V` whose outputs the caller averages.
        up_axis: The axis votes turn the points about (1 = y, 2 = z).
        rotate_votes: Whether vote `v` turns the points by `2 pi v / V`.
        batch_size: Samples per model call.
        outputs: Optional model with the same inputs whose outputs the loop
            gives instead of the model's (e.g. a layer's features for retrieval).

    Raises:
        ValueError: If `num_votes` or `batch_size` is not a positive integer.
    """

    def __init__(self, model, *, num_votes=1, up_axis=1, rotate_votes=True, batch_size=32, outputs=None):
        self.model = model
        self.num_votes = check_int("num_votes", num_votes, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.up_axis = up_axis
        self.rotate_votes = bool(rotate_votes)
        self.transform = input_transform(model)
        self.runner = model if outputs is None else outputs

    @property
    def name(self):
        """The model's name."""
        return getattr(self.model, "name", type(self.model).__name__)

    @property
    def input_shapes(self):
        """The model's input shapes by name (empty for a plain callable)."""
        return {tensor.name: tuple(tensor.shape) for tensor in getattr(self.model, "inputs", None) or []}

    @property
    def output_names(self):
        """The names of the model's outputs when it gives a dict of them, else ()."""
        output = getattr(self.model, "output", None)
        return tuple(output) if isinstance(output, dict) else ()

    # -- running --------------------------------------------------------------------------

    def run(self, inputs, *, vote=0, grids=False):
        """The model's outputs for a batch of samples, turned for vote `vote`.

        Args:
            inputs: (S, N, C) points, a dict of inputs with "points" (and,
                for part segmentation, the one-hot "category"), or a list of
                (N_i, C) clouds of different sizes (for a model of any N).
            vote: The vote index `v` (turned by `2 pi v / num_votes` if
                `rotate_votes`).
            grids: The inputs are occupancy grids already (stored grids of a
                voxel dataset): fed as they are.

        Returns:
            float64 outputs (a dict for multi-output models): (S, ...) for
            an array or a dict of inputs; for a list, a list of per-cloud
            outputs without the batch axis (an (S, ...) array for voxel models,
            whose grids have one size).
        """
        if isinstance(inputs, list):
            if self.transform is not None and not grids:
                return self._call(np.concatenate([self._prepare(np.asarray(c)[None], vote, False) for c in inputs]))
            return [_first(self._call(self._prepare(np.asarray(c)[None], vote, grids))) for c in inputs]
        return self._call(self._prepare(inputs, vote, grids))

    def _prepare(self, inputs, vote, grids):
        if grids:
            return inputs
        points = inputs["points"] if isinstance(inputs, dict) else inputs
        if self.rotate_votes and vote % self.num_votes:
            points = rotate_up(points, 2.0 * np.pi * vote / self.num_votes, axis=self.up_axis)
        if isinstance(inputs, dict):
            return dict(inputs, points=points)
        if self.transform is not None:
            return self.transform(points, None)[0]
        return points

    def _call(self, inputs):
        count = len(inputs["points"] if isinstance(inputs, dict) else inputs)
        outputs = []
        for start in range(0, count, self.batch_size):
            if isinstance(inputs, dict):
                batch = {key: _contiguous(value[start:start + self.batch_size]) for key, value in inputs.items()}
            else:
                batch = _contiguous(inputs[start:start + self.batch_size])
            if isinstance(self.runner, keras.Model):
                out = self.runner.predict_on_batch(batch)
            else:
                out = self.runner(batch, training=False)
            outputs.append({k: np.asarray(v, np.float64) for k, v in out.items()} if isinstance(out, dict)
                           else np.asarray(out, np.float64))  # fmt: skip
        if isinstance(outputs[0], dict):
            return {key: np.concatenate([out[key] for out in outputs]) for key in outputs[0]}
        return np.concatenate(outputs)

    # -- a dataset split ---------------------------------------------------------------------

    def split_batches(self, description, *, split="test", num_points=None, rotation="none", seed=0, indices=None,
                      channels=None, keep_points=False):  # fmt: skip
        """The batches of a split as the model takes them.

        Args:
            description: The `DatasetDescription`.
            split: The split.
            num_points: Points per cloud (None: all stored).
            rotation: 'none', 'z' or 'so3': turn every cloud randomly first.
            seed: Seed of the rotations (and of a hold-out's point subsets).
            indices: Positions within the split (None: all).
            channels: Channels of the stored points to keep (None: all).
            keep_points: Also give the clouds' points (voxel models on stored grids read them apart).

        Yields:
            `(inputs, targets, grids, points)`: `grids` says the inputs are
            stored occupancy grids; `points` is the batch's clouds (with
            `keep_points`) or None.

        Raises:
            ValueError: If the split is unknown, or votes or rotations are
                asked of a voxel model reading stored grids.
        """
        if split not in description.splits:
            raise ValueError(f"{description.root}: no {split!r} split (it has {', '.join(description.splits)})")
        common = dict(batch_size=self.batch_size, num_points=num_points, split=split, shuffle=False, seed=seed,
                      indices=indices)  # fmt: skip
        stored = self.transform is not None and description.voxel_resolution is not None
        clouds = None
        if stored:
            if self.num_votes != 1 or rotation != "none":
                raise ValueError(f"{description.root}: the voxel model reads the stored grids; votes and test rotations "
                                 "turn points (use num_votes 1 and rotation 'none')")  # fmt: skip
            sequence = PointCloudSequence(description, augment=False, inputs="voxels", voxelize=self.transform, **common)
            if keep_points:
                clouds = PointCloudSequence(description, augment=False, channels=channels, **common)
        else:
            augment = rotation_augmentation(rotation, up_axis=description.up_axis, seed=seed) or False
            sequence = PointCloudSequence(description, augment=augment, channels=channels, **common)
        for index in range(len(sequence)):
            inputs, targets = sequence[index]
            points = None
            if keep_points:
                points = clouds[index][0] if clouds is not None else (inputs["points"] if isinstance(inputs, dict) else inputs)
            yield inputs, targets, stored, points

    def predict_split(self, description, task, *, keep_points=False, progress=False, **options):
        """Outputs of every cloud of a split, averaged over the votes, in split order.

        Args:
            description: The `DatasetDescription`.
            task: The dataset's `Task` (it picks the logits among the outputs).
            keep_points: Also return the clouds' points.
            progress: Show a progress line on stderr (`pointnet_tf2.utils.progress`).
            **options: Of `split_batches` (split, num_points, rotation, seed,
                indices, channels).

        Returns:
            A dict with "outputs" (float32), "labels", for part segmentation
            "categories" (the ground-truth object category), and with
            `keep_points` "points".
        """
        outputs, labels, categories, clouds = [], [], [], []
        split = options.get("split", "test")
        indices = options.get("indices")
        votes = f", {self.num_votes} votes" if self.num_votes > 1 else ""
        bar = Progress(len(indices) if indices is not None else description.splits.get(split), f"{split}{votes}",
                       unit=getattr(task, "sample_unit", ""), enabled=progress)  # fmt: skip
        with bar:
            for inputs, targets, grids, points in self.split_batches(description, keep_points=keep_points, **options):
                total = None
                for vote in range(self.num_votes):
                    out = np.asarray(task.logits_of(self.run(inputs, vote=vote, grids=grids)), dtype=np.float64)
                    total = out if total is None else total + out
                outputs.append((total / self.num_votes).astype(np.float32))
                batch_labels, batch_categories = task.split_targets(targets)
                labels.append(np.asarray(batch_labels))
                if batch_categories is not None:
                    categories.append(np.asarray(batch_categories))
                if keep_points:
                    clouds.append(points)
                bar.update(len(outputs[-1]))
        result = {"outputs": np.concatenate(outputs), "labels": np.concatenate(labels)}
        if categories:
            result["categories"] = np.concatenate(categories)
        if keep_points:
            result["points"] = np.concatenate(clouds)
        return result


def _contiguous(array):
    return np.ascontiguousarray(array, dtype=np.float32)


def _first(outputs):
    return {key: value[0] for key, value in outputs.items()} if isinstance(outputs, dict) else outputs[0]
