"""One test suite for every registered model, in the spirit of keras-hub's `run_backbone_test`.

Each model is built from its registry entry's tiny `test_config` and must:
build, run forward on a tiny input with the outputs its task and output kind
promise, survive a `.keras` save/load and a `get_config`/`from_config` round
trip with the same outputs, refuse an unknown builder argument and a bad
value with a `ValueError` quoting it, refuse a wrong-shaped input with one
clear line, and export as a SavedModel (`pointnet_tf2.export`) that loads and
gives the same outputs. A new model or family is covered by registering it.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2 import export
from pointnet_tf2.models import get_model
from pointnet_tf2.models import list_models
from pointnet_tf2.models import model_entry
from pointnet_tf2.models.kinds import model_preprocessing

MODELS = list_models()
BATCH = 2
NUM_POINTS = 32
# The builder argument holding a task's class count (each task's models take it).
CLASS_COUNT = {"cls": "num_classes", "sem_seg": "num_classes", "part_seg": "num_parts"}
# Models whose SavedModel export is refused, with the one line saying why (none today).
EXPORT_REFUSALS = {}
# Part segmentation models without category logits (their original has no category classifier).
NO_CATEGORY_OUTPUT = {"dgcnn_part_seg", "pointnet2_part_seg", "pointnet2_part_seg_msg"}


def tiny(name):
    """The model `name` built with its entry's tiny test configuration."""
    return get_model(name, **model_entry(name).test_config)


def tiny_inputs(model, rng, batch=BATCH, num_points=NUM_POINTS):
    """Inputs for every input of `model`: one-hot vectors, occupancy grids or point clouds."""
    inputs = {}
    for tensor in model.inputs:
        shape = [batch] + [num_points if d is None else d for d in tuple(tensor.shape)[1:]]
        if len(shape) == 2:  # e.g. part segmentation's one-hot object category
            value = np.eye(shape[1], dtype=np.float32)[rng.integers(0, shape[1], batch)]
        elif len(shape) == 5:  # (B, R, R, R, 1) occupancy grids
            value = (rng.random(shape) < 0.2).astype(np.float32)
        else:
            value = rng.normal(size=shape).astype(np.float32)
        inputs[tensor.name] = value
    return inputs if len(inputs) > 1 else next(iter(inputs.values()))


def shape_text(shape):
    """A model input's shape as its errors write it: `(B, N, 3)`."""
    return "(" + ", ".join("B" if i == 0 else ("N" if d is None else str(d)) for i, d in enumerate(shape)) + ")"


def main_input_name(model):
    """The input holding the clouds or grids (the highest rank)."""
    return max(model.inputs, key=lambda tensor: len(tensor.shape)).name


def expected_shapes(name, model, batch=BATCH, num_points=NUM_POINTS):
    """Output name (None for a single output) -> the shape its task and output kind promise."""
    entry, config = model_entry(name), model.builder_config
    if entry.output_kind == "embedding":
        return {None: (batch, model.output_shape[-1])}
    if entry.task == "cls":
        return {None: (batch, config["num_classes"])}
    if entry.task == "sem_seg":
        return {None: (batch, num_points, config["num_classes"])}
    if name in NO_CATEGORY_OUTPUT:
        return {"parts": (batch, num_points, config["num_parts"])}
    return {"parts": (batch, num_points, config["num_parts"]), "category": (batch, config["num_categories"])}


def as_dict(outputs):
    if isinstance(outputs, dict):
        return {key: np.asarray(value) for key, value in outputs.items()}
    return {None: np.asarray(outputs)}


def assert_same_outputs(got, expected, atol=1e-6):
    got, expected = as_dict(got), as_dict(expected)
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=atol)


