"""Former home of `prepare_voxels`, now in `pointnet_tf2.data.datasets.voxel_archive`; importable from here."""

from pointnet_tf2.data.datasets.voxel_archive import EMPTY  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.voxel_archive import GridOptions  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.voxel_archive import KINDS  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.voxel_archive import MALFORMED  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.voxel_archive import MODELNET10_CLASSES  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.voxel_archive import RESOLUTION  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.voxel_archive import convert_grid  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.voxel_archive import prepare_voxels  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.voxel_archive import resolve_class_names  # noqa: F401  (re-exported)
