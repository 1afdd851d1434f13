"""Presets: one folder per trained model (pointnet_tf2.presets, reading in pointnet_tf2.checkpoints).

- every registered model round-trips through `save_to_preset` / `from_preset`
  (same config, same outputs);
- a tiny real training run with `--save_preset` writes `LOG_DIR/preset`
  whose metadata and model card hold the run's flags, data, measured figures
  and a command that parses back into the same run configuration;
- `pointnet-tf2 save-preset`, then evaluate / predict / export with
  `--checkpoint PRESET`, give what the run folder gives;
- presets of another major version or a newer version, and damaged ones, are
  refused in one line.
"""

import dataclasses
import json
import os
import shlex
import shutil

import keras
import numpy as np
import pytest

import pointnet_tf2
from pointnet_tf2 import cli
from pointnet_tf2.checkpoints import check_preset_version
from pointnet_tf2.checkpoints import open_checkpoint
from pointnet_tf2.data import generate_synthetic
from pointnet_tf2.models import get_model
from pointnet_tf2.models import list_models
from pointnet_tf2.models import model_entry
from pointnet_tf2.presets import model_card
from pointnet_tf2.presets import preset_metadata
from pointnet_tf2.presets import save_to_preset
from pointnet_tf2.presets import train_command
from pointnet_tf2.training import cli as train_cli
from pointnet_tf2.training.trainer import TrainConfig
from pointnet_tf2.version import __version__

PRESET_FILES = {"config.json", "model.weights.h5", "metadata.json", "README.md", ".pointnet_tf2_output"}


def tiny_inputs(model, rng, batch=2, num_points=32):
    """Random inputs for every input of `model` (one-hot category, occupancy grid or points)."""
    inputs = {}
    for tensor in model.inputs:
        shape = [batch] + [num_points if d is None else d for d in tuple(tensor.shape)[1:]]
        if len(shape) == 2:
            inputs[tensor.name] = np.eye(shape[1], dtype="float32")[rng.integers(0, shape[1], batch)]
        elif len(shape) == 5:
            inputs[tensor.name] = (rng.random(shape) < 0.2).astype("float32")
        else:
            inputs[tensor.name] = rng.normal(size=shape).astype("float32")
    return inputs if len(inputs) > 1 else next(iter(inputs.values()))


def flat(outputs):
    return {k: np.asarray(v) for k, v in outputs.items()} if isinstance(outputs, dict) else {None: np.asarray(outputs)}


# --- every registered model -----------------------------------------------------------------


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_round_trips(name, tmp_path, rng):
    model = get_model(name, **model_entry(name).test_config)
    inputs = tiny_inputs(model, rng)
    expected = flat(model(inputs, training=False))
    path = pointnet_tf2.save_to_preset(model, tmp_path / name)
    assert set(os.listdir(path)) == PRESET_FILES  # no run.json: a model alone
    loaded = pointnet_tf2.from_preset(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    assert loaded.builder == name and loaded.builder_config == model.builder_config
    got = flat(loaded(inputs, training=False))
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-5)
    metadata = preset_metadata(path)
    assert metadata["pointnet_tf2_preset"] == 1 and metadata["pointnet_tf2_version"] == __version__
    assert metadata["keras_version"] == keras.version()
    assert metadata["parameter_count"] == model.count_params()
    assert metadata["model"] == name and metadata["task"] == model_entry(name).task
    assert metadata["family"] == model_entry(name).family
    assert metadata["preprocessing"] == model_entry(name).preprocessing_for(model.builder_config).to_dict()


def test_a_model_alone_has_a_card_saying_what_is_unknown(tmp_path):
    model = get_model("pointnet_cls_basic", **model_entry("pointnet_cls_basic").test_config)
    path = save_to_preset(model, tmp_path / "alone")
    card = (tmp_path / "alone" / "README.md").read_text()
    assert card.startswith("# pointnet_cls_basic: cls preset")
    assert 'pointnet_tf2.from_preset("PRESET_DIR")' in card
    assert "unknown: the model was saved without its training run (no dataset recorded)" in card
    assert "Unknown: the model was saved without its training run (no flags recorded)." in card
    assert "- validation: not measured" in card and "- test: not measured" in card
    assert "Unknown: no training run was recorded with this model." in card
    assert f"| parameters | {model.count_params():,} (" in card
    assert "class_0, class_1, class_2, class_3" in card
    loaded = open_checkpoint(path)
    assert loaded.standalone and loaded.preset is not None and loaded.class_names == [f"class_{i}" for i in range(4)]
    assert loaded.checkpoint == path


