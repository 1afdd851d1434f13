"""PointNet++ (Qi et al., NeurIPS 2017): set abstraction / feature propagation backbone and its heads.

Importing this package registers `pointnet2_cls_ssg`, `pointnet2_cls_msg`,
`pointnet2_part_seg`, `pointnet2_part_seg_msg` and `pointnet2_sem_seg`.
The original training settings of each are in `defaults.py`.
"""

from pointnet_tf2.models.pointnet2.backbone import feature_propagation
from pointnet_tf2.models.pointnet2.backbone import set_abstraction
from pointnet_tf2.models.pointnet2.backbone import set_abstraction_all
from pointnet_tf2.models.pointnet2.backbone import set_abstraction_msg
from pointnet_tf2.models.pointnet2.cls import pointnet2_cls_msg
from pointnet_tf2.models.pointnet2.cls import pointnet2_cls_ssg
from pointnet_tf2.models.pointnet2.part_seg import pointnet2_part_seg
from pointnet_tf2.models.pointnet2.part_seg import pointnet2_part_seg_msg
from pointnet_tf2.models.pointnet2.sem_seg import pointnet2_sem_seg

__all__ = [
    "feature_propagation",
    "pointnet2_cls_msg",
    "pointnet2_cls_ssg",
    "pointnet2_part_seg",
    "pointnet2_part_seg_msg",
    "pointnet2_sem_seg",
    "set_abstraction",
    "set_abstraction_all",
    "set_abstraction_msg",
]
