"""Tests for pointnet_tf2.data.voxels, stored grids in the Sequence, and the class-balanced sampler."""

import os

import h5py
import numpy as np
import pytest

from pointnet_tf2.data import PointCloudSequence
from pointnet_tf2.data import build_vds
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.samplers import ClassBalancedSampler
from pointnet_tf2.data.voxels import GridRotate90
from pointnet_tf2.data.voxels import GridShift
from pointnet_tf2.data.voxels import Voxelize
from pointnet_tf2.data.voxels import grid_cloud
from pointnet_tf2.data.voxels import grid_surface_points
from pointnet_tf2.data.voxels import load_voxel_npz
from pointnet_tf2.data.voxels import read_binvox
from pointnet_tf2.data.voxels import voxelize
from pointnet_tf2.data.voxels import read_binvox_dims
from pointnet_tf2.data.voxels import write_binvox
from pointnet_tf2.data.writers import write_modelnet_layout


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
    np.savez(path, X_train=np.eye(6)[None, None].repeat(4, 0).repeat(6, 1) * 3, y_train=np.array([0, 4, 1, 1]))
    train_only = load_voxel_npz(path, dtype=np.uint8)
    assert train_only["splits"] == ("train",) and "X_test" not in train_only and train_only["num_classes"] == 5
    assert train_only["X_train"].dtype == np.uint8 and set(np.unique(train_only["X_train"])) == {0, 1}
    np.savez(path, X_train=np.zeros((4, 6, 6, 6)), y_train=np.zeros(4, int), X_test=np.zeros((1, 6, 6, 6)))
    with pytest.raises(ValueError, match="has X_test but not y_test"):
        load_voxel_npz(path)
    np.savez(path, X_test=np.zeros((4, 6, 6, 6)), y_test=np.zeros(4, int))
    with pytest.raises(ValueError, match="key 'X_train' is missing"):
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


# -- points on a grid's surface ------------------------------------------------------


