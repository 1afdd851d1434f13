"""A residual 3-D CNN: `voxel_resnet`, pre-activation blocks on occupancy grids."""

import keras

from pointnet_tf2.layers.fused import FusedBatchNormalization
from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes
from pointnet_tf2.models.voxel.common import GRIDS
from pointnet_tf2.models.voxel.common import classifier
from pointnet_tf2.models.voxel.common import voxels_input


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


@register_model(
    "voxel_resnet", family="voxel", task="cls", input_kind="voxels", preprocessing=GRIDS,
    description="Residual 3-D CNN (pre-activation blocks, dense Conv3D) on occupancy grids",
    test_config=dict(num_classes=3, resolution=16, inner=12, width=4, blocks_per_stage=(1, 1)),
)
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
    logits = classifier(x, num_classes, dropout_rate)
    return PointCloudModel(grids, logits, name=name)
