"""The model zoo: `get_model(name, **config)` builds any registered model.

A folder per model family (`pointnet/`, `voxel/`), each registering its
models with `register_model`; the pieces they share stay here: the registry,
`PointCloudModel` (base.py), argument checks (validation.py), batch-norm
folding (folding.py) and what a built model takes and gives (kinds.py).
"""

from pointnet_tf2.models import pointnet  # noqa: F401  (registers the PointNets)
from pointnet_tf2.models import dgcnn  # noqa: F401  (registers the DGCNNs)
from pointnet_tf2.models import pointnet2  # noqa: F401  (registers the PointNet++ models)
from pointnet_tf2.models import voxel  # noqa: F401  (registers the voxel CNNs)
from pointnet_tf2.models.folding import fold_batch_norm
from pointnet_tf2.models.pointnet import pointnet_cls
from pointnet_tf2.models.pointnet import pointnet_cls_basic
from pointnet_tf2.models.pointnet import pointnet_embed
from pointnet_tf2.models.pointnet import pointnet_part_seg
from pointnet_tf2.models.pointnet import pointnet_sem_seg
from pointnet_tf2.models.pointnet import pointnet_trunk
from pointnet_tf2.models.registry import TASKS
from pointnet_tf2.models.registry import Preprocessing
from pointnet_tf2.models.registry import get_model
from pointnet_tf2.models.registry import list_models
from pointnet_tf2.models.registry import model_entry
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.registry import training_recipe
from pointnet_tf2.models.voxel import voxel_cnn
from pointnet_tf2.models.voxel import voxel_resnet

__all__ = [
    "TASKS",
    "Preprocessing",
    "fold_batch_norm",
    "get_model",
    "list_models",
    "model_entry",
    "pointnet_cls",
    "pointnet_cls_basic",
    "pointnet_embed",
    "pointnet_part_seg",
    "pointnet_sem_seg",
    "pointnet_trunk",
    "register_model",
    "training_recipe",
    "voxel_cnn",
    "voxel_resnet",
]
