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


# --- voxel data: .npz archives and .binvox folders ----------------------------------------------

REAL_ARCHIVE = "/work/shared/data/modelnet10_voxels_train.npz"


def voxel_shapes(count, size=12, seed=0, empty=()):
    """`count` grids of three classes (label i % 3: a flat slab, a tall column, a cube) at random places.

    Grids at positions in `empty` have no occupied cell. All shapes are z-up.
    """
    rng = np.random.default_rng(seed)
    grids = np.zeros((count, size, size, size), np.uint8)
    labels = np.arange(count) % 3
    for i, label in enumerate(labels):
        if i in empty:
            continue
        x, y = rng.integers(1, 4, size=2)
        if label == 0:
            grids[i, x:x + 7, y:y + 7, 2:4] = 1
        elif label == 1:
            grids[i, x:x + 2, y:y + 2, 1:11] = 1
        else:
            grids[i, x:x + 5, y:y + 5, 3:8] = 1
    return grids, labels


def read_voxel_folder(folder, split):
    """(data, label, voxels) of a split's shards, in list-file order."""
    parts = []
    for line in open(os.path.join(folder, f"{split}_files.txt")).read().split():
        with h5py.File(os.path.join(folder, os.path.basename(line)), "r") as f:
            parts.append((f["data"][:], f["label"][:, 0], f["voxels"][:]))
    return tuple(np.concatenate(arrays) for arrays in zip(*parts))


