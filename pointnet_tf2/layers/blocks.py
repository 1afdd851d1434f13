"""Building blocks shared by every PointNet: shared MLP layers with batch norm."""

import keras

from pointnet_tf2.layers.concat_dense import ConcatPointwiseDense
from pointnet_tf2.layers.fused import FusedBatchNormalization
from pointnet_tf2.layers.fused import PointwiseDense
from pointnet_tf2.layers.validation import check_positive_int


def dense_bn_relu(x, units, *, name, bn_momentum=0.99, bn_epsilon=1e-3):
    """Applies Dense + BatchNormalization + ReLU, as the original's conv/fc blocks.

    On a `(B, N, C)` tensor the Dense layer is shared by all points, which is
    numerically the original's 1x1 convolution (a `[1, k]` convolution over a
    `(B, N, k, 1)` input for the first layer). On `(B, C)` it is the original's
    fully connected layer. The bias is kept before batch norm so that the
    original's checkpoints map one-to-one onto the weights.

    On a list of per-cloud `(B, C_i)` and per-point `(B, N, C_i)` tensors the
    Dense is a `ConcatPointwiseDense`: the Dense of their concatenation, the
    per-cloud tensors tiled to every point, without building it.

    Args:
        x: Input tensor, `(B, N, C)` or `(B, C)`, or a list as above.
        units: Output width.
        name: Layer name; the batch norm and ReLU get `<name>_bn`, `<name>_relu`.
        bn_momentum: Batch-norm moving-average momentum (the original's
            `bn_decay`; scheduled during training by a callback).
        bn_epsilon: Batch-norm epsilon (the original uses 1e-3).

    Returns:
        The output tensor with `units` channels.

    Raises:
        ValueError: If `units` is not a positive integer.
    """
    units = check_positive_int(units, f"{name}: units")
    dense = ConcatPointwiseDense if isinstance(x, list | tuple) else PointwiseDense
    x = dense(units, name=name)(x)
    x = FusedBatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def shared_mlp(x, widths, *, names, bn_momentum=0.99):
    """Applies a stack of `dense_bn_relu` blocks.

    Args:
        x: Input tensor.
        widths: Output width of each block.
        names: Name of each block (same length as `widths`).
        bn_momentum: Batch-norm momentum.

    Returns:
        The list of every block's output, in order.
    """
    outputs = []
    for units, name in zip(widths, names, strict=True):
        x = dense_bn_relu(x, units, name=name, bn_momentum=bn_momentum)
        outputs.append(x)
    return outputs
