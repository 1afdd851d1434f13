"""`PointCloudModel`: the Functional model class every builder of the zoo returns."""

import keras

from pointnet_tf2.compat import flatten_layers
from pointnet_tf2.models.registry import get_model


def _describe(shape):
    return "(" + ", ".join("B" if i == 0 else ("N" if d is None else str(d)) for i, d in enumerate(shape)) + ")"


def _targets_of(y, y_pred):
    if isinstance(y, dict) and isinstance(y_pred, dict) and set(y) - set(y_pred):
        return {key: value for key, value in y.items() if key in y_pred}
    return y


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class PointCloudModel(keras.Model):
    """A Keras Functional model that remembers the builder call that made it.

    Builders of the zoo return this class. It behaves exactly as a Functional
    model, and in addition:

    - `get_config()` is the builder's name and keyword arguments, so
      `from_config` (and loading a `.keras` file) calls the builder again:
      the config is short, readable and round-trips;
    - `task` and `builder_config` say what the model is, which training,
      evaluation and prediction read instead of guessing;
    - calling it with inputs of the wrong rank, channel count or point count,
      or without one of its named inputs, raises a one-line `ValueError`;
    - targets of outputs the model does not have are left out: the part
      segmentation data give `{"parts", "category"}` targets, and models
      without a category classifier (DGCNN, PointNet++) output `{"parts"}`;
    - when a layer has an activity regulariser (the feature-transform
      orthogonality loss), training and evaluation report its value as the
      metric `regularization_loss` (it is already part of `loss`).
    """

    def __init__(self, inputs, outputs, *, builder=None, task=None, builder_config=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.builder = builder
        self.task = task
        self.builder_config = dict(builder_config or {})
        regularized = any(
            getattr(layer, "activity_regularizer", None) is not None for layer in flatten_layers(self)
        )
        self.regularization_tracker = keras.metrics.Mean(name="regularization_loss") if regularized else None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        y = _targets_of(y, y_pred)
        total = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if self.regularization_tracker is not None and self.losses:
            self.regularization_tracker.update_state(keras.ops.sum([keras.ops.cast(l, "float32") for l in self.losses]))
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, _targets_of(y, y_pred), y_pred, sample_weight=sample_weight)

    def set_builder(self, builder, task, builder_config):
        """Records the registered builder call that produced this model."""
        self.builder = builder
        self.task = task
        self.builder_config = dict(builder_config)

    def __call__(self, inputs, *args, **kwargs):
        self._check_inputs(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _check_inputs(self, inputs):
        expected = {tensor.name: tuple(tensor.shape) for tensor in self.inputs}
        names = [tensor.name for tensor in self.inputs]
        if len(names) == 1:
            given = {names[0]: inputs[names[0]] if isinstance(inputs, dict) and names[0] in inputs else inputs}
        elif isinstance(inputs, dict):
            missing = [name for name in names if name not in inputs]
            if missing:
                raise ValueError(
                    f"{self.name}: missing input(s) {missing}; expected a dict with keys "
                    + ", ".join(f"{n!r} of shape {_describe(expected[n])}" for n in names)
                )
            given = inputs
        elif isinstance(inputs, (list, tuple)) and len(inputs) == len(names):
            given = dict(zip(names, inputs))
        else:
            raise ValueError(
                f"{self.name}: expected a dict with keys "
                + ", ".join(f"{n!r} of shape {_describe(expected[n])}" for n in names)
                + f", got {type(inputs).__name__}"
                + (f" of shape {tuple(inputs.shape)}" if hasattr(inputs, "shape") else "")
            )
        for name in names:
            value = given[name]
            if not hasattr(value, "shape"):
                continue
            shape = tuple(value.shape)
            want = expected[name]
            bad = len(shape) != len(want) or any(
                w is not None and s is not None and w != s for w, s in zip(want[1:], shape[1:])
            )
            if bad:
                raise ValueError(f"{self.name}: input {name!r} must have shape {_describe(want)}, got shape {shape}")

    def get_config(self):
        if self.builder is None:
            return super().get_config()
        return {
            "name": self.name,
            "trainable": self.trainable,
            "builder": self.builder,
            "builder_config": dict(self.builder_config),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "builder" not in config:
            return super().from_config(config, custom_objects=custom_objects)

        model = get_model(config["builder"], **config["builder_config"])
        model.trainable = config.get("trainable", True)
        return model
