"""Rotation protocols of the rotation-robustness literature: z/z, z/SO3, SO3/SO3.

A protocol `train/test` trains with random rotations of one kind and tests
with another:

- 'none': no rotation;
- 'z': random rotations about the vertical axis (the papers' "z"; here the
  dataset's up axis, y for ModelNet40's files);
- 'so3': rotations uniform over all of SO(3) (Haar measure), from normalised
  Gaussian quaternions (`pointnet_tf2.data.augment.random_rotation_matrices`).

`rotation_protocol_table` evaluates a z-trained and an SO3-trained model and
gives the three columns papers report (e.g. Spherical CNNs: 86.9% SO3/SO3 on
ModelNet40).
"""

import numpy as np

from pointnet_tf2.checkpoints import load_checkpoint
from pointnet_tf2.data.augment import ROTATIONS  # noqa: F401  (re-exported)
from pointnet_tf2.data.augment import check_rotation  # noqa: F401  (re-exported)
from pointnet_tf2.data.augment import rotation_augmentation  # noqa: F401  (re-exported)
from pointnet_tf2.data.augment import train_augmentation  # noqa: F401  (re-exported)
from pointnet_tf2.evaluation import evaluate

PROTOCOLS = (("z", "z"), ("z", "so3"), ("so3", "so3"))


def rotation_angles(matrices):
    """Rotation angles in [0, pi] of `(..., 3, 3)` rotation matrices."""
    matrices = np.asarray(matrices, np.float64)
    trace = np.trace(matrices, axis1=-2, axis2=-1)
    return np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0))


def haar_angle_cdf(angle):
    """CDF of the rotation angle of a Haar-uniform rotation: `(t - sin t) / pi`.

    (Its density is `(1 - cos t) / pi` on [0, pi].)
    """
    angle = np.asarray(angle, np.float64)
    return (angle - np.sin(angle)) / np.pi


def rotation_protocol_table(models, description, *, evaluate_fn=None, seed=0, **evaluate_kwargs):
    """Evaluates the protocols z/z, z/SO3 and SO3/SO3.

    Args:
        models: Dict train rotation ('z', 'so3') -> model trained with it;
            protocols whose model is missing are reported as None.
        description: The test `DatasetDescription`.
        evaluate_fn: `(model, description, rotation=..., seed=..., **kwargs) ->
            results dict` (default `pointnet_tf2.evaluation.evaluate`).
        seed: Seed of the test rotations (the same rotations for every model).
        **evaluate_kwargs: Passed to `evaluate_fn` (e.g. split, batch_size).

    Returns:
        A list of dicts `{"protocol": "z/SO3", "train": "z", "test": "so3",
        <headline metrics>}` (metrics None when the model is missing).
    """
    if evaluate_fn is None:
        evaluate_fn = evaluate
    rows = []
    for train, test in PROTOCOLS:
        row = {"protocol": f"{train}/{test}".replace("so3", "SO3"), "train": train, "test": test}
        model = models.get(train)
        if model is not None:
            result = evaluate_fn(model, description, rotation=test, seed=seed, **evaluate_kwargs)
            for key in result.get("headline", []):
                row[key] = result[key]
        rows.append(row)
    return rows


def format_protocol_table(rows):
    """Formats `rotation_protocol_table` rows as a text table (one string)."""
    keys = []
    for row in rows:
        keys += [k for k in row if k not in ("protocol", "train", "test") and k not in keys]
    lines = [f"{'protocol':<10}" + "".join(f"{k:>22}" for k in keys)]
    for row in rows:
        cells = "".join(f"{'n/a' if row.get(k) is None else format(row[k], '.4f'):>22}" for k in keys)
        lines.append(f"{row['protocol']:<10}" + cells)
    return "\n".join(lines)


def protocol_from_checkpoints(checkpoints, description, *, split="test", num_points=None, batch_size=32, seed=0):
    """The protocol table of training runs, each placed by its recorded `--train_rotation`.

    Args:
        checkpoints: Checkpoint paths, or `(path, model, run_config)` triples
            already loaded. A run without `train_rotation` in its config.json
            used the original's augmentation and counts as 'z'.
        description: The test `DatasetDescription`.
        split: Split to evaluate.
        num_points: Points per cloud (default: each run's training value).
        batch_size: Clouds per batch.
        seed: Seed of the test rotations.

    Returns:
        The rows of `rotation_protocol_table`.

    Raises:
        ValueError: If a run trained without rotations, or two runs share a
            training rotation.
    """
    models, points = {}, {}
    for item in checkpoints:
        if isinstance(item, tuple):
            path, model, run_config = item
        else:
            path = item
            model, _, run_config = load_checkpoint(path, data=description.root)
        recorded = run_config["train_config"]
        # Runs recorded before --original_settings existed rotated about the up axis by default.
        train_rotation = recorded.get("train_rotation") or ("z" if recorded.get("original_settings", True) else "none")
        if train_rotation == "none":
            raise ValueError(f"{path}: trained without rotations (--train_rotation none): no protocol row fits it")
        if train_rotation in models:
            raise ValueError(f"{path}: a second checkpoint trained with --train_rotation {train_rotation}")
        models[train_rotation] = model
        points[train_rotation] = num_points or run_config["train_config"]["num_point"]

    def evaluate_fn(model, description, **kwargs):
        train = next(k for k, m in models.items() if m is model)
        return evaluate(model, description, num_points=points[train], **kwargs)

    return rotation_protocol_table(models, description, evaluate_fn=evaluate_fn, seed=seed, split=split,
                                   batch_size=batch_size)
