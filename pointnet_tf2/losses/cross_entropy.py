"""Losses of the three tasks: cross-entropy with optional smoothing and class weights."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class SparseCrossEntropy(keras.losses.Loss):
    """Softmax cross-entropy on logits and integer labels, per sample or per point.

    With the defaults it equals the original's mean
    `tf.nn.sparse_softmax_cross_entropy_with_logits`. Label smoothing and
    per-class weights are optional; with class weights the mean is weighted
    (sum of weighted losses over sum of weights), so a uniform weight vector
    gives the plain loss.

    Args:
        num_classes: Number of classes (needed for smoothing and weights).
        label_smoothing: In [0, 1): the target is `(1 - s) * one_hot + s / C`.
        class_weights: Optional sequence of `num_classes` non-negative weights.
        name: Loss name.

    Raises:
        ValueError: On a bad smoothing value or a weight vector of the wrong
            length or with negative entries.
    """

    def __init__(self, num_classes, label_smoothing=0.0, class_weights=None, name="cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        if class_weights is not None:
            class_weights = [float(w) for w in class_weights]
            if len(class_weights) != num_classes or min(class_weights) < 0:
                raise ValueError(
                    f"class_weights must be {num_classes} non-negative numbers, got {len(class_weights)} "
                    f"(min {min(class_weights) if class_weights else None})"
                )
        self.num_classes = int(num_classes)
        self.label_smoothing = float(label_smoothing)
        self.class_weights = class_weights

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        y_pred = ops.cast(y_pred, "float32")
        log_probs = ops.log_softmax(y_pred, axis=-1)
        one_hot = ops.one_hot(y_true, self.num_classes, dtype="float32")
        if self.label_smoothing:
            one_hot = one_hot * (1.0 - self.label_smoothing) + self.label_smoothing / self.num_classes
        losses = -ops.sum(one_hot * log_probs, axis=-1)
        if self.class_weights is None:
            return losses
        weights = ops.take(ops.convert_to_tensor(self.class_weights, "float32"), y_true)
        # Normalised so that the reduction (a mean) gives the weighted mean.
        return losses * weights / ops.maximum(ops.mean(weights), 1e-12)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, label_smoothing=self.label_smoothing, class_weights=self.class_weights
        )
        return config
