"""The DGCNN family (Wang et al., "Dynamic Graph CNN for Learning on Point Clouds", ACM TOG 2019).

- `backbone.py`: EdgeConv blocks (kNN in feature space, edge features,
  shared MLP, max over neighbours), the TF networks' input transform net,
  the family's `Preprocessing` and argument checks;
- `cls.py` (`dgcnn_cls`: the paper's PyTorch classifier), `cls_tf.py`
  (`dgcnn_cls_tf`), `part_seg.py` (`dgcnn_part_seg`), `sem_seg.py`
  (`dgcnn_sem_seg`): the official TF1 networks, one registered model each;
- `defaults.py`: each network's original training settings.

Importing the package registers its models.
"""

from pointnet_tf2.models.dgcnn.backbone import ChannelSlice
from pointnet_tf2.models.dgcnn.backbone import NeighbourMaxPooling
from pointnet_tf2.models.dgcnn.cls import dgcnn_cls
from pointnet_tf2.models.dgcnn.cls_tf import dgcnn_cls_tf
from pointnet_tf2.models.dgcnn.defaults import TRAINING_DEFAULTS
from pointnet_tf2.models.dgcnn.part_seg import dgcnn_part_seg
from pointnet_tf2.models.dgcnn.sem_seg import dgcnn_sem_seg

__all__ = [
    "TRAINING_DEFAULTS",
    "ChannelSlice",
    "NeighbourMaxPooling",
    "dgcnn_cls",
    "dgcnn_cls_tf",
    "dgcnn_part_seg",
    "dgcnn_sem_seg",
]
