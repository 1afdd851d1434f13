"""What the PointNet++ heads share: the input, the fully connected head and the logits layer."""

import keras

from pointnet_tf2.layers import PointwiseDense
from pointnet_tf2.layers import dense_bn_relu
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.registry import Preprocessing

# How the clouds are prepared: shapes in the unit sphere with y up (ModelNet40, ShapeNet part), and the
# zoo's semantic segmentation blocks (S3DIS layout, z up; XYZ first, in metres like the original's radii).
SHAPES = Preprocessing(normalization="unit_sphere", up_axis="y")
BLOCKS = Preprocessing(normalization="s3dis_blocks", up_axis="z")

# Tiny set abstraction settings for the shared model test suite (`test_config`).
TINY_SSG = dict(npoints=(16, 8), radii=(0.4, 0.8), nsamples=(8, 8), mlps=((8, 8), (8, 16)))
TINY_MSG = dict(npoints=(16, 8), radii=((0.3, 0.6), (0.8,)), nsamples=((4, 8), (8,)), mlps=(((8,), (8, 8)), ((16,),)))


def points_input(num_points, input_dims, model):
    """The `(B, N, input_dims)` input "points" (XYZ first, then normals or other features).

    Raises:
        ValueError: If `num_points` is not None or a positive integer, or
            `input_dims` is not an integer of at least 3.
    """
    if num_points is not None:
        num_points = check_positive_int(num_points, f"{model}: num_points")
    input_dims = check_positive_int(input_dims, f"{model}: input_dims")
    if input_dims < 3:
        raise ValueError(f"{model}: input_dims must be at least 3 (XYZ first), got {input_dims!r}")
    return keras.Input(shape=(num_points, input_dims), name="points")


def fc_head(x, widths, *, dropout_rate, bn_momentum, model):
    """`fc1`, `dp1`, `fc2`, `dp2`, ...: `dense_bn_relu` blocks each followed by dropout.

    On `(B, C)` these are the original's fully connected layers; on
    `(B, N, C)` its per-point `conv1d` layers (same scopes `fc1`, `fc2`).

    Returns:
        The last block's output (`x` itself without widths).

    Raises:
        ValueError: On a bad width or rate, quoting it.
    """
    widths = check_widths(widths, f"{model}: head_widths", allow_empty=True)
    rate = check_rate(dropout_rate, f"{model}: dropout_rate")
    for i, units in enumerate(widths, start=1):
        x = dense_bn_relu(x, units, name=f"fc{i}", bn_momentum=bn_momentum)
        if rate > 0:
            x = keras.layers.Dropout(rate, name=f"dp{i}")(x)
    return x


def logits_layer(x, units, name):
    """The last layer: a (shared) Dense without batch norm or ReLU, float32 also under mixed precision."""
    return PointwiseDense(units, dtype="float32", name=name)(x)
