"""The Xu-Todorovic voxel CNN: `voxel_cnn`, 3-D convolutions on occupancy grids."""

import keras

from pointnet_tf2.layers.validation import check_rate
from pointnet_tf2.layers.validation import check_widths
from pointnet_tf2.models.base import PointCloudModel
from pointnet_tf2.models.registry import register_model
from pointnet_tf2.models.validation import check_num_classes
from pointnet_tf2.models.voxel.common import GRIDS
from pointnet_tf2.models.voxel.common import PADDINGS
from pointnet_tf2.models.voxel.common import classifier
from pointnet_tf2.models.voxel.common import voxels_input


@register_model(
    "voxel_cnn", family="voxel", task="cls", input_kind="voxels", preprocessing=GRIDS,
    description="Xu-Todorovic 3-D CNN on 30^3 occupancy grids (paper: 88% ModelNet10)",
    test_config=dict(num_classes=3, resolution=16, inner=12, filters=(4, 8, 8), padding="same"),
)
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
    logits = classifier(x, num_classes, dropout_rate)
    return PointCloudModel(grids, logits, name=name)
