"""The PointNet family (Qi et al., CVPR 2017): the backbone and its heads.

- `backbone.py`: `pointnet_trunk` (the base PointNet) and the pieces the
  heads share (`points_input`, `global_feature_head`, `dense_stack`,
  `logits_layer`, the family's `Preprocessing`);
- `cls.py` (`pointnet_cls`), `cls_basic.py` (`pointnet_cls_basic`),
  `part_seg.py` (`pointnet_part_seg`), `sem_seg.py` (`pointnet_sem_seg`),
  `embedding.py` (`pointnet_embed`): one registered model each.

Importing the package registers its models.
"""

from pointnet_tf2.models.pointnet.backbone import TrunkOutputs
from pointnet_tf2.models.pointnet.backbone import dense_stack
from pointnet_tf2.models.pointnet.backbone import global_feature_head
from pointnet_tf2.models.pointnet.backbone import logits_layer
from pointnet_tf2.models.pointnet.backbone import pointnet_trunk
from pointnet_tf2.models.pointnet.backbone import points_input
from pointnet_tf2.models.pointnet.cls import pointnet_cls
from pointnet_tf2.models.pointnet.cls_basic import pointnet_cls_basic
from pointnet_tf2.models.pointnet.embedding import pointnet_embed
from pointnet_tf2.models.pointnet.part_seg import pointnet_part_seg
from pointnet_tf2.models.pointnet.sem_seg import pointnet_sem_seg

__all__ = [
    "TrunkOutputs",
    "dense_stack",
    "global_feature_head",
    "logits_layer",
    "pointnet_cls",
    "pointnet_cls_basic",
    "pointnet_embed",
    "pointnet_part_seg",
    "pointnet_sem_seg",
    "pointnet_trunk",
    "points_input",
]
