import types

import keras
import numpy as np
import pytest

from pointnet_tf2 import metrics
from pointnet_tf2.losses.cross_entropy import SparseCrossEntropy
from pointnet_tf2.tasks import TASKS
from pointnet_tf2.tasks import get_task

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


def test_get_task_returns_task_objects_as_they_are():
    task = get_task("sem_seg")
    assert get_task(task) is task
    assert task.name == "sem_seg" and task.per_point and task.sample_unit == "blocks" and task.predict_up_axis == 2


def test_input_channels_follow_the_task():
    shapes = types.SimpleNamespace(input_dims=6, root="d")
    rooms = types.SimpleNamespace(input_dims=9, root="r")
    assert get_task("cls").input_channels(shapes) == 3
    assert get_task("cls").input_channels(shapes, use_normals=True) == 6
    assert get_task("part_seg").input_channels(shapes, use_normals=True) == 6
    assert get_task("sem_seg").input_channels(rooms) == 9
    with pytest.raises(ValueError, match=r"^x: --use_normals, but the points have 3 channels \(no normals\)$"):
        get_task("cls").input_channels(types.SimpleNamespace(input_dims=3, root="x"), use_normals=True)


def test_embedding_models_compile_with_the_triplet_loss_and_monitor_nn_accuracy():
    from pointnet_tf2.tasks import NearestNeighbourAccuracy
    from pointnet_tf2.losses.triplet import TripletLoss

    args = get_task("cls").compile_args(CLASSES, output_kind="embedding",
                                        triplet={"margin": 0.3, "distance": "l2", "mining": "batch_all"})
    assert isinstance(args["loss"], TripletLoss) and args["loss"].margin == pytest.approx(0.3)
    assert [type(m) for m in args["metrics"]] == [NearestNeighbourAccuracy]
    assert get_task("cls").monitor_key("embedding") == "val_nn_accuracy"
    assert get_task("cls").monitor_key("logits") == "val_accuracy"
    with pytest.raises(ValueError, match="embedding models are trained on classification data, not part segmentation"):
        get_task("part_seg").compile_args(PARTS, output_kind="embedding")
    with pytest.raises(ValueError, match=r"output_kind must be one of \('logits', 'embedding'\), got 'boxes'"):
        get_task("cls").compile_args(CLASSES, output_kind="boxes")


def test_nearest_neighbour_accuracy_counts_a_shape_whose_nearest_neighbour_shares_its_label():
    from pointnet_tf2.tasks import NearestNeighbourAccuracy

    metric = NearestNeighbourAccuracy()
    embeddings = np.array([[0, 0], [0, 0.1], [5, 5], [5, 5.1], [9, 0]], np.float32)
    metric.update_state(np.array([0, 0, 1, 1, 1]), embeddings)
    # Shapes 0-3 find their pair; shape 4's nearest (shape 2 or 3... both label 1) also matches.
    assert float(metric.result()) == pytest.approx(1.0)
    metric.reset_state()
    metric.update_state(np.array([0, 1, 1, 0]), embeddings[:4])
    assert float(metric.result()) == pytest.approx(0.0)


def test_evaluate_logits_classification_and_semantic_segmentation():
    description = types.SimpleNamespace(num_classes=3, class_names=["a", "b", "c"])
    labels = np.array([0, 0, 1, 2])
    logits = np.eye(3)[[0, 1, 1, 2]].astype(np.float32)
    cls = get_task("cls").evaluate_logits({"logits": logits, "labels": labels}, description)
    assert cls["overall_accuracy"] == pytest.approx(0.75)
    assert cls["per_class_accuracy"] == {"a": 0.5, "b": 1.0, "c": 1.0}
    assert cls["mean_class_accuracy"] == pytest.approx(2.5 / 3)
    assert cls["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert cls["headline"] == ["overall_accuracy", "mean_class_accuracy"]
    seg = get_task("sem_seg").evaluate_logits({"logits": logits[None], "labels": labels[None]}, description)
    assert seg["per_class_iou"] == {"a": 0.5, "b": 0.5, "c": 1.0}
    assert seg["miou"] == pytest.approx(2.0 / 3)
    assert seg["headline"] == ["overall_accuracy", "miou"]


def test_evaluate_logits_part_segmentation_uses_the_original_protocol():
    description = types.SimpleNamespace(category_parts=[[0, 1], [2]], category_names=["mug", "cap"],
                                        part_names=["m0", "m1", "c0"])
    labels = np.array([[0, 1, 1], [2, 2, 2]])
    logits = np.full((2, 3, 3), -5.0, np.float32)
    logits[0, [0, 1, 2], [0, 0, 1]] = 5.0  # one wrong point in the mug
    logits[1, :, 2] = 5.0
    result = get_task("part_seg").evaluate_logits(
        {"logits": logits, "labels": labels, "categories": np.array([0, 1])}, description)
    mug = (1 / 2 + 1 / 2) / 2  # part 0: 1 of 2 predicted right; part 1: 1 of 2
    assert result["per_category_miou"] == {"mug": pytest.approx(mug), "cap": pytest.approx(1.0)}
    assert result["instance_miou"] == pytest.approx((mug + 1.0) / 2)
    assert result["overall_accuracy"] == pytest.approx(5 / 6)
    assert get_task("part_seg").label_names(description) == ["m0", "m1", "c0"]


def test_check_task_name():
    from pointnet_tf2.tasks import check_task_name

    assert check_task_name("part_seg") == "part_seg"
    with pytest.raises(ValueError, match=r"^--task must be one of cls, part_seg, sem_seg, got 'seg'$"):
        check_task_name("seg", "--task")
