import dataclasses
import functools
import types

import keras
import numpy as np
import pytest

from pointnet_tf2.models import get_model
from pointnet_tf2.models import list_models
from pointnet_tf2.models import model_entry
from pointnet_tf2.models.pointnet2.defaults import TRAINING_DEFAULTS
from pointnet_tf2.models.pointnet2.defaults import training_defaults
from pointnet_tf2.tasks import get_task
from pointnet_tf2.training.run_setup import TrainConfig
from pointnet_tf2.utils.keras_utils import count_trainable_params

NAMES = ["pointnet2_cls_msg", "pointnet2_cls_ssg", "pointnet2_part_seg", "pointnet2_part_seg_msg", "pointnet2_sem_seg"]

# The registered tiny configurations: few centres, small balls and MLPs (fast to build, call and fit).
SMALL = {name: model_entry(name).test_config for name in NAMES}


@functools.lru_cache(maxsize=None)
def original(name):
    """The model at the original sizes (built once per test session)."""
    return get_model(name)


def make_inputs(model, num_points, rng, batch=2):
    dims = model.builder_config["input_dims"]
    points = rng.uniform(-1, 1, size=(batch, num_points, dims)).astype("float32")
    if model.task != "part_seg":
        return points
    categories = model.builder_config["num_categories"]
    return {"points": points, "category": np.eye(categories, dtype="float32")[rng.integers(0, categories, batch)]}


def moving_values(model):
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


# Trainable parameters and BN moving mean/variance values of the original graphs (REFERENCE.md 9).
@pytest.mark.parametrize(
    "name, trainable, moving",
    [
        ("pointnet2_cls_ssg", 1_475_688, 6_656),
        ("pointnet2_cls_msg", 1_747_368, 9_024),  # the intended network (use_nchw defect fixed)
        ("pointnet2_part_seg", 1_409_202, 7_936),
        ("pointnet2_part_seg_msg", 1_740_958, 9_672),
        ("pointnet2_sem_seg", 967_981, 7_680),
    ],
)
def test_original_parameter_counts(name, trainable, moving):
    model = original(name)
    assert count_trainable_params(model) == trainable
    assert moving_values(model) == moving


# Layer -> kernel shape of the original's variable `<scope>/weights` ([1, 1, C_in, C_out] -> (C_in, C_out)),
# with the input widths the original's concatenations give.
SCOPES = {
    "pointnet2_cls_ssg": {"layer1_conv0": (3, 64), "layer1_conv2": (64, 128), "layer2_conv0": (128 + 3, 128),
                          "layer3_conv0": (256 + 3, 256), "layer3_conv2": (512, 1024), "fc1": (1024, 512),
                          "fc2": (512, 256), "fc3": (256, 40)},
    "pointnet2_cls_msg": {"layer1_conv0_0": (3, 32), "layer1_conv2_1": (64, 96), "layer1_conv2_2": (96, 128),
                          "layer2_conv0_0": (64 + 128 + 128 + 3, 64), "layer2_conv2_2": (128, 256),
                          "layer3_conv0": (128 + 256 + 256 + 3, 256), "fc3": (256, 40)},
    "pointnet2_part_seg": {"layer1_conv0": (3 + 3, 64), "layer3_conv0": (256 + 3, 256),
                           "fa_layer1_conv_0": (1024 + 256, 256), "fa_layer2_conv_0": (256 + 128, 256),
                           "fa_layer3_conv_0": (128 + 3 + 3, 128), "fa_layer3_conv_2": (128, 128), "fc1": (128, 128),
                           "fc2": (128, 50)},
    "pointnet2_part_seg_msg": {"layer1_conv0_0": (3 + 3, 32), "layer2_conv1_1": (128, 196),
                               "layer2_conv1_2": (196, 256), "layer3_conv0": (256 + 256 + 3, 256),
                               "fa_layer1_conv_0": (1024 + 512, 256), "fa_layer2_conv_0": (256 + 320, 256),
                               "fp_layer3_conv_0": (128 + 16 + 3 + 3, 128), "fp_layer3_conv_1": (128, 128),
                               "fc2": (128, 50)},
    "pointnet2_sem_seg": {"layer1_conv0": (3, 32), "layer4_conv0": (256 + 3, 256), "layer4_conv2": (256, 512),
                          "fa_layer1_conv_0": (512 + 256, 256), "fa_layer3_conv_0": (256 + 64, 256),
                          "fa_layer4_conv_0": (128, 128), "fc2": (128, 13)},
}


@pytest.mark.parametrize("name", NAMES)
def test_layer_names_and_kernel_shapes_map_to_original_scopes(name):
    model = original(name)
    for scope, shape in SCOPES[name].items():
        assert tuple(model.get_layer(scope).kernel.shape) == shape, scope
        if not scope.startswith(("fc2", "fc3")):  # the logits layers have no batch norm
            bn = model.get_layer(f"{scope}_bn")
            assert bn.epsilon == pytest.approx(1e-3) and bn.moving_mean.shape == (shape[1],)
    assert "fc3_bn" not in {layer.name for layer in model.layers}


