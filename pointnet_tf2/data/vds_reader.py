"""Former home of `open_vds`, now in `pointnet_tf2.data.io.vds_reader`; importable from here."""

from pointnet_tf2.data.io.vds_reader import BUILD_ATTRIBUTE  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import SOURCES_ATTRIBUTE  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import VDS_ATTRIBUTE  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import check_sources  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import file_signature  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import open_vds  # noqa: F401  (re-exported)
