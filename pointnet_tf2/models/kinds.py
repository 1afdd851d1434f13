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
