"""Tests for pointnet_tf2.data.voxels, the Sequence transform and the class-balanced sampler."""

import numpy as np
import pytest

from pointnet_tf2.data import PointCloudSequence
from pointnet_tf2.data.samplers import ClassBalancedSampler
from pointnet_tf2.data.voxels import Voxelize
from pointnet_tf2.data.voxels import load_voxel_npz
from pointnet_tf2.data.voxels import read_binvox
from pointnet_tf2.data.voxels import voxelize
from pointnet_tf2.data.voxels import write_binvox


def _occupied(grid):
    return {tuple(int(v) for v in c) for c in np.argwhere(grid[..., 0] > 0)}


def test_corners_of_a_cube_fill_the_inner_cube_corners():
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float32) * 5 + 3
    grid = voxelize(corners, resolution=16, inner=8)
    assert grid.shape == (16, 16, 16, 1) and grid.dtype == np.float32
    # padding (16 - 8) / 2 = 4 cells: the inner cube spans cells 4..11
    assert _occupied(grid) == {(x, y, z) for x in (4, 11) for y in (4, 11) for z in (4, 11)}
    assert set(np.unique(grid)) == {0.0, 1.0}


def test_scale_is_uniform_and_shape_is_centred():
    # a 2 x 1 x 0 box: the long side spans the inner cube, the others keep their proportion
    points = np.array([[-1, -0.5, 0], [1, -0.5, 0], [-1, 0.5, 0], [1, 0.5, 0], [0, 0, 0]], np.float32)
    grid = voxelize(points, resolution=12, inner=8)
    occupied = np.array(sorted(_occupied(grid)))
    assert occupied[:, 0].min() == 2 and occupied[:, 0].max() == 9  # x: the whole inner cube
    assert occupied[:, 1].min() == 4 and occupied[:, 1].max() == 7  # y: half of it, centred
    assert set(occupied[:, 2]) == {6}  # z: a flat shape in the middle cell
    assert (6, 6, 6) in _occupied(grid)  # the centre point


def test_batch_is_vectorised_and_translation_scale_invariant():
    rng = np.random.default_rng(0)
    clouds = rng.normal(size=(3, 200, 3)).astype(np.float32)
    moved = clouds * np.array([2.0, 0.5, 7.0])[:, None, None] + rng.normal(size=(3, 1, 3)) * 10
    batch = voxelize(moved, resolution=16, inner=12)
    assert batch.shape == (3, 16, 16, 16, 1)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], voxelize(clouds[i], resolution=16, inner=12))
    # nothing in the padding
    assert batch[:, :2].sum() == 0 and batch[:, 14:].sum() == 0
    assert batch[:, :, :2].sum() == 0 and batch[:, :, :, 14:].sum() == 0


def test_degenerate_cloud_and_bad_arguments():
    grid = voxelize(np.ones((5, 3)), resolution=10, inner=6)
    assert _occupied(grid) == {(5, 5, 5)}
    with pytest.raises(ValueError, match="inner=12 must not exceed resolution=10"):
        voxelize(np.ones((5, 3)), resolution=10, inner=12)
    with pytest.raises(ValueError, match="resolution must be a positive integer"):
        voxelize(np.ones((5, 3)), resolution=0)
    with pytest.raises(ValueError, match="shape"):
        voxelize(np.ones((5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        voxelize(np.full((5, 3), np.nan))


def test_binvox_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    grid = rng.random((7, 5, 6)) < 0.3
    grid[0, 0, :] = True  # a run longer than... several runs, and long runs below
    big = np.zeros((20, 20, 20), bool)
    big[5:15, 5:15, 5:15] = True  # runs of 255+ zeros
    for array in (grid, big):
        path = write_binvox(tmp_path / "shape.binvox", array, translate=(0.5, -1.0, 2.0), scale=3.5)
        read = read_binvox(path)
        np.testing.assert_array_equal(read.grid, array)
        assert read.dims == array.shape
        assert read.translate == (0.5, -1.0, 2.0) and read.scale == 3.5


def test_binvox_voxel_order_is_x_z_y(tmp_path):
    # binvox stores y fastest, then z, then x
    path = tmp_path / "order.binvox"
    header = b"#binvox 1\ndim 2 2 2\ntranslate 0 0 0\nscale 1\ndata\n"
    path.write_bytes(header + bytes([0, 1, 1, 1, 0, 6]))  # only the second voxel: x=0, z=0, y=1
    assert _occupied(read_binvox(path).grid[..., None]) == {(0, 1, 0)}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"#binvox 2\ndim 2 2 2\ntranslate 0 0 0\nscale 1\ndata\n\x00\x08", "malformed binvox header"),
        (b"#binvox 1\ndim 2 2\ntranslate 0 0 0\nscale 1\ndata\n\x00\x08", "malformed binvox header"),
        (b"#binvox 1\ndim 2 2 2\nscale 1\ndata\n\x00\x08", "expected a 'translate' header line"),
        (b"#binvox 1\ndim 2 2 2\ntranslate 0 0 0\nscale 1\ndata\n\x00\x07", "cover 7 voxels, expected 8"),
        (b"#binvox 1\ndim 2 2 2\ntranslate 0 0 0\nscale 1\ndata\n\x00\x08\x01", "odd number of bytes"),
        (b"#binvox 1\ndim 2 2 2\ntranslate 0 0 0\n", "truncated binvox header"),
        (b"PLY\n", "expected a '#binvox' header line"),
    ],
)
def test_binvox_malformed_files(tmp_path, content, message):
    path = tmp_path / "bad.binvox"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_binvox(path)
    assert str(path) in str(info.value)


