"""Tests for the built-in procedural datasets (synthetic.py, shapes.py) and `pointnet-tf2 synthetic`."""

import argparse
import json
import math
import os
import re

import h5py
import numpy as np
import pytest

from pointnet_tf2 import cli
from pointnet_tf2.commands import synthetic as synthetic_command
from pointnet_tf2.data import shapes
from pointnet_tf2.data import synthetic
from pointnet_tf2.data.synthetic import objects
from pointnet_tf2.data.synthetic import parts


def _read(folder, name, key):
    with h5py.File(os.path.join(folder, name), "r") as f:
        return f[key][...]


def _lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


# --- shapes: uniform by area ---------------------------------------------------------------


def test_closed_cylinder_points_split_by_area(rng):
    r, h = 0.5, 2.0
    patches = [shapes.frustum_side(r, r, h), shapes.disk(r), shapes.disk(r, y=h)]
    points, index = shapes.sample_patches(rng, patches, 20000)
    side = 2 * math.pi * r * h
    caps = 2 * math.pi * r * r
    assert abs((index == 0).mean() - side / (side + caps)) < 0.01
    np.testing.assert_allclose(np.hypot(points[index == 0, 0], points[index == 0, 2]), r)
    assert abs(np.mean(points[index == 0, 1]) - h / 2) < 0.03  # uniform along the height
    assert index[:50].tolist() != sorted(index[:50].tolist())  # shuffled, not grouped by patch


def test_cone_side_is_uniform_by_area(rng):
    points = shapes.frustum_side(1.0, 0.0, 1.0).sample(rng, 40000)
    # Area below height y is proportional to 1 - (1 - y)^2: half the area lies below 1 - sqrt(1/2).
    assert abs(np.mean(points[:, 1] < 1 - math.sqrt(0.5)) - 0.5) < 0.01
    np.testing.assert_allclose(np.hypot(points[:, 0], points[:, 2]), 1.0 - points[:, 1], atol=1e-9)


def _ellipsoid_reference(radii, region, n=400):
    """Area of an ellipsoid and the fraction of it inside `region`, by midpoint quadrature."""
    theta = (np.arange(n) + 0.5) * np.pi / n
    phi = (np.arange(2 * n) + 0.5) * np.pi / n
    t, p = np.meshgrid(theta, phi, indexing="ij")
    a, b, c = radii
    d_theta = np.stack([a * np.cos(t) * np.cos(p), -b * np.sin(t), c * np.cos(t) * np.sin(p)], axis=-1)
    d_phi = np.stack([-a * np.sin(t) * np.sin(p), np.zeros_like(t), c * np.sin(t) * np.cos(p)], axis=-1)
    element = np.linalg.norm(np.cross(d_theta, d_phi), axis=-1)
    x = np.stack([a * np.sin(t) * np.cos(p), b * np.cos(t), c * np.sin(t) * np.sin(p)], axis=-1)
    return element.sum() * (np.pi / n) ** 2, element[region(x)].sum() / element.sum()


def test_sphere_ellipsoid_and_torus_surfaces(rng):
    sphere = shapes.ellipsoid((1, 1, 1))
    assert sphere.area == pytest.approx(4 * math.pi, rel=1e-3)
    np.testing.assert_allclose(np.linalg.norm(sphere.sample(rng, 1000), axis=1), 1.0)
    radii = np.array([2.0, 1.0, 0.5])
    pts = shapes.ellipsoid(radii).sample(rng, 1000)
    np.testing.assert_allclose(((pts / radii) ** 2).sum(axis=1), 1.0)
    # Uniform by area: compare with an independent parametric integration of the surface.
    area, cap_fraction = _ellipsoid_reference(radii, lambda x: np.abs(x[..., 0]) > 1.6)
    assert shapes.ellipsoid(radii).area == pytest.approx(area, rel=1e-4)
    pts = shapes.ellipsoid(radii).sample(rng, 40000)
    assert abs((np.abs(pts[:, 0]) > 1.6).mean() - cap_fraction) < 0.01
    torus = shapes.torus(1.0, 0.25)
    assert torus.area == pytest.approx(4 * math.pi**2 * 0.25)
    pts = torus.sample(rng, 1000)
    np.testing.assert_allclose((np.hypot(pts[:, 0], pts[:, 2]) - 1.0) ** 2 + pts[:, 1] ** 2, 0.0625)
    half = shapes.ellipsoid((1, 1, 1), half="lower")
    assert half.area == pytest.approx(2 * math.pi, rel=1e-3) and (half.sample(rng, 100)[:, 1] <= 0).all()