def test_the_zoo_is_registered_by_family():
    assert {"pointnet", "voxel"} <= {model_entry(name).family for name in MODELS}
    assert {"pointnet_cls", "pointnet_part_seg", "pointnet_sem_seg", "voxel_cnn"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_entry_is_complete_and_matches_the_built_model(name):
    entry = model_entry(name)
    assert entry.family and entry.description and entry.test_config, f"{name}: register a family, a description and a tiny test_config"
    assert entry.builder.__module__.startswith(f"pointnet_tf2.models.{entry.family}."), "a family is one folder"
    model = tiny(name)
    assert (model.builder, model.task) == (name, entry.task)
    assert CLASS_COUNT[entry.task] in model.builder_config
    preprocessing = model_preprocessing(model)
    shape = tuple(model.get_layer(main_input_name(model)).output.shape)
    if entry.input_kind == "voxels":
        assert shape[1:] == (preprocessing.resolution,) * 3 + (1,)
        assert preprocessing.inner <= preprocessing.resolution
    else:
        assert shape[-1] == preprocessing.channels and preprocessing.resolution is None
    assert preprocessing.num_points >= 1


@pytest.mark.parametrize("name", MODELS)
def test_forward_gives_the_promised_outputs(name, rng):
    model = tiny(name)
    outputs = as_dict(model(tiny_inputs(model, rng), training=False))
    assert {key: value.shape for key, value in outputs.items()} == expected_shapes(name, model)
    for value in outputs.values():
        assert value.dtype == np.float32 and np.all(np.isfinite(value))
    if model_entry(name).output_kind == "embedding":
        np.testing.assert_allclose(np.linalg.norm(outputs[None], axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_keras_file_round_trip(name, tmp_path, rng):
    model = tiny(name)
    inputs = tiny_inputs(model, rng)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert (restored.builder, restored.task, restored.builder_config) == (name, model.task, model.builder_config)
    assert_same_outputs(restored(inputs, training=False), model(inputs, training=False))


@pytest.mark.parametrize("name", MODELS)
def test_get_config_round_trip(name):
    model = tiny(name)
    config = model.get_config()
    assert config["builder"] == name and json.loads(json.dumps(config)) == config
    clone = model.__class__.from_config(config)
    assert clone.get_config() == config
    assert [(w.path, tuple(w.shape)) for w in clone.weights] == [(w.path, tuple(w.shape)) for w in model.weights]


@pytest.mark.parametrize("name", MODELS)
def test_get_model_refuses_an_unknown_argument_and_a_bad_value(name):
    entry = model_entry(name)
    with pytest.raises(ValueError, match=rf"^{name}: unknown argument\(s\) 'no_such_argument'; accepted: ") as error:
        get_model(name, **entry.test_config, no_such_argument=1)
    assert set(str(error.value).split("accepted: ")[1].split(", ")) == set(entry.defaults())
    argument = CLASS_COUNT[entry.task]
    with pytest.raises(ValueError, match=rf"{argument} must be a positive integer, got 0$"):
        get_model(name, **{**entry.test_config, argument: 0})


@pytest.mark.parametrize("name", MODELS)
def test_wrong_shaped_input_is_refused_in_one_line(name, rng):
    model = tiny(name)
    inputs = tiny_inputs(model, rng)
    key = main_input_name(model)
    want = shape_text(model.get_layer(key).output.shape)
    main = inputs[key] if isinstance(inputs, dict) else inputs
    bad_shapes = [main.shape[:-1] + (main.shape[-1] + 1,), main.shape[1:]]  # one more channel; no batch axis
    for shape in bad_shapes:
        bad = np.zeros(shape, np.float32)
        with pytest.raises(ValueError) as error:
            model({**inputs, key: bad} if isinstance(inputs, dict) else bad)
        assert str(error.value) == f"{model.name}: input {key!r} must have shape {want}, got shape {tuple(shape)}"


@pytest.mark.parametrize("name", MODELS)
def test_saved_model_export_loads_and_matches(name, tmp_path, rng):
    model = tiny(name)
    output = str(tmp_path / name)
    if name in EXPORT_REFUSALS:
        with pytest.raises(ValueError, match=EXPORT_REFUSALS[name]):
            export.export_model(model, output, format="saved_model")
        return
    metadata = export.model_metadata(model, format="saved_model")
    path = export.export_model(model, output, format="saved_model", metadata=metadata)
    inputs = tiny_inputs(model, rng)
    loaded = tf.saved_model.load(path)  # keep a reference: its variables die with it
    # Folded batch norm and fused max pooling: the same outputs within float32 rounding.
    assert_same_outputs(loaded.serve(inputs), model(inputs, training=False), atol=1e-5)
    written = json.loads(open(path + ".json").read())
    entry = model_entry(name)
    assert (written["model"], written["family"], written["task"]) == (name, entry.family, entry.task)
    assert (written["input_kind"], written["outputs"]) == (entry.input_kind, entry.output_kind)
    assert written["preprocessing"] == model_preprocessing(model).to_dict()
    assert written["normalization"] == written["preprocessing"]["normalization_description"]
