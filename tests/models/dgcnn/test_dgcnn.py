"""DGCNN: sizes of the four reference networks, layer names, a NumPy forward pass, training, saving, kNN chunks."""

import dataclasses

import keras
import numpy as np
import pytest

from pointnet_tf2.data import augment
from pointnet_tf2.models import get_model
from pointnet_tf2.models import model_entry
from pointnet_tf2.models.dgcnn import TRAINING_DEFAULTS
from pointnet_tf2.models.dgcnn.defaults import torch_label_smoothing
from pointnet_tf2.training.run_setup import TrainConfig
from pointnet_tf2.utils.keras_utils import count_trainable_params

# Tiny configurations (k = 4 neighbours among 10 points).
TINY = {
    "dgcnn_cls": dict(num_classes=3, num_points=None, k=4, edge_widths=(8, 6), emb_dims=16, head_widths=(12, 8)),
    "dgcnn_cls_tf": dict(num_classes=3, num_points=None, k=4, edge_widths=(8, 6), emb_dims=16, head_widths=(12, 8),
                         tnet_edge_widths=(8, 6), tnet_conv_widths=(16,), tnet_fc_widths=(8,)),
    "dgcnn_part_seg": dict(num_parts=5, num_categories=3, num_points=None, k=4, edge_widths=((8, 6), (8,)),
                           emb_dims=16, category_width=4, seg_widths=(12, 8, 6), tnet_edge_widths=(8,),
                           tnet_conv_widths=(16,), tnet_fc_widths=(8,)),
    "dgcnn_sem_seg": dict(num_classes=4, num_points=None, k=4, edge_widths=((8, 6), (8,)), emb_dims=16,
                          seg_widths=(12, 8)),
}
POINTS = 10


def inputs_for(model, rng, batch=2, points=POINTS):
    clouds = rng.normal(size=(batch, points, model.builder_config["input_dims"])).astype("float32")
    if model.task != "part_seg":
        return clouds
    categories = model.builder_config["num_categories"]
    return {"points": clouds, "category": np.eye(categories, dtype="float32")[rng.integers(0, categories, batch)]}


