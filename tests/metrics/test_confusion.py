"""Confusion-matrix NumPy metrics against hand-computed values."""

import numpy as np
import pytest

from pointnet_tf2 import metrics

# 3 classes, 7 samples.
Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0, 2])
# rows = truth, columns = prediction
CONFUSION = np.array([
    [1, 1, 0],
    [0, 2, 0],
    [1, 0, 2],
])
# accuracy per class: 1/2, 2/2, 2/3; IoU: 1/(1+1+1), 2/(2+1+0), 2/(2+0+1)
PER_CLASS_ACCURACY = np.array([1 / 2, 1.0, 2 / 3])
PER_CLASS_IOU = np.array([1 / 3, 2 / 3, 2 / 3])


def one_hot_logits(labels, num_classes=3):
    """Logits (..., num_classes) whose argmax is `labels`, with distracting values."""
    logits = np.full(np.shape(labels) + (num_classes,), -1.0, np.float32)
    logits += np.linspace(0, 0.5, num_classes, dtype=np.float32)
    np.put_along_axis(logits, np.asarray(labels)[..., None], 3.0, axis=-1)
    return logits


def test_confusion_matrix_rows_are_truth_and_int64():
    confusion = metrics.confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert confusion.dtype == np.int64
    np.testing.assert_array_equal(confusion, CONFUSION)


@pytest.mark.parametrize("kind", ["logits", "probabilities"])
def test_confusion_matrix_from_scores(kind):
    scores = one_hot_logits(Y_PRED)
    if kind == "probabilities":
        scores = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_array_equal(metrics.confusion_matrix(Y_TRUE, scores, 3), CONFUSION)


def test_confusion_matrix_per_point_labels():
    # The same 7 decisions laid out as (2 clouds, 4 points) with one extra correct point of class 1.
    y_true = np.append(Y_TRUE, 1).reshape(2, 4)
    y_pred = np.append(Y_PRED, 1).reshape(2, 4)
    expected = CONFUSION + np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, one_hot_logits(y_pred), 3), expected)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, 3), expected)


def test_confusion_matrix_accepts_integral_float_labels():
    np.testing.assert_array_equal(metrics.confusion_matrix(Y_TRUE.astype(np.float32), Y_PRED, 3), CONFUSION)
    with pytest.raises(ValueError, match="y_true: expected integer labels"):
        metrics.confusion_matrix(Y_TRUE + 0.5, Y_PRED, 3)


@pytest.mark.parametrize("y_true, y_pred, message", [
    ([0, 3], [0, 1], r"y_true: label 3 is outside \[0, 3\)"),
    ([0, -1], [0, 1], r"y_true: label -1 is outside \[0, 3\)"),
    ([0, 1], [0, 5], r"y_pred: label 5 is outside \[0, 3\)"),
])
def test_confusion_matrix_labels_out_of_range(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        metrics.confusion_matrix(np.array(y_true), np.array(y_pred), 3)


def test_confusion_matrix_bad_shapes_and_arguments():
    with pytest.raises(ValueError, match="4 scores per sample for num_classes=3"):
        metrics.confusion_matrix(Y_TRUE, np.zeros((7, 4)), 3)
    with pytest.raises(ValueError, match=r"y_pred: shape \(6,\) is neither"):
        metrics.confusion_matrix(Y_TRUE, Y_PRED[:6], 3)
    with pytest.raises(ValueError, match=r"scores of shape \(6, 3\) do not match labels of shape \(7,\)"):
        metrics.confusion_matrix(Y_TRUE, np.zeros((6, 3)), 3)
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        metrics.confusion_matrix(Y_TRUE, Y_PRED, 0)


def test_reductions_equal_hand_values():
    assert metrics.overall_accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 7)
    np.testing.assert_allclose(metrics.per_class_accuracy(Y_TRUE, Y_PRED), PER_CLASS_ACCURACY)
    assert metrics.mean_class_accuracy(Y_TRUE, Y_PRED) == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)
    np.testing.assert_allclose(metrics.per_class_iou(Y_TRUE, Y_PRED), PER_CLASS_IOU)
    assert metrics.mean_iou(Y_TRUE, Y_PRED) == pytest.approx(5 / 9)


@pytest.mark.parametrize("function", ["overall_accuracy", "per_class_accuracy", "mean_class_accuracy",
                                      "per_class_iou", "mean_iou"])
def test_reductions_accept_confusion_labels_or_logits(function):
    f = getattr(metrics, function)
    from_confusion = f(CONFUSION)
    np.testing.assert_allclose(f(Y_TRUE, Y_PRED, 3), from_confusion)
    np.testing.assert_allclose(f(Y_TRUE, one_hot_logits(Y_PRED)), from_confusion)


def test_classes_absent_from_truth_or_from_both():
    # 4 classes; class 2 is only predicted, class 3 appears nowhere.
    y_true = np.array([0, 0, 1])
    y_pred = np.array([0, 2, 1])
    per_class = metrics.per_class_accuracy(y_true, y_pred, 4)
    np.testing.assert_allclose(per_class, [1 / 2, 1.0, np.nan, np.nan])
    assert metrics.mean_class_accuracy(y_true, y_pred, 4) == pytest.approx(3 / 4)
    # IoU: class 0 = 1/(1+0+1), class 1 = 1, class 2 = 0/(0+1+0), class 3 = NaN (excluded).
    np.testing.assert_allclose(metrics.per_class_iou(y_true, y_pred, 4), [1 / 2, 1.0, 0.0, np.nan])
    assert metrics.mean_iou(y_true, y_pred, 4) == pytest.approx(1 / 2)


def test_empty_input_gives_nan():
    empty = np.zeros((3, 3), np.int64)
    assert np.isnan(metrics.overall_accuracy(empty))
    assert np.isnan(metrics.mean_class_accuracy(empty))
    assert np.isnan(metrics.mean_iou(empty))


def test_confusion_argument_must_be_square():
    with pytest.raises(ValueError, match=r"confusion: expected a square matrix, got shape \(7,\)"):
        metrics.mean_iou(Y_TRUE)
