"""Former home of `open_dataset` and the layout readers; the names stay importable from here.

`open_dataset`, `detect_layout`, `with_class_count`: `pointnet_tf2.data.datasets`;
each layout's reader: its dataset module (`pointnet_tf2.data.datasets.modelnet40`,
`.shapenet_part`, `.s3dis`, `.plain_file`); list files and shard checks:
`pointnet_tf2.data.io.hdf5`.
"""

from pointnet_tf2.data.datasets import LAYOUT_TASKS  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets import detect_layout  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets import open_dataset  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets import with_class_count  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.s3dis import S3DIS_CLASS_NAMES  # noqa: F401  (re-exported)
from pointnet_tf2.data.description import area_of_room  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.hdf5 import _CHECKED  # noqa: F401  (re-exported: the benchmarks clear it)
from pointnet_tf2.data.io.hdf5 import inspect_h5  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.hdf5 import read_list_file  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import VDS_ATTRIBUTE  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import open_vds  # noqa: F401  (re-exported)
