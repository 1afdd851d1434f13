"""Former home of `build_vds`, now in `pointnet_tf2.data.io.vds`; importable from here."""

from pointnet_tf2.data.io.vds import build_vds  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import check_sources  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import open_vds  # noqa: F401  (re-exported)
