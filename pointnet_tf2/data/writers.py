"""Former home of the layout writers; the names stay importable from here.

`write_modelnet_layout`: `pointnet_tf2.data.datasets.modelnet40`;
`write_shapenet_part_layout`, `write_shapenet_part_full_resolution`:
`pointnet_tf2.data.datasets.shapenet_part`; `write_s3dis_layout`:
`pointnet_tf2.data.datasets.s3dis`; `staged_folder` and the shard writing
they share: `pointnet_tf2.data.io.shards`.
"""

from pointnet_tf2.data.datasets.modelnet40 import MODELNET_SPLITS  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.modelnet40 import write_modelnet_layout  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.s3dis import S3DIS_NUM_CLASSES  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.s3dis import write_s3dis_layout  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.shapenet_part import FULL_RESOLUTION_FORMAT  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.shapenet_part import FULL_RESOLUTION_VERSION  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.shapenet_part import SHAPENET_PART_SPLITS  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.shapenet_part import default_part_colors  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.shapenet_part import write_shapenet_part_full_resolution  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.shapenet_part import write_shapenet_part_layout  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.shards import staged_folder  # noqa: F401  (re-exported)
