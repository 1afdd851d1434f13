"""`prepare_dataset` / `pointnet-tf2 prepare` on generated trees of meshes, point files and broken files."""

import json
import os

import h5py
import numpy as np
import pytest
import trimesh

from pointnet_tf2 import cli
from pointnet_tf2.data import load_split
from pointnet_tf2.data import meshes
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.prepare import prepare_dataset
from pointnet_tf2.data.prepare import scan_tree
from pointnet_tf2.data.prepare import work_dir_for

NUM_POINTS = 96

# Shapes with z up in the files: a flat disk, a tall rod, a sphere (labels 0, 1, 2).
SHAPES = {
    "disk": lambda: trimesh.creation.cylinder(radius=1.0, height=0.05, sections=24),
    "rod": lambda: trimesh.creation.cylinder(radius=0.1, height=4.0, sections=12),
    "sphere": lambda: trimesh.creation.icosphere(subdivisions=2),
}
BROKEN = {
    "empty.off": ("", "empty"),
    "malformed.obj": ("v 0 0 0\nv 1 0\nf 1 2 3\nthis is not obj\n", "malformed"),
    "nan.off": ("OFF\n3 1 0\nnan 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "nonfinite"),
    "zero_area.off": ("OFF\n3 1 0\n0 0 0\n1 1 1\n2 2 2\n3 0 1 2\n", "zero_area"),
    "point_only.off": ("OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", "point_only"),
    "billions.ply": ("ply\nformat binary_little_endian 1.0\nelement vertex 3000000000\nproperty float x\n"
                     "property float y\nproperty float z\nend_header\n" + "\0" * 24, "too_large"),
}


def fused_off(mesh):
    lines = [f"OFF{len(mesh.vertices)} {len(mesh.faces)} 0"]
    lines += [" ".join(f"{c:.6f}" for c in v) for v in mesh.vertices]
    lines += ["3 " + " ".join(str(i) for i in f) for f in mesh.faces]
    return "\n".join(lines) + "\n"


def surface_points(mesh, count=600, seed=0):
    points, normals, _ = meshes.sample_surface(mesh.vertices, mesh.faces, count,
                                               rng=np.random.default_rng(seed), normals=True)  # fmt: skip
    return points, normals


def write_tree(root, *, layout="modelnet", broken=True):
    """Writes every format per class; returns {relative path: class} of the good files."""
    good = {}
    for name, make in SHAPES.items():
        mesh = make()
        points, normals = surface_points(mesh)
        files = {
            "train": {
                f"{name}_fused.off": fused_off(mesh),
                f"{name}.obj": mesh.export(file_type="obj"),
                f"{name}.ply": mesh.export(file_type="ply"),
                f"{name}.stl": mesh.export(file_type="stl"),
                f"{name}_scan.txt": "\n".join(",".join(f"{v:.5f}" for v in row)
                                               for row in np.hstack([points, normals])),
                f"{name}_scan.npy": np.hstack([points, normals]).astype(np.float32),
            },
            "test": {
                f"{name}_test.off": fused_off(mesh),
                f"{name}_cloud.ply": trimesh.PointCloud(points).export(file_type="ply"),
                f"{name}_scan.xyz": "\n".join(" ".join(f"{v:.5f}" for v in row) for row in points),
            },
        }
        for split, entries in files.items():
            folder = os.path.join(root, name, split) if layout == "modelnet" else os.path.join(root, name)
            os.makedirs(folder, exist_ok=True)
            for file_name, content in entries.items():
                path = os.path.join(folder, file_name)
                if isinstance(content, np.ndarray):
                    np.save(path, content)
                else:
                    with open(path, "wb") as f:
                        f.write(content if isinstance(content, bytes) else content.encode())
                good[os.path.relpath(path, root)] = name
    if broken:
        folder = os.path.join(root, "sphere", "train") if layout == "modelnet" else os.path.join(root, "sphere")
        for file_name, (content, _) in BROKEN.items():
            with open(os.path.join(folder, file_name), "w") as f:
                f.write(content)
        # Non-manifold but sampleable: a fan of three triangles on one edge.
        fan = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]],
                              [[0, 1, 2], [0, 1, 3], [0, 1, 4]], process=False)  # fmt: skip
        fan_dir = os.path.join(root, "disk", "train") if layout == "modelnet" else os.path.join(root, "disk")
        fan.export(os.path.join(fan_dir, "fan.off"))
        good[os.path.relpath(os.path.join(fan_dir, "fan.off"), root)] = "disk"
        with open(os.path.join(folder, "notes.md"), "w") as f:
            f.write("not data\n")
    return good


@pytest.fixture
def tree(tmp_path):
    root = str(tmp_path / "ModelNetToy")
    good = write_tree(root)
    return root, good


def read_h5_folder(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".h5"):
            with h5py.File(os.path.join(folder, name), "r") as f:
                out[name] = (f["data"][:], f["label"][:])
    return out


