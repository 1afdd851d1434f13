"""Evaluation metrics: NumPy functions for after training, Keras metrics for `fit`.

NumPy (labels, or logits/probabilities argmaxed over the last axis):
`confusion_matrix`, `overall_accuracy`, `per_class_accuracy`,
`mean_class_accuracy`, `per_class_iou`, `mean_iou`; part segmentation with the
original protocol: `part_seg_ious`, `instance_miou`, `category_miou`,
`per_category_miou`, `part_seg_summary`, `shape_categories`, `parse_category_parts`.

Keras (registered as "pointnet_tf2>Name", saved with a compiled model):
`ConfusionMatrix`, `MeanClassAccuracy`, `MeanIoU`, `PartInstanceMIoU`,
`PartCategoryMIoU`.
"""

from pointnet_tf2.metrics.confusion import confusion_matrix
from pointnet_tf2.metrics.confusion import mean_class_accuracy
from pointnet_tf2.metrics.confusion import mean_iou
from pointnet_tf2.metrics.confusion import overall_accuracy
from pointnet_tf2.metrics.confusion import per_class_accuracy
from pointnet_tf2.metrics.confusion import per_class_iou
from pointnet_tf2.metrics.keras_metrics import ConfusionMatrix
from pointnet_tf2.metrics.keras_metrics import MeanClassAccuracy
from pointnet_tf2.metrics.keras_metrics import MeanIoU
from pointnet_tf2.metrics.keras_metrics import PartCategoryMIoU
from pointnet_tf2.metrics.keras_metrics import PartInstanceMIoU
from pointnet_tf2.metrics.part_iou import category_miou
from pointnet_tf2.metrics.part_iou import instance_miou
from pointnet_tf2.metrics.part_iou import parse_category_parts
from pointnet_tf2.metrics.part_iou import part_seg_ious
from pointnet_tf2.metrics.part_iou import part_seg_summary
from pointnet_tf2.metrics.part_iou import per_category_miou
from pointnet_tf2.metrics.part_iou import shape_categories

__all__ = [
    "ConfusionMatrix",
    "MeanClassAccuracy",
    "MeanIoU",
    "PartCategoryMIoU",
    "PartInstanceMIoU",
    "category_miou",
    "confusion_matrix",
    "instance_miou",
    "mean_class_accuracy",
    "mean_iou",
    "overall_accuracy",
    "parse_category_parts",
    "part_seg_ious",
    "part_seg_summary",
    "per_category_miou",
    "per_class_accuracy",
    "per_class_iou",
    "shape_categories",
]
