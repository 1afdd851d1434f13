import types

import keras
import pytest

from pointnet_tf2 import metrics
from pointnet_tf2.training.losses import SparseCrossEntropy
from pointnet_tf2.training.tasks import TASKS
from pointnet_tf2.training.tasks import get_task

CLASSES = types.SimpleNamespace(num_classes=5)
PARTS = types.SimpleNamespace(num_classes=6, num_parts=6, num_categories=2, category_parts=[[0, 1, 2], [3, 4, 5]])


def describe(metric_list):
    return [(type(m), m.name) for m in metric_list]


@pytest.mark.parametrize(
    "task, second_metric",
    [("cls", (metrics.MeanClassAccuracy, "mean_class_accuracy")), ("sem_seg", (metrics.MeanIoU, "miou"))],
)
def test_compile_args_single_output_tasks(task, second_metric):
    args = get_task(task).compile_args(CLASSES, label_smoothing=0.1, class_weights=[1.0] * 5)
    assert set(args) == {"loss", "metrics"}
    assert isinstance(args["loss"], SparseCrossEntropy)
    assert args["loss"].num_classes == 5
    assert args["loss"].label_smoothing == pytest.approx(0.1)
    assert args["loss"].class_weights == [1.0] * 5
    assert describe(args["metrics"]) == [(keras.metrics.SparseCategoricalAccuracy, "accuracy"), second_metric]
    assert args["metrics"][1].num_classes == 5


def test_compile_args_part_seg():
    args = get_task("part_seg").compile_args(PARTS, seg_weight=0.75)
    assert args["loss"]["parts"].num_classes == 6
    assert args["loss"]["category"].num_classes == 2
    assert args["loss_weights"] == {"parts": 0.75, "category": 0.25}
    assert describe(args["metrics"]["parts"]) == [
        (keras.metrics.SparseCategoricalAccuracy, "accuracy"),
        (metrics.PartInstanceMIoU, "instance_miou"),
        (metrics.PartCategoryMIoU, "category_miou"),
    ]
    assert describe(args["metrics"]["category"]) == [(keras.metrics.SparseCategoricalAccuracy, "accuracy")]


def test_compile_args_rejects_bad_seg_weight():
    with pytest.raises(ValueError, match=r"seg_weight must be in \[0, 1\], got 1.5"):
        get_task("part_seg").compile_args(PARTS, seg_weight=1.5)


def test_model_config():
    assert TASKS["cls"].model_config(CLASSES, 128, 3) == {"num_points": 128, "input_dims": 3, "num_classes": 5}
    assert TASKS["part_seg"].model_config(PARTS, 64, 3, orthogonal_weight=0.5) == {
        "num_points": 64, "input_dims": 3, "num_parts": 6, "num_categories": 2, "orthogonal_weight": 0.5}


def test_get_task_unknown():
    with pytest.raises(ValueError, match=r"unknown task 'seg'; known tasks: cls, part_seg, sem_seg"):
        get_task("seg")
