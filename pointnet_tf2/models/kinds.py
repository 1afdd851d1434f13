"""What a built model takes and gives: points or voxels in, logits or embeddings out, and how its clouds are prepared.

Training, evaluation, retrieval and export read these (from the model's
registry entry) instead of guessing from shapes.
"""

from pointnet_tf2.models.registry import model_entry


def _entry(model):
    """The `ModelEntry` of a model of the zoo, or None for other models."""
    builder = getattr(model, "builder", None)
    if builder is None:
        return None
    try:
        return model_entry(builder)
    except ValueError:
        return None


def model_kinds(model):
    """Returns `(input_kind, output_kind)` of a model of the zoo.

    Args:
        model: A model built by a registered builder (or loaded from a
            `.keras` file of one); other models count as points -> logits.

    Returns:
        A pair of strings, e.g. `("voxels", "logits")`.
    """
    entry = _entry(model)
    if entry is None:
        return "points", "logits"
    return entry.input_kind, entry.output_kind


def model_family(model):
    """Returns the family of a model of the zoo (e.g. "pointnet", "voxel"), or None for other models."""
    entry = _entry(model)
    return None if entry is None else entry.family


def model_preprocessing(model):
    """Returns how the clouds a model of the zoo sees are prepared.

    Args:
        model: A model built by a registered builder (or loaded from a
            `.keras` file of one).

    Returns:
        The entry's `Preprocessing` with the values of the model's own
        builder arguments (points per cloud, channels, grid size), or None
        for a model that is not of the zoo.
    """
    entry = _entry(model)
    if entry is None:
        return None
    return entry.preprocessing_for(getattr(model, "builder_config", None) or {})


def output_names(model):
    """The names of a model's outputs when it gives a dict of them (part segmentation), else None."""
    return tuple(model.output) if isinstance(model.output, dict) else None


def model_feature_layer(model):
    """The layer a model of the zoo names as its global shape feature (`ModelEntry.feature_layer`), or None."""
    entry = _entry(model)
    return None if entry is None else entry.feature_layer
