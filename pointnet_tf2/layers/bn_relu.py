"""A batch norm + ReLU prototype with its own gradient (issue 19: fewer passes per block).

Not used by any model: `benchmarks/run.py --sections levers` measures it
against the default training path (`FusedBatchNormalization` + `ReLU`).
"""

import keras
from keras import ops


def _forward(tf, flat, gamma, beta, epsilon):
    """`relu(batch_norm(flat))` over axis 0 with the batch statistics; also returns mean, biased variance."""
    mean, variance = tf.nn.moments(flat, axes=[0])
    scale = gamma * tf.math.rsqrt(variance + epsilon)
    outputs = tf.nn.relu(flat * scale + (beta - mean * scale))
    return outputs, mean, variance


def _backward(tf, upstream, flat, outputs, mean, variance, gamma, epsilon):
    """Gradients of `_forward` for (flat, gamma, beta): the batch-norm backward with the ReLU mask."""
    inverse = tf.math.rsqrt(variance + epsilon)
    masked = tf.where(outputs > 0, upstream, tf.zeros_like(upstream))
    normalized = (flat - mean) * inverse
    d_beta = tf.reduce_sum(masked, axis=0)
    d_gamma = tf.reduce_sum(masked * normalized, axis=0)
    count = tf.cast(tf.shape(flat)[0], flat.dtype)
    d_flat = (gamma * inverse / count) * (count * masked - d_beta - normalized * d_gamma)
    return d_flat, d_gamma, d_beta


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class BatchNormReLU(keras.layers.BatchNormalization):
    """`BatchNormalization` (last axis) followed by ReLU, with one custom gradient.

    Training: the batch statistics, the normalisation and the ReLU are one
    function whose backward pass is the batch-norm backward with the ReLU
    mask applied first (the standard formulas, no intermediate saved but the
    input and output). With `jit_compile=True` the forward and backward are
    each compiled by XLA, which fuses the reductions and the elementwise
    work into fewer passes over memory. The moving statistics are updated
    as Keras does. Inference: `relu` of the moving-statistics normalisation.
    Weights and names are those of `BatchNormalization`. TensorFlow backend
    only; masks, renorm and synchronized batch norm are not supported.

    Args:
        jit_compile: Compile the training forward and backward with XLA.
        **kwargs: `keras.layers.BatchNormalization` arguments (axis must be -1).

    Raises:
        ValueError: On `axis` other than -1, `renorm` or `synchronized`.
    """

    def __init__(self, jit_compile=False, **kwargs):
        super().__init__(**kwargs)
        if self.axis != -1:
            raise ValueError(f"BatchNormReLU normalises the last axis only (axis=-1), got axis={self.axis!r}")
        if self.renorm or self.synchronized:
            raise ValueError("BatchNormReLU supports neither renorm nor synchronized batch norm")
        if not isinstance(jit_compile, bool):
            raise ValueError(f"jit_compile must be True or False, got {jit_compile!r}")
        self.jit_compile = jit_compile
        self._kernels = None

    def _compiled(self, tf):
        """The forward and backward functions, compiled with XLA if asked."""
        if self._kernels is None:
            epsilon = self.epsilon

            def forward(flat, gamma, beta):
                return _forward(tf, flat, gamma, beta, epsilon)

            def backward(upstream, flat, outputs, mean, variance, gamma):
                return _backward(tf, upstream, flat, outputs, mean, variance, gamma, epsilon)

            if self.jit_compile:
                forward = tf.function(forward, jit_compile=True, autograph=False)
                backward = tf.function(backward, jit_compile=True, autograph=False)
            self._kernels = forward, backward
        return self._kernels

    def call(self, inputs, training=None, mask=None):
        import tensorflow as tf

        if mask is not None:
            raise ValueError("BatchNormReLU does not support masks")
        channels = inputs.shape[-1]
        flat = tf.reshape(ops.cast(inputs, "float32"), (-1, channels))
        gamma = ops.cast(self.gamma, "float32") if self.scale else tf.ones((channels,), "float32")
        beta = ops.cast(self.beta, "float32") if self.center else tf.zeros((channels,), "float32")
        if training and self.trainable:
            forward, backward = self._compiled(tf)

            @tf.custom_gradient
            def block(flat, gamma, beta):
                outputs, mean, variance = forward(flat, gamma, beta)

                def grad(upstream, _mean_grad, _variance_grad):
                    return backward(upstream, flat, outputs, mean, variance, gamma)

                return (outputs, mean, variance), grad

            outputs, mean, variance = block(flat, gamma, beta)
            momentum = self.momentum
            self.moving_mean.assign(self.moving_mean * momentum + tf.stop_gradient(mean) * (1.0 - momentum))
            self.moving_variance.assign(self.moving_variance * momentum + tf.stop_gradient(variance) * (1.0 - momentum))
        else:
            scale = gamma * tf.math.rsqrt(ops.cast(self.moving_variance, "float32") + self.epsilon)
            outputs = tf.nn.relu(flat * scale + (beta - ops.cast(self.moving_mean, "float32") * scale))
        return ops.cast(tf.reshape(outputs, tf.shape(inputs)), self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "jit_compile": self.jit_compile}
