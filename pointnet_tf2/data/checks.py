"""Argument checks of the data package: one definition of each, with one-line messages.

Every check returns the value converted (`int`, `float`) or raises
`ValueError` naming the argument and quoting the bad value, e.g.
"shard_size must be a positive integer, got 0".
"""

import math
import numbers


def check_int(what, value, minimum=0):
    """Returns `value` as an int, or raises `ValueError` if it is not an integer >= `minimum`.

    Args:
        what: The argument's name, used in the message.
        value: The value to check (`bool` is refused).
        minimum: The smallest value allowed.

    Returns:
        `int(value)`.

    Raises:
        ValueError: "<what> must be an integer >= <minimum>, got <value>".
    """
    return _integer(what, value, minimum, f"an integer >= {minimum}")


def check_positive_int(what, value):
    """Returns `value` as an int, or raises `ValueError` ("... must be a positive integer, got ...")."""
    return _integer(what, value, 1, "a positive integer")


def check_non_negative_int(what, value):
    """Returns `value` as an int, or raises `ValueError` ("... must be a non-negative integer, got ...")."""
    return _integer(what, value, 0, "a non-negative integer")


def check_positive_float(what, value):
    """Returns `value` as a float, or raises `ValueError` quoting it if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _integer(what, value, minimum, expected):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{what} must be {expected}, got {value!r}")
    return int(value)
