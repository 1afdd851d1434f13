"""Former home of `lazy_exports`, now `pointnet_tf2.utils.lazy` (kept as a re-export)."""

from pointnet_tf2.utils.lazy import lazy_exports  # noqa: F401
