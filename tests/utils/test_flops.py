"""count_multiply_adds: the figures GFLOP/s are computed from."""

import keras
import pytest

import pointnet_tf2
from pointnet_tf2.models import fold_batch_norm
from pointnet_tf2.utils.flops import count_multiply_adds


def test_classifier_at_1024_points_is_about_440_million():
    model = pointnet_tf2.get_model("pointnet_cls", num_classes=40, num_points=1024)
    per_point = (3 * 64 + 64 * 128 + 128 * 1024) + 3 * 3 + (3 * 64 + 64 * 64) \
        + (64 * 64 + 64 * 128 + 128 * 1024) + 64 * 64 + (64 * 64 + 64 * 128 + 128 * 1024)
    per_cloud = (1024 * 512 + 512 * 256 + 256 * 9) + (1024 * 512 + 512 * 256 + 256 * 4096) \
        + (1024 * 512 + 512 * 256 + 256 * 40)
    assert count_multiply_adds(model) == 1024 * per_point + per_cloud
    assert 440e6 < count_multiply_adds(model) < 450e6
    # Folding batch norm does not change the work counted.
    assert count_multiply_adds(fold_batch_norm(model)) == count_multiply_adds(model)


def test_any_point_count_needs_num_points():
    model = pointnet_tf2.get_model("pointnet_cls", num_classes=40, num_points=None)
    with pytest.raises(ValueError, match="need num_points"):
        count_multiply_adds(model)
    fixed = pointnet_tf2.get_model("pointnet_cls", num_classes=40, num_points=1024)
    assert count_multiply_adds(model, num_points=1024) == count_multiply_adds(fixed)


def test_convolutions_count_their_window():
    inputs = keras.Input((8, 8, 8, 2))
    outputs = keras.layers.Conv3D(4, 3, padding="valid")(inputs)
    model = keras.Model(inputs, outputs)
    assert count_multiply_adds(model) == 6 * 6 * 6 * (3 * 3 * 3 * 2) * 4


def test_a_concatenating_dense_counts_its_per_cloud_inputs_once_per_cloud():
    model = pointnet_tf2.get_model("pointnet_sem_seg", num_classes=13, num_points=4096)
    assert type(model.get_layer("conv6")).__name__ == "ConcatPointwiseDense"
    per_point = (9 * 64 + 64 * 64 + 64 * 64 + 64 * 128 + 128 * 1024) + 1024 * 512 + (512 * 256 + 256 * 13)
    per_cloud = 1024 * 256 + 256 * 128 + 128 * 512  # fc1, fc2, and conv6's rows of the tiled global feature
    assert count_multiply_adds(model) == 4096 * per_point + per_cloud