def test_triangle_and_moved_patch(rng):
    tri = shapes.triangle((0, 0, 0), (2, 0, 0), (0, 2, 0))
    assert tri.area == pytest.approx(2.0)
    pts = tri.sample(rng, 2000)
    assert (pts[:, 0] >= 0).all() and (pts[:, 1] >= 0).all() and (pts[:, 0] + pts[:, 1] <= 2 + 1e-12).all()
    moved = tri.moved(shapes.rotation_y(math.pi / 2), (0, 5, 0))
    assert moved.area == tri.area
    np.testing.assert_allclose(moved.sample(np.random.default_rng(3), 5), tri.sample(np.random.default_rng(3), 5) @ shapes.rotation_y(math.pi / 2).T + [0, 5, 0])


def test_sampling_patches_without_area_is_an_error(rng):
    with pytest.raises(ValueError, match="no area"):
        shapes.sample_patches(rng, [shapes.disk(0.0)], 10)


# --- cls -------------------------------------------------------------------------------------


def _make(tmp_path, task, name=None, **sizes):
    return synthetic.generate_synthetic(task, tmp_path / (name or task), **sizes)


def test_cls_layout_classes_and_unit_sphere(tmp_path):
    out = _make(tmp_path, "cls", num_train=24, num_test=12, num_points=128)
    assert _lines(os.path.join(out, "shape_names.txt")) == list(synthetic.CLS_CLASS_NAMES)
    assert len(synthetic.CLS_CLASS_NAMES) >= 10
    assert _lines(os.path.join(out, "train_files.txt")) == ["data/cls/ply_data_train0.h5"]
    data, label = _read(out, "ply_data_train0.h5", "data"), _read(out, "ply_data_train0.h5", "label")
    assert data.shape == (24, 128, 3) and data.dtype == np.float32 and label.shape == (24, 1)
    np.testing.assert_array_equal(np.bincount(label[:, 0], minlength=12), [2] * 12)
    np.testing.assert_array_equal(np.bincount(_read(out, "ply_data_test0.h5", "label")[:, 0], minlength=12), [1] * 12)
    norms = np.linalg.norm(data, axis=2)
    assert norms.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(norms.max(axis=1), 1.0, atol=1e-5)  # scaled to the unit sphere
    np.testing.assert_allclose(data.mean(axis=1), 0.0, atol=1e-5)  # centred
    with open(os.path.join(out, synthetic.INFO_FILE)) as f:
        info = json.load(f)
    assert info["splits"] == {"train": 24, "test": 12} and info["seed"] == 0


def test_cls_is_deterministic_for_a_seed(tmp_path):
    a = _make(tmp_path, "cls", "a", num_train=12, num_test=12, num_points=64, seed=5)
    b = _make(tmp_path, "cls", "b", num_train=12, num_test=12, num_points=64, seed=5)
    c = _make(tmp_path, "cls", "c", num_train=12, num_test=12, num_points=64, seed=6)
    for key in ("data", "label"):
        np.testing.assert_array_equal(_read(a, "ply_data_train0.h5", key), _read(b, "ply_data_train0.h5", key))
    assert not np.array_equal(_read(a, "ply_data_train0.h5", "data"), _read(c, "ply_data_train0.h5", "data"))


def test_cls_shapes_differ_in_a_simple_statistic():
    # Sphere points lie at (almost) one distance from the centre; a torus has a hole.
    rng = np.random.default_rng(0)
    points, labels = objects._cls_split(rng, 24, 512)
    norms = np.linalg.norm(points, axis=2)
    sphere = labels == synthetic.CLS_CLASS_NAMES.index("sphere")
    assert norms[sphere].std(axis=1).max() < 0.06  # centring on a sample centroid adds a little spread
    torus = labels == synthetic.CLS_CLASS_NAMES.index("torus")
    assert norms[torus].min() > 0.2  # a hole in the middle


