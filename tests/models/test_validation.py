import numpy as np
import pytest

from pointnet_tf2.models.validation import check_num_classes


@pytest.mark.parametrize("value", [2, 40, np.int64(7)])
def test_check_num_classes_accepts_integers_from_two(value):
    result = check_num_classes(value)
    assert result == value and type(result) is int


@pytest.mark.parametrize(
    "value, what, match",
    [
        (1, "num_classes", "num_classes must be at least 2, got 1"),
        (1, "num_parts", "num_parts must be at least 2, got 1"),
        (0, "num_categories", "num_categories must be a positive integer, got 0"),
        (2.0, "num_classes", "num_classes must be a positive integer, got 2.0"),
        (True, "num_classes", "num_classes must be a positive integer, got True"),
        ("3", "num_classes", "num_classes must be a positive integer, got '3'"),
    ],
)
def test_check_num_classes_rejects_with_the_value_quoted(value, what, match):
    with pytest.raises(ValueError, match=match):
        check_num_classes(value, what)
