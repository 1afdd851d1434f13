"""Former home of what the `prepare` converters share; the names stay importable from here.

`scan_tree`, `log_tree`, `SourceTree`: `pointnet_tf2.data.io.class_folders`;
`publish_cls_dataset`: `pointnet_tf2.data.datasets.modelnet40`.
"""

from pointnet_tf2.data.datasets.modelnet40 import INFO_VERSION  # noqa: F401  (re-exported)
from pointnet_tf2.data.datasets.modelnet40 import publish_cls_dataset  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import LAYOUTS  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import SPLITS  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import SourceTree  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import log_tree  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.class_folders import scan_tree  # noqa: F401  (re-exported)
