"""Checkpoints for the inference and export tests, made once per session.

- `cls_run`, `sem_seg_run`: real runs of the trainer (1 short epoch of
  `pointnet_cls_basic` / `pointnet_sem_seg` on tiny synthetic sets, 64 points);
- `part_seg_run`: a tiny untrained part segmentation model saved in the
  trainer's run-folder format (`best.keras` + `config.json` with the dataset
  description), which is all prediction needs.
"""

import os
import types

import pytest

from pointnet_tf2 import get_model
from pointnet_tf2.data import generate_synthetic
from pointnet_tf2.data import open_dataset
from pointnet_tf2.training.trainer import TrainConfig
from pointnet_tf2.training.trainer import save_run_config
from pointnet_tf2.training.trainer import train

NUM_POINTS = 64


@pytest.fixture(scope="session")
def cls_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("cls_run")
    data = generate_synthetic("cls", str(base / "data"), num_train=48, num_test=16, num_points=128)
    result = train(TrainConfig(task="cls", model="pointnet_cls_basic", data=data, num_point=NUM_POINTS, batch_size=16,
                               max_epoch=1, verbose=0, visuals_every=0, log_dir=str(base / "log")))  # fmt: skip
    return types.SimpleNamespace(data=data, log_dir=result["log_dir"], checkpoint=result["best_checkpoint"],
                                 description=open_dataset(data))  # fmt: skip


def _saved_run(base, task, model, data):
    log_dir = os.path.join(base, "log")
    os.makedirs(log_dir)
    description = open_dataset(data)
    config = TrainConfig(task=task, model=model.builder, data=data, num_point=NUM_POINTS, log_dir=log_dir).resolved()
    save_run_config(config, description, model, os.path.join(log_dir, "config.json"))
    checkpoint = os.path.join(log_dir, "best.keras")
    model.save(checkpoint)
    return types.SimpleNamespace(data=data, log_dir=log_dir, checkpoint=checkpoint, description=description,
                                 model=model)  # fmt: skip


@pytest.fixture(scope="session")
def part_seg_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("part_seg_run")
    data = generate_synthetic("part_seg", str(base / "data"), num_train=6, num_val=2, num_test=6, num_points=128)
    description = open_dataset(data)
    model = get_model(
        "pointnet_part_seg", num_parts=description.num_parts, num_categories=description.num_categories,
        num_points=NUM_POINTS, mlp1=(8, 8, 8), mlp2=(16, 32), input_tnet_conv_widths=(8, 16),
        input_tnet_fc_widths=(16,), feature_tnet_conv_widths=(8, 16), feature_tnet_fc_widths=(16,),
        cls_widths=(16,), seg_widths=(16, 16, 8),
    )  # fmt: skip
    return _saved_run(str(base), "part_seg", model, data)


@pytest.fixture(scope="session")
def sem_seg_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("sem_seg_run")
    data = generate_synthetic("sem_seg", str(base / "data"), num_train=1, num_test=1, num_points=128)
    result = train(TrainConfig(task="sem_seg", data=data, num_point=NUM_POINTS, batch_size=16, max_epoch=1,
                               verbose=0, visuals_every=0, log_dir=str(base / "log")))  # fmt: skip
    return types.SimpleNamespace(data=data, log_dir=result["log_dir"], checkpoint=result["best_checkpoint"],
                                 description=open_dataset(data))  # fmt: skip
