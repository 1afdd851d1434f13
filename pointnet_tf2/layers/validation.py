"""Argument checks shared by the layer and model builders."""

import numbers


def check_positive_int(value, what):
    """Returns `value` as an int, or raises `ValueError` quoting it.

    Args:
        value: The value to check.
        what: What the value is, used in the message (e.g. "pointnet_cls: k").

    Returns:
        `int(value)`.

    Raises:
        ValueError: If `value` is not an integer >= 1.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def check_widths(widths, what, *, allow_empty=False):
    """Returns a tuple of positive layer widths, or raises `ValueError`.

    Args:
        widths: A sequence of widths.
        what: What the widths are, used in the message.
        allow_empty: Whether an empty sequence is acceptable.

    Returns:
        The widths as a tuple of ints.

    Raises:
        ValueError: If `widths` is not a sequence of positive integers.
    """
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise ValueError(f"{what} must be a sequence of positive integers, got {widths!r}")
    widths = tuple(widths)
    if not widths and not allow_empty:
        raise ValueError(f"{what} must not be empty, got {widths!r}")
    for width in widths:
        if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
            raise ValueError(f"{what} must be positive integers, got {widths!r} (bad value {width!r})")
    return tuple(int(w) for w in widths)


def check_rate(value, what):
    """Returns a dropout rate in [0, 1), or raises `ValueError` quoting it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{what} must be a number in [0, 1), got {value!r}")
    return float(value)
