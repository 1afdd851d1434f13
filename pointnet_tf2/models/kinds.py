"""What a built model takes and gives: points or voxels in, logits or embeddings out.

Training, evaluation and retrieval read these instead of guessing from shapes.
"""

from pointnet_tf2.models.registry import model_entry


def model_kinds(model):
    """Returns `(input_kind, output_kind)` of a model of the zoo.

    Args:
        model: A model built by a registered builder (or loaded from a
            `.keras` file of one); other models count as points -> logits.

    Returns:
        A pair of strings, e.g. `("voxels", "logits")`.
    """
    builder = getattr(model, "builder", None)
    if builder is None:
        return "points", "logits"
    try:
        entry = model_entry(builder)
    except ValueError:
        return "points", "logits"
    return entry.input_kind, entry.output_kind


def input_transform(model):
    """The batch transform that turns point batches into the model's inputs, or None.

    Args:
        model: A model of the zoo.

    Returns:
        A `pointnet_tf2.data.voxels.Voxelize` for voxel models (with the
        builder's `resolution` and `inner`), None for point models.
    """
    if model_kinds(model)[0] != "voxels":
        return None
    from pointnet_tf2.data.voxels import Voxelize

    config = model.builder_config
    return Voxelize(config["resolution"], config["inner"])
