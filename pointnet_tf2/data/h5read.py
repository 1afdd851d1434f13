"""Former home of `read` and `DataReadError`, now in `pointnet_tf2.data.io.h5read`; importable from here."""

from pointnet_tf2.data.io.h5read import DataReadError  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.h5read import describe_failure  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.h5read import read  # noqa: F401  (re-exported)