# --- part_seg --------------------------------------------------------------------------------


def test_part_seg_layout_metadata_and_balance(tmp_path):
    out = _make(tmp_path, "part_seg", num_train=36, num_val=6, num_test=6, num_points=256)
    names = [c[0] for c in synthetic.PART_CATEGORIES]
    assert [line.split("\t") for line in _lines(os.path.join(out, "all_object_categories.txt"))] == [
        [c[0], c[1]] for c in synthetic.PART_CATEGORIES
    ]
    with open(os.path.join(out, "overallid_to_catid_partid.json")) as f:
        overall = json.load(f)
    with open(os.path.join(out, "catid_partid_to_overallid.json")) as f:
        inverse = json.load(f)
    offsets = synthetic.part_category_offsets()
    assert len(overall) == offsets[-1] == sum(len(c[2]) for c in synthetic.PART_CATEGORIES)
    assert overall[offsets[2]] == [synthetic.PART_CATEGORIES[2][1], 1]  # parts numbered in order per category
    assert inverse == {f"{s}_{p}": oid for oid, (s, p) in enumerate(overall)}
    for split, n in (("train", 36), ("val", 6), ("test", 6)):
        assert _lines(os.path.join(out, f"{split}_hdf5_file_list.txt")) == [f"ply_data_{split}0.h5"]
        assert _read(out, f"ply_data_{split}0.h5", "pid").shape == (n, 256)
    label = _read(out, "ply_data_train0.h5", "label")[:, 0]
    pid = _read(out, "ply_data_train0.h5", "pid")
    np.testing.assert_array_equal(np.bincount(label, minlength=len(names)), [6] * len(names))
    for cloud_pid, cat in zip(pid, label):  # every point's part belongs to the cloud's category
        assert offsets[cat] <= cloud_pid.min() and cloud_pid.max() < offsets[cat + 1]
    # Mandatory parts are always present, so every part id shows up across the training set.
    assert set(np.unique(pid)) == set(range(offsets[-1]))
    data = _read(out, "ply_data_train0.h5", "data")
    assert np.linalg.norm(data, axis=2).max() <= 1.0 + 1e-6


def _category_parts(points, pids, labels, name):
    cat = [c[0] for c in synthetic.PART_CATEGORIES].index(name)
    offset = synthetic.part_category_offsets()[cat]
    return [(points[i], pids[i] - offset) for i in np.flatnonzero(labels == cat)]


def test_part_labels_are_geometrically_plausible():
    points, labels, pids = parts._part_split(np.random.default_rng(1), 48, 1024)
    for cloud, part in _category_parts(points, pids, labels, "Table"):  # top 0, leg 1
        top, legs = cloud[part == 0, 1], cloud[part == 1, 1]
        assert top.mean() > np.percentile(legs, 90) and np.percentile(top, 1) > legs.mean()
    for cloud, part in _category_parts(points, pids, labels, "Lamp"):  # base 0, shade 1, pole 2
        assert cloud[part == 1, 1].mean() > cloud[part == 2, 1].mean() > cloud[part == 0, 1].mean()
    for cloud, part in _category_parts(points, pids, labels, "Airplane"):  # body 0, wing 1
        assert np.ptp(cloud[part == 1, 0]) > 2 * np.ptp(cloud[part == 0, 0])  # wings span across x
    for cloud, part in _category_parts(points, pids, labels, "Chair"):  # back 0, seat 1, leg 2
        assert cloud[part == 0, 1].mean() > cloud[part == 1, 1].mean() > cloud[part == 2, 1].mean()
    for cloud, part in _category_parts(points, pids, labels, "Rocket"):  # body 0, fin 1, nose 2
        assert cloud[part == 2, 1].min() > cloud[part == 1, 1].max()


# --- sem_seg ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sem_seg_dir(tmp_path_factory):
    return synthetic.generate_synthetic(
        "sem_seg", tmp_path_factory.mktemp("sem") / "sem_seg", num_train=5, num_test=1, num_points=256
    )