def test_cli_save_preset_of_a_standalone_keras_file(tmp_path, capsys):
    model = get_model("pointnet_cls_basic", **model_entry("pointnet_cls_basic").test_config)
    model.save(tmp_path / "alone.keras")
    preset = str(tmp_path / "preset")
    assert cli.main(["save-preset", "--checkpoint", str(tmp_path / "alone.keras"), "--output", preset]) == 0
    assert "a model without its run" in capsys.readouterr().out
    assert not os.path.exists(os.path.join(preset, "run.json"))
    metadata = preset_metadata(preset)
    assert metadata["results"] is None and metadata["command"] is None and metadata["dataset"] is None
    assert metadata["checkpoint"] == str(tmp_path / "alone.keras")
    assert "- validation: not measured" in open(os.path.join(preset, "README.md")).read()
    assert cli.main(["evaluate", "--checkpoint", preset]) == 1
    assert "a preset saved without its training run, so its dataset is unknown: pass --data" in capsys.readouterr().err


def test_compile_needs_a_saved_training_configuration(tmp_path):
    model = get_model("pointnet_cls_basic", **model_entry("pointnet_cls_basic").test_config)
    uncompiled = save_to_preset(model, tmp_path / "plain")
    with pytest.raises(ValueError, match="saved from an uncompiled model"):
        pointnet_tf2.from_preset(uncompiled, compile=True)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    compiled = save_to_preset(model, tmp_path / "compiled")
    loaded = pointnet_tf2.from_preset(compiled, compile=True)
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)
    assert not pointnet_tf2.from_preset(compiled).compiled


# --- a real tiny training run with --save_preset --------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 1-epoch run of train_cls.py with --save_preset on a tiny built-in set."""
    base = tmp_path_factory.mktemp("preset_run")
    data = generate_synthetic("cls", str(base / "data"), num_train=48, num_test=16, num_points=128)
    log_dir = str(base / "log")
    status = train_cli.main("cls", ["--data", data, "--model", "pointnet_cls_basic", "--num_point", "64",
                                    "--batch_size", "16", "--max_epoch", "1", "--verbose", "0", "--visuals_every", "0",
                                    "--model_arg", "dropout_rate=0.5", "--log_dir", log_dir, "--save_preset"])
    assert status == 0
    return base, data, log_dir, os.path.join(log_dir, "preset")


def test_save_preset_writes_the_best_checkpoint_with_its_figures(run, rng):
    _, data, log_dir, preset = run
    assert set(os.listdir(preset)) == PRESET_FILES | {"run.json"}
    metadata = preset_metadata(preset)
    state = json.loads(open(os.path.join(log_dir, "training_state.json")).read())
    test = json.loads(open(os.path.join(log_dir, "test_results.json")).read())
    validation = metadata["results"]["validation"]
    assert validation["monitor"] == state["monitor"] == "val_accuracy"
    assert validation["value"] == pytest.approx(state["best_value"]) and validation["epoch"] == state["best_epoch"] == 1
    assert metadata["results"]["test"]["overall_accuracy"] == pytest.approx(test["overall_accuracy"])
    assert metadata["results"]["test"]["num_samples"] == 16
    assert metadata["class_names"] == open_checkpoint(log_dir).class_names
    assert metadata["dataset"]["root"] == data and metadata["dataset"]["splits"] == {"train": 48, "test": 16}
    assert metadata["preprocessing"]["num_points"] == 64 and metadata["up_axis"] == "y"
    assert json.loads(open(os.path.join(preset, "run.json")).read()) == json.loads(
        open(os.path.join(log_dir, "config.json")).read())
    # The same model as best.keras.
    best = keras.saving.load_model(os.path.join(log_dir, "best.keras"), compile=False)
    points = rng.normal(size=(2, 64, 3)).astype("float32")
    np.testing.assert_allclose(pointnet_tf2.from_preset(preset)(points), best(points), rtol=1e-5, atol=1e-6)


