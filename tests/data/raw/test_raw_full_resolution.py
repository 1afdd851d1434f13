"""The full-resolution part file writer/reader, and 6-channel ShapeNet part shards."""

import os

import numpy as np
import pytest

from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.raw.shapenet_part import read_full_resolution
from pointnet_tf2.data.writers import write_shapenet_part_full_resolution
from pointnet_tf2.data.writers import write_shapenet_part_layout


def _clouds(rng, sizes, channels=3, samples=8):
    out = []
    for i, n in enumerate(sizes):
        points = rng.normal(size=(n, channels))
        out.append((f"0000000{i}/shape{i}", i % 3, points, rng.integers(0, 50, n), rng.integers(0, n, samples)))
    return out


def test_round_trip(tmp_path, rng, monkeypatch):
    from pointnet_tf2.data.datasets import shapenet_part

    monkeypatch.setattr(shapenet_part, "_FULL_RESOLUTION_FLUSH_POINTS", 50)  # several flushes
    clouds = _clouds(rng, [30, 7, 64, 1, 45], channels=6)
    path = write_shapenet_part_full_resolution(str(tmp_path / "test_full_resolution.h5"), iter(clouds))
    full = read_full_resolution(path)
    assert len(full) == 5 and full.points.shape == (147, 6) and full.points.dtype == np.float32
    np.testing.assert_array_equal(full.offsets, [0, 30, 37, 101, 102, 147])
    assert full.shape_id == [c[0] for c in clouds]
    np.testing.assert_array_equal(full.label, [c[1] for c in clouds])
    for i, (_, _, points, pid, index) in enumerate(clouds):
        got_points, got_pid = full.cloud(i)
        np.testing.assert_allclose(got_points, points.astype(np.float32))
        np.testing.assert_array_equal(got_pid, pid)
        np.testing.assert_array_equal(full.sample_index[i], index)
    assert sorted(os.listdir(tmp_path)) == ["test_full_resolution.h5"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c[:4] + (np.array([0, 99]),), r"sample_index values must be in \[0, 30\)"),
        (lambda c: (c[0], c[1], c[2][:, :2], c[3], c[4]), r"points must have shape \(N, 3\) or \(N, 6\)"),
        (lambda c: (c[0], 300, c[2], c[3], c[4]), r"category must be an integer in \[0, 256\)"),
        (lambda c: (c[0], c[1], c[2], c[3][:-1], c[4]), r"pid must be integers of shape \(30,\)"),
        (lambda c: (c[0], c[1], np.where(np.arange(30)[:, None] == 3, np.nan, c[2]), c[3], c[4]), "NaN or inf"),
    ],
)  # fmt: skip
def test_errors_leave_no_file(tmp_path, rng, change, message):
    clouds = _clouds(rng, [20, 30], samples=2)
    clouds[1] = change(clouds[1])
    path = tmp_path / "f.h5"
    with pytest.raises(ValueError, match=message):
        write_shapenet_part_full_resolution(str(path), clouds)
    assert os.listdir(tmp_path) == []


def test_empty_and_inconsistent_channels(tmp_path, rng):
    with pytest.raises(ValueError, match="no clouds to write"):
        write_shapenet_part_full_resolution(str(tmp_path / "f.h5"), [])
    clouds = _clouds(rng, [5], channels=3) + _clouds(rng, [5], channels=6)
    with pytest.raises(ValueError, match="6 channels, earlier clouds have 3"):
        write_shapenet_part_full_resolution(str(tmp_path / "f.h5"), clouds)
    with pytest.raises(ValueError, match="not a full-resolution part file"):
        import h5py

        with h5py.File(tmp_path / "other.h5", "w") as f:
            f["data"] = np.zeros(3)
        read_full_resolution(str(tmp_path / "other.h5"))


def test_shapenet_part_layout_takes_normals(tmp_path, rng):
    splits = {s: (rng.normal(size=(2, 16, 6)).astype(np.float32), np.array([0, 1]),
                  np.array([[0] * 16, [2] * 16])) for s in ("train", "val", "test")}  # fmt: skip
    out = write_shapenet_part_layout(str(tmp_path / "hdf5_data"), splits, ["A", "B"], ["001", "002"], [[0, 1], [2]])
    description = open_dataset(out)
    assert description.input_dims == 6 and description.num_categories == 2