def test_sem_seg_layout_and_rooms(sem_seg_dir):
    assert _lines(os.path.join(sem_seg_dir, "all_files.txt")) == ["sem_seg/ply_data_all_0.h5"]
    rooms = _lines(os.path.join(sem_seg_dir, "room_filelist.txt"))
    data, label = _read(sem_seg_dir, "ply_data_all_0.h5", "data"), _read(sem_seg_dir, "ply_data_all_0.h5", "label")
    assert data.shape == (len(rooms), 256, 9) and data.dtype == np.float32
    assert label.shape == (len(rooms), 256) and label.dtype == np.uint8
    assert all(re.fullmatch(r"Area_[1-6]_[A-Za-z]+_\d+", r) for r in rooms)
    assert {int(r.split("_")[1]) for r in rooms} == {1, 2, 3, 4, 5, 6}
    assert rooms == sorted(rooms, key=lambda r: int(r.split("_")[1]))  # file order follows the areas
    counts = np.bincount(label.ravel(), minlength=13)
    assert len(counts) == 13
    for name in ("ceiling", "floor", "wall"):
        assert counts[synthetic.S3DIS_CLASS_NAMES.index(name)] > 0.05 * label.size
    assert (counts > 0).sum() >= 6


def test_sem_seg_features(sem_seg_dir):
    data = _read(sem_seg_dir, "ply_data_all_0.h5", "data")
    rooms = np.array(_lines(os.path.join(sem_seg_dir, "room_filelist.txt")))
    assert (np.abs(data[..., :2]) <= 0.5 + 1e-6).all()  # block-centred x, y in a 1 m column
    assert (data[..., 2] >= 0).all()
    assert (data[..., 3:6] >= 0).all() and (data[..., 3:6] <= 1).all()  # RGB / 255
    assert (data[..., 6:9] >= 0).all() and (data[..., 6:9] <= 1 + 1e-6).all()
    for room in np.unique(rooms):
        blocks = data[rooms == room]
        # z and normalised z agree up to the room height; normalised coords reach 1 in the room.
        height = blocks[..., 2] / np.maximum(blocks[..., 8], 1e-6)
        keep = blocks[..., 8] > 0.1
        np.testing.assert_allclose(height[keep], np.median(height[keep]), rtol=1e-4)
        assert blocks[..., 6:9].reshape(-1, 3).max(axis=0).min() > 0.95
        # Room coordinate (normalised * room size) minus block-centred coordinate is, in every
        # block, one constant: the smallest coordinate of the block's sampled points + 0.5, as the
        # original (and the S3DIS converter) centre blocks; so the block's lowest point is at -0.5.
        for local, normalised in ((0, 6), (1, 7)):
            first = blocks[0]
            i, j = np.argmin(first[:, local]), np.argmax(first[:, local])
            size = (first[j, local] - first[i, local]) / (first[j, normalised] - first[i, normalised])
            coords = blocks[..., normalised] * size
            centres = coords - blocks[..., local]
            np.testing.assert_allclose(centres, centres[:, :1] + np.zeros_like(centres), atol=2e-3)
            np.testing.assert_allclose(centres[:, 0], coords.min(axis=1) + 0.5, atol=2e-3)
            np.testing.assert_allclose(blocks[..., local].min(axis=1), -0.5, atol=1e-6)


def test_sem_seg_default_test_area_holds_the_test_rooms(sem_seg_dir):
    rooms = _lines(os.path.join(sem_seg_dir, "room_filelist.txt"))
    with open(os.path.join(sem_seg_dir, synthetic.INFO_FILE)) as f:
        info = json.load(f)
    assert info["splits"]["test"] == sum(r.startswith("Area_6_") for r in rooms) > 0
    assert info["splits"]["train"] + info["splits"]["test"] == len(rooms)


# --- arguments, caching, CLI -----------------------------------------------------------------