def test_model_card_of_a_run(run):
    _, data, log_dir, preset = run
    card = open(os.path.join(preset, "README.md")).read()
    metadata = preset_metadata(preset)
    test = metadata["results"]["test"]
    validation = metadata["results"]["validation"]
    assert card.startswith("# pointnet_cls_basic: cls preset")
    assert "PointNet classifier without T-Nets" in card
    assert f"- dataset: `{data}` (modelnet40 layout, task cls)" in card
    assert "- splits: train 48, test 16" in card
    assert "- points per cloud: 64" in card and "- up axis: y" in card
    assert '| max_epoch | `1` |' in card and '| model_args | `{"dropout_rate": 0.5}` |' in card
    assert f"- validation: val_accuracy {validation['value']:.4f} at epoch 1 of 1" in card
    assert (f"- test (16 clouds): overall_accuracy {test['overall_accuracy']:.4f}, "
            f"mean_class_accuracy {test['mean_class_accuracy']:.4f}") in card
    assert f"```bash\n{metadata['command']}\n```" in card
    assert f"pointnet-tf2 {__version__}, Keras {keras.version()}" in card
    assert "classes (12)" in card.lower()


def test_the_card_command_reproduces_the_run_configuration(run):
    _, _, log_dir, preset = run
    recorded = json.loads(open(os.path.join(preset, "run.json")).read())["train_config"]
    words = shlex.split(preset_metadata(preset)["command"])
    assert words[:2] == ["python", "train_cls.py"] and "--save_preset" in words and "--resume" not in words
    args = vars(train_cli.build_parser("cls").parse_args(words[2:]))
    pairs = args.pop("model_arg")
    config = TrainConfig.from_values(args, task="cls", model_args=train_cli.model_args(pairs)).resolved()
    assert dataclasses.asdict(config) == recorded


def test_train_command_leaves_out_other_tasks_flags():
    config = dataclasses.asdict(TrainConfig(task="part_seg", data="/d", log_dir="/l").resolved())
    words = shlex.split(train_command(config))
    assert words[1] == "train_part_seg.py"
    assert "--train_rotation" not in words and "--triplet_margin" not in words and "--test_area" not in words
    assert words[words.index("--seg_weight") + 1] == "1.0"
    args = vars(train_cli.build_parser("part_seg").parse_args(words[2:]))
    args.pop("model_arg")
    assert dataclasses.asdict(TrainConfig.from_values(args, task="part_seg").resolved()) == config


# --- the command line -----------------------------------------------------------------------


def test_cli_save_preset_then_evaluate_predict_export(run, tmp_path, capsys):
    base, data, log_dir, _ = run
    preset = str(tmp_path / "preset")
    assert cli.main(["save-preset", "--checkpoint", log_dir, "--output", preset]) == 0
    assert f"as the preset {preset}" in capsys.readouterr().out
    assert preset_metadata(preset)["results"] == preset_metadata(os.path.join(log_dir, "preset"))["results"]
    # evaluate: the recorded dataset is on this machine, so no --data is needed; same figures as the run folder.
    outputs = {}
    for name, checkpoint in (("run", log_dir), ("preset", preset)):
        out = str(tmp_path / f"eval_{name}.json")
        assert cli.main(["evaluate", "--checkpoint", checkpoint, "--num_point", "64", "--output", out]) == 0
        outputs[name] = json.loads(open(out).read())
    assert outputs["preset"]["checkpoint"] == preset
    assert outputs["preset"]["overall_accuracy"] == outputs["run"]["overall_accuracy"]
    # predict: same classes and probabilities.
    cloud = str(tmp_path / "cloud.txt")
    np.savetxt(cloud, np.random.default_rng(0).normal(size=(300, 3)))
    rows = {}
    for name, checkpoint in (("run", log_dir), ("preset", preset)):
        out = str(tmp_path / f"pred_{name}.json")
        assert cli.main(["predict", "--checkpoint", checkpoint, cloud, "--output", out]) == 0
        rows[name] = json.loads(open(out).read())
    assert rows["preset"][0]["top_k"] == rows["run"][0]["top_k"]
    # export: the sidecar has the preset's class names and preprocessing.
    exported = str(tmp_path / "saved_model")
    assert cli.main(["export", "--checkpoint", preset, "--output", exported]) == 0
    sidecar = json.loads(open(exported + ".json").read())
    assert sidecar["class_names"] == preset_metadata(preset)["class_names"]
    assert sidecar["preprocessing"]["num_points"] == 64
    # retrieve: features of the preset's model, written beside the preset folder.
    assert cli.main(["retrieve", "--checkpoint", preset, "--num_queries", "0", "--num_point", "64"]) == 0
    assert os.path.isfile(tmp_path / "retrieval.json")


