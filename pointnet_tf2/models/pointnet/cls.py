"""PointNet classification head: `pointnet_cls` (input and feature T-Nets)."""

from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.pointnet.backbone import SHAPES
from pointnet_tf2.models.pointnet.backbone import global_feature_head
from pointnet_tf2.models.pointnet.backbone import logits_layer
from pointnet_tf2.models.pointnet.backbone import points_input
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes


@register_model(
    "pointnet_cls", family="pointnet", task="cls", preprocessing=SHAPES,
    description="PointNet classifier with input and feature T-Nets (paper: 89.2% ModelNet40)",
    test_config=dict(num_classes=4, num_points=None, mlp1=(8, 8), mlp2=(8, 16), head_widths=(16, 8),
                     tnet_conv_widths=(8, 16), tnet_fc_widths=(16, 8)),
)
def pointnet_cls(
    *,
    num_classes=40,
    num_points=1024,
    input_dims=3,
    input_transform=True,
    feature_transform=True,
    mlp1=(64, 64),
    mlp2=(64, 128, 1024),
    head_widths=(512, 256),
    dropout_rate=0.3,
    tnet_conv_widths=(64, 128, 1024),
    tnet_fc_widths=(512, 256),
    orthogonal_weight=0.001,
    bn_momentum=0.99,
    name="pointnet_cls",
):
    """Builds the PointNet classification network.

    With the defaults this is the original `pointnet_cls`: 3,480,049
    trainable parameters for 40 classes.

    Args:
        num_classes: Number of output classes (>= 2).
        num_points: Points per cloud, or None for any number of points.
        input_dims: Channels per point (3 for XYZ, 6 with normals).
        input_transform: Whether to use the 3 x 3 input T-Net.
        feature_transform: Whether to use the 64 x 64 feature T-Net.
        mlp1: Per-point widths before the feature transform.
        mlp2: Per-point widths after it (the last is the global feature size).
        head_widths: Fully connected widths of the classifier head; each is
            followed by dropout.
        dropout_rate: Dropout rate in the head (the original keeps 0.7: 0.3).
        tnet_conv_widths: Per-point widths of both T-Nets.
        tnet_fc_widths: Fully connected widths of both T-Nets.
        orthogonal_weight: Weight of the feature-transform regulariser (see
            `OrthogonalRegularizer` for how it relates to the original's).
        bn_momentum: Initial batch-norm momentum (the original's `bn_decay`).
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, N, input_dims)` points to `(B, num_classes)`
        logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    num_classes = check_num_classes(num_classes)
    head_widths = check_widths(head_widths, "head_widths", allow_empty=True)
    points = points_input(num_points, input_dims)
    x = global_feature_head(
        points,
        mlp1=mlp1,
        mlp2=mlp2,
        input_transform=input_transform,
        feature_transform=feature_transform,
        head_widths=head_widths,
        dropout_rate=dropout_rate,
        tnet_conv_widths=tnet_conv_widths,
        tnet_fc_widths=tnet_fc_widths,
        orthogonal_weight=orthogonal_weight,
        bn_momentum=bn_momentum,
    )
    logits = logits_layer(x, num_classes, name=f"fc{len(head_widths) + 1}")
    return PointCloudModel(points, logits, name=name)
