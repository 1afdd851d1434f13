"""PointNet (Qi et al., CVPR 2017): the shared trunk and its three heads.

Every builder reproduces the original TF1 network exactly in its default
configuration (same layers, widths, batch norm placement and trainable
parameter count), so that original checkpoints map one-to-one onto the Keras
weights. Layer names follow the original's variable scopes with "/" replaced
by "_" (`transform_net1/tconv1` -> `transform_net1_tconv1`, batch norm
`conv1/bn` -> `conv1_bn`).
"""

import collections

import keras

from pointnet_tf2.layers import ApplyTransform
from pointnet_tf2.layers import BroadcastToPoints
from pointnet_tf2.layers import OrthogonalRegularizer
from pointnet_tf2.layers import PointMaxPooling
from pointnet_tf2.layers import PointwiseDense
from pointnet_tf2.layers import dense_bn_relu
from pointnet_tf2.layers import shared_mlp
from pointnet_tf2.layers import transform_net
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes

TrunkOutputs = collections.namedtuple(
    "TrunkOutputs",
    ["point_features", "transformed_features", "global_feature", "transforms"],
)
TrunkOutputs.__doc__ = """What `pointnet_trunk` exposes to the heads.

Attributes:
    point_features: List of every shared-MLP layer's per-point output
        `(B, N, C_i)`, in order (the features before the feature transform
        are included untransformed, as the original's part-seg head uses them).
    transformed_features: The per-point features right after the feature
        transform (equal to the last pre-transform features without one).
    global_feature: The max over points of the last per-point features `(B, C)`.
    transforms: Dict with "input" and/or "feature" -> `(B, K, K)` transforms.
"""


def points_input(num_points, input_dims, name="points"):
    """Creates the `(B, N, input_dims)` Keras input of a point cloud model.

    Args:
        num_points: Points per cloud, or None for clouds of any size.
        input_dims: Channels per point (3 XYZ, 6 with normals, 9 for S3DIS).
        name: Input name.

    Returns:
        A Keras input tensor.

    Raises:
        ValueError: If `num_points` or `input_dims` is not a positive integer.
    """
    if num_points is not None:
        num_points = check_positive_int(num_points, "num_points")
    input_dims = check_positive_int(input_dims, "input_dims")
    return keras.Input(shape=(num_points, input_dims), name=name)


def pointnet_trunk(
    points,
    *,
    mlp1=(64, 64),
    mlp2=(64, 128, 1024),
    input_transform=True,
    feature_transform=True,
    input_tnet_conv_widths=(64, 128, 1024),
    input_tnet_fc_widths=(512, 256),
    feature_tnet_conv_widths=(64, 128, 1024),
    feature_tnet_fc_widths=(512, 256),
    orthogonal_weight=0.001,
    bn_momentum=0.99,
    layer_offset=0,
):
    """Builds the base PointNet shared by every head, on a Keras tensor.

    points -> [input T-Net, points @ T] -> shared MLP `mlp1` ->
    [feature T-Net, features @ T] -> shared MLP `mlp2` -> max over points.

    Per-point layers are named `conv1`, `conv2`, ... (continuing the count
    from `layer_offset`); the T-Nets are `transform_net1` (K = 3, applied to
    XYZ) and `transform_net2` (K = the last width of `mlp1`).

    Args:
        points: Keras tensor `(B, N, C)`; N may be None.
        mlp1: Widths of the per-point layers before the feature transform.
        mlp2: Widths of the per-point layers after it; the last one is the
            width of the global feature. May be empty, in which case the
            global feature is the max over the transformed `mlp1` features.
        input_transform: Whether to learn a 3 x 3 input transform.
        feature_transform: Whether to learn a K x K feature transform.
        input_tnet_conv_widths: Per-point widths of the input T-Net.
        input_tnet_fc_widths: Fully connected widths of the input T-Net.
        feature_tnet_conv_widths: Per-point widths of the feature T-Net.
        feature_tnet_fc_widths: Fully connected widths of the feature T-Net.
        orthogonal_weight: Weight of the `OrthogonalRegularizer` on the
            feature transform (per-sample mean; see its docstring for the
            original's scale); 0 turns it off.
        bn_momentum: Batch-norm momentum of every layer.
        layer_offset: Number to start the `conv` layer count after.

    Returns:
        A `TrunkOutputs`.

    Raises:
        ValueError: On a bad width, a non-3-D input, or an input transform on
            points with fewer than 3 channels.
    """
    if len(points.shape) != 3:
        raise ValueError(f"pointnet_trunk: points must have shape (B, N, C), got {tuple(points.shape)}")
    mlp1 = check_widths(mlp1, "mlp1")
    mlp2 = check_widths(mlp2, "mlp2", allow_empty=True)
    if orthogonal_weight is None:
        orthogonal_weight = 0.0
    regularizer = OrthogonalRegularizer(orthogonal_weight) if orthogonal_weight else None
    transforms = {}
    x = points
    if input_transform:
        if points.shape[-1] < 3:
            raise ValueError(f"pointnet_trunk: an input transform needs at least 3 channels (XYZ), got {points.shape[-1]}")
        transform = transform_net(
            points,
            3,
            conv_widths=input_tnet_conv_widths,
            fc_widths=input_tnet_fc_widths,
            name="transform_net1",
            output_name="transform_XYZ",
            bn_momentum=bn_momentum,
        )
        transforms["input"] = transform
        x = ApplyTransform(name="input_transform")([points, transform])
    names = [f"conv{layer_offset + i + 1}" for i in range(len(mlp1) + len(mlp2))]
    point_features = shared_mlp(x, mlp1, names=names[: len(mlp1)], bn_momentum=bn_momentum)
    x = point_features[-1]
    if feature_transform:
        transform = transform_net(
            x,
            mlp1[-1],
            conv_widths=feature_tnet_conv_widths,
            fc_widths=feature_tnet_fc_widths,
            name="transform_net2",
            output_name="transform_feat",
            regularizer=regularizer,
            bn_momentum=bn_momentum,
        )
        transforms["feature"] = transform
        x = ApplyTransform(name="feature_transform")([x, transform])
    transformed = x
    if mlp2:
        point_features += shared_mlp(x, mlp2, names=names[len(mlp1) :], bn_momentum=bn_momentum)
        x = point_features[-1]
    global_feature = PointMaxPooling(name="max_pool")(x)
    return TrunkOutputs(point_features, transformed, global_feature, transforms)