def test_npz_archive_with_both_splits_skips_empty_grids_and_stores_the_grids(tmp_path, capsys):
    train, train_labels = voxel_shapes(20, empty=(4, 11))
    test, test_labels = voxel_shapes(7, seed=1, empty=(6,))
    archive = str(tmp_path / "shapes.npz")
    np.savez(archive, X_train=train[..., None], y_train=train_labels, X_test=test, y_test=test_labels[:, None])
    output = str(tmp_path / "shapes_hdf5")
    result = prepare_dataset(archive, output, num_points=NUM_POINTS, class_names="slab,column,cube", shard_size=8,
                             workers=1, progress=False)  # fmt: skip
    out = capsys.readouterr().out
    assert "prepare: 27 grids of 12^3" in out and "class names: the given class names" in out
    assert "skipped 3:" in out and "empty" in out and "X_train[4]: the grid is empty (no occupied cell) [empty]" in out
    assert f"wrote {output}: 18 train, 6 test clouds of {NUM_POINTS} x 3 with 12^3 voxel grids, 3 classes; " \
           "3 skipped grids listed in" in out  # fmt: skip
    assert result["counts"] == {"train": 18, "test": 6} and result["skip_counts"] == {"empty": 3}
    skipped = open(os.path.join(output, "skipped.txt")).read().splitlines()
    assert skipped == [f"{key}\tempty\tthe grid is empty (no occupied cell)"
                       for key in ("X_train[4]", "X_train[11]", "X_test[6]")]  # fmt: skip
    assert open(os.path.join(output, "shape_names.txt")).read().split() == ["slab", "column", "cube"]

    description = open_dataset(output)
    assert description.splits == {"train": 18, "test": 6} and description.class_names == ["slab", "column", "cube"]
    assert description.voxel_resolution == 12 and description.voxel_up_axis == 2
    for split, grids, labels, empty in (("train", train, train_labels, (4, 11)), ("test", test, test_labels, (6,))):
        kept = [i for i in range(len(grids)) if i not in empty]
        data, label, voxels = read_voxel_folder(output, split)
        np.testing.assert_array_equal(voxels, grids[kept])  # the input grids, row by row
        np.testing.assert_array_equal(label, labels[kept])
        assert data.shape == (len(kept), NUM_POINTS, 3) and data.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(data, axis=2).max(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(data.mean(axis=1), 0.0, atol=1e-5)
        extent = np.ptp(data, axis=1)
        slabs, columns = extent[label == 0], extent[label == 1]
        assert np.all(slabs[:, 1] < 0.5 * slabs[:, 0])  # flat in z on file -> flat in y
        assert np.all(columns[:, 1] > 3 * columns[:, 0])  # tall in z on file -> tall in y

    strict = str(tmp_path / "strict")
    with pytest.raises(ValueError, match="3 of 27 inputs were skipped and strict mode is on"):
        prepare_dataset(archive, strict, num_points=8, class_names="a,b,c", strict=True, workers=1, progress=False,
                        log=None)  # fmt: skip
    assert not os.path.exists(strict)

    # seeded per grid: another worker count and shard size give the same clouds
    again = str(tmp_path / "again")
    prepare_dataset(archive, again, num_points=NUM_POINTS, class_names=["slab", "column", "cube"], shard_size=50,
                    workers=2, progress=False, log=None)  # fmt: skip
    np.testing.assert_array_equal(read_voxel_folder(again, "train")[0], read_voxel_folder(output, "train")[0])


def test_npz_archive_with_only_a_train_split_and_class_names(tmp_path):
    grids, _ = voxel_shapes(12)
    labels = np.arange(12) % 10
    archive = str(tmp_path / "train_only.npz")
    np.savez(archive, X_train=grids, y_train=labels)
    output = str(tmp_path / "mn10")
    result = prepare_dataset(archive, output, num_points=32, workers=1, progress=False, log=None)
    assert result["counts"] == {"train": 12} and result["class_names"][9] == "toilet"
    assert sorted(n for n in os.listdir(output) if n.endswith(".txt")) == ["shape_names.txt", "skipped.txt",
                                                                          "train_files.txt"]  # fmt: skip
    description = open_dataset(output)
    assert description.splits == {"train": 12} and description.class_names[:3] == ["bathtub", "bed", "chair"]

    names = tmp_path / "names.txt"
    names.write_text("slab\ncolumn\ncube\n")
    three = str(tmp_path / "three")
    np.savez(archive, X_train=grids, y_train=np.arange(12) % 3)
    prepare_dataset(archive, three, num_points=32, class_names=str(names), workers=1, progress=False, log=None)
    assert open_dataset(three).class_names == ["slab", "column", "cube"]
    generic = prepare_dataset(archive, str(tmp_path / "generic"), num_points=32, workers=1, progress=False, log=None)
    assert generic["class_names"] == ["class_0", "class_1", "class_2"]

    with pytest.raises(ValueError, match=r"train_only.npz: the labels go up to 2, but 2 class names were given"):
        prepare_dataset(archive, str(tmp_path / "x"), class_names="a,b", workers=1, progress=False, log=None)
    with pytest.raises(ValueError, match=r"train_only.npz: class names\[1\] = 'b c'"):
        prepare_dataset(archive, str(tmp_path / "x"), class_names="a,b c,d", workers=1, progress=False, log=None)
    np.savez(archive, X_train=grids)
    with pytest.raises(ValueError, match=r"train_only.npz: key 'y_train' is missing"):
        prepare_dataset(archive, str(tmp_path / "x"), workers=1, progress=False, log=None)
    with pytest.raises(ValueError, match="--normals apply to meshes and point files"):
        prepare_dataset(archive, str(tmp_path / "x"), normals=True, workers=1, progress=False, log=None)
    assert not os.path.exists(tmp_path / "x") and not os.path.exists(work_dir_for(str(tmp_path / "x")))


def test_binvox_folder_to_layout(tmp_path, capsys):
    from pointnet_tf2.data.voxels import write_binvox

    root = tmp_path / "ModelNetVox"
    grids, labels = voxel_shapes(12, size=10)
    names = ["slab", "column", "cube"]
    written = {}
    for i, (grid, label) in enumerate(zip(grids, labels)):
        split = "test" if i >= 9 else "train"
        folder = root / names[label] / split
        folder.mkdir(parents=True, exist_ok=True)
        rel = f"{names[label]}/{split}/{names[label]}_{i:04d}.binvox"
        write_binvox(root / rel, grid)
        written[rel] = grid
        (folder / f"{names[label]}_{i:04d}.off").write_text("OFF\n0 0 0\n")  # the mesh beside it: ignored
    write_binvox(root / "cube/train/big.binvox", np.ones((12, 12, 12)))
    write_binvox(root / "cube/train/hollow.binvox", np.zeros((10, 10, 10)))
    (root / "slab/train/broken.binvox").write_bytes(b"#binvox 1\ndim 10 10 10\ntranslate 0 0 0\nscale 1\ndata\n\x01")
    output = str(tmp_path / "vox_hdf5")
    status = cli.main(["prepare", str(root), "--output", output, "--num_point", "48", "--workers", "1",
                       "--no_progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert "ignored: 12 .off" in out and "grids: 10^3" in out
    assert f"wrote {output}: 9 train, 3 test clouds of 48 x 3 with 10^3 voxel grids, 3 classes; 3 skipped" in out
    lines = open(os.path.join(output, "skipped.txt")).read().splitlines()
    skipped = {line.split("\t")[0]: line.split("\t")[1:] for line in lines}
    assert skipped["cube/train/big.binvox"] == ["resolution", "its grid is 12x12x12, most files' grids are 10^3"]
    assert skipped["cube/train/hollow.binvox"] == ["empty", "the grid is empty (no occupied cell)"]
    assert skipped["slab/train/broken.binvox"][0] == "malformed"
    assert "odd number of bytes" in skipped["slab/train/broken.binvox"][1]
    description = open_dataset(output)
    assert description.class_names == ["column", "cube", "slab"] and description.voxel_resolution == 10
    for split in ("train", "test"):
        keys = sorted(k for k in written if f"/{split}/" in k)
        data, label, voxels = read_voxel_folder(output, split)
        np.testing.assert_array_equal(voxels, np.stack([written[k] for k in keys]))
        np.testing.assert_array_equal(label, [description.class_names.index(k.split("/")[0]) for k in keys])
    # the (here empty) meshes beside the grids can still be asked for
    with pytest.raises(ValueError, match="no train cloud could be made"):
        prepare_dataset(str(root), str(tmp_path / "meshes"), inputs="meshes", num_points=8, workers=1,
                        progress=False, log=None)  # fmt: skip


def test_prepare_command_output_forms(tmp_path, capsys):
    grids, labels = voxel_shapes(6)
    archive = str(tmp_path / "a.npz")
    np.savez(archive, X_train=grids, y_train=labels)
    positional = str(tmp_path / "positional")
    assert cli.main(["prepare", archive, positional, "--num_point", "16", "--workers", "1", "--no_progress"]) == 0
    assert open_dataset(positional).splits == {"train": 6}
    capsys.readouterr()
    assert cli.main(["prepare", archive, str(tmp_path / "p"), "--output", str(tmp_path / "q")]) == 1
    assert "two output folders given" in capsys.readouterr().err
    assert cli.main(["prepare", archive]) == 1
    assert "no output folder: pass it after ROOT or as --output OUTPUT" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert cli.main(["prepare", str(tmp_path / "notes.txt"), "--output", str(tmp_path / "r")]) == 1
    assert "notes.txt: is a file; prepare takes a data folder or a .npz voxel archive" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists(REAL_ARCHIVE), reason="the real ModelNet10 voxel archive is not here")
def test_prepare_a_subset_of_the_real_modelnet10_archive(tmp_path):
    with np.load(REAL_ARCHIVE) as real:  # read-only
        labels = real["y_train"]
        empty = [6, 15, 21, 24, 60]
        picked = sorted(set(empty) | set(np.linspace(0, len(labels) - 1, 55).astype(int).tolist()))[:60]
        grids, labels = real["X_train"][picked], labels[picked]
    assert len(picked) == 60 and set(labels.tolist()) == set(range(10))
    subset = str(tmp_path / "modelnet10_subset.npz")
    np.savez(subset, X_train=grids, y_train=labels)
    output = str(tmp_path / "modelnet10_hdf5")
    result = prepare_dataset(subset, output, num_points=128, workers=1, progress=False, log=None)
    is_empty = grids.reshape(60, -1).max(axis=1) == 0
    assert is_empty.sum() == len(empty) and result["skip_counts"] == {"empty": len(empty)}
    assert result["counts"] == {"train": 60 - len(empty)}
    description = open_dataset(output)
    assert description.class_names == ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand",
                                       "sofa", "table", "toilet"]  # fmt: skip
    data, label, voxels = read_voxel_folder(output, "train")
    np.testing.assert_array_equal(label, labels[~is_empty])
    np.testing.assert_array_equal(voxels, grids[~is_empty])
    assert data.shape == (60 - len(empty), 128, 3)
    # z is up in the grids, y in the clouds: a table's flat top is the densest end along +y, of all six directions
    tables = data[label == description.class_names.index("table")]
    assert len(tables) >= 3
    for cloud in tables:
        near_end = [np.mean(sign * cloud[:, axis] > (sign * cloud[:, axis]).max() - 0.15)
                    for axis in range(3) for sign in (1, -1)]  # fmt: skip
        assert int(np.argmax(near_end)) == 2, near_end  # +y