def randomise(model, rng):
    """Random batch-norm statistics and transform weights, so every term of the forward pass counts."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, size), rng.normal(size=size), rng.normal(size=size) * 0.1,
                               rng.uniform(0.5, 2.0, size)])
        elif layer.name.endswith("transform_XYZ"):
            layer.set_weights([rng.normal(size=w.shape) * 0.1 for w in layer.get_weights()])


@pytest.mark.parametrize("name, trainable, moving", [
    ("dgcnn_cls", 1_809_576, 4_608),
    ("dgcnn_cls_tf", 1_836_081, 8_192),
    ("dgcnn_part_seg", 1_464_443, 8_064),
    ("dgcnn_sem_seg", 985_677, 4_224),
])
def test_reference_parameter_and_moving_statistics_counts(name, trainable, moving):
    model = get_model(name)
    assert count_trainable_params(model) == trainable
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == moving


def test_layer_names_map_onto_the_references():
    names = {name: {layer.name for layer in get_model(name).layers} for name in TINY}
    # PyTorch module names (conv1.0.weight -> conv1, bn1.* -> bn1, linear1.weight -> linear1).
    assert {"conv1", "conv4", "conv5", "bn1", "bn5", "bn6", "bn7", "linear1", "linear2", "linear3",
            "dp2"} <= names["dgcnn_cls"]
    # TF1 scopes with "/" -> "_".
    assert {"transform_net1_tconv1", "transform_net1_tconv3", "transform_net1_tfc2", "transform_net1_transform_XYZ",
            "transform_net1_tconv2_bn", "dgcnn1", "dgcnn4_bn", "agg", "agg_bn", "fc1", "fc3"} <= names["dgcnn_cls_tf"]
    assert {"transform_net1_tconv1", "adj_conv1", "adj_conv5", "adj_conv7", "adj_conv7_bn", "one_hot_label_expand",
            "one_hot_label_expand_bn", "seg_conv1", "seg_conv3_bn", "seg_conv4"} <= names["dgcnn_part_seg"]
    assert {"adj_conv1", "adj_conv5_bn", "adj_conv7", "seg_conv1", "seg_conv2_bn",
            "seg_conv3"} <= names["dgcnn_sem_seg"]
    assert "adj_conv6" not in names["dgcnn_sem_seg"]  # commented out in the original
    model = get_model("dgcnn_cls")
    assert not model.get_layer("conv1").use_bias and not model.get_layer("linear1").use_bias
    assert model.get_layer("linear2").use_bias and model.get_layer("bn1").epsilon == 1e-5
    assert model.get_layer("bn1").momentum == 0.9
    assert get_model("dgcnn_sem_seg").get_layer("adj_conv1_bn").epsilon == 1e-3


# -- a NumPy forward pass of the tiny models, from their weights ---------------------------------------


def _dense(model, name, x):
    layer = model.get_layer(name)
    return x @ layer.kernel.numpy() + (layer.bias.numpy() if layer.use_bias else 0.0)


def _block(model, name, x, *, torch=False, bn_name=None):
    bn = model.get_layer(bn_name or f"{name}_bn")
    gamma, beta, mean, variance = (w.numpy() for w in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
    y = (_dense(model, name, x) - mean) / np.sqrt(variance + bn.epsilon) * gamma + beta
    return np.where(y > 0, y, 0.2 * y) if torch else np.maximum(y, 0.0)


def _knn(x, k):
    square = (x**2).sum(-1)
    distances = square[:, :, None] - 2 * x @ x.transpose(0, 2, 1) + square[:, None, :]
    return np.argsort(distances, axis=-1, kind="stable")[..., :k]


def _edges(x, idx, centre_first):
    neighbours = np.stack([x[b][idx[b]] for b in range(len(x))])  # (B, N, k, C)
    centres = np.broadcast_to(x[:, :, None, :], neighbours.shape)
    return np.concatenate([centres, neighbours - centres] if centre_first else [neighbours - centres, centres], -1)


def _tf_reference(model, inputs):
    config = model.builder_config
    k = config["k"]
    x = inputs["points"] if isinstance(inputs, dict) else inputs
    points = x
    if config.get("input_transform"):
        h, count = _edges(x, _knn(x, k), True), 0
        for _ in config["tnet_edge_widths"]:
            count += 1
            h = _block(model, f"transform_net1_tconv{count}", h)
        h = h.max(axis=2)
        for _ in config["tnet_conv_widths"]:
            count += 1
            h = _block(model, f"transform_net1_tconv{count}", h)
        h = h.max(axis=1)
        for i, _ in enumerate(config["tnet_fc_widths"]):
            h = _block(model, f"transform_net1_tfc{i + 1}", h)
        transform = _dense(model, "transform_net1_transform_XYZ", h).reshape(-1, 3, 3)
        x = np.concatenate([x[..., :3] @ transform, x[..., 3:]], -1)
    if model.builder == "dgcnn_cls_tf":
        blocks = []
        for i, _ in enumerate(config["edge_widths"]):
            x = _block(model, f"dgcnn{i + 1}", _edges(x, _knn(x, k), True)).max(axis=2)
            blocks.append(x)
        x = _block(model, "agg", np.concatenate(blocks, -1)).max(axis=1)
        for i, _ in enumerate(config["head_widths"]):
            x = _block(model, f"fc{i + 1}", x)
        return _dense(model, f"fc{len(config['head_widths']) + 1}", x)
    blocks, count = [], 0
    for i, widths in enumerate(config["edge_widths"]):
        start = config.get("knn_start_channel", 0) if i == 0 else 0
        x = _edges(x, _knn(x[..., start:], k), True)
        for _ in widths:
            count += 1
            x = _block(model, f"adj_conv{count}", x)
        x = x.max(axis=2)
        blocks.append(x)
    glob = _block(model, f"adj_conv{count + 2}", np.concatenate(blocks, -1)).max(axis=1)
    if model.builder == "dgcnn_part_seg":
        glob = np.concatenate([glob, _block(model, "one_hot_label_expand", inputs["category"])], -1)
    x = np.concatenate([np.broadcast_to(glob[:, None], (*points.shape[:2], glob.shape[-1])), *blocks], -1)
    for i, _ in enumerate(config["seg_widths"]):
        x = _block(model, f"seg_conv{i + 1}", x)
    logits = _dense(model, f"seg_conv{len(config['seg_widths']) + 1}", x)
    return {"parts": logits} if model.builder == "dgcnn_part_seg" else logits


def _torch_reference(model, x):
    config = model.builder_config
    blocks = []
    for i, _ in enumerate(config["edge_widths"]):
        x = _block(model, f"conv{i + 1}", _edges(x, _knn(x, config["k"]), False), torch=True, bn_name=f"bn{i + 1}")
        x = x.max(axis=2)
        blocks.append(x)
    n = len(blocks) + 1
    x = _block(model, f"conv{n}", np.concatenate(blocks, -1), torch=True, bn_name=f"bn{n}")
    x = np.concatenate([x.max(axis=1), x.mean(axis=1)], -1)
    for i, _ in enumerate(config["head_widths"]):
        x = _block(model, f"linear{i + 1}", x, torch=True, bn_name=f"bn{n + i + 1}")
    return _dense(model, f"linear{len(config['head_widths']) + 1}", x)


@pytest.mark.parametrize("name", sorted(TINY))
def test_forward_pass_equals_a_numpy_reference(name, rng):
    model = get_model(name, **TINY[name])
    randomise(model, rng)
    inputs = inputs_for(model, rng)
    got = model(inputs, training=False)
    expected = _torch_reference(model, inputs) if name == "dgcnn_cls" else _tf_reference(model, inputs)
    if isinstance(expected, dict):
        assert set(got) == {"parts"}  # no category classifier in the original
        got, expected = got["parts"], expected["parts"]
    assert got.shape == expected.shape
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4, atol=1e-4)


def test_sem_seg_first_neighbours_are_searched_in_the_room_coordinates_only(rng):
    model = get_model("dgcnn_sem_seg", **TINY["dgcnn_sem_seg"])
    randomise(model, rng)
    points = rng.normal(size=(1, POINTS, 9)).astype("float32")
    everywhere = get_model("dgcnn_sem_seg", **TINY["dgcnn_sem_seg"], knn_start_channel=0)
    everywhere.set_weights(model.get_weights())
    # Same weights, a different first graph: the outputs differ, and the NumPy reference agrees with each.
    assert not np.allclose(model(points, training=False), everywhere(points, training=False), atol=1e-3)
    np.testing.assert_allclose(model(points, training=False), _tf_reference(model, points), rtol=1e-4, atol=1e-4)


def test_knn_chunk_size_gives_the_same_outputs(rng):
    config = TINY["dgcnn_cls_tf"]
    direct = get_model("dgcnn_cls_tf", **config)
    randomise(direct, rng)
    chunked = get_model("dgcnn_cls_tf", **config, knn_chunk_size=3)  # 10 points: chunks of 3, 3, 3, 1
    chunked.set_weights(direct.get_weights())
    assert chunked.get_layer("edge1").chunk_size == 3
    points = rng.normal(size=(2, POINTS, 3)).astype("float32")
    np.testing.assert_allclose(chunked(points, training=False), direct(points, training=False), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["dgcnn_cls", "dgcnn_part_seg", "dgcnn_sem_seg"])
def test_one_fit_step_on_any_number_of_points(name, rng):
    model = get_model(name, **TINY[name])
    inputs = inputs_for(model, rng, batch=4)
    if name == "dgcnn_cls":
        targets = rng.integers(0, 3, 4)
    elif name == "dgcnn_part_seg":
        targets = {"parts": rng.integers(0, 5, (4, POINTS))}
    else:
        targets = rng.integers(0, 4, (4, POINTS))
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(inputs, targets, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert sum(not np.allclose(a, w.numpy()) for a, w in zip(before, model.trainable_weights)) > len(before) // 2


def test_keras_file_round_trip_keeps_chunking_and_outputs(tmp_path, rng):
    model = get_model("dgcnn_sem_seg", **TINY["dgcnn_sem_seg"], knn_chunk_size=4)
    randomise(model, rng)
    points = rng.normal(size=(2, 12, 9)).astype("float32")
    model.save(tmp_path / "sem.keras")
    restored = keras.saving.load_model(tmp_path / "sem.keras")
    assert restored.builder_config["knn_chunk_size"] == 4 and restored.get_layer("knn1").chunk_size == 4
    np.testing.assert_allclose(restored(points, training=False), model(points, training=False), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, argument, value, message", [
    ("dgcnn_cls", "k", 0, "k must be a positive integer, got 0"),
    ("dgcnn_cls", "k", 30, "k must be at most num_points=16, got 30"),
    ("dgcnn_cls", "edge_widths", (), "edge_widths must not be empty, got ()"),
    ("dgcnn_cls", "emb_dims", -1, "emb_dims must be a positive integer, got -1"),
    ("dgcnn_cls", "dropout", 1.0, "dropout must be a number in [0, 1), got 1.0"),
    ("dgcnn_cls_tf", "bn_momentum", 1.5, "bn_momentum must be a number in [0, 1), got 1.5"),
    ("dgcnn_cls_tf", "knn_chunk_size", 0, "knn_chunk_size must be a positive integer, got 0"),
    ("dgcnn_part_seg", "num_categories", 1, "num_categories must be at least 2, got 1"),
    ("dgcnn_part_seg", "edge_widths", ((8,), ()), "edge_widths: block must not be empty, got ()"),
    ("dgcnn_part_seg", "edge_widths", (8, 8),
     "edge_widths must be a sequence of width sequences, got (8, 8) (bad block 8)"),
    ("dgcnn_sem_seg", "knn_start_channel", 9, "knn_start_channel must be an integer in [0, input_dims=9), got 9"),
    ("dgcnn_sem_seg", "seg_widths", (8, 0), "seg_widths must be positive integers, got (8, 0) (bad value 0)"),
])
def test_bad_arguments_raise_value_errors_quoting_the_value(name, argument, value, message):
    config = {**TINY[name], "num_points": 16, argument: value}
    with pytest.raises(ValueError) as error:
        get_model(name, **config)
    assert str(error.value) == message


def test_training_defaults_name_real_settings():
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    assert set(TRAINING_DEFAULTS) == set(TINY)
    for name, defaults in TRAINING_DEFAULTS.items():
        assert set(defaults.config) <= fields, name
        for kind, arguments in defaults.augmentation:
            getattr(augment, kind)(**arguments)  # the augmentation exists and takes these arguments
        assert get_model(name).builder_config["num_points"] == defaults.config["num_point"]
        assert model_entry(name).recipe is defaults  # registered with the model
    assert TRAINING_DEFAULTS["dgcnn_cls"].config["learning_rate"] == 0.1


def test_torch_label_smoothing_gives_cal_loss_targets():
    classes, smoothing = 40, torch_label_smoothing(0.2, 40)
    targets = np.asarray(keras.ops.one_hot(np.array([3]), classes)) * (1 - smoothing) + smoothing / classes
    np.testing.assert_allclose(targets[0, 3], 0.8, rtol=1e-6)
    np.testing.assert_allclose(np.delete(targets[0], 3), 0.2 / 39, rtol=1e-6)
