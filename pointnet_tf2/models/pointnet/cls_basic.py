"""PointNet classification head without T-Nets: `pointnet_cls_basic` (the original "basic")."""

from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.pointnet.backbone import SHAPES
from pointnet_tf2.models.pointnet.cls import pointnet_cls
from pointnet_tf2.models.registry import register_model


@register_model(
    "pointnet_cls_basic", family="pointnet", task="cls", preprocessing=SHAPES,
    description="PointNet classifier without T-Nets (paper: 87.1% ModelNet40)",
    test_config=dict(num_classes=4, num_points=None, mlp=(8, 8, 16), head_widths=(8,)),
)
def pointnet_cls_basic(
    *,
    num_classes=40,
    num_points=1024,
    input_dims=3,
    mlp=(64, 64, 64, 128, 1024),
    head_widths=(512, 256),
    dropout_rate=0.3,
    bn_momentum=0.99,
    name="pointnet_cls_basic",
):
    """Builds the PointNet classifier without T-Nets (the original "basic").

    With the defaults: 819,624 trainable parameters for 40 classes.

    Args:
        num_classes: Number of output classes (>= 2).
        num_points: Points per cloud, or None for any number of points.
        input_dims: Channels per point.
        mlp: Widths of the per-point layers (the last is the global feature).
        head_widths: Fully connected widths of the classifier head.
        dropout_rate: Dropout rate in the head.
        bn_momentum: Initial batch-norm momentum.
        name: Model name.

    Returns:
        A `keras.Model` mapping points to `(B, num_classes)` logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    mlp = check_widths(mlp, "mlp")
    return pointnet_cls(
        num_classes=num_classes,
        num_points=num_points,
        input_dims=input_dims,
        input_transform=False,
        feature_transform=False,
        mlp1=mlp[:1],
        mlp2=mlp[1:],
        head_widths=head_widths,
        dropout_rate=dropout_rate,
        bn_momentum=bn_momentum,
        name=name,
    )
