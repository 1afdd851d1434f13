"""Confusion-matrix metrics as NumPy functions: accuracy, mean class accuracy, IoU.

Every reduction takes either a confusion matrix alone (`f(confusion)`) or the
raw `f(y_true, y_pred, num_classes=None)`, where `y_pred` holds labels (same
shape as `y_true`) or scores (one more axis: logits or probabilities, argmax
over the last axis).
"""

import numpy as np


def _check_num_classes(num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    return int(num_classes)


def as_labels(values, what):
    """Converts an array of integer labels (any integer or integral float dtype) to int64.

    Args:
        values: Array-like of labels.
        what: Name used in error messages.

    Returns:
        An int64 array of the same shape.

    Raises:
        ValueError: If the values are not integers.
    """
    array = np.asarray(values)
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"{what}: expected integer labels, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{what}: expected integer labels, got non-integral values")
    return array.astype(np.int64)


def predicted_labels(y_true, y_pred, num_classes=None):
    """Returns `(y_true, y_pred)` as int64 label arrays of the same shape.

    Args:
        y_true: Integer labels, any shape S.
        y_pred: Labels of shape S, or scores of shape S + (num_classes,)
            (argmax over the last axis).
        num_classes: If given, the expected size of the score axis.

    Returns:
        Two int64 arrays of shape S.

    Raises:
        ValueError: On mismatching shapes or a wrong number of scores.
    """
    y_true = as_labels(y_true, "y_true")
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == y_true.ndim + 1:
        if y_pred.shape[:-1] != y_true.shape:
            raise ValueError(f"y_pred: scores of shape {y_pred.shape} do not match labels of shape {y_true.shape}")
        if num_classes is not None and y_pred.shape[-1] != num_classes:
            raise ValueError(f"y_pred: {y_pred.shape[-1]} scores per sample for num_classes={num_classes}")
        return y_true, np.argmax(y_pred, axis=-1).astype(np.int64)
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_pred: shape {y_pred.shape} is neither {y_true.shape} (labels) "
                         f"nor {y_true.shape + ('num_classes',)} (scores)")
    return y_true, as_labels(y_pred, "y_pred")


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts (truth, prediction) pairs.

    Args:
        y_true: Integer labels of any shape.
        y_pred: Predicted labels of the same shape, or scores (logits or
            probabilities) with one more, last axis of size `num_classes`.
        num_classes: Number of classes.

    Returns:
        An int64 array `(num_classes, num_classes)`: rows are the true class,
        columns the predicted class.

    Raises:
        ValueError: If a label is outside `[0, num_classes)` or the shapes
            do not match.
    """
    num_classes = _check_num_classes(num_classes)
    y_true, y_pred = predicted_labels(y_true, y_pred, num_classes)
    for what, labels in (("y_true", y_true), ("y_pred", y_pred)):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        if bad.size:
            raise ValueError(f"{what}: label {int(bad[0])} is outside [0, {num_classes}) "
                             f"({bad.size} labels out of range)")
    flat = y_true.ravel() * num_classes + y_pred.ravel()
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes).astype(np.int64)


def _confusion(y_true, y_pred, num_classes):
    """The confusion matrix of `f(confusion)` or `f(y_true, y_pred, num_classes)` calls."""
    if y_pred is None:
        confusion = np.asarray(y_true)
        if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
            raise ValueError(f"confusion: expected a square matrix, got shape {confusion.shape} "
                             "(pass y_pred to compute from labels)")
        if num_classes is not None and confusion.shape[0] != num_classes:
            raise ValueError(f"confusion: shape {confusion.shape} for num_classes={num_classes}")
        return confusion
    if num_classes is None:
        scores = np.asarray(y_pred)
        if scores.ndim == np.ndim(y_true) + 1:
            num_classes = scores.shape[-1]
        else:
            num_classes = int(max(np.max(y_true, initial=0), np.max(y_pred, initial=0))) + 1
    return confusion_matrix(y_true, y_pred, num_classes)


def _ratio(numerator, denominator):
    """`numerator / denominator` as float64, NaN where the denominator is 0."""
    numerator = np.asarray(numerator, np.float64)
    denominator = np.asarray(denominator, np.float64)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _mean_present(values):
    """Mean of the non-NaN values, NaN (without a warning) if there are none."""
    values = np.asarray(values, np.float64)
    present = values[~np.isnan(values)]
    return float(np.mean(present)) if present.size else float("nan")


def overall_accuracy(y_true, y_pred=None, num_classes=None):
    """Fraction of correct predictions.

    Args:
        y_true: A confusion matrix (when `y_pred` is None), or integer labels.
        y_pred: Predicted labels or scores (see `confusion_matrix`).
        num_classes: Number of classes (default: from the scores, else the
            largest label + 1).

    Returns:
        A float; NaN if there are no samples.

    Raises:
        ValueError: On invalid labels or shapes.
    """
    confusion = _confusion(y_true, y_pred, num_classes)
    return float(_ratio(np.trace(confusion), np.sum(confusion)))


def per_class_accuracy(y_true, y_pred=None, num_classes=None):
    """Accuracy (recall) of every class: correct / samples of that true class.

    Args:
        y_true: A confusion matrix (when `y_pred` is None), or integer labels.
        y_pred: Predicted labels or scores (see `confusion_matrix`).
        num_classes: Number of classes (default: from the confusion matrix or
            scores, else the largest label + 1).

    Returns:
        A float64 array `(num_classes,)`, NaN for classes absent from the
        ground truth.

    Raises:
        ValueError: On invalid labels or shapes.
    """
    confusion = _confusion(y_true, y_pred, num_classes)
    return _ratio(np.diag(confusion), np.sum(confusion, axis=1))


def mean_class_accuracy(y_true, y_pred=None, num_classes=None):
    """Mean of the per-class accuracies over the classes present in the ground truth.

    This is the original's "avg class acc".

    Args:
        y_true: A confusion matrix (when `y_pred` is None), or integer labels.
        y_pred: Predicted labels or scores (see `confusion_matrix`).
        num_classes: Number of classes (see `per_class_accuracy`).

    Returns:
        A float; NaN if there are no samples.

    Raises:
        ValueError: On invalid labels or shapes.
    """
    return _mean_present(per_class_accuracy(y_true, y_pred, num_classes))


def per_class_iou(y_true, y_pred=None, num_classes=None):
    """Intersection over union of every class: TP / (TP + FP + FN).

    Args:
        y_true: A confusion matrix (when `y_pred` is None), or integer labels.
        y_pred: Predicted labels or scores (see `confusion_matrix`).
        num_classes: Number of classes (see `per_class_accuracy`).

    Returns:
        A float64 array `(num_classes,)`, NaN for classes absent from both
        the ground truth and the predictions.

    Raises:
        ValueError: On invalid labels or shapes.
    """
    confusion = _confusion(y_true, y_pred, num_classes)
    tp = np.diag(confusion)
    return _ratio(tp, np.sum(confusion, axis=0) + np.sum(confusion, axis=1) - tp)


def mean_iou(y_true, y_pred=None, num_classes=None):
    """Mean of the per-class IoUs, classes absent from both truth and prediction excluded.

    Args:
        y_true: A confusion matrix (when `y_pred` is None), or integer labels.
        y_pred: Predicted labels or scores (see `confusion_matrix`).
        num_classes: Number of classes (see `per_class_accuracy`).

    Returns:
        A float; NaN if there are no samples.

    Raises:
        ValueError: On invalid labels or shapes.
    """
    return _mean_present(per_class_iou(y_true, y_pred, num_classes))