def _dense_stack(x, widths, *, name, bn_momentum, first=1, dropout_rate=0.0, dropout_name=None, dropout_layers=0):
    """`dense_bn_relu` blocks named `{name}{first}`, `{name}{first + 1}`, ...

    The first `dropout_layers` blocks are each followed by a dropout layer
    named `{dropout_name}1`, `{dropout_name}2`, ... Returns the last output
    (`x` itself when `widths` is empty).
    """
    for i, units in enumerate(widths):
        x = dense_bn_relu(x, units, name=f"{name}{first + i}", bn_momentum=bn_momentum)
        if i < dropout_layers:
            x = keras.layers.Dropout(dropout_rate, name=f"{dropout_name}{i + 1}")(x)
    return x


def global_feature_head(
    points,
    *,
    mlp1,
    mlp2,
    input_transform,
    feature_transform,
    head_widths,
    dropout_rate,
    tnet_conv_widths,
    tnet_fc_widths,
    orthogonal_weight,
    bn_momentum,
):
    """The classifier's body: trunk, max pool, then fc layers with dropout.

    Shared by `pointnet_cls` and the embedding model: points ->
    `pointnet_trunk` (both T-Nets with the same widths) -> `max_pool` ->
    `fc1`, `dp1`, `fc2`, `dp2`, ... (no dropout layer when the rate is 0).

    Returns:
        The output of the last fc layer (or the global feature without any).

    Raises:
        ValueError: On an invalid width or rate, quoting it.
    """
    head_widths = check_widths(head_widths, "head_widths", allow_empty=True)
    dropout_rate = check_rate(dropout_rate, "dropout_rate")
    trunk = pointnet_trunk(
        points,
        mlp1=mlp1,
        mlp2=mlp2,
        input_transform=input_transform,
        feature_transform=feature_transform,
        input_tnet_conv_widths=tnet_conv_widths,
        input_tnet_fc_widths=tnet_fc_widths,
        feature_tnet_conv_widths=tnet_conv_widths,
        feature_tnet_fc_widths=tnet_fc_widths,
        orthogonal_weight=orthogonal_weight,
        bn_momentum=bn_momentum,
    )
    return _dense_stack(trunk.global_feature, head_widths, name="fc", bn_momentum=bn_momentum,
                        dropout_rate=dropout_rate, dropout_name="dp",
                        dropout_layers=len(head_widths) if dropout_rate > 0 else 0)


def _logits(x, num_classes, name):
    # float32 logits also under a mixed precision policy.
    return PointwiseDense(num_classes, dtype="float32", name=name)(x)


@register_model("pointnet_cls", task="cls", description="PointNet classifier with input and feature T-Nets (paper: 89.2% ModelNet40)")
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
    logits = _logits(x, num_classes, name=f"fc{len(head_widths) + 1}")
    return PointCloudModel(points, logits, name=name)


@register_model("pointnet_cls_basic", task="cls", description="PointNet classifier without T-Nets (paper: 87.1% ModelNet40)")
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


@register_model("pointnet_sem_seg", task="sem_seg", description="PointNet semantic segmentation, no T-Nets (S3DIS: 13 classes, 9-d points)")
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
    x = _dense_stack(trunk.global_feature, global_widths, name="fc", bn_momentum=bn_momentum)
    tiled = BroadcastToPoints(name="tile_global")([x, points])
    x = keras.layers.Concatenate(name="concat")([trunk.point_features[-1], tiled])
    x = _dense_stack(x, seg_widths, name="conv", first=len(mlp) + 1, bn_momentum=bn_momentum)
    x = keras.layers.Dropout(dropout_rate, name="dp1")(x)
    logits = _logits(x, num_classes, name=f"conv{len(mlp) + len(seg_widths) + 1}")
    return PointCloudModel(points, logits, name=name)


@register_model("pointnet_part_seg", task="part_seg", description="PointNet part segmentation with T-Nets (ShapeNet part: 16 categories, 50 parts)")
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

    x = _dense_stack(trunk.global_feature, cls_widths, name="cla_fc", bn_momentum=bn_momentum)
    if cls_widths:
        x = keras.layers.Dropout(cls_dropout_rate, name="cla_dp1")(x)
    category_logits = _logits(x, num_categories, name=f"cla_fc{len(cls_widths) + 1}")

    global_and_category = keras.layers.Concatenate(name="global_and_category")([trunk.global_feature, category])
    tiled = BroadcastToPoints(name="tile_global")([global_and_category, points])
    x = keras.layers.Concatenate(name="concat")([tiled, *trunk.point_features])
    # As the original: dropout after the first two segmentation layers only, at any rate.
    x = _dense_stack(x, seg_widths, name="seg_conv", bn_momentum=bn_momentum, dropout_rate=seg_dropout_rate,
                     dropout_name="seg_dp", dropout_layers=2)
    part_logits = _logits(x, num_parts, name=f"seg_conv{len(seg_widths) + 1}")
    outputs = {"parts": part_logits, "category": category_logits}
    return PointCloudModel({"points": points, "category": category}, outputs, name=name)
