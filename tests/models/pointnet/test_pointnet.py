"""PointNet-family specifics: the original's parameter counts and layer names, invariances, the trunk.

What every model must do (build, call, save, config, bad arguments and
inputs, export) is in `tests/models/test_model_suite.py`.
"""

import keras
import numpy as np
import pytest

import pointnet_tf2
from pointnet_tf2.models import get_model
from pointnet_tf2.models import model_entry
from pointnet_tf2.models import pointnet_trunk
from pointnet_tf2.models.pointnet import pointnet_cls
from pointnet_tf2.utils.keras_utils import count_trainable_params

# The small configurations of the registry entries (point count free), fast to build and call.
SMALL = {name: model_entry(name).test_config
         for name in ("pointnet_cls", "pointnet_cls_basic", "pointnet_sem_seg", "pointnet_part_seg")}


def make_inputs(model, num_points, rng, batch=2):
    dims = model.builder_config["input_dims"]
    points = rng.normal(size=(batch, num_points, dims)).astype("float32")
    if model.task != "part_seg":
        return points
    categories = model.builder_config["num_categories"]
    return {"points": points, "category": np.eye(categories, dtype="float32")[rng.integers(0, categories, batch)]}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("pointnet_cls", 3_480_049),
        ("pointnet_cls_basic", 819_624),
        ("pointnet_sem_seg", 1_174_669),
        ("pointnet_part_seg", 8_574_923),
    ],
)
def test_original_parameter_counts(name, expected):
    model = get_model(name)
    assert count_trainable_params(model) == expected


def test_cls_batch_norm_moving_statistics_count():
    # The original graph holds 12,160 moving mean/variance values.
    model = get_model("pointnet_cls")
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 12_160


def test_default_output_shapes(rng):
    cls = get_model("pointnet_cls")
    assert cls(rng.normal(size=(2, 1024, 3)).astype("float32")).shape == (2, 40)
    sem = get_model("pointnet_sem_seg")
    assert sem(rng.normal(size=(1, 4096, 9)).astype("float32")).shape == (1, 4096, 13)
    part = get_model("pointnet_part_seg")
    out = part(make_inputs(part, 2048, rng, batch=1))
    assert out["parts"].shape == (1, 2048, 50) and out["category"].shape == (1, 16)


def test_layer_names_map_to_original_scopes():
    names = {layer.name for layer in get_model("pointnet_cls").layers}
    for scope in ["conv1", "conv5", "fc1", "fc2", "fc3", "conv1_bn", "fc2_bn",
                  "transform_net1_tconv3", "transform_net1_tfc2", "transform_net1_transform_XYZ",
                  "transform_net2_tconv1", "transform_net2_transform_feat"]:
        assert scope in names
    part_names = {layer.name for layer in get_model("pointnet_part_seg").layers}
    assert {"cla_fc1", "cla_fc3", "seg_conv1", "seg_conv4", "conv5_bn", "transform_net2_tconv2"} <= part_names


@pytest.mark.parametrize("name", sorted(SMALL))
def test_variable_point_count(name, rng):
    model = get_model(name, **SMALL[name])
    for n in (512, 1024):
        out = model(make_inputs(model, n, rng))
        logits = out["parts"] if isinstance(out, dict) else out
        assert logits.shape[0] == 2
        if model.task != "cls":
            assert logits.shape[1] == n


def test_classifier_is_permutation_invariant_in_inference(rng):
    model = get_model("pointnet_cls", **SMALL["pointnet_cls"])
    points = rng.normal(size=(3, 256, 3)).astype("float32")
    shuffled = points[:, rng.permutation(256)]
    np.testing.assert_allclose(model(points, training=False), model(shuffled, training=False), atol=1e-5)


def test_segmentation_is_permutation_equivariant(rng):
    model = get_model("pointnet_sem_seg", **SMALL["pointnet_sem_seg"])
    points = rng.normal(size=(2, 128, 9)).astype("float32")
    order = rng.permutation(128)
    out = np.asarray(model(points, training=False))
    np.testing.assert_allclose(np.asarray(model(points[:, order], training=False)), out[:, order], atol=1e-5)


