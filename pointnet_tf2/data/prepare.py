"""Former home of `prepare_dataset`, now in `pointnet_tf2.data.datasets.mesh_folder`; importable from here.

Finding class folders (`scan_tree`): `pointnet_tf2.data.io.class_folders`;
publishing a ModelNet40-layout dataset (`publish_cls_dataset`):
`pointnet_tf2.data.datasets.modelnet40`; voxel data (`prepare_voxels`):
`pointnet_tf2.data.datasets.voxel_archive`.
"""

from pointnet_tf2.data.conversion import work_dir_for  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.mesh_folder import INPUT_KINDS  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.mesh_folder import VOXEL_SUFFIXES  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.mesh_folder import convert_file  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.mesh_folder import input_kind  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.mesh_folder import prepare_dataset  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.modelnet40 import INFO_VERSION  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.modelnet40 import publish_cls_dataset  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import LAYOUTS  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import SPLITS  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import SourceTree  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import log_tree  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import scan_tree  # noqa: F401  (re-exported)
from pointnet_tf2.data.runner import INFO_FILE  # noqa: F401  (re-exported)
