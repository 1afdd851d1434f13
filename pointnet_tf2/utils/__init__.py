"""Small helpers shared by every part of the package."""

from pointnet_tf2.utils.files import atomic_output
from pointnet_tf2.utils.files import cache_dir
from pointnet_tf2.utils.files import check_writable

__all__ = ["atomic_output", "cache_dir", "check_writable"]
