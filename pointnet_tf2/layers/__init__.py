"""Layers, blocks and regularisers shared by the models of the zoo."""

from pointnet_tf2.layers.blocks import dense_bn_relu
from pointnet_tf2.layers.blocks import shared_mlp
from pointnet_tf2.layers.broadcast import BroadcastToPoints
from pointnet_tf2.layers.concat_dense import ConcatPointwiseDense
from pointnet_tf2.layers.concat_dense import tile_and_concatenate
from pointnet_tf2.layers.fused import DenseMaxPooling
from pointnet_tf2.layers.fused import FusedBatchNormalization
from pointnet_tf2.layers.fused import PointMaxPooling
from pointnet_tf2.layers.fused import PointwiseDense
from pointnet_tf2.layers.fused import set_bf16_products
from pointnet_tf2.layers.fused import set_fused_kernels
from pointnet_tf2.layers.neighbours import BallQueryGroup
from pointnet_tf2.layers.neighbours import EdgeFeatures
from pointnet_tf2.layers.neighbours import FarthestPointSample
from pointnet_tf2.layers.neighbours import GroupAll
from pointnet_tf2.layers.neighbours import KNN
from pointnet_tf2.layers.neighbours import ThreeNNInterpolate
from pointnet_tf2.layers.regularizers import OrthogonalRegularizer
from pointnet_tf2.layers.sampling import ball_query
from pointnet_tf2.layers.sampling import edge_features
from pointnet_tf2.layers.sampling import farthest_point_sample
from pointnet_tf2.layers.sampling import gather_points
from pointnet_tf2.layers.sampling import group_points
from pointnet_tf2.layers.sampling import interpolation_weights
from pointnet_tf2.layers.sampling import knn
from pointnet_tf2.layers.sampling import relative_coordinates
from pointnet_tf2.layers.sampling import sample_and_group
from pointnet_tf2.layers.sampling import sample_and_group_all
from pointnet_tf2.layers.sampling import three_interpolate
from pointnet_tf2.layers.sampling import three_nn
from pointnet_tf2.layers.transform_net import ApplyTransform
from pointnet_tf2.layers.transform_net import FlattenedIdentity
from pointnet_tf2.layers.transform_net import transform_net

__all__ = [
    "KNN",
    "ApplyTransform",
    "BallQueryGroup",
    "BroadcastToPoints",
    "ConcatPointwiseDense",
    "DenseMaxPooling",
    "EdgeFeatures",
    "FarthestPointSample",
    "FlattenedIdentity",
    "FusedBatchNormalization",
    "GroupAll",
    "OrthogonalRegularizer",
    "PointMaxPooling",
    "PointwiseDense",
    "ThreeNNInterpolate",
    "ball_query",
    "dense_bn_relu",
    "edge_features",
    "farthest_point_sample",
    "gather_points",
    "group_points",
    "interpolation_weights",
    "knn",
    "relative_coordinates",
    "sample_and_group",
    "sample_and_group_all",
    "set_bf16_products",
    "set_fused_kernels",
    "shared_mlp",
    "three_interpolate",
    "three_nn",
    "tile_and_concatenate",
    "transform_net",
]