@pytest.mark.parametrize(
    "task, sizes, match",
    [
        ("shapes", {}, "unknown synthetic task 'shapes'; choose one of cls, part_seg, sem_seg"),
        ("cls", {"num_val": 5}, "num_val applies to part_seg only"),
        ("cls", {"num_train": 0}, "num_train must be an integer >= 1, got 0"),
        ("part_seg", {"num_points": 2.5}, "num_points must be an integer >= 1, got 2.5"),
        ("sem_seg", {"seed": -1}, "seed must be an integer >= 0, got -1"),
        ("cls", {"num_rooms": 3}, r"unknown synthetic dataset arguments \['num_rooms'\]"),
    ],
)
def test_bad_arguments(tmp_path, task, sizes, match):
    with pytest.raises(ValueError, match=match):
        synthetic.builtin_dataset(task, root=tmp_path, **sizes)


def test_builtin_dataset_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTNET_TF2_CACHE", str(tmp_path / "cache"))
    calls = []
    real = synthetic.generate_synthetic
    monkeypatch.setattr(synthetic, "generate_synthetic", lambda *a, **k: calls.append(a) or real(*a, **k))
    sizes = {"num_train": 12, "num_test": 12, "num_points": 32}
    path = synthetic.builtin_dataset("cls", **sizes)
    assert os.path.dirname(path) == str(tmp_path / "cache" / "synthetic")
    assert re.fullmatch(r"cls-[0-9a-f]{12}", os.path.basename(path))
    assert synthetic.is_complete("cls", path) and len(calls) == 1
    stamp = os.path.getmtime(os.path.join(path, "ply_data_train0.h5"))
    assert synthetic.builtin_dataset("cls", **sizes) == path and len(calls) == 1  # reused
    assert os.path.getmtime(os.path.join(path, "ply_data_train0.h5")) == stamp
    # Explicit defaults hash like omitted ones; other arguments get another folder.
    assert synthetic.builtin_dataset("cls", seed=0, num_val=None, **sizes) == path and len(calls) == 1
    other = synthetic.builtin_dataset("cls", seed=1, **sizes)
    assert other != path and len(calls) == 2
    # An incomplete folder (a shard deleted) is regenerated.
    os.remove(os.path.join(path, "ply_data_test0.h5"))
    assert not synthetic.is_complete("cls", path)
    assert synthetic.builtin_dataset("cls", **sizes) == path and len(calls) == 3
    assert synthetic.is_complete("cls", path)
    assert [n for n in os.listdir(tmp_path / "cache" / "synthetic") if n.startswith(".")] == []


def test_builtin_dataset_root(tmp_path):
    path = synthetic.builtin_dataset("part_seg", root=tmp_path, num_train=6, num_val=6, num_test=6, num_points=32)
    assert os.path.dirname(path) == str(tmp_path) and synthetic.is_complete("part_seg", path)
    assert not synthetic.is_complete("cls", path)


def _run_cli(argv):
    parser = argparse.ArgumentParser()
    synthetic_command.add_arguments(parser)
    return synthetic_command.run(parser.parse_args(argv))


def test_cli_command(tmp_path, capsys, monkeypatch):
    assert cli.COMMANDS["synthetic"] == "synthetic"
    out = tmp_path / "my_cls"
    assert _run_cli(["--task", "cls", "--output", str(out), "--num_train", "12", "--num_test", "12",
                     "--num_points", "32", "--seed", "3"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert f"wrote the synthetic cls dataset (modelnet40 layout, seed 3) to {out}" in printed
    assert "12 train, 12 test clouds of 32 points" in printed and "sphere, ellipsoid" in printed
    assert "ply_data_train0.h5" in printed and "shape_names.txt" in printed
    with pytest.raises(ValueError, match="exists and is not empty"):
        _run_cli(["--task", "cls", "--output", str(out)])
    assert _run_cli(["--task", "part_seg", "--output", str(out), "--overwrite", "--num_train", "6",
                     "--num_val", "6", "--num_test", "6", "--num_points", "32"]) == 0  # fmt: skip
    assert "Airplane (body, wing, tail, engine)" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert _run_cli(["--task", "sem_seg", "--num_train", "1", "--num_test", "1", "--num_points", "64"]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "synthetic_sem_seg") in printed and "test area 6" in printed
