"""Semantic segmentation of rooms (S3DIS layout): a label per point of 1 m blocks."""

import keras
import numpy as np

from pointnet_tf2 import metrics
from pointnet_tf2.tasks.base import Task
from pointnet_tf2.tasks.classification import _named
from pointnet_tf2.task_names import SEM_SEG


class SemanticSegmentation(Task):
    """Semantic segmentation: point accuracy and mean IoU over classes."""

    def input_channels(self, description, use_normals=False):
        # Every stored channel: the 9 block features of S3DIS.
        return description.input_dims

    def logits_compile_args(self, description, main_loss, *, seg_weight=1.0):
        return {
            "loss": main_loss,
            "metrics": [
                keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                metrics.MeanIoU(description.num_classes, name="miou"),
            ],
        }

    def evaluate_logits(self, predictions, description):
        confusion = metrics.confusion_matrix(predictions["labels"], predictions["logits"], description.num_classes)
        ious = metrics.per_class_iou(confusion)
        return {
            "overall_accuracy": float(np.trace(confusion) / max(confusion.sum(), 1)),
            "confusion_matrix": confusion.tolist(),
            "miou": float(np.nanmean(ious)),
            "per_class_iou": _named(description.class_names, ious),
            "headline": ["overall_accuracy", "miou"],
        }


SEMANTIC_SEGMENTATION = SemanticSegmentation(
    SEM_SEG, "semantic segmentation", "pointnet_sem_seg", 4096, 50, 24, 0.001, 300_000, 0.5, 300_000, "val_miou",
    "log_sem_seg", sample_unit="blocks", predict_up_axis=2)
