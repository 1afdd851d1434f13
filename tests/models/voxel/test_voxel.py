"""Voxel-family specifics (pointnet_tf2.models.voxel): the networks' shapes and sizes, training, bad arguments.

What every model must do (build, call, save, config, bad arguments and
inputs, export) is in `tests/models/test_model_suite.py`.
"""

import keras
import numpy as np
import pytest

from pointnet_tf2.models import get_model
from pointnet_tf2.models import model_entry
from pointnet_tf2.utils.keras_utils import count_trainable_params

TINY = {name: model_entry(name).test_config for name in ("voxel_cnn", "voxel_resnet")}


def test_registered_as_voxel_classifiers():
    for name in TINY:
        entry = model_entry(name)
        assert (entry.family, entry.task, entry.input_kind, entry.output_kind) == ("voxel", "cls", "voxels", "logits")
        assert TINY[name]["resolution"] == 16
    assert model_entry("pointnet_cls").input_kind == "points"


def test_voxel_cnn_is_the_xu_todorovic_network():
    model = get_model("voxel_cnn", num_classes=10)
    assert model.input_shape == (None, 30, 30, 30, 1) and model.output_shape == (None, 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv3D)]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [
        (16, (6, 6, 6), (2, 2, 2)), (64, (5, 5, 5), (2, 2, 2)), (64, (5, 5, 5), (2, 2, 2))]
    assert [tuple(c.output.shape[1:4]) for c in convs] == [(13, 13, 13), (5, 5, 5), (1, 1, 1)]
    # 16*(216+1) + 64*(16*125+1) + 64*(64*125+1) + (64*10+10)
    assert count_trainable_params(model) == 3472 + 128064 + 512064 + 650


def test_voxel_resnet_default_size_and_depth():
    assert count_trainable_params(get_model("voxel_resnet")) == 901960
    deeper = get_model("voxel_resnet", num_classes=3, resolution=16, inner=12, width=4, blocks_per_stage=(2, 1, 1))
    adds = [layer for layer in deeper.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 4
    assert deeper.get_layer("stage3_block1_add").output.shape[1:] == (4, 4, 4, 16)


@pytest.mark.parametrize("name", sorted(TINY))
def test_trains_one_step(name):
    rng = np.random.default_rng(0)
    model = get_model(name, **TINY[name])
    grids = (rng.random((6, 16, 16, 16, 1)) < 0.2).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2], np.int32)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(grids, labels, batch_size=6, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("voxel_cnn", dict(resolution=24), "resolution=24 is too small for conv3"),
        ("voxel_cnn", dict(padding="causal"), "padding must be one of"),
        ("voxel_cnn", dict(filters=(16, 64)), "same length"),
        ("voxel_cnn", dict(inner=40), "inner=40 must not exceed resolution=30"),
        ("voxel_resnet", dict(blocks_per_stage=()), "blocks_per_stage must not be empty"),
        ("voxel_resnet", dict(num_classes=1), "num_classes must be at least 2"),
        ("voxel_resnet", dict(width=0), "width must be a positive integer"),
        ("voxel_resnet", dict(bn_momentum=1.0), r"bn_momentum must be a number in \[0, 1\), got 1.0"),
        ("voxel_resnet", dict(bn_momentum=True), r"bn_momentum must be a number in \[0, 1\), got True"),
        ("voxel_cnn", dict(num_classes=1), "num_classes must be at least 2, got 1"),
        ("voxel_cnn", dict(num_classes=2.0), "num_classes must be a positive integer, got 2.0"),
    ],
)
def test_bad_configuration(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_model(name, **kwargs)