def test_keras_file_loads_with_only_the_package_import(tmp_path):
    import subprocess
    import sys

    model = get_model("pointnet_cls", **SMALL["pointnet_cls"])
    path = tmp_path / "m.keras"
    model.save(path)
    code = (
        "import keras, numpy as np, pointnet_tf2\n"
        f"m = keras.saving.load_model({str(path)!r})\n"
        "print(type(m).__name__, m.builder, m(np.zeros((1, 10, 3), 'float32')).shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("PointCloudModel pointnet_cls (1, 4)")


def test_logits_are_float32_under_mixed_precision(mixed_precision, rng):
    model = get_model("pointnet_cls", **SMALL["pointnet_cls"])
    assert model(rng.normal(size=(2, 32, 3)).astype("float32")).dtype == "float32"
    assert model.get_layer("conv1").compute_dtype == "float16"
    assert all(loss.dtype == "float32" for loss in model.losses)


def test_feature_transform_regulariser_in_model_losses(rng):
    model = get_model("pointnet_cls", **SMALL["pointnet_cls"], orthogonal_weight=0.5)
    # Perturb the feature T-Net so its output is not orthogonal.
    final = model.get_layer("transform_net2_transform_feat")
    final.bias.assign(final.bias.numpy() * 2.0)
    model(rng.normal(size=(4, 16, 3)).astype("float32"))
    k = SMALL["pointnet_cls"]["mlp1"][-1]
    # Each sample's transform is 2I: ||4I - I||^2 = 9k, averaged over the batch.
    np.testing.assert_allclose(float(sum(model.losses)), 0.5 * 9 * k, rtol=1e-5)
    no_reg = get_model("pointnet_cls", **SMALL["pointnet_cls"], orthogonal_weight=0)
    no_reg(rng.normal(size=(4, 16, 3)).astype("float32"))
    assert not no_reg.losses


def test_trunk_exposes_features_and_transforms():
    points = keras.Input((None, 6))
    trunk = pointnet_trunk(points, mlp1=(8, 16), mlp2=(32,), input_tnet_conv_widths=(8,), input_tnet_fc_widths=(8,),
                           feature_tnet_conv_widths=(8,), feature_tnet_fc_widths=(8,))
    assert [f.shape[-1] for f in trunk.point_features] == [8, 16, 32]
    assert trunk.transformed_features.shape[-1] == 16
    assert trunk.global_feature.shape[-1] == 32
    assert tuple(trunk.transforms["input"].shape) == (None, 3, 3)
    assert tuple(trunk.transforms["feature"].shape) == (None, 16, 16)


def test_input_dims_six_with_normals(rng):
    model = get_model("pointnet_cls", **SMALL["pointnet_cls"], input_dims=6)
    assert model(rng.normal(size=(2, 20, 6)).astype("float32")).shape == (2, 4)


def head_layers(model, prefixes):
    """Names of the model's layers starting with one of `prefixes`, in graph order."""
    return [layer.name for layer in model.layers if layer.name.startswith(prefixes)]


@pytest.mark.parametrize(
    "name, kwargs, prefixes, expected",
    [
        ("pointnet_cls", dict(dropout_rate=0.3), ("fc", "dp"),
         ["fc1", "fc1_bn", "fc1_relu", "dp1", "fc2", "fc2_bn", "fc2_relu", "dp2", "fc3"]),
        ("pointnet_cls", dict(dropout_rate=0.0), ("fc", "dp"),
         ["fc1", "fc1_bn", "fc1_relu", "fc2", "fc2_bn", "fc2_relu", "fc3"]),
        ("pointnet_cls", dict(head_widths=()), ("fc", "dp"), ["fc1"]),
        ("pointnet_sem_seg", dict(dropout_rate=0.0), ("fc", "conv4", "conv5", "conv6", "dp"),
         ["fc1", "fc1_bn", "fc1_relu", "conv4", "conv4_bn", "conv4_relu", "conv5", "conv5_bn", "conv5_relu", "dp1",
          "conv6"]),
        ("pointnet_sem_seg", dict(global_widths=(), seg_widths=()), ("fc", "conv4", "dp"), ["dp1", "conv4"]),
        ("pointnet_part_seg", dict(seg_dropout_rate=0.0, seg_widths=(8, 8, 8, 8)), ("seg_",),
         ["seg_conv1", "seg_conv1_bn", "seg_conv1_relu", "seg_dp1", "seg_conv2", "seg_conv2_bn", "seg_conv2_relu",
          "seg_dp2", "seg_conv3", "seg_conv3_bn", "seg_conv3_relu", "seg_conv4", "seg_conv4_bn", "seg_conv4_relu",
          "seg_conv5"]),
        ("pointnet_part_seg", dict(cls_dropout_rate=0.0), ("cla_",),
         ["cla_fc1", "cla_fc1_bn", "cla_fc1_relu", "cla_fc2", "cla_fc2_bn", "cla_fc2_relu", "cla_dp1", "cla_fc3"]),
        ("pointnet_part_seg", dict(cls_widths=()), ("cla_",), ["cla_fc1"]),
    ],
)
def test_head_layer_names_and_dropout_placement(name, kwargs, prefixes, expected):
    assert head_layers(get_model(name, **{**SMALL[name], **kwargs}), prefixes) == expected


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("pointnet_cls", {"num_classes": 1}, "num_classes must be at least 2, got 1"),
        ("pointnet_cls", {"num_classes": 0}, "num_classes must be a positive integer, got 0"),
        ("pointnet_cls", {"mlp2": (64, -128)}, r"mlp2 must be positive integers, got \(64, -128\)"),
        ("pointnet_cls", {"head_widths": (512, 0)}, r"head_widths must be positive integers"),
        ("pointnet_cls", {"tnet_conv_widths": (-1,)}, r"transform_net1: conv_widths must be positive integers, got \(-1,\)"),
        ("pointnet_cls", {"dropout_rate": 1.5}, r"dropout_rate must be a number in \[0, 1\), got 1.5"),
        ("pointnet_cls", {"num_points": 0}, "num_points must be a positive integer, got 0"),
        ("pointnet_cls", {"input_dims": 2}, "input transform needs at least 3 channels"),
        ("pointnet_sem_seg", {"num_classes": -3}, "num_classes must be a positive integer, got -3"),
        ("pointnet_part_seg", {"num_categories": 1}, "num_categories must be at least 2, got 1"),
        ("pointnet_part_seg", {"num_parts": "50"}, "num_parts must be a positive integer, got '50'"),
    ],
)
def test_bad_configuration(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_model(name, **kwargs)


def test_fixed_point_count_is_checked():
    model = get_model("pointnet_cls_basic", num_classes=3, num_points=64, mlp=(8, 16), head_widths=(8,))
    with pytest.raises(ValueError, match=r"must have shape \(B, 64, 3\), got shape \(1, 32, 3\)"):
        model(np.zeros((1, 32, 3), "float32"))


def test_part_seg_without_category_input(rng):
    model = get_model("pointnet_part_seg", **SMALL["pointnet_part_seg"])
    points = rng.normal(size=(2, 32, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"missing input\(s\) \['category'\]"):
        model({"points": points})
    with pytest.raises(ValueError, match="expected a dict with keys 'category'"):
        model(points)


def test_package_level_names():
    assert pointnet_tf2.get_model is get_model
    assert "pointnet_cls" in pointnet_tf2.list_models()
    # the family folder is a package exporting its builders, also where they were before
    assert pointnet_tf2.models.pointnet_cls is pointnet_cls
    from pointnet_tf2.models.embedding import pointnet_embed

    assert pointnet_embed is pointnet_tf2.models.pointnet_embed
