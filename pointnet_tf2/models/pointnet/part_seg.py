"""PointNet part segmentation head: `pointnet_part_seg` (ShapeNet part, with the object category as input)."""

import keras

from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.pointnet.backbone import SHAPES
from pointnet_tf2.models.pointnet.backbone import dense_stack
from pointnet_tf2.models.pointnet.backbone import logits_layer
from pointnet_tf2.models.pointnet.backbone import pointnet_trunk
from pointnet_tf2.models.pointnet.backbone import points_input
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes


@register_model(
    "pointnet_part_seg", family="pointnet", task="part_seg", preprocessing=SHAPES,
    description="PointNet part segmentation with T-Nets (ShapeNet part: 16 categories, 50 parts)",
    test_config=dict(num_parts=6, num_categories=3, num_points=None, mlp1=(8, 8, 8), mlp2=(16, 32),
                     input_tnet_conv_widths=(8, 16), input_tnet_fc_widths=(8,), feature_tnet_conv_widths=(8, 16),
                     feature_tnet_fc_widths=(8,), cls_widths=(8, 8), seg_widths=(16, 8, 8)),
)
def pointnet_part_seg(
    *,
    num_parts=50,
    num_categories=16,
    num_points=2048,
    input_dims=3,
    input_transform=True,
    feature_transform=True,
    mlp1=(64, 128, 128),
    mlp2=(512, 2048),
    input_tnet_conv_widths=(64, 128, 1024),
    input_tnet_fc_widths=(128, 128),
    feature_tnet_conv_widths=(256, 1024),
    feature_tnet_fc_widths=(512, 256),
    cls_widths=(256, 256),
    cls_dropout_rate=0.3,
    seg_widths=(256, 256, 128),
    seg_dropout_rate=0.2,
    orthogonal_weight=0.001,
    bn_momentum=0.99,
    name="pointnet_part_seg",
):
    """Builds the PointNet part segmentation network.

    Inputs are a dict `{"points": (B, N, input_dims), "category": (B,
    num_categories)}` (the one-hot object category); outputs a dict
    `{"parts": (B, N, num_parts) logits, "category": (B, num_categories)
    logits}` (the auxiliary classification branch). The segmentation layers
    see, at every point, the global feature and the one-hot category tiled to
    every point, concatenated with every per-point feature of the trunk. With
    the defaults: 8,574,923 trainable parameters.

    Args:
        num_parts: Number of part labels over all categories (>= 2).
        num_categories: Number of object categories (>= 2).
        num_points: Points per cloud, or None for any number of points.
        input_dims: Channels per point.
        input_transform: Whether to use the 3 x 3 input T-Net.
        feature_transform: Whether to use the feature T-Net.
        mlp1: Per-point widths before the feature transform.
        mlp2: Per-point widths after it (the last is the global feature size).
        input_tnet_conv_widths: Per-point widths of the input T-Net.
        input_tnet_fc_widths: Fully connected widths of the input T-Net.
        feature_tnet_conv_widths: Per-point widths of the feature T-Net.
        feature_tnet_fc_widths: Fully connected widths of the feature T-Net.
        cls_widths: Fully connected widths of the auxiliary classifier.
        cls_dropout_rate: Dropout rate of the classifier (original keeps 0.7).
        seg_widths: Per-point widths of the segmentation layers; the first two
            are followed by dropout as in the original.
        seg_dropout_rate: Dropout rate in the segmentation branch (original
            keeps 0.8: 0.2).
        orthogonal_weight: Weight of the feature-transform regulariser.
        bn_momentum: Initial batch-norm momentum.
        name: Model name.

    Returns:
        A `keras.Model` as described above.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    num_parts = check_num_classes(num_parts, "num_parts")
    num_categories = check_num_classes(num_categories, "num_categories")
    cls_widths = check_widths(cls_widths, "cls_widths", allow_empty=True)
    seg_widths = check_widths(seg_widths, "seg_widths", allow_empty=True)
    cls_dropout_rate = check_rate(cls_dropout_rate, "cls_dropout_rate")
    seg_dropout_rate = check_rate(seg_dropout_rate, "seg_dropout_rate")
    points = points_input(num_points, input_dims)
    category = keras.Input(shape=(num_categories,), name="category")
    trunk = pointnet_trunk(
        points,
        mlp1=mlp1,
        mlp2=mlp2,
        input_transform=input_transform,
        feature_transform=feature_transform,
        input_tnet_conv_widths=input_tnet_conv_widths,
        input_tnet_fc_widths=input_tnet_fc_widths,
        feature_tnet_conv_widths=feature_tnet_conv_widths,
        feature_tnet_fc_widths=feature_tnet_fc_widths,
        orthogonal_weight=orthogonal_weight,
        bn_momentum=bn_momentum,
    )

    x = dense_stack(trunk.global_feature, cls_widths, name="cla_fc", bn_momentum=bn_momentum)
    if cls_widths:
        x = keras.layers.Dropout(cls_dropout_rate, name="cla_dp1")(x)
    category_logits = logits_layer(x, num_categories, name=f"cla_fc{len(cls_widths) + 1}")

    global_and_category = keras.layers.Concatenate(name="global_and_category")([trunk.global_feature, category])
    # seg_conv1 reads [tile(global_and_category), *point_features] without tiling (ConcatPointwiseDense).
    # As the original: dropout after the first two segmentation layers only, at any rate.
    x = dense_stack([global_and_category, *trunk.point_features], seg_widths, name="seg_conv", bn_momentum=bn_momentum,
                    dropout_rate=seg_dropout_rate, dropout_name="seg_dp", dropout_layers=2)
    part_logits = logits_layer(x, num_parts, name=f"seg_conv{len(seg_widths) + 1}")
    outputs = {"parts": part_logits, "category": category_logits}
    return PointCloudModel({"points": points, "category": category}, outputs, name=name)
