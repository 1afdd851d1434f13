"""The one checkpoint loader: run folders, best/last, standalone files, what it knows and what it refuses."""

import json
import shutil

import pytest

from pointnet_tf2 import get_model
from pointnet_tf2.checkpoints import load_checkpoint
from pointnet_tf2.checkpoints import open_checkpoint
from pointnet_tf2.checkpoints import resolve_checkpoint
from pointnet_tf2.inference import load_predictor


def test_a_run_folder_gives_its_model_names_and_config(cls_run, tmp_path):
    loaded = open_checkpoint(cls_run.log_dir)
    assert loaded.checkpoint.endswith("best.keras") and loaded.task == "cls" and loaded.task_object.name == "cls"
    assert loaded.class_names == cls_run.description.class_names and loaded.up_axis_name == "y"
    assert loaded.run_config["train_config"]["model"] == "pointnet_cls_basic" and not loaded.standalone
    assert (loaded.input_kind, loaded.output_kind, loaded.num_points, loaded.input_dims) == ("points", "logits", 64, 3)
    assert load_predictor(cls_run.checkpoint).class_names == loaded.class_names
    # A resume reads last.keras; a folder with neither checkpoint is named.
    assert resolve_checkpoint(cls_run.log_dir, names=("last.keras",)).endswith("last.keras")
    with pytest.raises(FileNotFoundError, match="a folder without best.keras or last.keras"):
        resolve_checkpoint(tmp_path)
    # need_data opens the recorded dataset; the 3-tuple loader is the same call.
    model, description, run_config = load_checkpoint(cls_run.log_dir)
    assert description.root == cls_run.description.root and run_config == loaded.run_config


def test_a_standalone_file(cls_run, tmp_path):
    alone = tmp_path / "model.keras"
    shutil.copy(cls_run.checkpoint, alone)
    loaded = open_checkpoint(str(alone))
    assert loaded.standalone and loaded.description is None and loaded.class_names[:2] == ["class_0", "class_1"]
    assert loaded.run_config["train_config"] == {"task": "cls", "model": "pointnet_cls_basic", "num_point": 64}
    with pytest.raises(ValueError, match=r"model.keras: no config.json beside it .* pass --data$"):
        open_checkpoint(str(alone), need_data=True)
    with_data = open_checkpoint(str(alone), data=cls_run.data)
    assert with_data.class_names == cls_run.description.class_names and with_data.description.task == "cls"


def test_a_model_that_does_not_fit_its_run_is_refused(cls_run, part_seg_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(cls_run.log_dir, folder)
    shutil.copy(part_seg_run.checkpoint, folder / "best.keras")
    with pytest.raises(ValueError, match="a part_seg model, but config.json describes a cls run"):
        open_checkpoint(str(folder))
    other = tmp_path / "other"
    shutil.copytree(cls_run.log_dir, other)
    model = get_model("pointnet_cls_basic", num_classes=5, num_points=64, mlp=(8,), head_widths=(8,))
    model.save(str(other / "best.keras"))
    with pytest.raises(ValueError, match="predicts 5 classes, its saved dataset has 12"):
        open_checkpoint(str(other))
    with pytest.raises(ValueError, match="has 12 classes, the model .* predicts 5"):
        open_checkpoint(str(other), need_data=True)
    config = json.loads((other / "config.json").read_text())
    del config["train_config"]
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="not a valid run configuration"):
        open_checkpoint(str(other))
