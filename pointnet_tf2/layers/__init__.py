"""Layers, blocks and regularisers shared by the models of the zoo."""

from pointnet_tf2.layers.blocks import dense_bn_relu
from pointnet_tf2.layers.blocks import shared_mlp
from pointnet_tf2.layers.broadcast import BroadcastToPoints
from pointnet_tf2.layers.fused import DenseMaxPooling
from pointnet_tf2.layers.fused import FusedBatchNormalization
from pointnet_tf2.layers.fused import PointMaxPooling
from pointnet_tf2.layers.fused import PointwiseDense
from pointnet_tf2.layers.fused import set_fused_kernels
from pointnet_tf2.layers.regularizers import OrthogonalRegularizer
from pointnet_tf2.layers.transform_net import ApplyTransform
from pointnet_tf2.layers.transform_net import FlattenedIdentity
from pointnet_tf2.layers.transform_net import transform_net

__all__ = [
    "ApplyTransform",
    "BroadcastToPoints",
    "DenseMaxPooling",
    "FlattenedIdentity",
    "FusedBatchNormalization",
    "OrthogonalRegularizer",
    "PointMaxPooling",
    "PointwiseDense",
    "dense_bn_relu",
    "set_fused_kernels",
    "shared_mlp",
    "transform_net",
]
