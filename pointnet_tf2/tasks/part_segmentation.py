"""Part segmentation (ShapeNet part layout): a part per point, and the shape's category."""

import keras
import numpy as np

from pointnet_tf2 import metrics
from pointnet_tf2.tasks.base import Task
from pointnet_tf2.task_names import PART_SEG
from pointnet_tf2.losses.cross_entropy import SparseCrossEntropy


class PartSegmentation(Task):
    """Part segmentation with the original protocol (instance and category mIoU)."""

    def builder_args(self, description, num_point, input_dims):
        return {"num_points": num_point, "input_dims": input_dims, "num_parts": description.num_parts,
                "num_categories": description.num_categories}

    def logits_compile_args(self, description, main_loss, *, seg_weight=1.0):
        if not 0.0 <= seg_weight <= 1.0:
            raise ValueError(f"seg_weight must be in [0, 1], got {seg_weight!r}")
        return {
            "loss": {"parts": main_loss, "category": SparseCrossEntropy(description.num_categories)},
            "loss_weights": {"parts": float(seg_weight), "category": 1.0 - float(seg_weight)},
            "metrics": {
                "parts": [
                    keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                    metrics.PartInstanceMIoU(description.category_parts, name="instance_miou"),
                    metrics.PartCategoryMIoU(description.category_parts, name="category_miou"),
                ],
                "category": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            },
        }

    def label_names(self, description):
        return description.part_names

    def evaluate_logits(self, predictions, description):
        logits, labels = predictions["logits"], predictions["labels"]
        summary = metrics.part_seg_summary(logits, labels, predictions["categories"], description.category_parts)
        per_category = {
            name: float(value)
            for name, value in zip(description.category_names, summary["per_category_miou"])
            if not np.isnan(value)
        }
        return {
            "miou": float(summary["instance_miou"]),
            "instance_miou": float(summary["instance_miou"]),
            "category_miou": float(summary["category_miou"]),
            "per_category_miou": per_category,
            "overall_accuracy": float(np.mean(np.argmax(logits, -1) == labels)),
            "headline": ["instance_miou", "category_miou"],
        }


PART_SEGMENTATION = PartSegmentation(
    PART_SEG, "part segmentation", "pointnet_part_seg", 2048, 200, 32, 0.001, 16881 * 20, 0.5, 16881 * 40,
    "val_parts_instance_miou", "log_part_seg")
