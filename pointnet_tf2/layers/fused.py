"""Drop-in layers that run the per-point blocks through TensorFlow's fused kernels.

Keras 3 computes batch norm from separate mean, variance and arithmetic ops,
and a max over points through `reduce_max`, whose gradient builds an equality
mask. On a `(B, N, 1024)` activation these passes cost more than the matrix
multiply before them (see `benchmarks/profile_step.py`). The layers here keep
the Keras classes' weights, names, configs and semantics, and switch to one
fused TensorFlow op where it is safe; anywhere else (another backend,
synchronized batch norm, masks, other axes) they call the Keras code unchanged.
"""

import keras
from keras import ops


_ENABLED = [True]
_BF16_PRODUCTS = [False]
# Below this many input channels a product is bound by memory, not arithmetic:
# bf16 would cost precision (e.g. of raw coordinates) and save nothing.
BF16_MIN_CHANNELS = 64


def set_fused_kernels(enabled):
    """Turns the fused paths of this module's layers on or off (on by default).

    Off, every layer here runs the Keras implementation it extends: the
    "plain path" the benchmarks and tests compare with. Takes effect for
    functions traced afterwards (a new model, `compile`, or `fit`).

    Args:
        enabled: True for the fused kernels, False for plain Keras.

    Returns:
        The previous setting.
    """
    previous = _ENABLED[0]
    _ENABLED[0] = bool(enabled)
    return previous


def set_bf16_products(enabled):
    """Turns bf16 products in the training path of `PointwiseDense` on or off (off by default).

    On, a training step multiplies each per-point layer with at least
    `BF16_MIN_CHANNELS` input channels in bfloat16: the operands are rounded
    to bf16 and the product, accumulated in float32 by oneDNN's
    `avx512_bf16` kernels, is cast back to float32 before the bias. The
    weights, their gradients and optimizer state, batch norm and everything
    else stay float32; inference (`training=False`), evaluation and export
    are unchanged. Like `set_fused_kernels`, it takes effect for functions
    traced afterwards. The trainer's `--bf16_products` sets it for one run.

    Args:
        enabled: True for bf16 products, False for float32.

    Returns:
        The previous setting.
    """
    previous = _BF16_PRODUCTS[0]
    _BF16_PRODUCTS[0] = bool(enabled)
    return previous


