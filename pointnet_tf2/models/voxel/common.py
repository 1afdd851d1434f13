"""What the voxel family's models share: the grid input, the classifier and the preprocessing."""

import keras

from pointnet_tf2.layers.validation import check_positive_int
from pointnet_tf2.models.registry import Preprocessing

PADDINGS = ("valid", "same")
# Clouds of 1024 points (ModelNet style, y up) voxelised with the builder's
# `resolution` and `inner` (the grid size comes from the builder's arguments).
GRIDS = Preprocessing(num_points=1024, normalization="occupancy_grid", up_axis="y")


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


def classifier(x, num_classes, dropout_rate):
    """Builds the head of a voxel classifier: dropout `dp1`, then the float32 logits layer `fc1`."""
    x = keras.layers.Dropout(dropout_rate, name="dp1")(x)
    return keras.layers.Dense(num_classes, dtype="float32", name="fc1")(x)
