"""The DGCNN backbone (Wang et al., ACM TOG 2019): EdgeConv blocks and the pieces the heads share.

An EdgeConv block finds each point's k nearest neighbours in the space of its
current features (the dynamic graph: recomputed in every block), builds the
edge features of the point and each neighbour (`EdgeFeatures`), applies a
shared MLP to every edge, and takes the max over the neighbours
(`NeighbourMaxPooling`): `(B, N, C) -> (B, N, C')`. The neighbour search is
`pointnet_tf2.layers.neighbours` (`KNN`, `EdgeFeatures`), whose `chunk_size`
bounds the `B x N x N` distance matrix.

Two conventions live side by side, one per reference:

- the official PyTorch classifier (`pytorch/model.py`): edge features
  `[x_j - x_i, x_i]`, bias-free convolutions, batch norm with PyTorch's
  epsilon 1e-5 and momentum 0.1 (Keras momentum 0.9), LeakyReLU 0.2; Keras
  layers are named after the PyTorch modules (`conv1`, `bn1`, `linear1`);
- the official TensorFlow 1 networks (`tensorflow/`): edge features
  `[x_i, x_j - x_i]`, convolutions with biases, batch norm epsilon 1e-3,
  ReLU; Keras layers are named after the TF1 scopes with "/" replaced by "_"
  (`dgcnn1`, `dgcnn1_bn`, `transform_net1_tconv1`, `seg/conv1` ->
  `seg_conv1`), as the PointNet models.
"""

import keras
from keras import ops

from pointnet_tf2.layers import KNN
from pointnet_tf2.layers import ApplyTransform
from pointnet_tf2.layers import EdgeFeatures
from pointnet_tf2.layers import FlattenedIdentity
from pointnet_tf2.layers import FusedBatchNormalization
from pointnet_tf2.layers import PointMaxPooling
from pointnet_tf2.layers import PointwiseDense
from pointnet_tf2.layers import dense_bn_relu
from pointnet_tf2.layers.sampling import check_chunk_size as _check_chunk_size
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.registry import Preprocessing

# PyTorch's BatchNorm defaults in Keras terms: momentum 0.1 of the new batch = Keras 0.9.
TORCH_BN_MOMENTUM = 0.9
TORCH_BN_EPSILON = 1e-5
# tf_util's batch norm.
TF_BN_EPSILON = 1e-3
LEAKY_SLOPE = 0.2

# How the family's models see the clouds: ModelNet / ShapeNet part style
# (centred, in the unit sphere, y up) and S3DIS blocks (z up).
SHAPES = Preprocessing(normalization="unit_sphere", up_axis="y")
S3DIS_BLOCKS = Preprocessing(normalization="s3dis_blocks", up_axis="z")


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class NeighbourMaxPooling(keras.layers.Layer):
    """The max over each point's neighbours: `(B, N, k, C) -> (B, N, C)`.

    EdgeConv's aggregation (the original's `reduce_max` over the k axis).
    """

    def call(self, inputs):
        return ops.max(inputs, axis=2)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], input_shape[-1])


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class ChannelSlice(keras.layers.Layer):
    """Channels `start` to the end of every point: `(B, N, C) -> (B, N, C - start)`.

    The semantic segmentation network searches its first neighbours among
    the room-normalised coordinates only (channels 6 to 8 of an S3DIS block).

    Args:
        start: First channel kept.
    """

    def __init__(self, start, **kwargs):
        super().__init__(**kwargs)
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"ChannelSlice: start must be a non-negative integer, got {start!r}")
        self.start = start

    def call(self, inputs):
        return inputs[..., self.start:]

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else channels - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start}


# -- argument checks ------------------------------------------------------------------------


def check_k(k, num_points, what="k"):
    """Returns the neighbour count `k` as an int, or raises `ValueError` quoting it.

    Args:
        k: Neighbours per point.
        num_points: Points per cloud, or None (any: checked when the model runs).
        what: Name used in the message.

    Raises:
        ValueError: If `k` is not a positive integer or exceeds `num_points`.
    """
    k = check_positive_int(k, what)
    if num_points is not None and isinstance(num_points, int) and not isinstance(num_points, bool) and k > num_points:
        raise ValueError(f"{what} must be at most num_points={num_points}, got {k!r}")
    return k


def check_chunk_size(value, what="knn_chunk_size"):
    """Returns a kNN chunk size (None: all queries at once) or raises `ValueError` quoting it."""
    return _check_chunk_size(value, what)


def check_momentum(value, what="bn_momentum"):
    """Returns a batch-norm momentum in [0, 1), or raises `ValueError` quoting it."""
    return check_rate(value, what)


def check_blocks(blocks, what):
    """Returns EdgeConv block widths as a tuple of non-empty width tuples, or raises `ValueError`.

    Args:
        blocks: A sequence with one sequence of widths per EdgeConv block,
            e.g. `((64, 64), (64, 64), (64,))`.
        what: Name used in the message.
    """
    if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
        raise ValueError(f"{what} must be a sequence of width sequences, got {blocks!r}")
    blocks = tuple(blocks)
    if not blocks:
        raise ValueError(f"{what} must not be empty, got {blocks!r}")
    checked = []
    for block in blocks:
        if isinstance(block, (str, bytes)) or not hasattr(block, "__iter__"):
            raise ValueError(f"{what} must be a sequence of width sequences, got {blocks!r} (bad block {block!r})")
        checked.append(check_widths(block, f"{what}: block"))
    return tuple(checked)


# -- blocks ---------------------------------------------------------------------------------


