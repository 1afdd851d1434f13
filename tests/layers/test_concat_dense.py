"""ConcatPointwiseDense computes Dense(Concatenate([tiled inputs])) without the tiled tensor."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2.layers import ConcatPointwiseDense
from pointnet_tf2.layers import PointwiseDense
from pointnet_tf2.layers import set_bf16_products
from pointnet_tf2.layers import set_fused_kernels
from pointnet_tf2.layers import tile_and_concatenate

# Input layouts, in concatenation order: an int is a per-cloud (B, C) input, a
# pair (None, C) a per-point (B, N, C) input.
LAYOUTS = {
    "part_seg": [7, (None, 3), (None, 5), (None, 4)],  # [tile(global + category), out1, out2, out3]
    "sem_seg": [(None, 6), 5],  # [points, tile(global)]
    "interleaved": [(None, 3), 4, (None, 2), 3],  # rows of each kind not adjacent
    "points_only": [(None, 3), (None, 5)],
}


def _inputs(layout, rng, batch=3, points=11):
    shapes = [(batch, c) if isinstance(c, int) else (batch, points, c[1]) for c in layout]
    return [tf.constant(rng.normal(size=shape).astype(np.float32)) for shape in shapes]


def _tile_and_concatenate(inputs):
    points = next(x for x in inputs if len(x.shape) == 3).shape[1]
    return tf.concat([tf.repeat(x[:, None], points, axis=1) if len(x.shape) == 2 else x for x in inputs], axis=-1)


def _reference_dense(kernel, bias, activation):
    """A keras.layers.Dense with `kernel` and `bias`."""
    dense = keras.layers.Dense(kernel.shape[1], activation=activation, use_bias=bias is not None)
    dense.build((None, None, kernel.shape[0]))
    dense.set_weights([kernel] if bias is None else [kernel, bias])
    return dense


@pytest.fixture(params=[True, False], ids=["fused", "plain"])
def fused(request):
    previous = set_fused_kernels(request.param)
    try:
        yield request.param
    finally:
        set_fused_kernels(previous)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("activation, use_bias", [("relu", True), (None, False)])
def test_values_and_gradients_equal_concatenate_then_dense(rng, fused, layout, training, activation, use_bias):
    inputs = _inputs(LAYOUTS[layout], rng)
    layer = ConcatPointwiseDense(6, activation=activation, use_bias=use_bias)
    layer.build([x.shape for x in inputs])
    channels = sum(x.shape[-1] for x in inputs)
    kernel = rng.normal(size=(channels, 6)).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32) + 0.5 if use_bias else None  # most ReLUs active
    layer.set_weights([kernel] if bias is None else [kernel, bias])
    dense = _reference_dense(kernel, bias, activation)
    weights = tf.constant(rng.normal(size=(3, 11, 6)).astype(np.float32))
    results = []
    for function, variables in ((layer, layer.trainable_variables),
                                (lambda xs, **kw: dense(_tile_and_concatenate(xs), **kw), dense.trainable_variables)):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = function(inputs, training=training)
            loss = tf.reduce_sum(outputs * weights)
        gradients = tape.gradient(loss, [*inputs, *variables])
        results.append([outputs.numpy(), loss.numpy(), *(g.numpy() for g in gradients)])
    assert results[0][0].shape == (3, 11, 6)
    for got, expected in zip(*results, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_weights_are_those_of_the_dense_it_replaces(rng):
    inputs = _inputs(LAYOUTS["part_seg"], rng)
    layer = ConcatPointwiseDense(6, name="seg_conv1")
    layer.build([x.shape for x in inputs])
    assert [w.path for w in layer.weights] == ["seg_conv1/kernel", "seg_conv1/bias"]
    assert tuple(layer.kernel.shape) == (7 + 3 + 5 + 4, 6) and layer.count_params() == 19 * 6 + 6
    assert isinstance(layer, PointwiseDense) and isinstance(layer, keras.layers.Dense)
    dense = keras.layers.Dense(6)
    dense.build((None, None, 19))
    layer.set_weights(dense.get_weights())
    np.testing.assert_array_equal(layer.kernel.numpy(), dense.kernel.numpy())


def test_fused_path_builds_no_tiled_tensor_and_trains_as_a_convolution(rng):
    inputs = _inputs(LAYOUTS["part_seg"], rng)
    layer = ConcatPointwiseDense(6)
    layer.build([x.shape for x in inputs])

    def op_types(training):
        function = tf.function(lambda *xs: layer(list(xs), training=training))
        return {op.type for op in function.get_concrete_function(*inputs).graph.get_operations()}

    inference, training = op_types(False), op_types(True)
    assert "Tile" not in inference and "Tile" not in training
    assert "Conv2D" in training and "Conv2D" not in inference
    # The plain path is the tiled concatenation + Dense.
    previous = set_fused_kernels(False)
    try:
        assert "Tile" in op_types(False)
    finally:
        set_fused_kernels(previous)


@pytest.mark.parametrize("point_channels, bf16", [((40, 30), True), ((40, 20), False)])
def test_bf16_products_round_the_per_point_product_when_wide_enough(rng, point_channels, bf16):
    inputs = _inputs([16, (None, point_channels[0]), (None, point_channels[1])], rng)
    layer = ConcatPointwiseDense(8)
    layer.build([x.shape for x in inputs])
    reference = _tile_and_concatenate(inputs) @ layer.kernel + layer.bias
    previous = set_bf16_products(True)
    try:
        function = tf.function(lambda *xs: layer(list(xs), training=True))
        graph = function.get_concrete_function(*inputs).graph
        outputs = function(*inputs).numpy()
    finally:
        set_bf16_products(previous)
    # Only the per-point product (70 or 60 channels; bf16 from 64) may be bf16, the per-cloud one never.
    assert [op.get_attr("T") == tf.bfloat16 for op in graph.get_operations() if op.type == "Conv2D"] == [bf16]
    assert outputs.dtype == np.float32
    error = np.abs(outputs - reference.numpy()).max() / np.abs(reference.numpy()).max()
    assert (1e-5 < error < 1e-2) if bf16 else error < 1e-5


def test_any_point_count_in_a_model_and_a_tf_function(rng, fused):
    per_cloud, per_point = keras.Input((4,)), keras.Input((None, 3))
    layer = ConcatPointwiseDense(5, activation="relu", name="seg")
    model = keras.Model([per_cloud, per_point], layer([per_cloud, per_point]))
    assert model.output.shape == (None, None, 5)
    call = tf.function(lambda g, p: model([g, p], training=True),
                       input_signature=[tf.TensorSpec((None, 4)), tf.TensorSpec((None, None, 3))])  # fmt: skip
    for points in (1, 7, 20):
        g, p = rng.normal(size=(2, 4)).astype(np.float32), rng.normal(size=(2, points, 3)).astype(np.float32)
        kernel, bias = layer.get_weights()
        expected = np.maximum(np.concatenate([np.repeat(g[:, None], points, 1), p], -1) @ kernel + bias, 0)
        np.testing.assert_allclose(model([g, p], training=False).numpy(), expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(call(g, p).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_config_round_trip_and_saved_model_file(rng, tmp_path):
    layer = ConcatPointwiseDense(5, activation="relu", use_bias=False, name="conv6")
    clone = ConcatPointwiseDense.from_config(layer.get_config())
    assert (clone.units, clone.name, clone.use_bias, clone.activation) == (5, "conv6", False, keras.activations.relu)
    per_point, per_cloud = keras.Input((None, 3)), keras.Input((2,))
    model = keras.Model([per_point, per_cloud], ConcatPointwiseDense(4, name="conv6")([per_point, per_cloud]))
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert type(restored.get_layer("conv6")) is ConcatPointwiseDense
    x = [rng.normal(size=(2, 9, 3)).astype(np.float32), rng.normal(size=(2, 2)).astype(np.float32)]
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())


@pytest.mark.parametrize(
    "shapes, match",
    [
        ([(2, 4), (2, 3)], r"at least one input must be per point \(B, N, C\), got shapes \[\(2, 4\), \(2, 3\)\]"),
        ([(2, 5, 3, 1), (2, 3)], r"inputs must be \(B, C\) per cloud or \(B, N, C\) per point with known C, "
                                 r"got shapes \[\(2, 5, 3, 1\), \(2, 3\)\]"),
        ([], r"got shapes \[\]"),
        ((2, 5, 3), r"is called on a list of \(B, C\) and \(B, N, C\) inputs, got shape \(2, 5, 3\)"),
    ],
)
def test_bad_inputs_raise_one_clear_error(shapes, match):
    with pytest.raises(ValueError, match=match):
        ConcatPointwiseDense(3, name="seg").build(shapes)


def test_tile_and_concatenate_builds_the_reference_layers(rng):
    per_cloud, per_point = keras.Input((2,)), keras.Input((None, 3))
    model = keras.Model([per_cloud, per_point], tile_and_concatenate([per_point, per_cloud]))
    assert [layer.name for layer in model.layers[2:]] == ["tile_global", "concat"]
    g, p = rng.normal(size=(2, 2)).astype(np.float32), rng.normal(size=(2, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(model([g, p]).numpy(), np.concatenate([p, np.repeat(g[:, None], 5, 1)], -1))
    assert tile_and_concatenate(per_point) is per_point
