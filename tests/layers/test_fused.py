"""The fused layers compute what the Keras layers they extend compute."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import pointnet_tf2
from pointnet_tf2.layers import DenseMaxPooling
from pointnet_tf2.layers import FusedBatchNormalization
from pointnet_tf2.layers import PointMaxPooling
from pointnet_tf2.layers import PointwiseDense
from pointnet_tf2.layers import set_bf16_products
from pointnet_tf2.layers import set_fused_kernels
from pointnet_tf2.layers.fused import BF16_MIN_CHANNELS
from pointnet_tf2.layers.fused import native_bf16


@pytest.fixture
def plain_keras():
    """Runs the body with the fused kernels off, restoring the setting after."""
    previous = set_fused_kernels(False)
    try:
        yield
    finally:
        set_fused_kernels(previous)


def _graph_ops(function, *args):
    return {op.type for op in tf.function(function).get_concrete_function(*args).graph.get_operations()}


@pytest.mark.parametrize("shape", [(4, 37, 16), (6, 16), (2, 3, 5, 8)])
def test_fused_batch_norm_training_matches_keras(rng, shape):
    x = (rng.normal(size=shape) * 3 + 1).astype(np.float32)
    keras_bn = keras.layers.BatchNormalization(momentum=0.7, epsilon=1e-3)
    fused_bn = FusedBatchNormalization(momentum=0.7, epsilon=1e-3)
    for layer in (keras_bn, fused_bn):
        layer.build(shape)
        layer.set_weights([np.linspace(0.5, 2, shape[-1]), np.linspace(-1, 1, shape[-1]),
                           np.full(shape[-1], 0.2), np.full(shape[-1], 1.5)])  # fmt: skip
    tensor = tf.constant(x)
    weights = tf.constant(rng.normal(size=shape).astype(np.float32))
    gradients = []
    for layer in (keras_bn, fused_bn):
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            y = layer(tensor, training=True)
            loss = tf.reduce_sum(tf.sin(y) * weights)
        gradients.append((y.numpy(), *tape.gradient(loss, [tensor, layer.gamma, layer.beta])))
    np.testing.assert_allclose(gradients[1][0], gradients[0][0], atol=2e-5)
    for keras_grad, fused_grad in zip(gradients[0][1:], gradients[1][1:]):
        np.testing.assert_allclose(fused_grad.numpy(), keras_grad.numpy(), rtol=1e-4, atol=1e-4)
    # Moving averages: the same (biased) batch statistics, the same momentum.
    np.testing.assert_allclose(fused_bn.moving_mean.numpy(), keras_bn.moving_mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(fused_bn.moving_variance.numpy(), keras_bn.moving_variance.numpy(), rtol=1e-5)


def test_fused_batch_norm_moving_statistics_follow_keras_formula(rng):
    x = (rng.normal(size=(8, 50, 4)) * 2 - 1).astype(np.float32)
    layer = FusedBatchNormalization(momentum=0.6)
    layer.build(x.shape)
    layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.4 * x.mean(axis=(0, 1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.6 + 0.4 * x.var(axis=(0, 1)), rtol=1e-5)


def test_fused_batch_norm_inference_uses_moving_statistics(rng):
    x = rng.normal(size=(3, 20, 6)).astype(np.float32)
    layer = FusedBatchNormalization(epsilon=1e-3)
    layer.build(x.shape)
    gamma, beta = rng.uniform(0.5, 2, 6), rng.normal(size=6)
    mean, variance = rng.normal(size=6), rng.uniform(0.5, 2, 6)
    layer.set_weights([gamma, beta, mean, variance])
    expected = (x - mean) / np.sqrt(variance + 1e-3) * gamma + beta
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-5)
    # Not trainable (frozen) means inference behaviour, as in Keras.
    layer.trainable = False
    np.testing.assert_allclose(layer(x, training=True).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_fused_batch_norm_uses_one_fused_op_and_falls_back_when_off(plain_keras):
    layer = FusedBatchNormalization()
    layer.build((2, 8, 4))
    x = tf.zeros((2, 8, 4))
    assert "FusedBatchNormV3" not in _graph_ops(lambda v: layer(v, training=True), x)
    set_fused_kernels(True)
    assert "FusedBatchNormV3" in _graph_ops(lambda v: layer(v, training=True), x)


def test_fused_batch_norm_keeps_keras_weights_and_config():
    layer = FusedBatchNormalization(momentum=0.9, epsilon=1e-3, name="conv1_bn")
    layer.build((None, 16, 8))
    assert isinstance(layer, keras.layers.BatchNormalization)
    assert [w.path for w in layer.weights] == ["conv1_bn/gamma", "conv1_bn/beta", "conv1_bn/moving_mean",
                                               "conv1_bn/moving_variance"]  # fmt: skip
    clone = FusedBatchNormalization.from_config(layer.get_config())
    assert clone.momentum == 0.9 and clone.epsilon == 1e-3 and clone.name == "conv1_bn"


def test_point_max_pooling_matches_keras_values_and_gradients(rng):
    x = tf.constant(rng.normal(size=(3, 40, 5)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(3, 5)).astype(np.float32))
    results = []
    for layer in (keras.layers.GlobalMaxPooling1D(), PointMaxPooling()):
        for training in (True, False):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=training)
                loss = tf.reduce_sum(y * weights)
            results.append((y.numpy(), tape.gradient(loss, x).numpy()))
    for y, gradient in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_allclose(gradient, results[0][1], atol=1e-7)


def test_point_max_pooling_handles_any_point_count(rng):
    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, PointMaxPooling()(inputs))
    for points in (7, 31):
        x = rng.normal(size=(2, points, 4)).astype(np.float32)
        np.testing.assert_array_equal(model(x).numpy(), x.max(axis=1))


def test_pointwise_dense_matches_dense_and_fuses_matmul_with_bias(rng):
    x = rng.normal(size=(2, 9, 6)).astype(np.float32)
    dense = keras.layers.Dense(5, activation="relu")
    pointwise = PointwiseDense(5, activation="relu")
    dense.build(x.shape)
    pointwise.build(x.shape)
    pointwise.set_weights(dense.get_weights())
    np.testing.assert_allclose(pointwise(x).numpy(), dense(x).numpy(), rtol=1e-6, atol=1e-6)
    ops = _graph_ops(lambda v: pointwise(v), tf.constant(x))
    assert "MatMul" in ops and "Tensordot" not in str(ops)
    assert isinstance(pointwise, keras.layers.Dense)
    assert PointwiseDense.from_config(pointwise.get_config()).units == 5


def test_pointwise_dense_trains_as_a_convolution_with_the_same_values_and_gradients(rng):
    x = tf.constant(rng.normal(size=(3, 11, 6)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(3, 11, 5)).astype(np.float32))
    dense = keras.layers.Dense(5, activation="relu")
    pointwise = PointwiseDense(5, activation="relu")
    dense.build(x.shape)
    pointwise.build(x.shape)
    pointwise.set_weights([w + 0.5 for w in dense.get_weights()])  # a bias > 0 keeps most units active
    dense.set_weights(pointwise.get_weights())
    results = []
    for layer in (dense, pointwise):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * weights)
        results.append([loss.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, *layer.trainable_variables])])
    for expected, got in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert "Conv2D" in _graph_ops(lambda v: pointwise(v, training=True), x)
    assert "Conv2D" not in _graph_ops(lambda v: pointwise(v, training=False), x)


@pytest.fixture
def bf16_products():
    """Runs the body with bf16 products on, restoring the setting after."""
    previous = set_bf16_products(True)
    try:
        yield
    finally:
        set_bf16_products(previous)


def _loss_and_gradients(layer, x, weights, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, training=training) * weights)
    return [loss.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, *layer.trainable_variables])]


@pytest.mark.parametrize("points", [(50,), (10, 5)])  # per point; grouped (PointNet++) or edges (DGCNN)
def test_bf16_products_round_the_training_product_only(rng, bf16_products, points):
    x = tf.constant(rng.normal(size=(2, *points, BF16_MIN_CHANNELS)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(2, *points, 32)).astype(np.float32))
    layer = PointwiseDense(32, bias_initializer="ones")
    layer.build(x.shape)
    reference = PointwiseDense(32)
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())
    set_bf16_products(False)
    loss, *gradients = _loss_and_gradients(reference, x, weights, training=True)
    set_bf16_products(True)
    bf16_loss, *bf16_gradients = _loss_and_gradients(layer, x, weights, training=True)
    # bf16 keeps 8 significant bits (2^-9 relative per operand); products accumulate in float32.
    assert 1e-6 < abs(bf16_loss - loss) / abs(loss) < 5e-3
    for name, a, b in zip(("inputs", "kernel"), gradients, bf16_gradients):
        assert b.dtype == np.float32
        assert 1e-5 < np.linalg.norm(a - b) / np.linalg.norm(a) < 1e-2, name
    np.testing.assert_allclose(bf16_gradients[2], gradients[2], rtol=1e-6)  # the bias sums float32 gradients
    graph = tf.function(lambda v: layer(v, training=True)).get_concrete_function(x).graph
    assert any(op.type == "Conv2D" and op.get_attr("T") == tf.bfloat16 for op in graph.get_operations())
    assert all(v.dtype == "float32" for v in layer.weights)
    # Inference stays float32: the same numbers as with the setting off.
    np.testing.assert_array_equal(layer(x, training=False).numpy(), reference(x, training=False).numpy())


def test_bf16_products_leave_narrow_inputs_in_float32(rng, bf16_products):
    x = tf.constant(rng.normal(size=(2, 20, 3)).astype(np.float32))  # raw coordinates: memory-bound, precise
    layer = PointwiseDense(8)
    layer.build(x.shape)
    graph = tf.function(lambda v: layer(v, training=True)).get_concrete_function(x).graph
    assert not any(op.type == "Conv2D" and op.get_attr("T") == tf.bfloat16 for op in graph.get_operations())
    assert set_bf16_products(False) is True and set_bf16_products(True) is False


@pytest.mark.parametrize("flags, expected", [("fpu avx512f avx512_bf16 sse", True), ("fpu amx_bf16 amx_tile", True),
                                             ("fpu avx2 avx512f", False)])  # fmt: skip
def test_native_bf16_reads_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert native_bf16(str(cpuinfo)) is expected
    assert native_bf16(str(tmp_path / "missing")) is False


@pytest.mark.parametrize("activation", ["relu", None])
@pytest.mark.parametrize("clouds_per_step", [1, 2, 4])
def test_dense_max_pooling_equals_dense_then_max_over_points(rng, activation, clouds_per_step):
    x = rng.normal(size=(5, 23, 6)).astype(np.float32)  # 5 clouds: the last step is a partial one
    dense = keras.layers.Dense(7, activation=activation)
    dense.build(x.shape)
    dense.set_weights([rng.normal(size=(6, 7)).astype(np.float32), rng.normal(size=7).astype(np.float32)])
    fused = DenseMaxPooling(7, activation=activation, clouds_per_step=clouds_per_step)
    fused.build(x.shape)
    fused.set_weights(dense.get_weights())
    expected = dense(x).numpy().max(axis=1)
    np.testing.assert_allclose(fused(x).numpy(), expected, rtol=1e-6, atol=1e-6)
    # A symbolic batch size and point count (the exported signature) give the same.
    inputs = keras.Input((None, 6))
    model = keras.Model(inputs, fused(inputs))
    assert model.output.shape == (None, 7)
    np.testing.assert_allclose(tf.function(model)(x).numpy(), expected, rtol=1e-6, atol=1e-6)
    with_plain_keras = set_fused_kernels(False)
    try:
        np.testing.assert_allclose(fused(x).numpy(), expected, rtol=1e-6, atol=1e-6)
    finally:
        set_fused_kernels(with_plain_keras)


def test_dense_max_pooling_validates_and_round_trips_its_config():
    with pytest.raises(ValueError, match="DenseMaxPooling supports activation None or 'relu', got 'tanh'"):
        DenseMaxPooling(4, activation="tanh")
    with pytest.raises(ValueError, match="clouds_per_step must be a positive integer, got 0"):
        DenseMaxPooling(4, clouds_per_step=0)
    layer = DenseMaxPooling(4, activation="relu", clouds_per_step=3, name="max_pool")
    clone = DenseMaxPooling.from_config(layer.get_config())
    assert (clone.units, clone.clouds_per_step, clone.name) == (4, 3, "max_pool")
    assert clone.activation is keras.activations.relu


def test_zoo_model_fast_path_matches_plain_path(rng):
    """Same weights, fused kernels on and off: inference, training outputs, loss and gradients agree."""
    x = rng.normal(size=(8, 128, 3)).astype(np.float32)
    y = rng.integers(0, 5, 8)
    keras.utils.set_random_seed(0)
    weights = pointnet_tf2.get_model("pointnet_cls", num_classes=5, num_points=128).get_weights()
    runs = []
    for fused in (False, True):
        previous = set_fused_kernels(fused)
        try:
            keras.utils.set_random_seed(0)  # the same dropout masks
            model = pointnet_tf2.get_model("pointnet_cls", num_classes=5, num_points=128)
            model.set_weights(weights)
            inference = model(x, training=False).numpy()
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
                loss += tf.add_n(model.losses)
            grads = tape.gradient(loss, model.trainable_variables)
            runs.append((inference, logits.numpy(), float(loss), grads, [v.path for v in model.trainable_variables]))
        finally:
            set_fused_kernels(previous)
    (inf_p, out_p, loss_p, grads_p, names), (inf_f, out_f, loss_f, grads_f, _) = runs
    bn_layers = {layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    np.testing.assert_allclose(inf_f, inf_p, atol=1e-5)
    np.testing.assert_allclose(out_f, out_p, atol=1e-4)
    assert loss_f == pytest.approx(loss_p, rel=1e-5)
    for name, g_p, g_f in zip(names, grads_p, grads_f):
        if name.endswith("/bias") and f"{name.split('/')[0]}_bn" in bn_layers:
            continue  # a bias right before batch norm has a zero gradient: only rounding noise to compare
        scale = float(np.abs(g_p.numpy()).max())
        assert float(np.abs(g_f.numpy() - g_p.numpy()).max()) <= 5e-3 * scale + 1e-6, name