def test_grouping_orders_follow_the_original():
    # SSG groups [xyz, features], MSG [features, xyz] (it matters for checkpoint mapping).
    assert original("pointnet2_cls_ssg").get_layer("layer2_group").xyz_first is True
    assert original("pointnet2_cls_msg").get_layer("layer2_group1").xyz_first is False
    groups = [layer for layer in original("pointnet2_part_seg_msg").layers if layer.name.startswith("layer1_group")]
    assert [(g.radius, g.nsample) for g in sorted(groups, key=lambda g: g.name)] == [(0.1, 32), (0.2, 64), (0.4, 128)]
    # The semantic segmentation network's input level has no skip features (XYZ only): no concatenation.
    assert "fa_layer4_concat" not in {layer.name for layer in original("pointnet2_sem_seg").layers}


def test_dropout_rates_are_the_originals():
    assert original("pointnet2_cls_ssg").get_layer("dp1").rate == pytest.approx(0.5)  # keep_prob 0.5
    assert original("pointnet2_cls_msg").get_layer("dp2").rate == pytest.approx(0.6)  # keep_prob 0.4
    assert original("pointnet2_sem_seg").get_layer("dp1").rate == pytest.approx(0.5)


@pytest.mark.parametrize("name", NAMES)
def test_small_models_take_any_number_of_points(name, rng):
    model = get_model(name, **SMALL[name])
    for n in (24, 57):
        inputs = make_inputs(model, n, rng)
        out = model(inputs)
        logits = out["parts"] if isinstance(out, dict) else out
        classes = model.builder_config.get("num_classes") or model.builder_config["num_parts"]
        assert logits.shape == ((2, classes) if model.task == "cls" else (2, n, classes))
        assert np.all(np.isfinite(logits))
        if model.task == "part_seg":
            assert set(out) == {"parts"}  # the category is an input only: no category classifier


def test_original_classifier_runs_on_fewer_points_than_its_centres(rng):
    # 100 points, 512 centres: as the original kernel, farthest point sampling repeats point 0 once
    # every point is taken, so the duplicate centres group the same balls.
    model = get_model("pointnet2_cls_ssg", num_points=None)
    points = rng.uniform(-1, 1, size=(2, 100, 3)).astype("float32")
    logits = keras.ops.convert_to_numpy(model(points))
    assert logits.shape == (2, 40) and np.all(np.isfinite(logits))
    # A cloud's logits do not depend on the other cloud of the batch at inference.
    alone = keras.ops.convert_to_numpy(model(points[1:]))
    np.testing.assert_allclose(alone[0], logits[1], rtol=1e-4, atol=1e-4)


def test_normals_enter_as_features_of_the_first_level():
    ssg = get_model("pointnet2_cls_ssg", input_dims=6)
    assert ssg.get_layer("layer1_conv0").kernel.shape == (3 + 3, 64)
    assert count_trainable_params(ssg) == 1_475_688 + 3 * 64
    part = get_model("pointnet2_part_seg", input_dims=3)  # without normals: XYZ only
    assert part.get_layer("layer1_conv0").kernel.shape == (3, 64)
    assert part.get_layer("fa_layer3_conv_0").kernel.shape == (128 + 3, 128)


def _description(task):
    if task == "part_seg":
        return types.SimpleNamespace(num_classes=6, num_parts=6, num_categories=3,
                                     category_parts=[[0, 1], [2, 3], [4, 5]])  # fmt: skip
    return types.SimpleNamespace(num_classes=4 if task == "cls" else 5)


@pytest.mark.parametrize("name", ["pointnet2_cls_msg", "pointnet2_part_seg_msg", "pointnet2_sem_seg"])
def test_one_fit_step_with_the_task_compile_arguments(name, rng):
    model = get_model(name, **SMALL[name])
    task = get_task(model.task)
    outputs = tuple(model.output) if isinstance(model.output, dict) else None
    model.compile(optimizer=keras.optimizers.Adam(0.01), **task.compile_args(_description(model.task), outputs=outputs))
    x = make_inputs(model, 32, rng, batch=4)
    if model.task == "cls":
        y = rng.integers(0, 4, 4)
    elif model.task == "sem_seg":
        y = rng.integers(0, 5, (4, 32))
    else:
        y = {"parts": rng.integers(0, 6, (4, 32)), "category": x["category"].argmax(-1)}
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert sum(changed) > len(changed) // 2


