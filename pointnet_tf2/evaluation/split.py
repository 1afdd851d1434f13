"""Evaluation of a trained model on a dataset split, with the original's voting."""

from pointnet_tf2.evaluation.loop import PredictionLoop
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.retrieval import evaluate_retrieval
from pointnet_tf2.tasks import get_task


def predict_split(model, description, *, split="test", num_points=None, num_votes=1, batch_size=32, rotation="none",
                  seed=0, indices=None, progress=False):
    """Predicts every cloud of a split, averaging logits over rotated copies.

    With `num_votes = V > 1` each cloud is also rotated about the dataset's up
    axis by `2 * pi * v / V` for `v = 0 .. V-1` and the logits are averaged,
    as the original's `evaluate.py` did. Points are the first `num_points` of
    each stored cloud (the original's evaluation sampling). The clouds go
    through the one prediction loop (`pointnet_tf2.evaluation.loop.PredictionLoop`).

    Args:
        model: A trained model of the dataset's task.
        description: The `DatasetDescription`.
        split: Split to predict.
        num_points: Points per cloud (default: the model's, else all stored).
        num_votes: Number of rotations to average.
        batch_size: Clouds per prediction batch.
        rotation: 'none', 'z' or 'so3': rotate every cloud randomly first
            (seeded by `seed`; see `pointnet_tf2.rotations`). Voxel models get
            the clouds voxelised after rotation.
        seed: Seed of the rotations.
        indices: Positions within the split to predict (None: all), e.g. a
            run's validation hold-out (`pointnet_tf2.training.trainer.validation_rows`).
        progress: Show a progress line on stderr (clouds done, rate, time left).

    Voxel models read the dataset's stored grids when it has them
    (`description.voxel_resolution`); votes and rotations turn points, so
    they need `num_votes=1` and `rotation='none'` then.

    Returns:
        A dict with "logits" (averaged, float32), "labels" and, for part
        segmentation, "categories" (the ground-truth object category).

    Raises:
        ValueError: If `num_votes` < 1 or the split is unknown, or (voxel
            models on stored grids) on votes, rotations or grids of another
            size than the model's.
    """
    if int(num_votes) != num_votes or num_votes < 1:
        raise ValueError(f"num_votes must be a positive integer, got {num_votes!r}")
    if split not in description.splits:
        raise ValueError(f"{description.root}: no {split!r} split (it has {', '.join(description.splits)})")
    builder_config = getattr(model, "builder_config", {})
    if num_points is None:
        num_points = builder_config.get("num_points") or description.num_points
    channels = builder_config.get("input_dims")
    if channels is not None and channels > description.input_dims:
        raise ValueError(f"{description.root}: the model takes {channels} channels per point, the data has {description.input_dims}")
    loop = PredictionLoop(model, num_votes=int(num_votes), up_axis=description.up_axis, batch_size=batch_size)
    predictions = loop.predict_split(description, get_task(description.task), split=split, num_points=num_points,
                                     rotation=rotation, seed=seed, indices=indices, channels=channels,
                                     progress=progress)  # fmt: skip
    result = {"logits": predictions.pop("outputs")}
    result.update(predictions)
    return result


def evaluate(model, description, *, split="test", num_points=None, num_votes=1, batch_size=32, rotation="none", seed=0,
             indices=None, progress=False):
    """Evaluates a model on a split with the task's metric protocol.

    Classification: overall accuracy, mean per-class accuracy, per-class
    accuracy, confusion matrix. Semantic segmentation: overall point accuracy,
    per-class IoU and mIoU, confusion matrix. Part segmentation: the original
    protocol (predictions restricted to the ground-truth category's parts, a
    part absent from both prediction and truth counts as IoU 1): instance
    mIoU (`miou`), category mIoU and the per-category table.

    Args:
        model: A trained model of the dataset's task.
        description: The `DatasetDescription`.
        split: Split to evaluate.
        num_points: Points per cloud (default: the model's).
        num_votes: Rotations about the up axis to average (1 = no voting).
        batch_size: Clouds per prediction batch.
        rotation: 'none', 'z' or 'so3': random test rotations (see `predict_split`).
        seed: Seed of the rotations.
        indices: Positions within the split to evaluate (None: all).
        progress: Show a progress line on stderr while predicting (see `predict_split`).

    Returns:
        A JSON-serialisable dict of results; its "headline" lists the keys of
        the task's main figures. Embedding models (`pointnet_embed`) are
        evaluated by leave-one-out retrieval instead (mAP, precision@k; see
        `pointnet_tf2.retrieval.evaluate_retrieval`).
    """
    if model_kinds(model)[1] == "embedding":
        if indices is not None:
            raise ValueError("retrieval evaluation runs over a whole split; it takes no indices")
        result = evaluate_retrieval(model, description, split=split, num_points=num_points, batch_size=batch_size,
                                    rotation=rotation, seed=seed)
        result["rotation"] = rotation
        return result

    predictions = predict_split(model, description, split=split, num_points=num_points, num_votes=num_votes,
                                batch_size=batch_size, rotation=rotation, seed=seed, indices=indices,
                                progress=progress)
    result = {"split": split, "num_samples": int(len(predictions["labels"])), "num_votes": int(num_votes),
              "task": description.task}
    if rotation != "none":
        result["rotation"] = rotation
    result.update(get_task(description.task).evaluate_logits(predictions, description))
    return result


def format_results(result, class_names=None):
    """Formats evaluation results as a readable table (one string)."""
    lines = [f"{result['task']} on {result['split']} ({result['num_samples']} clouds, {result['num_votes']} vote(s))"]
    for key in result.get("headline", []):
        lines.append(f"  {key:<22} {result[key]:.4f}")
    table = result.get("per_class_accuracy") or result.get("per_class_iou") or result.get("per_category_miou")
    if table:
        title = {"per_class_accuracy": "accuracy", "per_class_iou": "IoU", "per_category_miou": "mIoU"}
        kind = next(k for k in title if k in result)
        lines.append(f"  {'class':<22} {title[kind]}")
        for name, value in table.items():
            lines.append(f"  {name:<22} {'n/a' if value is None else f'{value:.4f}'}")
    return "\n".join(lines)