def test_grid_surface_points_lie_on_exposed_faces_only():
    grid = np.zeros((6, 6, 6), bool)
    grid[2, 3, 4] = grid[3, 3, 4] = True  # two cells sharing the face x = 3
    points = grid_surface_points(grid, 5000, rng=np.random.default_rng(0))
    assert points.shape == (5000, 3) and points.dtype == np.float32
    assert points.min(axis=0).tolist() == pytest.approx([2, 3, 4], abs=1e-6)
    assert points.max(axis=0).tolist() == pytest.approx([4, 4, 5], abs=1e-6)
    on_face = np.isclose(points, np.round(points), atol=1e-6)
    assert on_face.any(axis=1).all()  # every point has a coordinate on a cell boundary
    # nothing inside the solid: the shared face x = 3 is not exposed
    inside = (np.abs(points[:, 0] - 3) < 1e-6) & (points[:, 1] > 3 + 1e-6) & (points[:, 1] < 4 - 1e-6)
    assert not inside.any()
    # 10 exposed faces of equal area: the two end faces get about 1/10 of the points each
    assert np.mean(np.isclose(points[:, 0], 2)) == pytest.approx(0.1, abs=0.02)
    np.testing.assert_array_equal(points, grid_surface_points(grid, 5000, rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match="the grid is empty"):
        grid_surface_points(np.zeros((4, 4, 4)), 10)


def test_grid_cloud_turns_a_z_up_grid_y_up():
    size = 12
    slab = np.zeros((size, size, size), np.uint8)
    slab[:, :, 9:] = 1  # only a top slab, z = 9..11
    points = grid_cloud(slab, 400, rng=np.random.default_rng(1), normalize="none")
    assert points[:, 1].min() >= 9 - 1e-5 and points[:, 1].max() <= 12 + 1e-5  # y is the old z
    assert points[:, 0].min() >= 0 and points[:, 2].max() <= 0  # z is the old -y
    unchanged = grid_cloud(slab, 400, rng=np.random.default_rng(1), up_axis="y", normalize="none")
    assert unchanged[:, 2].min() >= 9 - 1e-5
    # a table: a top, one leg in the middle; y-up and in the unit sphere
    table = np.zeros((size, size, size), np.uint8)
    table[1:11, 1:11, 10] = 1
    table[5:7, 5:7, 0:10] = 1
    cloud = grid_cloud(table, 2000, rng=np.random.default_rng(2))
    radii = np.linalg.norm(cloud, axis=1)
    assert radii.max() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(cloud.mean(axis=0), 0.0, atol=1e-5)
    low = cloud[cloud[:, 1] <= cloud[:, 1].min() + 1e-5]
    high = cloud[cloud[:, 1] >= cloud[:, 1].max() - 1e-5]
    assert len(low) > 0 and np.abs(low[:, [0, 2]]).max() < 0.2  # the foot of the leg, in the middle
    assert len(high) > 100 and np.abs(high[:, [0, 2]]).max() > 0.5  # the table top spreads out
    with pytest.raises(ValueError, match="up axis must be"):
        grid_cloud(table, 10, up_axis="w")


def test_binvox_dims_from_the_header_only(tmp_path):
    path = write_binvox(tmp_path / "a.binvox", np.ones((4, 5, 6)))
    assert read_binvox_dims(path) == (4, 5, 6)
    (tmp_path / "b.binvox").write_bytes(b"#binvox 1\ndim 4 4\n")
    with pytest.raises(ValueError, match="b.binvox: .*translate"):
        read_binvox_dims(tmp_path / "b.binvox")


# -- grid augmentation -------------------------------------------------------------------


def test_grid_shift_moves_whole_shapes_inside_the_grid():
    grids = np.zeros((3, 10, 10, 10), np.uint8)
    grids[0, 0:3, 4:6, 4:6] = 1  # touches the x = 0 face
    grids[1, 3:7, 3:7, 3:7] = 1  # 3 empty cells on every side
    shift = GridShift(2)
    seen = {0: set(), 1: set()}
    for seed in range(40):
        out = shift(grids, np.random.default_rng(seed))
        assert out.shape == grids.shape and out.dtype == np.uint8
        np.testing.assert_array_equal(out[2], 0)  # an empty grid stays empty
        for b in (0, 1):
            assert out[b].sum() == grids[b].sum()  # nothing cut off or wrapped
            moved = np.argwhere(out[b]).min(axis=0) - np.argwhere(grids[b]).min(axis=0)
            assert np.abs(moved).max() <= 2
            seen[b].add(tuple(moved.tolist()))
    assert min(m[0] for m in seen[0]) == 0  # never pushed through the face it touches
    assert {m[0] for m in seen[1]} == {-2, -1, 0, 1, 2}
    np.testing.assert_array_equal(shift(grids, np.random.default_rng(3)), shift(grids, np.random.default_rng(3)))
    with pytest.raises(ValueError, match="max_shift"):
        GridShift(-1)


def test_grid_rotate90_turns_about_the_up_axis():
    grid = np.zeros((1, 8, 8, 8, 1), np.float32)
    grid[0, 5:7, 1, 2:4, 0] = 1  # a bar along x at y = 1, z = 2..3
    turns = [GridRotate90(up_axis="z")(grid, np.random.default_rng(seed)) for seed in range(20)]
    for out in turns:
        assert out.shape == grid.shape
        # the up axis (z) levels keep their occupancy
        np.testing.assert_array_equal(out[0, ..., 0].sum(axis=(0, 1)), grid[0, ..., 0].sum(axis=(0, 1)))
    footprints = {tuple(map(tuple, np.argwhere(out[0, :, :, 2, 0]))) for out in turns}
    assert len(footprints) == 4  # four distinct quarter turns
    with pytest.raises(ValueError, match="up_axis"):
        GridRotate90(up_axis=3)


# -- a dataset that stores grids ------------------------------------------------------------


@pytest.fixture
def grid_dataset(tmp_path):
    """A ModelNet40-layout dataset with `voxels`: 14 train and 5 test clouds, 10^3 grids; grid i has i + 1 cells."""
    rng = np.random.default_rng(5)
    splits, voxels = {}, {}
    for split, count, offset in (("train", 14, 0), ("test", 5, 14)):
        grids = np.zeros((count, 10, 10, 10), np.uint8)
        for i in range(count):
            grids[i].reshape(-1)[300:300 + offset + i + 1] = 1
        splits[split] = (rng.normal(size=(count, 32, 3)).astype(np.float32), np.arange(count) % 3)
        voxels[split] = grids
    root = write_modelnet_layout(tmp_path / "grids", splits, ["a", "b", "c"], voxels=voxels, voxel_up_axis=2,
                                 shard_size=8)
    return root, voxels


def test_dataset_with_grids_is_described_and_read_back(grid_dataset, tmp_path):
    root, voxels = grid_dataset
    with h5py.File(os.path.join(root, "ply_data_train0.h5"), "r") as f:
        assert f["voxels"].dtype == np.uint8 and f["voxels"].chunks == (1, 10, 10, 10)
        assert f["voxels"].compression == "gzip" and f["voxels"].attrs["up_axis"] == 2
    description = open_dataset(root)
    assert description.voxel_resolution == 10 and description.voxel_up_axis == 2
    assert "10^3 voxel grids" in description.summary()
    again = type(description).from_dict(description.to_dict())
    assert again.voxel_resolution == 10 and again.voxel_up_axis == 2
    test = PointCloudSequence(root, split="test", batch_size=4, inputs="voxels")
    grids, labels = test[0]
    assert grids.shape == (4, 10, 10, 10, 1) and grids.dtype == np.float32
    np.testing.assert_array_equal(grids[..., 0], voxels["test"][:4])
    np.testing.assert_array_equal(labels, [0, 1, 2, 0])
    np.testing.assert_array_equal(test.read_all()["voxels"], voxels["test"])
    # a virtual dataset maps the grids too
    vds = build_vds(root, tmp_path / "grids.vds.h5")
    through_vds = PointCloudSequence(vds, split="test", batch_size=5, inputs="voxels")
    np.testing.assert_array_equal(through_vds[0][0][..., 0], voxels["test"])
    # points are still read as points
    points, _ = PointCloudSequence(root, split="test", batch_size=4)[0]
    assert points.shape == (4, 32, 3)


def test_training_grids_are_shifted_by_default_and_validation_grids_are_not(grid_dataset):
    root, voxels = grid_dataset
    train = PointCloudSequence(root, batch_size=14, inputs="voxels", seed=1)
    assert [type(step).__name__ for step in train.grid_augment] == ["GridShift"]
    grids, labels = train[0]
    order = np.argsort([int(g.sum()) for g in grids])  # grid i has i + 1 cells
    np.testing.assert_array_equal(labels[order], np.arange(14) % 3)
    assert not np.array_equal(grids[order][..., 0], voxels["train"])
    np.testing.assert_array_equal(grids.sum(axis=(1, 2, 3, 4))[order], np.arange(14) + 1)
    held_out = PointCloudSequence(root, batch_size=14, inputs="voxels", augment=False, shuffle=False)
    assert held_out.grid_augment is None
    np.testing.assert_array_equal(held_out[0][0][..., 0], voxels["train"])
    turned = PointCloudSequence(root, batch_size=14, inputs="voxels", shuffle=False, grid_augment=[GridRotate90(2)])
    np.testing.assert_array_equal(turned[0][0].sum(axis=(1, 2, 3, 4)), np.arange(14) + 1)
    np.testing.assert_array_equal(turned[0][0], turned[0][0])  # a pure function of (seed, epoch, index)


def test_stored_grid_errors(grid_dataset, tmp_path, layouts):
    root, _ = grid_dataset
    with pytest.raises(ValueError, match=r"stores 10\^3 voxel grids, but 30\^3 grids are wanted"):
        PointCloudSequence(root, inputs="voxels", voxelize=Voxelize(30, 24))
    with pytest.raises(ValueError, match="augment= turns points"):
        PointCloudSequence(root, inputs="voxels", augment=lambda p, l: (p, l))
    with pytest.raises(ValueError, match="inputs must be one of"):
        PointCloudSequence(root, inputs="grids")
    with pytest.raises(ValueError, match="need inputs='voxels'"):
        PointCloudSequence(root, grid_augment=GridShift())
    # without stored grids, inputs="voxels" voxelises the sampled points
    plain = layouts.modelnet(str(tmp_path))
    points = PointCloudSequence(plain, batch_size=8, num_points=32, seed=3)
    grids = PointCloudSequence(plain, batch_size=8, num_points=32, seed=3, inputs="voxels", voxelize=Voxelize(12, 8))
    assert not grids.stored_grids
    np.testing.assert_array_equal(grids[1][0], voxelize(points[1][0], 12, 8))
    # every shard must agree on the grids
    with h5py.File(os.path.join(root, "ply_data_train1.h5"), "a") as f:
        del f["voxels"]
    with pytest.raises(ValueError, match="ply_data_train1.h5: has no 'voxels' grids, but .*ply_data_train0.h5 has 10"):
        open_dataset(root)