def torch_conv_bn(x, units, *, name, bn_name, bn_momentum, use_bias=False):
    """PyTorch-convention block: bias-free `Dense` + batch norm + LeakyReLU 0.2.

    Layers: `name` (the PyTorch `conv`/`linear` module), `bn_name` (its
    `BatchNorm`), `{name}_lrelu`. Works on `(B, C)`, `(B, N, C)` and
    `(B, N, k, C)` tensors (a 1x1 convolution is a shared Dense layer).
    """
    x = PointwiseDense(units, use_bias=use_bias, name=name)(x)
    x = FusedBatchNormalization(momentum=bn_momentum, epsilon=TORCH_BN_EPSILON, name=bn_name)(x)
    return keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{name}_lrelu")(x)


def tf_conv_bn(x, units, *, name, bn_momentum):
    """TF1-convention block: `Dense` with bias + batch norm (epsilon 1e-3) + ReLU (`tf_util.conv2d`)."""
    return dense_bn_relu(x, units, name=name, bn_momentum=bn_momentum, bn_epsilon=TF_BN_EPSILON)


def edge_features(x, *, k, name, centre_first, chunk_size, idx=None):
    """The `(B, N, k, 2C)` edge features of `x` (neighbours in `x`'s own space unless `idx` is given)."""
    layer = EdgeFeatures(k, centre_first=centre_first, chunk_size=chunk_size, name=name)
    return layer(x) if idx is None else layer([x, idx])


def edge_transform_net(points, *, k, edge_widths, conv_widths, fc_widths, bn_momentum, chunk_size,
                       name="transform_net1", output_name="transform_XYZ"):
    """The TF networks' input transform net, on the edge features of the raw points.

    `(B, N, C)` points -> edge features (neighbours among all C channels:
    XYZ in the original) -> per-edge convolutions `edge_widths` -> max over the
    neighbours -> per-point convolutions `conv_widths` -> max over points ->
    fully connected `fc_widths` -> a last layer to 3 x 3 values starting at
    the identity (zero kernel, identity bias; the original adds the identity
    outside its bias variable). Layers `{name}_tconv1`, ... (edge and point
    convolutions numbered on), `{name}_tfc1`, ..., `{name}_{output_name}`.

    Returns:
        The `(B, 3, 3)` transform, applied as `points @ T`.
    """
    x = edge_features(points, k=k, name=f"{name}_edge", centre_first=True, chunk_size=chunk_size)
    count = 0
    for units in edge_widths:
        count += 1
        x = tf_conv_bn(x, units, name=f"{name}_tconv{count}", bn_momentum=bn_momentum)
    x = NeighbourMaxPooling(name=f"{name}_edge_max")(x)
    for units in conv_widths:
        count += 1
        x = tf_conv_bn(x, units, name=f"{name}_tconv{count}", bn_momentum=bn_momentum)
    x = PointMaxPooling(name=f"{name}_max_pool")(x)
    for i, units in enumerate(fc_widths):
        x = tf_conv_bn(x, units, name=f"{name}_tfc{i + 1}", bn_momentum=bn_momentum)
    x = keras.layers.Dense(9, kernel_initializer="zeros", bias_initializer=FlattenedIdentity(), dtype="float32",
                           name=f"{name}_{output_name}")(x)
    return keras.layers.Reshape((3, 3), name=f"{name}_matrix")(x)


def input_transform(points, *, k, edge_widths, conv_widths, fc_widths, bn_momentum, chunk_size):
    """Applies the TF networks' input transform net: `(B, N, C) -> (B, N, C)` (XYZ transformed).

    Raises:
        ValueError: If the points have fewer than 3 channels.
    """
    if points.shape[-1] < 3:
        raise ValueError(f"input_transform needs at least 3 channels (XYZ), got input_dims={points.shape[-1]}")
    transform = edge_transform_net(points, k=k, edge_widths=edge_widths, conv_widths=conv_widths,
                                   fc_widths=fc_widths, bn_momentum=bn_momentum, chunk_size=chunk_size)
    return ApplyTransform(name="input_transform")([points, transform])


def tf_edge_blocks(x, blocks, *, k, bn_momentum, chunk_size, first_idx=None, name="adj_conv"):
    """The segmentation networks' EdgeConv blocks: `[edge features -> convs -> max over neighbours] x len(blocks)`.

    Convolutions are numbered on over the blocks (`adj_conv1`, `adj_conv2`
    in the first block of `((64, 64), ...)`, ...); block i's edge features
    and pooling are `edge{i}`, `edge{i}_max`.

    Args:
        x: `(B, N, C)` input.
        blocks: Widths per block (see `check_blocks`).
        k: Neighbours per point.
        bn_momentum: Batch-norm momentum.
        chunk_size: kNN chunk size.
        first_idx: Optional `(B, N, k)` neighbours for the first block (else
            the neighbours of `x` itself).
        name: Prefix of the convolution names.

    Returns:
        The list of every block's `(B, N, C_i)` output.
    """
    outputs, count = [], 0
    for i, widths in enumerate(blocks):
        x = edge_features(x, k=k, name=f"edge{i + 1}", centre_first=True, chunk_size=chunk_size,
                          idx=first_idx if i == 0 else None)
        for units in widths:
            count += 1
            x = tf_conv_bn(x, units, name=f"{name}{count}", bn_momentum=bn_momentum)
        x = NeighbourMaxPooling(name=f"edge{i + 1}_max")(x)
        outputs.append(x)
    return outputs


def first_neighbours(points, *, k, start, chunk_size):
    """The `(B, N, k)` neighbours of every point among channels `start:` (None: `start` is 0)."""
    if start == 0:
        return None
    return KNN(k, chunk_size=chunk_size, name="knn1")(ChannelSlice(start, name="knn1_channels")(points))


def logits_layer(x, num_classes, name):
    """The last layer of a head: a `PointwiseDense` of `num_classes` float32 logits (with bias)."""
    return PointwiseDense(num_classes, dtype="float32", name=name)(x)
