"""PointNet semantic segmentation head: `pointnet_sem_seg` (S3DIS blocks, no T-Nets)."""

import keras

from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.pointnet.backbone import S3DIS_BLOCKS
from pointnet_tf2.models.pointnet.backbone import dense_stack
from pointnet_tf2.models.pointnet.backbone import logits_layer
from pointnet_tf2.models.pointnet.backbone import pointnet_trunk
from pointnet_tf2.models.pointnet.backbone import points_input
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes


@register_model(
    "pointnet_sem_seg", family="pointnet", task="sem_seg", preprocessing=S3DIS_BLOCKS,
    description="PointNet semantic segmentation, no T-Nets (S3DIS: 13 classes, 9-d points)",
    test_config=dict(num_classes=5, num_points=None, mlp=(8, 8, 16), global_widths=(8,), seg_widths=(16, 8)),
)
def pointnet_sem_seg(
    *,
    num_classes=13,
    num_points=4096,
    input_dims=9,
    mlp=(64, 64, 64, 128, 1024),
    global_widths=(256, 128),
    seg_widths=(512, 256),
    dropout_rate=0.3,
    bn_momentum=0.99,
    name="pointnet_sem_seg",
):
    """Builds the PointNet semantic segmentation network (S3DIS version).

    points -> shared MLP `mlp` -> max -> fc `global_widths` -> tiled to every
    point and concatenated with the last per-point features -> shared MLP
    `seg_widths` -> dropout -> per-point logits. No T-Nets, as the original.
    With the defaults: 1,174,669 trainable parameters.

    Args:
        num_classes: Number of semantic classes (>= 2).
        num_points: Points per block, or None for any number of points.
        input_dims: Channels per point (9 for the S3DIS blocks).
        mlp: Per-point widths of the trunk.
        global_widths: Fully connected widths applied to the global feature.
        seg_widths: Per-point widths of the segmentation layers.
        dropout_rate: Dropout rate before the last layer (original: 0.3).
        bn_momentum: Initial batch-norm momentum.
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, N, input_dims)` points to
        `(B, N, num_classes)` logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    num_classes = check_num_classes(num_classes)
    mlp = check_widths(mlp, "mlp")
    global_widths = check_widths(global_widths, "global_widths", allow_empty=True)
    seg_widths = check_widths(seg_widths, "seg_widths", allow_empty=True)
    dropout_rate = check_rate(dropout_rate, "dropout_rate")
    points = points_input(num_points, input_dims)
    trunk = pointnet_trunk(
        points,
        mlp1=mlp[:1],
        mlp2=mlp[1:],
        input_transform=False,
        feature_transform=False,
        bn_momentum=bn_momentum,
    )
    x = dense_stack(trunk.global_feature, global_widths, name="fc", bn_momentum=bn_momentum)
    # The first seg layer reads [point features, tile(x)] without tiling (ConcatPointwiseDense).
    x = dense_stack([trunk.point_features[-1], x], seg_widths, name="conv", first=len(mlp) + 1,
                    bn_momentum=bn_momentum)
    x = keras.layers.Dropout(dropout_rate, name="dp1")(x)
    logits = logits_layer(x, num_classes, name=f"conv{len(mlp) + len(seg_widths) + 1}")
    return PointCloudModel(points, logits, name=name)
