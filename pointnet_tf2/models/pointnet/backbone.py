"""The PointNet backbone (Qi et al., CVPR 2017): the trunk every head of the family shares.

`pointnet_trunk` is the base PointNet (input T-Net, shared MLP, feature
T-Net, shared MLP, max over points); the heads (`cls.py`, `cls_basic.py`,
`part_seg.py`, `sem_seg.py`, `embedding.py`) build on it with the helpers
below. Every builder reproduces the original TF1 network exactly in its
default configuration (same layers, widths, batch norm placement and
trainable parameter count), so that original checkpoints map one-to-one onto
the Keras weights. Layer names follow the original's variable scopes with
"/" replaced by "_" (`transform_net1/tconv1` -> `transform_net1_tconv1`,
batch norm `conv1/bn` -> `conv1_bn`).
"""

import collections

import keras

from pointnet_tf2.layers import ApplyTransform
from pointnet_tf2.layers import OrthogonalRegularizer
from pointnet_tf2.layers import PointMaxPooling
from pointnet_tf2.layers import PointwiseDense
from pointnet_tf2.layers import dense_bn_relu
from pointnet_tf2.layers import tile_and_concatenate
from pointnet_tf2.layers import shared_mlp
from pointnet_tf2.layers import transform_net
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.registry import Preprocessing

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


def dense_stack(x, widths, *, name, bn_momentum, first=1, dropout_rate=0.0, dropout_name=None, dropout_layers=0):
    """Builds `dense_bn_relu` blocks named `{name}{first}`, `{name}{first + 1}`, ...

    `x` is a tensor, or a list of per-cloud and per-point tensors that the
    first block concatenates (a `ConcatPointwiseDense`, see `dense_bn_relu`).
    The first `dropout_layers` blocks are each followed by a dropout layer
    named `{dropout_name}1`, `{dropout_name}2`, ... Returns the last output
    (`x` itself when `widths` is empty; a list then tiled and concatenated by
    `tile_and_concatenate`).
    """
    if not widths:
        return tile_and_concatenate(x)
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
    return dense_stack(trunk.global_feature, head_widths, name="fc", bn_momentum=bn_momentum,
                       dropout_rate=dropout_rate, dropout_name="dp",
                       dropout_layers=len(head_widths) if dropout_rate > 0 else 0)


def logits_layer(x, num_classes, name):
    """The last layer of a head: a `PointwiseDense` of `num_classes` float32 logits.

    float32 also under a mixed precision policy, so losses and metrics stay exact.
    """
    return PointwiseDense(num_classes, dtype="float32", name=name)(x)


# How the family's models see the clouds: ModelNet / ShapeNet part style
# (centred, in the unit sphere, y up) and S3DIS blocks (z up).
SHAPES = Preprocessing(normalization="unit_sphere", up_axis="y")
S3DIS_BLOCKS = Preprocessing(normalization="s3dis_blocks", up_axis="z")