def native_bf16(cpuinfo="/proc/cpuinfo"):
    """Whether bf16 products run natively here: on a GPU, or a CPU with `avx512_bf16` or AMX.

    The CPU's flags are read from `cpuinfo`; where it is missing (other
    systems) a CPU counts as without: TensorFlow then still runs bf16
    products, only emulated and slower than float32.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _tensorflow():
    """The TensorFlow module when fused kernels are on and it is Keras' backend, else None."""
    if not _ENABLED[0] or keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class PointwiseDense(keras.layers.Dense):
    """`keras.layers.Dense` that multiplies a `(B, N, C)` input as one `(B * N, C)` matrix.

    Keras' Dense on a rank-3 input places reshapes between the matrix
    multiply, the bias and the activation, so TensorFlow cannot fuse them.
    Folding the leading axes first makes them adjacent: at inference matmul
    + bias (+ ReLU) run as one fused kernel. In training a `(B, N, C)` input
    is multiplied as a 1x1 convolution instead: oneDNN's convolution forward
    and backward kernels make a PointNet training step about 10% faster
    than the matmul and its two backward matmuls (`benchmarks/run.py`,
    layer micro-benchmarks). With `set_bf16_products(True)` the training
    product of a layer with at least `BF16_MIN_CHANNELS` inputs runs in
    bf16, for `(B, N, C)` and grouped `(B, N, K, C)` inputs alike. Weights,
    names and config are those of `Dense` (the kernel is only viewed as
    `(1, 1, C, units)`; the checkpoint mapping is unchanged).
    """

    def call(self, inputs, training=None):
        if not _ENABLED[0] or len(inputs.shape) <= 2 or self.lora_enabled or self.quantization_mode:
            return super().call(inputs, training=training)
        tf = _tensorflow()
        rank = len(inputs.shape)
        if training and tf is not None and (rank == 3 or rank == 4 and self._bf16()):
            return self._convolve(tf, inputs)
        shape = [*ops.shape(inputs)[:-1], self.units]
        outputs = super().call(ops.reshape(inputs, (-1, inputs.shape[-1])), training=training)
        return ops.reshape(outputs, shape)

    def _bf16(self, channels=None):
        """Whether a training product over `channels` inputs (default: all) runs in bf16 (`set_bf16_products`)."""
        channels = self.kernel.shape[0] if channels is None else channels
        return _BF16_PRODUCTS[0] and self.compute_dtype == "float32" and channels >= BF16_MIN_CHANNELS

    def _convolve(self, tf, inputs):
        """`activation(inputs @ kernel + bias)` for `(B, N, C)` or `(B, N, K, C)` inputs, as a 1x1 convolution."""
        outputs = self._conv_product(tf, inputs, self.kernel)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, ops.cast(self.bias, self.compute_dtype))
        return self.activation(outputs)

    def _conv_product(self, tf, inputs, kernel):
        """`inputs @ kernel` for `(B, N, C)` or `(B, N, K, C)` inputs and a `(C, units)` kernel, as a 1x1 convolution.

        In bf16 when `_bf16(C)`: operands rounded to bf16, the result cast back.
        """
        bf16 = self._bf16(kernel.shape[0])
        kernel = tf.reshape(ops.cast(kernel, self.compute_dtype), (1, 1, *kernel.shape))
        grid = tf.expand_dims(inputs, 1) if len(inputs.shape) == 3 else inputs
        if bf16:
            grid, kernel = tf.cast(grid, tf.bfloat16), tf.cast(kernel, tf.bfloat16)
        outputs = tf.nn.conv2d(grid, kernel, strides=1, padding="VALID")
        if len(inputs.shape) == 3:
            outputs = tf.squeeze(outputs, 1)
        return tf.cast(outputs, self.compute_dtype) if bf16 else outputs


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` over the last axis with one fused op.

    Training computes the batch statistics, the normalisation and (in the
    backward pass) the gradients in TensorFlow's `FusedBatchNormV3` kernel
    instead of about ten separate ops; the moving averages are updated exactly
    as Keras does (with the biased batch variance). Inference applies the
    moving statistics with the same kernel. The weights (`gamma`, `beta`,
    `moving_mean`, `moving_variance`) are those of the Keras layer, so
    checkpoints and `set_weights` are unchanged.

    Falls back to the Keras implementation for masks, other axes, renorm,
    `synchronized=True` (see `pointnet_tf2.training.distribute`) and
    non-TensorFlow backends.
    """

    def _fusable(self, inputs, mask):
        rank = len(inputs.shape)
        return (
            _tensorflow() is not None
            and mask is None
            and not self.synchronized
            and not self.renorm
            and rank >= 2
            and self.axis % rank == rank - 1
            and inputs.shape[-1] is not None
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        tf = _tensorflow()
        channels = inputs.shape[-1]
        # Every position is one sample of the statistics: a (M, 1, 1, C) view
        # is the fastest layout for the oneDNN kernel on CPU.
        flat = tf.reshape(ops.cast(inputs, "float32"), (-1, 1, 1, channels))
        gamma = ops.cast(self.gamma, "float32") if self.scale else tf.ones((channels,), "float32")
        beta = ops.cast(self.beta, "float32") if self.center else tf.zeros((channels,), "float32")
        batch_statistics = bool(training and self.trainable)
        if batch_statistics:
            given_mean = given_variance = tf.zeros((0,), "float32")
        else:
            given_mean, given_variance = ops.cast(self.moving_mean, "float32"), ops.cast(self.moving_variance, "float32")
        outputs, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=flat,
            scale=gamma,
            offset=beta,
            mean=given_mean,
            variance=given_variance,
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=batch_statistics,
        )
        if batch_statistics:
            # The kernel returns the unbiased variance; Keras averages the biased one.
            count = tf.cast(tf.shape(flat)[0], "float32")
            variance = variance * tf.maximum(count - 1.0, 0.0) / tf.maximum(count, 1.0)
            momentum = self.momentum
            self.moving_mean.assign(self.moving_mean * momentum + tf.stop_gradient(mean) * (1.0 - momentum))
            self.moving_variance.assign(
                self.moving_variance * momentum + tf.stop_gradient(variance) * (1.0 - momentum)
            )
        outputs = tf.reshape(outputs, tf.shape(inputs))
        return ops.cast(outputs, self.compute_dtype)


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class PointMaxPooling(keras.layers.GlobalMaxPooling1D):
    """`keras.layers.GlobalMaxPooling1D` (max over points) through TensorFlow's max pool.

    `(B, N, C) -> (B, C)`. The forward values are those of the Keras layer.
    With a fixed point count it is the oneDNN max pool (forward + backward
    about 2.3x faster than `reduce_max` and its gradient, 1.6x faster than
    `max_pool_with_argmax`, on a (32, 1024, 1024) activation); with
    `N = None` a max pool with a dynamic window. The gradient goes to the
    arg-max point as in the original's `max_pool2d` (Keras' `reduce_max`
    splits it among tied points, which after a ReLU only happens at zero,
    where the ReLU blocks it anyway). Other data formats, `keepdims` and
    backends use the Keras code.
    """

    def call(self, inputs, training=None):
        tf = _tensorflow()
        if tf is None or self.data_format != "channels_last" or self.keepdims or len(inputs.shape) != 3:
            return super().call(inputs)
        shape = tf.shape(inputs)
        grid = tf.expand_dims(inputs, 2)  # (B, N, 1, C)
        points = inputs.shape[1]
        if points is not None:  # a static window: oneDNN's pool, and the MaxPool op every runtime (LiteRT too) has
            pooled = tf.nn.max_pool2d(grid, ksize=[points, 1], strides=1, padding="VALID")
        else:
            pooled = tf.raw_ops.MaxPoolV2(
                input=grid, ksize=tf.stack([1, shape[1], 1, 1]), strides=[1, 1, 1, 1], padding="VALID"
            )
        channels = inputs.shape[-1] if inputs.shape[-1] is not None else shape[2]
        return tf.reshape(pooled, (shape[0], channels))


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class DenseMaxPooling(keras.layers.Dense):
    """A per-point `Dense` (+ ReLU) followed by a max over points, as one layer.

    `(B, N, C) -> (B, units)`, equal to `GlobalMaxPooling1D()(Dense(units)(x))`.
    Since the bias and a ReLU are monotonic per channel, the max is taken of
    the matrix product first and the bias and activation are applied to the
    `(B, units)` maxima. The product is computed `clouds_per_step` clouds at
    a time, so its `(N, units)` block is pooled while still in cache instead
    of being written out for a separate pooling pass. `fold_batch_norm` uses
    it for inference; it is differentiable but not meant for training.

    Args:
        units: Output channels.
        activation: None (linear) or "relu": any activation that is
            monotonic per channel commutes with the max, these two are allowed.
        clouds_per_step: Clouds multiplied and pooled per step (positive int).
        **kwargs: Other `keras.layers.Dense` arguments (names, initialisers).

    Raises:
        ValueError: On another activation or a non-positive `clouds_per_step`.
    """

    def __init__(self, units, activation=None, clouds_per_step=2, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        if self.activation not in (keras.activations.linear, keras.activations.relu):
            raise ValueError(f"DenseMaxPooling supports activation None or 'relu', got {activation!r}")
        if isinstance(clouds_per_step, bool) or not isinstance(clouds_per_step, int) or clouds_per_step < 1:
            raise ValueError(f"clouds_per_step must be a positive integer, got {clouds_per_step!r}")
        self.clouds_per_step = clouds_per_step
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = keras.layers.InputSpec(ndim=3, axes={-1: input_shape[-1]})

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def _maxima(self, inputs):
        """`max over points of inputs @ kernel`, shape (B, units)."""
        tf = _tensorflow()
        kernel = ops.cast(self.kernel, self.compute_dtype)
        if tf is None:
            return ops.max(ops.matmul(inputs, kernel), axis=1)
        channels = inputs.shape[-1]
        points = inputs.shape[1] if inputs.shape[1] is not None else tf.shape(inputs)[1]
        step = self.clouds_per_step

        def pooled(clouds):
            # Transposed, `(units, clouds * N)`: the max runs along contiguous rows, faster than a max pool
            # over the middle axis (about 4% of a folded cls forward).
            products = tf.matmul(kernel, tf.reshape(clouds, (-1, channels)), transpose_a=True, transpose_b=True)
            return tf.transpose(tf.reduce_max(tf.reshape(products, (self.units, -1, points)), axis=2))

        if inputs.shape[0] is not None and inputs.shape[0] <= step:
            return pooled(inputs)
        batch = tf.shape(inputs)[0]
        steps = (batch + step - 1) // step
        maxima = tf.TensorArray(inputs.dtype, size=steps, infer_shape=False, element_shape=(None, self.units))

        def body(i, maxima):
            return i + 1, maxima.write(i, pooled(inputs[i * step : (i + 1) * step]))

        _, maxima = tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), maxima), parallel_iterations=1)
        return tf.reshape(maxima.concat(), (batch, self.units))

    def call(self, inputs, training=None):
        outputs = self._maxima(ops.cast(inputs, self.compute_dtype))
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, self.compute_dtype)
        return self.activation(outputs)

    def get_config(self):
        return {**super().get_config(), "clouds_per_step": self.clouds_per_step}
