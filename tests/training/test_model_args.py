"""`--model_arg KEY=VALUE`: parsed, validated against the builder, passed exactly, saved and checked on resume."""

import argparse
import json

import pytest

from pointnet_tf2.data import open_dataset
from pointnet_tf2.training.cli import main
from pointnet_tf2.training.cli import parse_model_arg
from pointnet_tf2.training.run_setup import TrainConfig
from pointnet_tf2.training.run_setup import build_model

FAST = ["--num_point", "64", "--batch_size", "16", "--verbose", "0", "--max_epoch", "1", "--visuals_every", "0"]


@pytest.mark.parametrize("text, expected", [
    ("resolution=24", ("resolution", 24)),
    ("dropout_rate=0.25", ("dropout_rate", 0.25)),
    ("feature_transform=false", ("feature_transform", False)),
    ("mlp=[8, 16]", ("mlp", [8, 16])),
    ("padding=same", ("padding", "same")),
    ('padding="same"', ("padding", "same")),
    ("name=a=b", ("name", "a=b")),
    ("name=", ("name", "")),
])
def test_values_are_json_literals_else_strings(text, expected):
    assert parse_model_arg(text) == expected


@pytest.mark.parametrize("text", ["resolution", "=24", "two words=1", "1st=2"])
def test_malformed_model_arg(text):
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected KEY=VALUE \(e.g. resolution=24\), got "):
        parse_model_arg(text)


def test_malformed_or_repeated_model_arg_on_the_command_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main("cls", ["--model_arg", "resolution", "--log_dir", str(tmp_path / "a")])
    assert exit.value.code == 2
    assert "argument --model_arg: expected KEY=VALUE (e.g. resolution=24), got 'resolution'" in capsys.readouterr().err
    assert main("cls", ["--model", "voxel_cnn", "--model_arg", "inner=20", "--model_arg", "inner=22",
                        "--log_dir", str(tmp_path / "b")]) == 1
    assert capsys.readouterr().err == "train_cls.py: error: --model_arg inner given twice (20 and 22)\n"
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("model, model_args, flags, message", [
    ("voxel_cnn", {"no_such": 1}, {}, "--model_arg no_such: voxel_cnn has no argument 'no_such'; it accepts "
                                      "dropout_rate, filters, inner, kernel_sizes, name, padding, resolution, strides"),
    ("pointnet_cls", {"num_points": 512}, {}, "--model_arg num_points: the run sets it from --num_point, not --model_arg"),
    ("pointnet_cls", {"num_classes": 3}, {}, "--model_arg num_classes: the run sets it from the dataset's class count"),
    ("pointnet_cls", {"bn_momentum": 0.9}, {}, "--model_arg bn_momentum: the run sets it from --bn_init_decay"),
    ("voxel_cnn", {}, {"orthogonal_weight": 0.01},
     "--orthogonal_weight does not apply to voxel_cnn (its builder takes no orthogonal_weight); leave it at its default"),
    ("voxel_cnn", {}, {"bn_init_decay": 0.9}, "--bn_init_decay does not apply to voxel_cnn (its builder takes no bn_momentum)"),
    ("voxel_resnet", {}, {"use_normals": True}, "--use_normals does not apply to voxel_resnet (its builder takes no input_dims)"),
    ("pointnet_cls_basic", {}, {"orthogonal_weight": 0.01}, "--orthogonal_weight does not apply to pointnet_cls_basic"),
])
def test_arguments_and_flags_that_do_not_fit_the_model(model, model_args, flags, message):
    config = TrainConfig(task="cls", model=model, model_args=model_args, **flags)
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        config.resolved()


def test_flags_at_their_default_and_those_the_model_takes_are_fine():
    TrainConfig(task="cls", model="voxel_resnet", bn_init_decay=0.9, model_args={"width": 8}).resolved()
    TrainConfig(task="sem_seg", model="pointnet_sem_seg", bn_init_decay=0.9).resolved()
    with pytest.raises(ValueError, match="--orthogonal_weight does not apply to pointnet_sem_seg"):
        TrainConfig(task="sem_seg", orthogonal_weight=0.0).resolved()


def test_build_model_passes_the_run_and_the_model_arguments_exactly(tiny_data):
    description = open_dataset(tiny_data("cls"))
    config = TrainConfig(task="cls", model="pointnet_cls_basic", num_point=64, bn_init_decay=0.7,
                         model_args={"mlp": [8, 16], "head_widths": [8], "dropout_rate": 0.1}).resolved()
    model = build_model(config, description)
    assert model.builder_config == {"num_classes": description.num_classes, "num_points": 64, "input_dims": 3,
                                    "mlp": [8, 16], "head_widths": [8], "dropout_rate": 0.1, "bn_momentum": 0.7,
                                    "name": "pointnet_cls_basic"}  # fmt: skip
    voxel = build_model(TrainConfig(task="cls", model="voxel_cnn", model_args={"filters": [4, 4, 4]}).resolved(),
                        description)
    assert voxel.builder_config["num_classes"] == description.num_classes and "num_points" not in voxel.builder_config
    bad = TrainConfig(task="cls", model="pointnet_cls_basic", model_args={"dropout_rate": 1.5}).resolved()
    with pytest.raises(ValueError, match=r"^dropout_rate must be a number in \[0, 1\), got 1.5$"):
        build_model(bad, description)


def test_voxel_run_with_a_smaller_grid_trains_saves_and_resumes_only_with_it(tiny_data, tmp_path, capsys):
    log_dir = tmp_path / "voxel24"
    args = ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--model", "voxel_cnn", *FAST]
    grid = ["--model_arg", "resolution=24", "--model_arg", "inner=20", "--model_arg", "padding=same"]
    assert main("cls", args + grid) == 0
    config = json.loads((log_dir / "config.json").read_text())
    assert config["train_config"]["model_args"] == {"resolution": 24, "inner": 20, "padding": "same"}
    builder_config = config["model"]["builder_config"]
    assert (builder_config["resolution"], builder_config["inner"], builder_config["padding"]) == (24, 20, "same")
    results = json.loads((log_dir / "test_results.json").read_text())
    assert results["num_samples"] == 24 and 0.0 <= results["overall_accuracy"] <= 1.0
    capsys.readouterr()
    assert main("cls", args + ["--resume", "--max_epoch", "2"]) == 1
    assert ("cannot resume: --model_arg was {'resolution': 24, 'inner': 20, 'padding': 'same'}, now {}"
            in capsys.readouterr().err)
    # A grid the builder cannot take: its own one-line error.
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(tmp_path / "bad"), "--model", "voxel_cnn",
                        "--model_arg", "resolution=24", *FAST]) == 1
    assert "resolution=24 is too small for conv3" in capsys.readouterr().err
