"""Training and evaluating on a dataset prepared from voxel grids: voxel models read the stored grids."""

import json

import numpy as np
import pytest

from pointnet_tf2.cli import main as cli_main
from pointnet_tf2.data import PointCloudSequence
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.prepare import prepare_dataset
from pointnet_tf2.training import families
from pointnet_tf2.training.trainer import TrainConfig
from pointnet_tf2.training.trainer import train


def _grids(count, size, seed):
    """Label i % 3: a flat slab, a tall column, a cube (z up); grid 5 is empty."""
    rng = np.random.default_rng(seed)
    grids = np.zeros((count, size, size, size), np.uint8)
    for i in range(count):
        if i == 5:
            continue
        x, y = rng.integers(3, 8, size=2)
        low = size // 5
        if i % 3 == 0:
            grids[i, x:x + 14, y:y + 14, low:low + 3] = 1
        elif i % 3 == 1:
            grids[i, x:x + 4, y:y + 4, low:low + 18] = 1
        else:
            grids[i, x:x + 10, y:y + 10, low:low + 10] = 1
    return grids, np.arange(count) % 3


@pytest.fixture(scope="module")
def voxel_data(tmp_path_factory):
    """Two datasets prepared from .npz archives of 30^3 grids: with a test split, and train-only at 16^3."""
    root = tmp_path_factory.mktemp("voxel_data")
    train, train_labels = _grids(24, 30, 0)
    test, test_labels = _grids(9, 30, 1)
    np.savez(root / "shapes.npz", X_train=train, y_train=train_labels, X_test=test, y_test=test_labels)
    both = prepare_dataset(str(root / "shapes.npz"), str(root / "shapes"), num_points=64, class_names="slab,column,cube",
                           workers=1, progress=False, log=None)  # fmt: skip
    small, small_labels = _grids(24, 16, 2)
    np.savez(root / "small.npz", X_train=small, y_train=small_labels)
    small_out = prepare_dataset(str(root / "small.npz"), str(root / "small"), num_points=64, workers=1,
                                progress=False, log=None)  # fmt: skip
    assert both["counts"] == {"train": 23, "test": 8} and small_out["counts"] == {"train": 23}
    return root


def _config(data, log_dir, model, **kwargs):
    return TrainConfig(task="cls", model=model, data=str(data), log_dir=str(log_dir), num_point=64, max_epoch=1,
                       batch_size=8, visuals_every=0, verbose=0, **kwargs)  # fmt: skip


def test_voxel_cnn_trains_and_evaluates_on_the_stored_grids(voxel_data, tmp_path, capsys):
    config = _config(voxel_data / "shapes", tmp_path / "voxel", "voxel_cnn").resolved()
    description = open_dataset(config.data)
    options = families.train_sequence_options(config, description)
    assert options["inputs"] == "voxels" and options["voxelize"].resolution == 30
    sequence = PointCloudSequence(description, batch_size=8, split="test", **families.eval_sequence_options(config))
    assert sequence.stored_grids and sequence.grid_augment is None
    result = train(config)
    test = result["test"]
    assert test["num_samples"] == 8 and set(test["headline"]) == {"overall_accuracy", "mean_class_accuracy"}
    assert 0.0 <= test["overall_accuracy"] <= 1.0
    assert sum(sum(row) for row in test["confusion_matrix"]) == 8
    capsys.readouterr()
    checkpoint = str(tmp_path / "voxel" / "best.keras")
    output = tmp_path / "results.json"
    assert cli_main(["evaluate", "--checkpoint", checkpoint, "--data", str(voxel_data / "shapes"),
                     "--output", str(output)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "overall_accuracy" in printed and "mean_class_accuracy" in printed
    evaluated = json.loads(output.read_text())
    assert evaluated["overall_accuracy"] == pytest.approx(test["overall_accuracy"])
    assert evaluated["mean_class_accuracy"] == pytest.approx(test["mean_class_accuracy"])
    # votes turn points, not stored grids
    assert cli_main(["evaluate", "--checkpoint", checkpoint, "--num_votes", "3"]) == 1
    assert "votes and test rotations turn points" in capsys.readouterr().err


def test_pointnet_trains_on_the_points_of_the_same_dataset(voxel_data, tmp_path):
    result = train(_config(voxel_data / "shapes", tmp_path / "pointnet", "pointnet_cls"))
    assert result["test"]["num_samples"] == 8 and 0.0 <= result["test"]["overall_accuracy"] <= 1.0
    config = json.loads((tmp_path / "pointnet" / "config.json").read_text())
    assert config["dataset"]["voxel_resolution"] == 30 and config["model"]["builder_config"]["num_points"] == 64


def test_train_only_dataset_and_a_grid_size_the_model_does_not_take(voxel_data, tmp_path):
    with pytest.raises(ValueError, match=r"small: stores 16\^3 voxel grids, but 30\^3 grids are wanted"):
        train(_config(voxel_data / "small", tmp_path / "small_voxel", "voxel_cnn"))
    with pytest.raises(ValueError, match="--train_rotation turns points, but voxel_cnn reads the dataset's stored"):
        train(_config(voxel_data / "shapes", tmp_path / "turned", "voxel_cnn", train_rotation="z"))
    result = train(_config(voxel_data / "small", tmp_path / "small_points", "pointnet_cls_basic"))
    assert "test" not in result and result["monitor"] == "val_accuracy"  # validated on a hold-out of train
