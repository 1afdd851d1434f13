"""The T-Net: a mini PointNet predicting a K x K transform for its input."""

import keras
import numpy as np
from keras import ops

from pointnet_tf2.layers.blocks import shared_mlp
from pointnet_tf2.layers.fused import PointMaxPooling
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_widths


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class FlattenedIdentity(keras.initializers.Initializer):
    """Initialises a vector of length K*K with the flattened K x K identity.

    Used for the bias of a T-Net's last Dense layer (whose kernel starts at
    zero), so that the predicted transform is exactly the identity before
    training. The original adds the identity as a constant outside its bias
    variable; `pointnet_tf2.migration` adds it when converting checkpoints.
    """

    def __call__(self, shape, dtype=None):
        size = int(np.prod(shape))
        k = int(round(size**0.5))
        if k * k != size:
            raise ValueError(f"FlattenedIdentity: shape {tuple(shape)} does not hold a square matrix")
        return ops.reshape(ops.eye(k, dtype=dtype), shape)

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="pointnet_tf2")
class ApplyTransform(keras.layers.Layer):
    """Multiplies per-point row vectors by a per-sample matrix: `x @ T`.

    Called on `[points, transform]` with points `(B, N, C)` and transform
    `(B, K, K)`. When `C > K` (e.g. XYZ plus normals or colours with a 3 x 3
    input transform) only the first K channels are transformed and the rest
    pass through unchanged.
    """

    def call(self, inputs):
        points, transform = inputs
        k = transform.shape[-1]
        channels = points.shape[-1]
        if channels == k:
            return ops.matmul(points, transform)
        transformed = ops.matmul(points[..., :k], transform)
        return ops.concatenate([transformed, points[..., k:]], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


def transform_net(
    x,
    k,
    *,
    conv_widths=(64, 128, 1024),
    fc_widths=(512, 256),
    name="transform_net",
    output_name="transform",
    regularizer=None,
    bn_momentum=0.99,
):
    """Builds a T-Net on a Keras tensor of per-point features.

    The T-Net is the original's: a shared MLP over points (`conv_widths`),
    a max over points, fully connected layers (`fc_widths`), then a final
    Dense layer to K*K values whose kernel starts at zero and whose bias starts
    at the flattened identity, reshaped to `(B, K, K)`. Apply the result as
    row vectors times the matrix (`x @ T`), e.g. with `ApplyTransform`.

    Layers are named `<name>_tconv1`, ..., `<name>_tfc1`, ...,
    `<name>_<output_name>`, mirroring the original's TF1 scopes
    (`transform_net1/tconv1`, ..., `transform_net1/transform_XYZ`).

    Args:
        x: Keras tensor `(B, N, C)`.
        k: Size of the predicted K x K transform.
        conv_widths: Widths of the per-point layers.
        fc_widths: Widths of the fully connected layers after the max pool.
        name: Prefix of every layer name.
        output_name: Name (after the prefix) of the last Dense layer:
            "transform_XYZ" for the input T-Net, "transform_feat" for the
            feature T-Net in the original.
        regularizer: Optional activity regulariser put on the last Dense
            layer, e.g. `OrthogonalRegularizer()`.
        bn_momentum: Batch-norm momentum.

    Returns:
        The transform, a Keras tensor of shape `(B, K, K)`.

    Raises:
        ValueError: If `k` or a width is not a positive integer.
    """
    k = check_positive_int(k, f"{name}: k")
    conv_widths = check_widths(conv_widths, f"{name}: conv_widths")
    fc_widths = check_widths(fc_widths, f"{name}: fc_widths", allow_empty=True)
    x = shared_mlp(
        x,
        conv_widths,
        names=[f"{name}_tconv{i + 1}" for i in range(len(conv_widths))],
        bn_momentum=bn_momentum,
    )[-1]
    x = PointMaxPooling(name=f"{name}_max_pool")(x)
    x = shared_mlp(
        x,
        fc_widths,
        names=[f"{name}_tfc{i + 1}" for i in range(len(fc_widths))],
        bn_momentum=bn_momentum,
    )[-1] if fc_widths else x
    x = keras.layers.Dense(
        k * k,
        kernel_initializer="zeros",
        bias_initializer=FlattenedIdentity(),
        activity_regularizer=regularizer,
        dtype="float32",
        name=f"{name}_{output_name}",
    )(x)
    return keras.layers.Reshape((k, k), name=f"{name}_matrix")(x)