def test_keras_file_round_trip_gives_equal_outputs(tmp_path, rng):
    model = get_model("pointnet2_cls_msg", **SMALL["pointnet2_cls_msg"])
    points = make_inputs(model, 40, rng)
    path = tmp_path / "pn2.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.builder == "pointnet2_cls_msg" and restored.task == "cls"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(points)),
                                  keras.ops.convert_to_numpy(model(points)))  # fmt: skip


def test_mixed_precision_keeps_float32_logits(mixed_precision, rng):
    model = get_model("pointnet2_part_seg", **SMALL["pointnet2_part_seg"])
    out = model(make_inputs(model, 30, rng))
    assert out["parts"].dtype == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(out["parts"])))


@pytest.mark.parametrize(
    "name, config, message",
    [
        ("pointnet2_cls_ssg", dict(num_classes=1), "num_classes must be at least 2, got 1"),
        ("pointnet2_cls_ssg", dict(input_dims=2), "input_dims must be at least 3 (XYZ first), got 2"),
        ("pointnet2_cls_ssg", dict(num_points=0), "num_points must be a positive integer, got 0"),
        ("pointnet2_cls_ssg", dict(radii=(0.2,)), "radii must have one entry per level of npoints=[512, 128], got [0.2]"),
        ("pointnet2_cls_ssg", dict(radii=(0.2, -1.0)), "radii must be positive numbers, got -1.0"),
        ("pointnet2_cls_ssg", dict(npoints=(512, 0)), "npoints must be a positive integer, got 0"),
        ("pointnet2_cls_ssg", dict(mlps=((64,), (0,))), "bad value 0"),
        ("pointnet2_cls_ssg", dict(dropout_rate=1.0), "dropout_rate must be a number in [0, 1), got 1.0"),
        ("pointnet2_cls_ssg", dict(chunk_size=0), "chunk_size must be a positive integer, got 0"),
        ("pointnet2_cls_msg", dict(radii=((0.1, 0.2), (0.2, 0.4, 0.8))),
         "level 0 needs as many scales in radii, nsamples and mlps, got radii=[0.1, 0.2], nsamples=[16, 32, 128]"),
        ("pointnet2_cls_msg", dict(nsamples=(16, 32)), "nsamples[0] must be a sequence, got 16"),
        ("pointnet2_part_seg", dict(num_parts=1), "num_parts must be at least 2, got 1"),
        ("pointnet2_part_seg", dict(fp_mlps=((256, 256),)), "fp_mlps must have 3 entries"),
        ("pointnet2_part_seg_msg", dict(num_categories=0), "num_categories must be a positive integer, got 0"),
        ("pointnet2_sem_seg", dict(head_widths=(128, -4)), "bad value -4"),
        ("pointnet2_sem_seg", dict(global_mlp=(8,)), "unknown argument(s) 'global_mlp'"),
    ],
)
def test_bad_arguments_raise_one_clear_value_error(name, config, message):
    with pytest.raises(ValueError) as error:
        get_model(name, **config)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_registered_with_their_family_tasks_and_preprocessing():
    assert list_models(family="pointnet2") == NAMES
    assert {"pointnet2_cls_ssg", "pointnet2_cls_msg"} <= set(list_models("cls"))
    assert {"pointnet2_part_seg", "pointnet2_part_seg_msg"} <= set(list_models("part_seg"))
    assert "pointnet2_sem_seg" in list_models("sem_seg")
    shapes = model_entry("pointnet2_part_seg").preprocessing
    assert (shapes.normalization, shapes.up_axis, shapes.channels, shapes.num_points) == ("unit_sphere", "y", 6, 2048)
    blocks = model_entry("pointnet2_sem_seg").preprocessing
    assert (blocks.normalization, blocks.up_axis, blocks.channels, blocks.num_points) == ("s3dis_blocks", "z", 3, 8192)


def test_training_defaults_cover_every_model_and_name_train_config_fields():
    assert sorted(TRAINING_DEFAULTS) == NAMES
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    for name in NAMES:
        values = training_defaults(name).train_config_values()
        assert set(values) <= fields
        assert model_entry(name).recipe is training_defaults(name)  # registered with the model
    cls = training_defaults("pointnet2_cls_ssg").config
    assert (cls["batch_size"], cls["max_epoch"], cls["decay_step"], cls["decay_rate"], cls["bn_decay_decay_step"]) == (
        16, 251, 200_000, 0.7, 200_000)
    assert [name for name, _ in training_defaults("pointnet2_cls_msg").augmentation] == [
        "RotateUp", "RotatePerturbation", "Scale", "Translate", "Jitter"]
    assert training_defaults("pointnet2_part_seg_msg").config["decay_step"] == 337_620
    assert training_defaults("pointnet2_sem_seg").not_applied["lr_floor"] is None
    with pytest.raises(ValueError, match="no original training settings for 'pointnet_cls'"):
        training_defaults("pointnet_cls")
