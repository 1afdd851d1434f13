"""fold_batch_norm: an inference copy without batch-norm layers that gives the same outputs."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import pointnet_tf2
from pointnet_tf2.layers import ConcatPointwiseDense
from pointnet_tf2.layers import DenseMaxPooling
from pointnet_tf2.layers import PointwiseDense
from pointnet_tf2.models import fold_batch_norm
from pointnet_tf2.models.folding import folded_weights

CASES = {
    "pointnet_cls": ({"num_classes": 7, "num_points": 64}, (4, 64, 3)),
    "pointnet_cls_basic": ({"num_classes": 7, "num_points": 64}, (4, 64, 3)),
    "pointnet_sem_seg": ({"num_classes": 5, "num_points": 64}, (3, 64, 9)),
    "pointnet_part_seg": ({"num_points": 64, "num_parts": 10, "num_categories": 4}, (3, 64, 3)),
}


def _randomise_statistics(model, rng):
    """Moves every batch norm away from its initial identity, so folding has something to fold."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, channels), rng.normal(size=channels),
                               rng.normal(size=channels), rng.uniform(0.3, 3, channels)])  # fmt: skip


def _inputs(name, shape, rng):
    points = rng.normal(size=shape).astype(np.float32)
    if name == "pointnet_part_seg":
        return {"points": points, "category": np.eye(4, dtype=np.float32)[rng.integers(0, 4, shape[0])]}
    return points


@pytest.mark.parametrize("name", sorted(CASES))
def test_folded_model_matches_the_model(name, rng):
    config, shape = CASES[name]
    model = pointnet_tf2.get_model(name, **config)
    _randomise_statistics(model, rng)
    folded = fold_batch_norm(model)
    x = _inputs(name, shape, rng)
    expected = keras.tree.flatten(model(x, training=False))
    got = keras.tree.flatten(folded(x, training=False))
    for e, g in zip(expected, got):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-4, atol=1e-4 * float(np.abs(e).max()))
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert folded.task == model.task and folded.builder_config == model.builder_config


@pytest.mark.parametrize("name, layer", [("pointnet_part_seg", "seg_conv1"), ("pointnet_sem_seg", "conv6")])
def test_a_concatenating_dense_folds_into_the_same_layer_on_the_same_inputs(name, layer, rng):
    config, _ = CASES[name]
    model = pointnet_tf2.get_model(name, **config)
    _randomise_statistics(model, rng)
    folded = fold_batch_norm(model)
    original, copy = model.get_layer(layer), folded.get_layer(layer)
    assert type(original) is type(copy) is ConcatPointwiseDense and copy is not original
    assert [x.shape for x in copy.input] == [x.shape for x in original.input]
    kernel, bias = folded_weights(original, model.get_layer(f"{layer}_bn"))
    np.testing.assert_array_equal(copy.kernel.numpy(), kernel)
    np.testing.assert_array_equal(copy.bias.numpy(), bias)
    assert copy.activation is keras.activations.relu


def test_folding_leaves_the_model_and_its_weights_alone(rng):
    model = pointnet_tf2.get_model("pointnet_cls", num_classes=3, num_points=32)
    _randomise_statistics(model, rng)
    before = [w.copy() for w in model.get_weights()]
    folded = fold_batch_norm(model)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    folded_dense = {layer.name: layer for layer in folded.layers if isinstance(layer, PointwiseDense)}
    # conv1 + conv1_bn + conv1_relu became one layer with the ReLU inside and scaled weights.
    conv1, bn = model.get_layer("conv1"), model.get_layer("conv1_bn")
    gamma, beta, mean, variance = bn.get_weights()
    scale = gamma / np.sqrt(variance + bn.epsilon)
    np.testing.assert_allclose(folded_dense["conv1"].kernel.numpy(), conv1.kernel.numpy() * scale, rtol=1e-6)
    np.testing.assert_allclose(folded_dense["conv1"].bias.numpy(), (conv1.bias.numpy() - mean) * scale + beta,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    assert folded_dense["conv1"].activation is keras.activations.relu
    # The layers that had no batch norm after them are shared, not copied.
    assert folded.get_layer("fc3") is model.get_layer("fc3")


def test_blocks_feeding_a_max_over_points_fuse_with_it(rng):
    model = pointnet_tf2.get_model("pointnet_cls", num_classes=3, num_points=32)
    _randomise_statistics(model, rng)
    unfused = fold_batch_norm(model, fuse_max_pool=False)
    assert not any(isinstance(layer, DenseMaxPooling) for layer in unfused.layers)
    # Folding again (the pooling layers are now shared with `unfused`) still finds the blocks.
    folded = fold_batch_norm(model)
    fused = sorted(layer.name for layer in folded.layers if isinstance(layer, DenseMaxPooling))
    assert fused == ["max_pool", "transform_net1_max_pool", "transform_net2_max_pool"]
    assert "conv5" not in [layer.name for layer in folded.layers]
    max_pool = folded.get_layer("max_pool")
    kernel, _ = folded_weights(model.get_layer("conv5"), model.get_layer("conv5_bn"))
    np.testing.assert_array_equal(max_pool.kernel.numpy(), kernel)
    x = rng.normal(size=(3, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(folded(x).numpy(), unfused(x).numpy(), rtol=1e-5, atol=1e-5)
    # The global feature is still the output of the layer named max_pool.
    features = keras.Model(model.input, model.get_layer("max_pool").output)(x, training=False)
    folded_features = keras.Model(folded.input, max_pool.output)(x)
    np.testing.assert_allclose(folded_features.numpy(), features.numpy(), rtol=1e-5, atol=1e-5)


def test_folded_model_saves_and_loads_in_a_fresh_process(tmp_path, rng):
    model = pointnet_tf2.get_model("pointnet_cls", num_classes=3, num_points=32)
    _randomise_statistics(model, rng)
    folded = fold_batch_norm(model)
    x = rng.normal(size=(2, 32, 3)).astype(np.float32)
    path = tmp_path / "folded.keras"
    folded.save(path)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", folded(x, training=False).numpy())
    code = (
        "import numpy as np, keras, pointnet_tf2, sys\n"
        f"m = keras.saving.load_model({str(path)!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r}); e = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "np.testing.assert_allclose(m(x, training=False).numpy(), e, rtol=1e-6, atol=1e-6)\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), check=False)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]


def test_fold_batch_norm_refuses_a_non_functional_model():
    class Custom(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="fold_batch_norm needs a Functional model, got Custom"):
        fold_batch_norm(Custom())
