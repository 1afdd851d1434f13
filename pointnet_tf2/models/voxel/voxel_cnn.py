"""Voxel CNNs: 3-D convolutions on binary occupancy grids.

Both take `(B, R, R, R, 1)` grids (`pointnet_tf2.data.voxels.voxelize`: the
shape scaled into an `inner^3` cube centred in the `R^3` grid). They are
registered with `input_kind="voxels"`, so the trainer and the evaluators
voxelise the point clouds of a dataset on the fly with the builder's
`resolution` and `inner`.
"""

import keras

from pointnet_tf2.layers.fused import FusedBatchNormalization
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes

PADDINGS = ("valid", "same")


def voxels_input(resolution, inner, name="voxels"):
    """Creates the `(B, R, R, R, 1)` Keras input of a voxel model.

    Args:
        resolution: Cells per side R.
        inner: Cells per side of the cube shapes are scaled into (checked
            against `resolution`; the data pipeline uses it).
        name: Input name.

    Returns:
        A Keras input tensor.

    Raises:
        ValueError: If a size is not a positive integer or `inner > resolution`.
    """
    resolution = check_positive_int(resolution, "resolution")
    inner = check_positive_int(inner, "inner")
    if inner > resolution:
        raise ValueError(f"inner={inner!r} must not exceed resolution={resolution!r}")
    return keras.Input(shape=(resolution, resolution, resolution, 1), name=name)


def _classifier(x, num_classes, dropout_rate):
    """Dropout `dp1`, then the float32 logits layer `fc1`."""
    x = keras.layers.Dropout(dropout_rate, name="dp1")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name="fc1")(x)


@register_model("voxel_cnn", task="cls", input_kind="voxels",
                description="Xu-Todorovic 3-D CNN on 30^3 occupancy grids (paper: 88% ModelNet10)")
