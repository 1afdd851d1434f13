"""Former home of `pointnet_embed`, now `pointnet_tf2.models.pointnet.embedding`; kept importable."""

from pointnet_tf2.models.pointnet.embedding import pointnet_embed

__all__ = ["pointnet_embed"]