def test_cli_save_preset_refuses_to_replace(run, tmp_path, capsys):
    _, _, log_dir, _ = run
    preset = str(tmp_path / "preset")
    assert cli.main(["save-preset", "--checkpoint", log_dir, "--output", preset]) == 0
    capsys.readouterr()
    assert cli.main(["save-preset", "--checkpoint", log_dir, "--output", preset]) == 1
    assert "the folder exists and is not empty" in capsys.readouterr().err
    assert cli.main(["save-preset", "--checkpoint", log_dir, "--output", preset, "--overwrite"]) == 0
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no temporaries left
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert cli.main(["save-preset", "--checkpoint", log_dir, "--output", str(mine), "--overwrite"]) == 1
    assert "was not written by pointnet-tf2" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep"
    assert cli.main(["save-preset", "--checkpoint", log_dir, "--output", log_dir, "--overwrite"]) == 1
    assert "contains the input" in capsys.readouterr().err


def test_evaluate_a_preset_whose_dataset_moved_needs_data(run, tmp_path, capsys):
    _, data, log_dir, preset = run
    moved = tmp_path / "moved"
    shutil.copytree(preset, moved)
    run_json = json.loads((moved / "run.json").read_text())
    run_json["dataset"]["root"] = str(tmp_path / "elsewhere")
    (moved / "run.json").write_text(json.dumps(run_json))
    assert cli.main(["evaluate", "--checkpoint", str(moved)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{moved}: the preset's dataset {tmp_path / 'elsewhere'} is not on this machine: pass --data" in err
    assert cli.main(["evaluate", "--checkpoint", str(moved), "--data", data, "--num_point", "64"]) == 0
    # Prediction needs no data.
    assert open_checkpoint(str(moved)).class_names == preset_metadata(preset)["class_names"]


def test_a_part_seg_preset_keeps_the_categories(part_seg_run, tmp_path):
    preset = str(tmp_path / "part_seg")
    assert cli.main(["save-preset", "--checkpoint", part_seg_run.log_dir, "--output", preset]) == 0
    run, loaded = open_checkpoint(part_seg_run.log_dir), open_checkpoint(preset)
    assert loaded.task == "part_seg" and loaded.class_names == run.class_names
    assert loaded.category_names == run.category_names and loaded.category_parts == run.category_parts
    assert preset_metadata(preset)["results"] == {"validation": None, "test": None}  # the run was never trained
    card = open(os.path.join(preset, "README.md")).read()
    assert "- validation: not measured" in card and f"Object categories ({len(run.category_names)})" in card


def test_save_preset_refuses_a_foreign_preset_folder_before_training(tmp_path, tiny_data_cls, capsys):
    log_dir = tmp_path / "log"
    (log_dir / "preset").mkdir(parents=True)
    (log_dir / "preset" / "notes.txt").write_text("mine")
    status = train_cli.main("cls", ["--data", tiny_data_cls, "--num_point", "64", "--max_epoch", "1", "--verbose", "0",
                                    "--log_dir", str(log_dir), "--save_preset"])
    assert status == 1
    assert "was not written by pointnet-tf2" in capsys.readouterr().err
    assert sorted(os.listdir(log_dir)) == ["preset"] and (log_dir / "preset" / "notes.txt").read_text() == "mine"


@pytest.fixture
def tiny_data_cls(run):
    return run[1]


# --- refusals -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    model = get_model("pointnet_cls_basic", **model_entry("pointnet_cls_basic").test_config)
    return save_to_preset(model, tmp_path_factory.mktemp("tiny") / "preset")


def _copy_with(tiny_preset, tmp_path, **changes):
    folder = tmp_path / "copy"
    shutil.copytree(tiny_preset, folder)
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata.update(changes)
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return str(folder)


def test_version_rule():
    check_preset_version("1.2.0", "P", installed="1.3.0")
    check_preset_version("1.3.0", "P", installed="1.3.0")
    check_preset_version("1.3.0.dev1", "P", installed="1.3.0")
    with pytest.raises(ValueError, match=r"^P: a preset written by pointnet-tf2 1\.4\.0, newer than the installed 1\.3\.0"):
        check_preset_version("1.4.0", "P", installed="1.3.0")
    with pytest.raises(ValueError, match=r"another major version than the installed 1\.3\.0"):
        check_preset_version("0.9.0", "P", installed="1.3.0")
    with pytest.raises(ValueError, match="damaged preset"):
        check_preset_version(None, "P", installed="1.3.0")


@pytest.mark.parametrize("version, reason", [("1.0.0", "another major version than"), ("0.99.0", "newer than")])
def test_an_incompatible_preset_is_refused(tiny_preset, tmp_path, capsys, version, reason):
    folder = _copy_with(tiny_preset, tmp_path, pointnet_tf2_version=version)
    with pytest.raises(ValueError) as error:
        pointnet_tf2.from_preset(folder)
    message = str(error.value)
    assert message.startswith(f"{folder}: a preset written by pointnet-tf2 {version}, {reason} the installed {__version__}")
    assert f'pip install "pointnet-tf2>={version},<{int(version[0]) + 1}"' in message and "\n" not in message
    assert cli.main(["export", "--checkpoint", folder, "--output", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"pointnet-tf2 export: error: {message}\n"


def test_an_older_preset_of_the_same_major_version_loads(tiny_preset, tmp_path):
    folder = _copy_with(tiny_preset, tmp_path, pointnet_tf2_version="0.0.1")
    assert pointnet_tf2.from_preset(folder).builder == "pointnet_cls_basic"


def _damage(folder, how):
    if how == "no weights":
        os.remove(os.path.join(folder, "model.weights.h5"))
    elif how == "truncated weights":
        path = os.path.join(folder, "model.weights.h5")
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
    elif how == "text weights":
        open(os.path.join(folder, "model.weights.h5"), "w").write("not weights")
    elif how == "bad config":
        open(os.path.join(folder, "config.json"), "w").write("{\"class_name\": ")
    elif how == "foreign config":
        open(os.path.join(folder, "config.json"), "w").write(json.dumps({"class_name": "NoSuchModel", "config": {}}))
    elif how == "bad metadata":
        open(os.path.join(folder, "metadata.json"), "w").write("{")
    elif how == "keras-hub metadata":
        open(os.path.join(folder, "metadata.json"), "w").write(json.dumps({"keras_version": "3.15.1"}))
    elif how == "newer format":
        metadata = json.loads(open(os.path.join(folder, "metadata.json")).read())
        metadata["pointnet_tf2_preset"] = 2
        open(os.path.join(folder, "metadata.json"), "w").write(json.dumps(metadata))


@pytest.mark.parametrize("how, expected", [
    ("no weights", "damaged preset: model.weights.h5 is missing"),
    ("truncated weights", "damaged preset: model.weights.h5 does not load"),
    ("text weights", "damaged preset: model.weights.h5 is not an HDF5 file"),
    ("bad config", "damaged preset: config.json is not a serialized Keras model"),
    ("foreign config", "damaged preset: config.json cannot be rebuilt"),
    ("bad metadata", "damaged preset: metadata.json cannot be read"),
    ("keras-hub metadata", "not a pointnet-tf2 preset (metadata.json has no 'pointnet_tf2_preset' key"),
    ("newer format", "preset format 2, this pointnet-tf2"),
])  # fmt: skip
def test_a_damaged_preset_is_refused_in_one_line(tiny_preset, tmp_path, capsys, how, expected):
    folder = str(tmp_path / "damaged")
    shutil.copytree(tiny_preset, folder)
    _damage(folder, how)
    with pytest.raises(ValueError) as error:
        pointnet_tf2.from_preset(folder)
    assert str(error.value).startswith(f"{folder}: ") and expected in str(error.value)
    cloud = tmp_path / "cloud.txt"
    np.savetxt(cloud, np.zeros((10, 3)))
    assert cli.main(["predict", "--checkpoint", folder, str(cloud)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"pointnet-tf2 predict: error: {folder}: ") and expected in err and err.count("\n") == 1


def test_model_card_is_built_from_the_metadata_alone(tiny_preset):
    metadata = preset_metadata(tiny_preset)
    changed = dict(metadata, results={"validation": None, "test": {"headline": ["overall_accuracy"],
                                                                   "overall_accuracy": 0.5, "num_samples": 3}})
    card = model_card(changed)
    assert "- test (3 clouds): overall_accuracy 0.5000" in card and "- validation: not measured" in card
