"""Optimizers with PyTorch's (coupled) weight decay: `l2 * w` added to every gradient.

`torch.optim.SGD(weight_decay=wd)` and `torch.optim.Adam(weight_decay=wd)`
add `wd * w` to each parameter's gradient before the momentum or the
moment estimates see it, as an L2 penalty `wd / 2 * |w|^2` on the loss
would, without adding it to the reported loss. Keras' own `weight_decay`
argument is the decoupled kind (`w -= lr * wd * w` after the update, as
AdamW), which with SGD momentum 0.9 shrinks the weights about ten times
less. The original DGCNN classifier trains with the coupled kind
(`--weight_decay`, see `pointnet_tf2.models.dgcnn.defaults`).
"""

import keras


def check_weight_decay(value, what="weight_decay"):
    """`value` as a float, if it is a number >= 0; else a `ValueError` naming `what` and quoting it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{what} must be a number >= 0, got {value!r}")
    return float(value)


class _CoupledWeightDecay:
    """Adds `l2 * variable` to each gradient in `apply` (mixed into a Keras optimizer).

    Args:
        *args: The optimizer's arguments (learning rate, ...).
        l2: The coupled weight decay, a number >= 0.
        **kwargs: The optimizer's other arguments.

    Raises:
        ValueError: If `l2` is not a number >= 0.
    """

    def __init__(self, *args, l2=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l2 = check_weight_decay(l2, "l2")

    def apply(self, grads, trainable_variables=None):
        if self.l2:
            if trainable_variables is None:
                raise ValueError(f"{type(self).__name__} needs the variables with their gradients, to add l2 * w")
            trainable_variables = list(trainable_variables)
            grads = [None if grad is None else grad + self.l2 * keras.ops.cast(variable, grad.dtype)
                     for grad, variable in zip(grads, trainable_variables)]  # fmt: skip
        return super().apply(grads, trainable_variables)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class SGDWithL2(_CoupledWeightDecay, keras.optimizers.SGD):
    """`keras.optimizers.SGD` plus `l2 * w` in every gradient: `torch.optim.SGD`'s `weight_decay`."""


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class AdamWithL2(_CoupledWeightDecay, keras.optimizers.Adam):
    """`keras.optimizers.Adam` plus `l2 * w` in every gradient: `torch.optim.Adam`'s `weight_decay`."""


def make_optimizer(name, learning_rate, *, momentum=0.9, weight_decay=0.0):
    """The run's optimizer: Adam or SGD with momentum, with coupled weight decay when it is not 0.

    Without weight decay the optimizers are Keras' own, as in runs recorded
    before `--weight_decay` existed.

    Args:
        name: "adam" or "momentum".
        learning_rate: A float or a `LearningRateSchedule`.
        momentum: SGD's momentum (`name="momentum"`).
        weight_decay: Coupled weight decay (PyTorch's), >= 0.

    Returns:
        A Keras optimizer.

    Raises:
        ValueError: On another name or a negative weight decay.
    """
    kinds = {"adam": (keras.optimizers.Adam, AdamWithL2, {}),
             "momentum": (keras.optimizers.SGD, SGDWithL2, {"momentum": momentum})}
    if name not in kinds:
        raise ValueError(f"optimizer must be 'adam' or 'momentum', got {name!r}")
    plain, coupled, arguments = kinds[name]
    if weight_decay:
        return coupled(learning_rate=learning_rate, l2=weight_decay, **arguments)
    return plain(learning_rate=learning_rate, **arguments)
