"""Stateful Keras metrics (TensorFlow backend, graph mode) for `model.fit`/`evaluate`.

All take logits (or probabilities) as `y_pred` and integer labels as `y_true`:
(B, C) / (B,) for classification, (B, N, C) / (B, N) for per-point outputs
(N may vary between batches; labels of shape (..., 1) are accepted too).
Labels outside the valid range (e.g. -1 padding) are ignored. A
`sample_weight` broadcastable to the labels weighs the counts; points with
weight 0 are ignored.
"""

import keras
import numpy as np
import tensorflow as tf

from pointnet_tf2.metrics.part_iou import parse_category_parts


def _label_weights(sample_weight, scores):
    """Float64 weights of the labels of `scores` (shape `scores.shape[:-1]`)."""
    label_shape = tf.shape(scores)[:-1]
    if sample_weight is None:
        return tf.ones(label_shape, tf.float64)
    weights = tf.cast(sample_weight, tf.float64)
    label_rank = scores.shape.rank - 1
    if weights.shape.rank == label_rank + 1 and weights.shape[-1] == 1:
        weights = tf.squeeze(weights, -1)
    while weights.shape.rank < label_rank:
        weights = tf.expand_dims(weights, -1)
    return tf.broadcast_to(weights, label_shape)


def _labels_like(y_true, scores):
    """Integer labels reshaped to `scores.shape[:-1]` (drops a trailing axis of 1)."""
    return tf.reshape(tf.cast(y_true, tf.int64), tf.shape(scores)[:-1])


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class ConfusionMatrix(keras.metrics.Metric):
    """Accumulates a (truth x prediction) confusion matrix over batches.

    The base of `MeanClassAccuracy` and `MeanIoU`; `result()` of this class
    is the matrix itself (float32), so prefer a subclass in `compile`. Read
    the counts with `confusion()`. After `fit` runs validation, a metric
    object holds the validation data's state at `on_epoch_end`.

    Args:
        num_classes: Number of classes (size of the last axis of `y_pred`).
        name: Metric name (the log key).
        dtype: Dtype of `result()`.

    Raises:
        ValueError: If `num_classes` is not a positive integer.
    """

    def __init__(self, num_classes, name="confusion_matrix", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"{type(self).__name__}: num_classes must be a positive integer, got {num_classes!r}")
        self.num_classes = int(num_classes)
        # float64 counts stay exact up to 2**53 and allow sample weights.
        self.total_confusion = self.add_variable(shape=(self.num_classes, self.num_classes), initializer="zeros",
                                                 dtype="float64", name="total_confusion")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds a batch: `y_pred` scores (..., num_classes), `y_true` labels (...)."""
        scores = tf.convert_to_tensor(y_pred)
        num_classes = self.num_classes
        if scores.shape[-1] is not None and scores.shape[-1] != num_classes:
            raise ValueError(f"{self.name}: y_pred has {scores.shape[-1]} scores per sample, "
                             f"expected num_classes={num_classes} (shape {scores.shape})")
        labels = tf.reshape(_labels_like(y_true, scores), [-1])
        predicted = tf.reshape(tf.argmax(scores, axis=-1, output_type=tf.int64), [-1])
        weights = tf.reshape(_label_weights(sample_weight, scores), [-1])
        valid = (labels >= 0) & (labels < num_classes)
        weights = tf.where(valid, weights, tf.zeros_like(weights))
        cells = tf.where(valid, labels * num_classes + predicted, tf.zeros_like(labels))
        counts = tf.math.unsorted_segment_sum(weights, cells, num_classes * num_classes)
        self.total_confusion.assign_add(tf.reshape(counts, (num_classes, num_classes)))

    def _matrix(self):
        return tf.convert_to_tensor(self.total_confusion)

    def result(self):
        return tf.cast(self._matrix(), self.dtype)

    def confusion(self):
        """The accumulated confusion matrix as NumPy: int64 (float64 if weights made it fractional)."""
        matrix = np.asarray(keras.ops.convert_to_numpy(self.total_confusion), np.float64)
        return matrix.astype(np.int64) if np.all(matrix == np.round(matrix)) else matrix

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def _mean_of_present(values, present):
    present = tf.cast(present, tf.float64)
    return tf.math.divide_no_nan(tf.reduce_sum(values * present), tf.reduce_sum(present))


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class MeanClassAccuracy(ConfusionMatrix):
    """Mean per-class accuracy over the classes present in the ground truth (0 before any data).

    Args:
        num_classes: Number of classes.
        name: Metric name.
        dtype: Dtype of `result()`.
    """

    def __init__(self, num_classes, name="mean_class_accuracy", dtype=None):
        super().__init__(num_classes, name=name, dtype=dtype)

    def result(self):
        matrix = self._matrix()
        seen = tf.reduce_sum(matrix, axis=1)
        accuracy = tf.math.divide_no_nan(tf.linalg.diag_part(matrix), seen)
        return tf.cast(_mean_of_present(accuracy, seen > 0), self.dtype)


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class MeanIoU(ConfusionMatrix):
    """Mean IoU, TP / (TP + FP + FN), over the classes seen in truth or prediction (0 before any data).

    Registered as "pointnet_tf2>MeanIoU"; unlike `keras.metrics.MeanIoU` it
    takes logits and excludes absent classes.

    Args:
        num_classes: Number of classes.
        name: Metric name.
        dtype: Dtype of `result()`.
    """

    def __init__(self, num_classes, name="miou", dtype=None):
        super().__init__(num_classes, name=name, dtype=dtype)

    def result(self):
        matrix = self._matrix()
        tp = tf.linalg.diag_part(matrix)
        union = tf.reduce_sum(matrix, axis=0) + tf.reduce_sum(matrix, axis=1) - tp
        return tf.cast(_mean_of_present(tf.math.divide_no_nan(tp, union), union > 0), self.dtype)


class _PartIoU(keras.metrics.Metric):
    """Shared part of the part-segmentation metrics: per-shape IoUs of a batch."""

    def __init__(self, category_parts, name, dtype):
        super().__init__(name=name, dtype=dtype)
        self.category_parts, owner = parse_category_parts(category_parts)
        self._owner = owner
        self._allowed = {}

    def _allowed_table(self, width):
        if width not in self._allowed:
            table = np.zeros((len(self.category_parts), width), bool)
            for category, ids in enumerate(self.category_parts):
                table[category, ids] = True
            self._allowed[width] = table
        return tf.constant(self._allowed[width])

    def shape_ious(self, y_true, y_pred, sample_weight=None):
        """Per-shape IoUs of a batch with the original protocol.

        Args:
            y_true: Overall part ids (B, N) (or (B, N, 1)).
            y_pred: Part logits (B, N, P).
            sample_weight: None, per shape (B,) or per point (B, N).

        Returns:
            `(ious, categories, weights)`, each (B,): the shape IoU (float32),
            its category derived from `y_true` (int64) and its weight: the
            largest weight of its valid points, 0 for a shape without any.
        """
        scores = tf.convert_to_tensor(y_pred)
        width = scores.shape[-1]
        if scores.shape.rank != 3 or width is None:
            raise ValueError(f"{self.name}: y_pred must be part logits (batch, points, parts) with a known "
                             f"number of parts, got shape {scores.shape}")
        if width < len(self._owner):
            raise ValueError(f"{self.name}: y_pred has {width} part scores, but category_parts has part ids "
                             f"up to {len(self._owner) - 1}")
        labels = _labels_like(y_true, scores)
        weights = tf.cast(_label_weights(sample_weight, scores), tf.float32)
        valid = (labels >= 0) & (labels < len(self._owner))
        safe_labels = tf.where(valid, labels, tf.zeros_like(labels))
        point_category = tf.gather(tf.constant(self._owner), safe_labels)
        valid &= (point_category >= 0) & (weights > 0)
        category = tf.reduce_max(tf.where(valid, point_category, -tf.ones_like(point_category)), axis=1)
        category = tf.maximum(category, 0)
        allowed = tf.gather(self._allowed_table(width), category)
        restricted = tf.where(allowed[:, None, :], scores, tf.constant(-np.inf, scores.dtype))
        predicted = tf.argmax(restricted, axis=-1, output_type=tf.int64)
        point_mask = tf.cast(valid, tf.float32)[..., None]
        truth = tf.one_hot(safe_labels, width) * point_mask
        prediction = tf.one_hot(predicted, width) * point_mask
        intersection = tf.reduce_sum(truth * prediction, axis=1)
        union = tf.reduce_sum(truth, axis=1) + tf.reduce_sum(prediction, axis=1) - intersection
        iou = tf.where(union > 0, tf.math.divide_no_nan(intersection, union), tf.ones_like(union))
        allowed = tf.cast(allowed, tf.float32)
        ious = tf.reduce_sum(iou * allowed, axis=1) / tf.reduce_sum(allowed, axis=1)
        shape_weights = tf.reduce_max(weights * point_mask[..., 0], axis=1)
        return ious, category, shape_weights

    def get_config(self):
        return {**super().get_config(), "category_parts": [list(ids) for ids in self.category_parts]}


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class PartInstanceMIoU(_PartIoU):
    """Part-segmentation instance mIoU (mean over shapes) with the original protocol.

    Each shape's category is derived from its ground-truth parts; predictions
    are restricted to that category's parts; a part absent from both
    prediction and truth counts as IoU 1. Use on the "parts" output.

    Args:
        category_parts: Category -> overall part ids (a list or a dict keyed
            0..C-1), e.g. `description.category_parts`.
        name: Metric name.
        dtype: Dtype of `result()`.

    Raises:
        ValueError: If `category_parts` is invalid.
    """

    def __init__(self, category_parts, name="instance_miou", dtype=None):
        super().__init__(category_parts, name=name, dtype=dtype)
        self.iou_sum = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="iou_sum")
        self.shape_count = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="shape_count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ious, _, weights = self.shape_ious(y_true, y_pred, sample_weight)
        ious, weights = tf.cast(ious, tf.float64), tf.cast(weights, tf.float64)
        self.iou_sum.assign_add(tf.reduce_sum(ious * weights))
        self.shape_count.assign_add(tf.reduce_sum(weights))

    def result(self):
        return tf.cast(tf.math.divide_no_nan(tf.convert_to_tensor(self.iou_sum),
                                             tf.convert_to_tensor(self.shape_count)), self.dtype)


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class PartCategoryMIoU(_PartIoU):
    """Part-segmentation category mIoU: mean over the categories seen of their mean shape IoU.

    Same protocol as `PartInstanceMIoU`; `per_category()` gives the table.

    Args:
        category_parts: Category -> overall part ids.
        name: Metric name.
        dtype: Dtype of `result()`.

    Raises:
        ValueError: If `category_parts` is invalid.
    """

    def __init__(self, category_parts, name="category_miou", dtype=None):
        super().__init__(category_parts, name=name, dtype=dtype)
        num_categories = len(self.category_parts)
        self.iou_sums = self.add_variable(shape=(num_categories,), initializer="zeros", dtype="float64",
                                          name="iou_sums")
        self.shape_counts = self.add_variable(shape=(num_categories,), initializer="zeros", dtype="float64",
                                              name="shape_counts")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ious, categories, weights = self.shape_ious(y_true, y_pred, sample_weight)
        ious, weights = tf.cast(ious, tf.float64), tf.cast(weights, tf.float64)
        num_categories = len(self.category_parts)
        self.iou_sums.assign_add(tf.math.unsorted_segment_sum(ious * weights, categories, num_categories))
        self.shape_counts.assign_add(tf.math.unsorted_segment_sum(weights, categories, num_categories))

    def result(self):
        counts = tf.convert_to_tensor(self.shape_counts)
        means = tf.math.divide_no_nan(tf.convert_to_tensor(self.iou_sums), counts)
        return tf.cast(_mean_of_present(means, counts > 0), self.dtype)

    def per_category(self):
        """Mean shape IoU of every category as NumPy float64 (C,), NaN for categories not seen."""
        sums = keras.ops.convert_to_numpy(self.iou_sums)
        counts = keras.ops.convert_to_numpy(self.shape_counts)
        out = np.full(len(counts), np.nan)
        np.divide(sums, counts, out=out, where=counts > 0)
        return out
