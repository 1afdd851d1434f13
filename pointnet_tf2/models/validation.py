"""Argument checks shared by the model builders (on top of `pointnet_tf2.layers.validation`)."""

from pointnet_tf2.layers.validation import check_positive_int


def check_num_classes(value, what="num_classes"):
    """Returns a class count of a classifier output as an int, or raises `ValueError` quoting it.

    Args:
        value: The value to check.
        what: What the value is, used in the message (e.g. "num_parts").

    Returns:
        `int(value)`.

    Raises:
        ValueError: If `value` is not an integer, or is smaller than 2.
    """
    value = check_positive_int(value, what)
    if value < 2:
        raise ValueError(f"{what} must be at least 2, got {value!r}")
    return value