def test_load_voxel_npz(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "voxels.npz"
    np.savez(path, X_train=rng.random((4, 6, 6, 6)) < 0.5, y_train=np.array([0, 1, 2, 1]),
             X_test=(rng.random((2, 6, 6, 6, 1)) < 0.5).astype(np.uint8), y_test=np.array([[3], [0]]))
    data = load_voxel_npz(path)
    assert data["X_train"].shape == (4, 6, 6, 6, 1) and data["X_train"].dtype == np.float32
    assert data["X_test"].shape == (2, 6, 6, 6, 1)
    np.testing.assert_array_equal(data["y_test"], [3, 0])
    assert data["num_classes"] == 4 and data["resolution"] == 6
    np.savez(path, X_train=np.zeros((4, 6, 6, 5)), y_train=np.zeros(4, int), X_test=np.zeros((1, 6, 6, 6)), y_test=np.zeros(1, int))
    with pytest.raises(ValueError, match="X_train must have shape"):
        load_voxel_npz(path)
    np.savez(path, X_train=np.zeros((4, 6, 6, 6)), y_train=np.zeros(3, int), X_test=np.zeros((1, 6, 6, 6)), y_test=np.zeros(1, int))
    with pytest.raises(ValueError, match="y_train has 3 labels for 4 grids"):
        load_voxel_npz(path)
    np.savez(path, X_train=np.zeros((4, 6, 6, 6)), y_train=np.zeros(4, int))
    with pytest.raises(ValueError, match="key 'X_test' is missing"):
        load_voxel_npz(path)
    with pytest.raises(FileNotFoundError):
        load_voxel_npz(tmp_path / "nothing.npz")


def test_sequence_transform_voxelizes_batches(tmp_path, layouts):
    root = layouts.modelnet(str(tmp_path))
    points = PointCloudSequence(root, batch_size=8, num_points=32, seed=3)
    grids = PointCloudSequence(root, batch_size=8, num_points=32, seed=3, transform=Voxelize(12, 8))
    (p, y1), (g, y2) = points[1], grids[1]
    assert g.shape == (8, 12, 12, 12, 1)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(g, voxelize(p, 12, 8))
    with pytest.raises(ValueError, match="transform must be None or a callable"):
        PointCloudSequence(root, transform=3)


def test_class_balanced_sampler(tmp_path, layouts):
    root = layouts.modelnet(str(tmp_path))  # 33 train clouds, label r % 5
    sampler = ClassBalancedSampler(classes_per_batch=3, shapes_per_class=2, seed=4)
    seq = PointCloudSequence(root, batch_size=1, num_points=16, sampler=sampler, augment=False)
    assert seq.batch_size == 6 and len(seq) == 33 // 6
    for index in range(len(seq)):
        _, labels = seq[index]
        classes, counts = np.unique(labels, return_counts=True)
        assert len(classes) == 3 and set(counts) == {2}
    first = [seq[i][1].tolist() for i in range(len(seq))]
    again = PointCloudSequence(root, batch_size=1, num_points=16, sampler=sampler, augment=False)
    assert [again[i][1].tolist() for i in range(len(again))] == first
    seq.on_epoch_end()
    assert [seq[i][1].tolist() for i in range(len(seq))] != first
    with pytest.raises(ValueError, match="needs mode='memory'"):
        PointCloudSequence(root, sampler=sampler, mode="stream")
    with pytest.raises(ValueError, match="classes_per_batch must be a positive integer"):
        ClassBalancedSampler(classes_per_batch=0)
