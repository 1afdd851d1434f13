"""The original's learning-rate and batch-norm momentum schedules.

Both decay in steps of "samples seen" (optimizer step x batch size), as the
original computes them from `global_step * BATCH_SIZE`.
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class StaircaseDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Exponential learning-rate decay per sample seen, with a floor.

    `lr(step) = max(minimum, initial * rate ** floor(step * batch_size / decay_step))`
    (without the floor division when `staircase=False`): the original's
    `tf.train.exponential_decay(BASE_LEARNING_RATE, batch * BATCH_SIZE,
    DECAY_STEP, DECAY_RATE, staircase=True)` clipped at 1e-5.

    Args:
        initial_learning_rate: Learning rate at step 0 (original: 0.001).
        decay_step: Samples between two decays (original cls: 200,000).
        decay_rate: Factor per decay (original cls: 0.7).
        batch_size: Samples per optimizer step.
        minimum: Floor of the learning rate (original: 1e-5).
        staircase: Whether the decay happens in discrete steps.

    Raises:
        ValueError: If an argument is out of range.
    """

    def __init__(self, initial_learning_rate=0.001, decay_step=200_000, decay_rate=0.7, batch_size=32,
                 minimum=1e-5, staircase=True):
        _check_positive(initial_learning_rate, "initial_learning_rate")
        _check_positive(decay_step, "decay_step")
        _check_positive(batch_size, "batch_size")
        if not 0.0 < decay_rate <= 1.0:
            raise ValueError(f"decay_rate must be in (0, 1], got {decay_rate!r}")
        if minimum < 0:
            raise ValueError(f"minimum must be >= 0, got {minimum!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_step = int(decay_step)
        self.decay_rate = float(decay_rate)
        self.batch_size = int(batch_size)
        self.minimum = float(minimum)
        self.staircase = bool(staircase)

    def __call__(self, step):
        exponent = ops.cast(step, "float32") * self.batch_size / self.decay_step
        if self.staircase:
            exponent = ops.floor(exponent)
        rate = self.initial_learning_rate * ops.power(self.decay_rate, exponent)
        return ops.maximum(rate, self.minimum)

    def value(self, step):
        """Returns the learning rate at `step` as a Python float (no TensorFlow)."""
        exponent = step * self.batch_size / self.decay_step
        if self.staircase:
            exponent = math.floor(exponent)
        return max(self.initial_learning_rate * self.decay_rate**exponent, self.minimum)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_step": self.decay_step,
            "decay_rate": self.decay_rate,
            "batch_size": self.batch_size,
            "minimum": self.minimum,
            "staircase": self.staircase,
        }


def bn_momentum(samples_seen, *, initial=0.5, decay_step=200_000, decay_rate=0.5, maximum=0.99, staircase=True):
    """The original's batch-norm decay ("momentum") after `samples_seen` samples.

    `min(maximum, 1 - (1 - initial) * decay_rate ** floor(samples_seen / decay_step))`:
    0.5 at the start, then 0.75, 0.875, ... up to 0.99.

    Args:
        samples_seen: Training samples seen so far.
        initial: Momentum at the start (original: 0.5).
        decay_step: Samples between two steps (original cls: 200,000).
        decay_rate: Factor on `1 - momentum` per step (original: 0.5).
        maximum: Upper bound (original: 0.99).
        staircase: Whether the schedule moves in discrete steps.

    Returns:
        The momentum, a float.
    """
    exponent = samples_seen / decay_step
    if staircase:
        exponent = math.floor(exponent)
    return min(maximum, 1.0 - (1.0 - initial) * decay_rate**exponent)


def _check_positive(value, what):
    if not value > 0:
        raise ValueError(f"{what} must be > 0, got {value!r}")