def test_modelnet_tree_to_layout_read_back_with_labels_and_unit_sphere(tree, tmp_path, capsys):
    root, good = tree
    output = str(tmp_path / "toy_hdf5")
    result = prepare_dataset(root, output, num_points=NUM_POINTS, shard_size=4, workers=2, progress=False)
    out = capsys.readouterr().out
    assert "converted 28 of 34 files" in out and "skipped 6" in out and "non_manifold 1" in out

    description = open_dataset(output)
    assert description.layout == "modelnet40" and description.class_names == ["disk", "rod", "sphere"]
    assert description.splits == {"train": 19, "test": 9} and description.num_points == NUM_POINTS
    assert not os.path.exists(work_dir_for(output))
    for data, label in read_h5_folder(output).values():
        assert len(data) <= 4 and data.dtype == np.float32 and label.dtype == np.uint8

    expected = {"train": sorted(k for k in good if "/train/" in k), "test": sorted(k for k in good if "/test/" in k)}
    for split in ("train", "test"):
        arrays = load_split(description, split)
        points, labels = arrays["points"], arrays["labels"].reshape(-1)
        assert points.shape == (len(expected[split]), NUM_POINTS, 3)
        want = [description.class_names.index(good[k]) for k in expected[split]]
        np.testing.assert_array_equal(labels, want)
        np.testing.assert_allclose(np.linalg.norm(points, axis=2).max(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(points.mean(axis=1), 0.0, atol=1e-5)
        for cloud, label, key in zip(points, labels, expected[split]):
            extent = np.ptp(cloud, axis=0)
            if key.endswith("fan.off"):
                continue
            if label == 0:  # disk: flat in z on file, so flat in y (up) after the turn
                assert extent[1] < 0.2 * extent[0], key
            elif label == 1:  # rod: tall in y
                assert extent[1] > 4 * extent[0], key
            else:
                assert max(extent) < 1.3 * min(extent), key

    skipped = dict(line.split("\t")[:2] for line in open(os.path.join(output, "skipped.txt")).read().splitlines())
    assert skipped == {f"sphere/train/{name}": kind for name, (_, kind) in BROKEN.items()}
    info = json.load(open(os.path.join(output, "prepare.json")))
    assert info["counts"] == {"train": 19, "test": 9} and info["skip_counts"]["too_large"] == 1
    assert info["per_class"]["test"] == {"disk": 3, "rod": 3, "sphere": 3}
    assert result["note_counts"] == {"non_manifold": 1}

    # Same seed, other worker count and shard size: the same clouds.
    again = str(tmp_path / "again")
    prepare_dataset(root, again, num_points=NUM_POINTS, shard_size=50, workers=1, progress=False, log=None)
    a = load_split(open_dataset(again), "train")["points"]
    np.testing.assert_array_equal(a, load_split(description, "train")["points"])


def test_flat_tree_gets_a_seeded_per_class_split(tmp_path):
    root = str(tmp_path / "flat")
    write_tree(root, layout="flat", broken=False)
    tree_a = scan_tree(root, test_fraction=0.25, seed=3)
    tree_b = scan_tree(root, test_fraction=0.25, seed=3)
    tree_c = scan_tree(root, test_fraction=0.25, seed=4)
    assert tree_a.layout == "flat" and tree_a.files == tree_b.files and tree_a.files != tree_c.files
    for label in range(3):
        splits = [split for _, lab, split in tree_a.files if lab == label]
        assert splits.count("test") == 2 and splits.count("train") == 7
    output = str(tmp_path / "out")
    result = prepare_dataset(root, output, num_points=64, test_fraction=0.25, seed=3, workers=1, progress=False,
                             log=None)  # fmt: skip
    assert result["counts"] == {"train": 21, "test": 6} and result["layout"] == "flat"
    assert open_dataset(output).splits == {"train": 21, "test": 6}


def test_resume_after_an_interrupted_run(tree, tmp_path, monkeypatch):
    root, _ = tree
    reference = str(tmp_path / "reference")
    prepare_dataset(root, reference, num_points=NUM_POINTS, shard_size=5, workers=1, progress=False, log=None)

    original = meshes.cloud_from_file
    calls = []

    def interrupted(path, options, rng):
        calls.append(os.path.relpath(path, root))
        if len(calls) == 13:
            raise KeyboardInterrupt
        return original(path, options, rng)

    output = str(tmp_path / "resumed")
    monkeypatch.setattr(meshes, "cloud_from_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(root, output, num_points=NUM_POINTS, shard_size=5, workers=1, progress=False, log=None)
    assert not os.path.exists(output)
    work = work_dir_for(output)
    assert sorted(os.listdir(work)) == ["manifest.json", "shard-00000.h5", "shard-00001.h5"]
    with pytest.raises(ValueError, match="holds an unfinished prepare run .* pass --resume"):
        prepare_dataset(root, output, num_points=NUM_POINTS, shard_size=5, workers=1, progress=False, log=None)

    calls.clear()
    monkeypatch.setattr(meshes, "cloud_from_file", lambda *a: (calls.append(a[0]), original(*a))[1])
    result = prepare_dataset(root, output, num_points=NUM_POINTS, shard_size=5, workers=1, progress=False,
                             resume=True, log=None)  # fmt: skip
    assert len(calls) == 34 - 10 and result["counts"] == {"train": 19, "test": 9}
    ours, theirs = read_h5_folder(output), read_h5_folder(reference)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name][0], theirs[name][0])
        np.testing.assert_array_equal(ours[name][1], theirs[name][1])
    assert not os.path.exists(work)


def test_strict_mode_fails_without_writing_the_dataset(tree, tmp_path):
    root, _ = tree
    output = str(tmp_path / "strict")
    with pytest.raises(ValueError, match="6 of 34 inputs were skipped and strict mode is on"):
        prepare_dataset(root, output, num_points=32, strict=True, workers=1, progress=False, log=None)
    assert not os.path.exists(output)
    assert "sphere/train/nan.off\tnonfinite" in open(os.path.join(work_dir_for(output), "skipped.txt")).read()


def test_existing_outputs_and_bad_roots(tree, tmp_path):
    root, _ = tree
    output = tmp_path / "taken"
    output.mkdir()
    (output / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="exists and is not empty; choose another folder or pass --overwrite"):
        prepare_dataset(root, str(output), num_points=32, workers=1, progress=False, log=None)
    with pytest.raises(ValueError, match="taken: the folder was not written by pointnet-tf2"):
        prepare_dataset(root, str(output), num_points=32, workers=1, progress=False, log=None, overwrite=True)
    assert (output / "keep.txt").read_text() == "x"
    output = tmp_path / "ours"
    prepare_dataset(root, str(output), num_points=32, workers=1, progress=False, log=None)
    (output / "keep.txt").write_text("x")
    result = prepare_dataset(root, str(output), num_points=32, workers=1, progress=False, log=None, overwrite=True)
    assert result["counts"]["train"] == 19 and not (output / "keep.txt").exists()
    with pytest.raises(ValueError, match="must not be inside the input folder"):
        prepare_dataset(root, os.path.join(root, "out"), workers=1, progress=False, log=None)
    empty = tmp_path / "empty_root"
    empty.mkdir()
    with pytest.raises(ValueError, match="no class folders"):
        prepare_dataset(str(empty), str(tmp_path / "x"), workers=1, progress=False, log=None)
    with pytest.raises(FileNotFoundError):
        prepare_dataset(str(tmp_path / "missing"), str(tmp_path / "y"), workers=1, progress=False, log=None)


@pytest.mark.parametrize("command", ["prepare", "prepare-s3dis", "prepare-shapenet-part", "prepare-modelnet-normals"])
def test_prepare_never_deletes_its_input(tmp_path, monkeypatch, capsys, command):
    # The issue: `pointnet-tf2 prepare data/raw data --overwrite` exited 0 and data/raw was gone.
    monkeypatch.chdir(tmp_path)
    write_tree("data/raw", broken=False)
    before = sorted(os.path.relpath(os.path.join(d, f), "data/raw") for d, _, fs in os.walk("data/raw") for f in fs)
    (tmp_path / "data" / ".pointnet_tf2_output").write_text("{}")  # not even a folder marked as ours
    for output in ("data", "data/raw", "data/raw/disk", "."):
        status = cli.main([command, "data/raw", output, "--overwrite", "--workers", "1", "--no_progress"])
        err = capsys.readouterr().err
        assert status == 1 and err.count("\n") == 1 and "Traceback" not in err, err
        assert f"pointnet-tf2 {command}: error: " in err and "the output folder" in err and "input" in err
    after = sorted(os.path.relpath(os.path.join(d, f), "data/raw") for d, _, fs in os.walk("data/raw") for f in fs)
    assert after == before
    assert not [name for name in os.listdir(tmp_path / "data") if name.startswith(".") and "work" in name]


def test_prepare_command_with_normals_and_fps(tree, tmp_path, capsys):
    root, _ = tree
    output = str(tmp_path / "normals")
    status = cli.main(["prepare", root, output, "--num_point", "64", "--normals", "--fps", "--workers", "1",
                       "--shard_size", "8", "--no_progress"])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "skipped 12" in captured.out and f"wrote {output}" in captured.out
    description = open_dataset(output)
    assert description.input_dims == 6
    points = load_split(description, "train")["points"]
    # Point files without normals are skipped ("no_normals") only in the test split (.xyz, .ply clouds).
    np.testing.assert_allclose(np.linalg.norm(points[..., 3:], axis=-1), 1.0, atol=1e-5)
    kinds = [line.split("\t")[1] for line in open(os.path.join(output, "skipped.txt"))]
    assert kinds.count("no_normals") == 6
    assert cli.main(["prepare", root, output, "--num_point", "64", "--no_progress"]) == 1
    assert "error: " in capsys.readouterr().err
