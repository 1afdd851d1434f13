"""Part-segmentation IoU (original protocol) against hand-computed values."""

import numpy as np
import pytest

from pointnet_tf2 import metrics


def test_restriction_to_the_category_changes_the_prediction(part_case):
    ious = metrics.part_seg_ious(part_case["logits"], part_case["labels"], part_case["categories"],
                                 part_case["category_parts"])
    np.testing.assert_allclose(ious, part_case["shape_ious"])
    # The plain argmax picks the decoys (other categories' parts): a much lower score.
    assert np.array_equal(np.argmax(part_case["logits"], -1), part_case["decoys"])


def test_categories_derived_from_ground_truth(part_case):
    ious = metrics.part_seg_ious(part_case["logits"], part_case["labels"], None, part_case["category_parts"])
    np.testing.assert_allclose(ious, part_case["shape_ious"])
    np.testing.assert_array_equal(metrics.shape_categories(part_case["labels"], part_case["category_parts"]),
                                  [0, 1, 1])


def test_given_labels_outside_the_category_count_as_wrong(part_case):
    args = (part_case["labels"], part_case["categories"], part_case["category_parts"])
    np.testing.assert_allclose(metrics.part_seg_ious(part_case["restricted"], *args), part_case["shape_ious"])
    # All decoys: every category part is missed; part 4 (absent in both for B, C) still counts 1.
    np.testing.assert_allclose(metrics.part_seg_ious(part_case["decoys"], *args), part_case["decoy_shape_ious"])


def test_absent_in_both_counts_one_and_a_perfect_shape_is_one():
    category_parts = [[0, 1], [2, 3, 4]]
    labels = np.array([[2, 2, 2, 2], [0, 1, 0, 1]])
    # Shape 0: only part 2 present and predicted everywhere; parts 3, 4 absent in both -> (1 + 1 + 1) / 3.
    # Shape 1: part 0 right twice, part 1 predicted as 0 twice -> part 0 = 2/4, part 1 = 0/2.
    predictions = np.array([[2, 2, 2, 2], [0, 0, 0, 0]])
    np.testing.assert_allclose(metrics.part_seg_ious(predictions, labels, None, category_parts), [1.0, 1 / 4])


def test_instance_and_category_miou(part_case):
    shape_ious, categories = part_case["shape_ious"], part_case["categories"]
    assert metrics.instance_miou(shape_ious) == pytest.approx(part_case["instance_miou"])
    assert metrics.category_miou(shape_ious, categories) == pytest.approx(part_case["category_miou"])
    np.testing.assert_allclose(metrics.per_category_miou(shape_ious, categories), part_case["per_category"])
    np.testing.assert_allclose(metrics.per_category_miou(shape_ious, categories, 3),
                               list(part_case["per_category"]) + [np.nan])


def test_summary_with_an_absent_category(part_case):
    category_parts = part_case["category_parts"] + [[5]]
    logits = np.concatenate([part_case["logits"], np.zeros((3, 4, 1), np.float32)], axis=-1)
    summary = metrics.part_seg_summary(logits, part_case["labels"], None, category_parts)
    np.testing.assert_allclose(summary["shape_ious"], part_case["shape_ious"])
    np.testing.assert_array_equal(summary["categories"], [0, 1, 1])
    assert summary["instance_miou"] == pytest.approx(part_case["instance_miou"])
    assert summary["category_miou"] == pytest.approx(part_case["category_miou"])
    np.testing.assert_allclose(summary["per_category_miou"], list(part_case["per_category"]) + [np.nan])


def test_shapes_with_different_point_counts(part_case):
    # Shape B without its last point: gt [2,2,3], restricted [2,3,3] -> parts 2, 3: 1/2 each, part 4: 1.
    logits = [part_case["logits"][0], part_case["logits"][1][:3]]
    labels = [part_case["labels"][0], part_case["labels"][1][:3]]
    ious = metrics.part_seg_ious(logits, labels, None, part_case["category_parts"])
    np.testing.assert_allclose(ious, [7 / 12, 2 / 3])
    with pytest.raises(ValueError, match="predictions: shape 1 has 4 points, part_labels: 3"):
        metrics.part_seg_ious([part_case["logits"][0], part_case["logits"][1]], labels, None,
                              part_case["category_parts"])


def test_category_parts_as_dict(part_case):
    as_dict = {1: [4, 3, 2], 0: [1, 0]}
    ious = metrics.part_seg_ious(part_case["logits"], part_case["labels"], None, as_dict)
    np.testing.assert_allclose(ious, part_case["shape_ious"])


@pytest.mark.parametrize("category_parts, message", [
    ([[0, 1], [1, 2]], "part id 1 belongs to categories 0 and 1"),
    ([[0, 1], []], r"category_parts\[1\]: a category needs at least one part"),
    ([[0, -1]], r"category_parts\[0\]: part ids must be non-negative integers, got -1"),
    ({0: [0], 2: [1]}, r"expected the keys 0..1"),
    ([], "no categories"),
])
def test_invalid_category_parts(category_parts, message):
    with pytest.raises(ValueError, match=message):
        metrics.parse_category_parts(category_parts)


def test_bad_part_seg_inputs(part_case):
    logits, labels, parts = part_case["logits"], part_case["labels"], part_case["category_parts"]
    mixed = labels.copy()
    mixed[1, 0] = 0
    with pytest.raises(ValueError, match="shape 1 has parts of several categories"):
        metrics.part_seg_ious(logits, mixed, None, parts)
    with pytest.raises(ValueError, match="shape 0 has part 0, which is not a part of its category 1"):
        metrics.part_seg_ious(logits, labels, [1, 1, 1], parts)
    unknown = labels.copy()
    unknown[2, 3] = 7
    with pytest.raises(ValueError, match="part id 7 belongs to no category"):
        metrics.part_seg_ious(logits, unknown, None, parts)
    with pytest.raises(ValueError, match=r"categories: category 2 is outside \[0, 2\)"):
        metrics.part_seg_ious(logits, labels, [0, 1, 2], parts)
    with pytest.raises(ValueError, match="4 part scores, but category_parts has part ids up to 4"):
        metrics.part_seg_ious(logits[..., :4], labels, None, parts)
    with pytest.raises(ValueError, match=r"predictions: part id 5 is outside \[0, 5\)"):
        metrics.part_seg_ious(np.full((3, 4), 5), labels, None, parts)
    with pytest.raises(ValueError, match=r"part_labels: expected 2 dimensions"):
        metrics.part_seg_ious(logits, labels[0], None, parts)