def voxel_cnn(
    *,
    num_classes=40,
    resolution=30,
    inner=24,
    filters=(16, 64, 64),
    kernel_sizes=(6, 5, 5),
    strides=(2, 2, 2),
    padding="valid",
    dropout_rate=0.5,
    name="voxel_cnn",
):
    """Builds the Xu-Todorovic voxel CNN (Xu & Todorovic, "Beam search for learning a deep CNN for 3D object recognition", 2016).

    Conv3D 16 filters 6^3 stride 2 -> Conv3D 64 5^3 stride 2 -> Conv3D 64 5^3
    stride 2 -> Dense(num_classes). With a 30^3 grid and 'valid' padding the
    grid shrinks 30 -> 13 -> 5 -> 1, so the last convolution sees the whole
    shape (30 is the smallest grid this works for; use `padding="same"` for
    smaller test grids). 646,200 trainable parameters for 40 classes.

    Choices not fixed by the paper's architecture line: every convolution is
    followed by a ReLU (the usual choice of the time, and what VoxNet used; no
    batch norm, to stay the small network the paper searched for), and
    dropout (`dropout_rate`, default 0.5) before the classifier, because this
    network overfits ModelNet's few thousand grids within a few epochs
    without it.

    Args:
        num_classes: Output classes (>= 2).
        resolution: Grid cells per side (R).
        inner: Cells per side of the cube shapes are scaled into (used by the
            data pipeline, recorded in the config).
        filters: Filters of the three convolutions.
        kernel_sizes: Their kernel sizes.
        strides: Their strides.
        padding: 'valid' (the paper's) or 'same'.
        dropout_rate: Dropout before the classifier.
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, R, R, R, 1)` grids to `(B, num_classes)` logits.

    Raises:
        ValueError: On an invalid argument (also a grid too small for the
            convolutions), quoting it.
    """
    num_classes = check_num_classes(num_classes)
    filters = check_widths(filters, "filters")
    kernel_sizes = check_widths(kernel_sizes, "kernel_sizes")
    strides = check_widths(strides, "strides")
    if not len(filters) == len(kernel_sizes) == len(strides):
        raise ValueError(f"filters, kernel_sizes and strides must have the same length, got {filters}, {kernel_sizes}, {strides}")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    dropout_rate = check_rate(dropout_rate, "dropout_rate")
    grids = voxels_input(resolution, inner)
    size = resolution
    x = grids
    for i, (f, k, s) in enumerate(zip(filters, kernel_sizes, strides)):
        size = (size - k) // s + 1 if padding == "valid" else -(-size // s)
        if size < 1:
            raise ValueError(f"voxel_cnn: resolution={resolution} is too small for conv{i + 1} (kernel {k}, "
                             f"stride {s}, padding {padding!r}); use a larger grid or padding='same'")
        x = keras.layers.Conv3D(f, k, strides=s, padding=padding, activation="relu", name=f"conv{i + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = _classifier(x, num_classes, dropout_rate)
    return PointCloudModel(grids, logits, name=name)


def _preactivation_block(x, width, stride, bn_momentum, name):
    """BN-ReLU-Conv3x3-BN-ReLU-Conv3x3 plus the identity (or a 1x1 projection)."""
    shortcut = x
    y = FusedBatchNormalization(momentum=bn_momentum, name=f"{name}_bn1")(x)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    if stride != 1 or x.shape[-1] != width:
        # The projection sees the pre-activated input, as in He et al. (2016).
        shortcut = keras.layers.Conv3D(width, 1, strides=stride, use_bias=False, name=f"{name}_proj")(y)
    y = keras.layers.Conv3D(width, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(y)
    y = FusedBatchNormalization(momentum=bn_momentum, name=f"{name}_bn2")(y)
    y = keras.layers.ReLU(name=f"{name}_relu2")(y)
    y = keras.layers.Conv3D(width, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


@register_model("voxel_resnet", task="cls", input_kind="voxels",
                description="Residual 3-D CNN (pre-activation blocks, dense Conv3D) on occupancy grids")
def voxel_resnet(
    *,
    num_classes=40,
    resolution=30,
    inner=24,
    width=32,
    blocks_per_stage=(1, 1, 1),
    dropout_rate=0.5,
    bn_momentum=0.99,
    name="voxel_resnet",
):
    """Builds a residual 3-D CNN with pre-activation blocks (He et al., 2016).

    Stem Conv3D 3^3 (`width` filters) -> stages of pre-activation residual
    blocks (BN-ReLU-Conv3D 3^3-BN-ReLU-Conv3D 3^3 + shortcut); stage `i` has
    `blocks_per_stage[i]` blocks of `width * 2**i` filters and halves the grid
    in its first block (except stage 0) -> BN-ReLU -> global average pooling
    -> dropout -> Dense(num_classes). With the defaults: 901,960 trainable
    parameters for 40 classes.

    TensorFlow has no maintained sparse convolution (the sparse 3-D CNNs of
    the literature, e.g. MinkowskiNet or SparseConvNet, are PyTorch/CUDA
    libraries), so this is a dense Conv3D network: cost grows with R^3, not
    with the number of occupied cells, which keeps it to modest grids such as
    30^3 or 32^3.

    Args:
        num_classes: Output classes (>= 2).
        resolution: Grid cells per side (R).
        inner: Cells per side of the cube shapes are scaled into (used by the
            data pipeline, recorded in the config).
        width: Filters of the stem and the first stage (depth grows x2 per stage).
        blocks_per_stage: Residual blocks per stage (the depth).
        dropout_rate: Dropout before the classifier.
        bn_momentum: Batch-norm momentum.
        name: Model name.

    Returns:
        A `keras.Model` mapping `(B, R, R, R, 1)` grids to `(B, num_classes)` logits.

    Raises:
        ValueError: On an invalid argument, quoting it.
    """
    num_classes = check_num_classes(num_classes)
    width = check_positive_int(width, "width")
    blocks_per_stage = check_widths(blocks_per_stage, "blocks_per_stage")
    dropout_rate = check_rate(dropout_rate, "dropout_rate")
    check_rate(bn_momentum, "bn_momentum")  # the same [0, 1) range as a rate
    grids = voxels_input(resolution, inner)
    x = keras.layers.Conv3D(width, 3, padding="same", use_bias=False, name="stem_conv")(grids)
    for stage, blocks in enumerate(blocks_per_stage):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _preactivation_block(x, width * 2**stage, stride, bn_momentum, name=f"stage{stage + 1}_block{block + 1}")
    x = FusedBatchNormalization(momentum=bn_momentum, name="final_bn")(x)
    x = keras.layers.ReLU(name="final_relu")(x)
    x = keras.layers.GlobalAveragePooling3D(name="avg_pool")(x)
    logits = _classifier(x, num_classes, dropout_rate)
    return PointCloudModel(grids, logits, name=name)
