"""Tests for pointnet_tf2/data/writers.py: the original layouts, round-tripped with h5py."""

import json
import os

import h5py
import numpy as np
import pytest

from pointnet_tf2.data import writers
from pointnet_tf2.data.io.shards import chunk_shape


def _clouds(rng, n, points=16, channels=3):
    return rng.uniform(-1, 1, (n, points, channels)).astype(np.float32)


def _read(path, key):
    with h5py.File(path, "r") as f:
        return f[key][...]


def _lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def _no_leftovers(parent):
    return [name for name in os.listdir(parent) if name.startswith(".")]


# --- ModelNet40 ----------------------------------------------------------------------------


def test_modelnet_round_trip(tmp_path, rng):
    train, test = _clouds(rng, 5), _clouds(rng, 3)
    train_labels, test_labels = np.array([0, 1, 2, 0, 1]), np.array([[2], [1], [0]])
    out = writers.write_modelnet_layout(
        tmp_path / "modelnet_small",
        {"train": (train, train_labels), "test": (test, test_labels)},
        ["chair", "night_stand", "lamp"],
        shard_size=2,
    )
    assert out == str(tmp_path / "modelnet_small")
    assert sorted(os.listdir(out)) == [
        ".pointnet_tf2_output", "ply_data_test0.h5", "ply_data_test1.h5", "ply_data_train0.h5", "ply_data_train1.h5",
        "ply_data_train2.h5", "shape_names.txt", "test_files.txt", "train_files.txt",
    ]  # fmt: skip
    assert _lines(os.path.join(out, "train_files.txt")) == [
        f"data/modelnet_small/ply_data_train{k}.h5" for k in range(3)
    ]
    assert _lines(os.path.join(out, "shape_names.txt")) == ["chair", "night_stand", "lamp"]
    shards = [os.path.join(out, f"ply_data_train{k}.h5") for k in range(3)]
    with h5py.File(shards[0], "r") as f:
        assert sorted(f.keys()) == ["data", "label"]
        assert f["data"].dtype == np.float32 and f["data"].shape == (2, 16, 3)
        assert f["label"].dtype == np.uint8 and f["label"].shape == (2, 1)
        assert f["data"].compression == "gzip" and f["label"].compression == "gzip"
        assert f["data"].chunks[1:] == (16, 3)  # whole clouds per chunk (see test_chunks_hold_whole_clouds)
    np.testing.assert_array_equal(np.concatenate([_read(s, "data") for s in shards]), train)
    np.testing.assert_array_equal(np.concatenate([_read(s, "label") for s in shards])[:, 0], train_labels)
    np.testing.assert_array_equal(_read(os.path.join(out, "ply_data_test1.h5"), "label"), [[0]])
    assert _no_leftovers(tmp_path) == []


def test_chunks_hold_whole_clouds():
    # About 32 KiB per chunk, at least one cloud: one ModelNet or S3DIS cloud per chunk.
    assert chunk_shape((2048, 2048, 3), 4) == (1, 2048, 3)
    assert chunk_shape((1000, 4096, 9), 4) == (1, 4096, 9)
    assert chunk_shape((2048, 2048), 1) == (16, 2048)
    assert chunk_shape((2048, 1), 1) == (2048, 1)
    assert chunk_shape((3, 1), 1) == (3, 1)


def test_modelnet_normals_and_float64_and_prefix(tmp_path, rng):
    pts = rng.uniform(-1, 1, (4, 8, 6))  # float64 xyz + normals
    out = writers.write_modelnet_layout(
        tmp_path / "m", {"train": (pts, np.zeros(4, int)), "test": (pts[:1], [1])}, ["a", "b"], list_prefix=""
    )
    data = _read(os.path.join(out, "ply_data_train0.h5"), "data")
    assert data.dtype == np.float32 and data.shape == (4, 8, 6)
    np.testing.assert_allclose(data, pts, rtol=1e-6)
    assert _lines(os.path.join(out, "test_files.txt")) == ["ply_data_test0.h5"]


def test_modelnet_reads_lazily_sliced_inputs(tmp_path, rng):
    # An h5py dataset is written shard by shard without loading it first.
    source = tmp_path / "source.h5"
    values = _clouds(rng, 7)
    with h5py.File(source, "w") as f:
        f["points"] = values
    with h5py.File(source, "r") as f:
        out = writers.write_modelnet_layout(
            tmp_path / "m", {"train": (f["points"], np.arange(7) % 2), "test": (values[:2], [0, 1])}, ["a", "b"],
            shard_size=3,
        )  # fmt: skip
    got = np.concatenate([_read(os.path.join(out, f"ply_data_train{k}.h5"), "data") for k in range(3)])
    np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize(
    "train, labels, match",
    [
        (np.zeros((3, 8, 2), np.float32), [0, 0, 0], r"splits\['train'\] points: expected shape \(n, P, 3\) or \(n, P, 6\), got \(3, 8, 2\)"),
        (np.zeros((3, 8), np.float32), [0, 0, 0], r"got \(3, 8\)"),
        (np.zeros((3, 8, 3), np.int32), [0, 0, 0], "floating-point"),
        (np.zeros((3, 8, 3), np.float32), [0, 0], r"labels: expected shape \(3,\) or \(3, 1\), got \(2,\)"),
        (np.zeros((3, 8, 3), np.float32), [0.0, 1.0, 0.0], "integer labels"),
        (np.zeros((3, 8, 3), np.float32), [0, 2, 0], r"value 2 in cloud 1 is outside \[0, 2\) \(2 class names\)"),
        (np.zeros((3, 8, 3), np.float32), [0, 0, -1], r"value -1 in cloud 2"),
        (np.zeros((3, 8, 3), np.float64) + 1e39, [0, 0, 0], "too large for float32"),
    ],
)
def test_modelnet_validation(tmp_path, train, labels, match):
    test = (np.zeros((1, 8, 3), np.float32), [0])
    with pytest.raises(ValueError, match=match):
        writers.write_modelnet_layout(tmp_path / "m", {"train": (train, labels), "test": test}, ["a", "b"])
    assert not os.path.exists(tmp_path / "m")
    assert _no_leftovers(tmp_path) == []


def test_modelnet_nan_in_a_late_shard_leaves_nothing(tmp_path, rng):
    train = _clouds(rng, 6)
    train[4, 3, 1] = np.nan
    with pytest.raises(ValueError, match=r"splits\['train'\] points: cloud 4 contains NaN or inf"):
        writers.write_modelnet_layout(
            tmp_path / "m", {"train": (train, np.zeros(6, int)), "test": (train[:1], [0])}, ["a"], shard_size=2
        )
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"splits": {"test": None}}, r"the splits \['train', 'test'\] \(test optional\); missing \['train'\]"),
        ({"splits": {"train": None, "test": None, "val": None}}, r"unknown \['val'\]"),
        ({"class_names": ["a", "a"]}, "appears twice"),
        ({"class_names": ["a b"]}, "without whitespace"),
        ({"class_names": []}, "empty"),
        ({"class_names": [f"c{i}" for i in range(257)]}, "uint8"),
        ({"shard_size": 0}, "shard_size must be a positive integer, got 0"),
    ],
)
def test_modelnet_argument_validation(tmp_path, kwargs, match):
    args = {
        "splits": {"train": (np.zeros((1, 4, 3)), [0]), "test": (np.zeros((1, 4, 3)), [0])},
        "class_names": ["a"],
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        writers.write_modelnet_layout(tmp_path / "m", **args)


def test_modelnet_layout_with_voxels_and_without_a_test_split(tmp_path):
    import h5py

    points = np.zeros((3, 4, 3), np.float32)
    grids = np.zeros((3, 5, 5, 5), bool)
    grids[1, 2, 2, 2] = True
    out = writers.write_modelnet_layout(tmp_path / "m", {"train": (points, [0, 1, 0])}, ["a", "b"],
                                        voxels={"train": grids}, voxel_up_axis=2)  # fmt: skip
    assert sorted(os.listdir(out)) == [".pointnet_tf2_output", "ply_data_train0.h5", "shape_names.txt", "train_files.txt"]
    with h5py.File(os.path.join(out, "ply_data_train0.h5"), "r") as f:
        np.testing.assert_array_equal(f["voxels"][:], grids.astype(np.uint8))
        assert f["voxels"].dtype == np.uint8 and f["voxels"].chunks == (1, 5, 5, 5)
        assert f["voxels"].attrs["up_axis"] == 2
    splits = {"train": (points, [0, 0, 0]), "test": (points[:1], [0])}
    for voxels, match in (
        ({"train": grids}, r"voxels: expected a dict with one array per split \['test', 'train'\]"),
        ({"train": grids, "test": grids}, r"voxels\['test'\]: 3 grids for 1 clouds"),
        ({"train": grids[:, :4], "test": grids[:1]}, r"voxels\['train'\]: expected shape \(n, R, R, R\)"),
        ({"train": grids * 0.5, "test": grids[:1]}, r"voxels\['train'\]: expected integer or bool occupancy"),
        ({"train": grids, "test": np.zeros((1, 4, 4, 4), bool)}, "the same grid size"),
    ):
        with pytest.raises(ValueError, match=match):
            writers.write_modelnet_layout(tmp_path / "bad", splits, ["a"], voxels=voxels)
    assert not os.path.exists(tmp_path / "bad")


def test_splits_must_share_the_cloud_shape(tmp_path):
    with pytest.raises(ValueError, match="same points per cloud"):
        writers.write_modelnet_layout(
            tmp_path / "m", {"train": (np.zeros((1, 4, 3)), [0]), "test": (np.zeros((1, 5, 3)), [0])}, ["a"]
        )


def test_existing_folder_is_kept_unless_overwrite(tmp_path):
    out = tmp_path / "m"
    splits = {"train": (np.zeros((2, 4, 3)), [0, 0]), "test": (np.zeros((1, 4, 3)), [0])}
    writers.write_modelnet_layout(out, splits, ["a"])
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"m: the folder exists and is not empty.*--overwrite"):
        writers.write_modelnet_layout(out, splits, ["b"])
    assert (out / "precious.txt").exists()
    # A failing overwrite leaves the old folder untouched too.
    bad = {"train": (np.full((2, 4, 3), np.inf), [0, 0]), "test": (np.zeros((1, 4, 3)), [0])}
    with pytest.raises(ValueError, match="NaN or inf"):
        writers.write_modelnet_layout(out, bad, ["a"], overwrite=True)
    assert (out / "precious.txt").exists()
    writers.write_modelnet_layout(out, splits, ["b"], overwrite=True)
    assert "precious.txt" not in os.listdir(out) and _lines(out / "shape_names.txt") == ["b"]
    assert _no_leftovers(tmp_path) == []


def test_overwrite_never_replaces_a_folder_it_did_not_write(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    splits = {"train": (np.zeros((2, 4, 3)), [0, 0]), "test": (np.zeros((1, 4, 3)), [0])}
    with pytest.raises(ValueError, match=r"m: the folder was not written by pointnet-tf2 \(it has no "
                                         r"\.pointnet_tf2_output file\), so --overwrite does not replace it"):
        writers.write_modelnet_layout(out, splits, ["a"], overwrite=True)
    assert os.listdir(out) == ["precious.txt"] and (out / "precious.txt").read_text() == "keep me"
    assert _no_leftovers(tmp_path) == []


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path):
    # A writer killed while writing leaves its temporary folder (and, mid-overwrite, the old one).
    stale = [tmp_path / ".m.0a1b2c3d.tmp", tmp_path / ".m.4e5f6a7b.old"]
    for folder in stale:
        folder.mkdir()
        (folder / "ply_data_train0.h5").write_text("half")
    other = tmp_path / ".other.0a1b2c3d.tmp"  # another output's: not ours to judge here
    other.mkdir()
    splits = {"train": (np.zeros((2, 4, 3)), [0, 0]), "test": (np.zeros((1, 4, 3)), [0])}
    writers.write_modelnet_layout(tmp_path / "m", splits, ["a"])
    assert sorted(os.listdir(tmp_path)) == [".other.0a1b2c3d.tmp", "m"]


def test_empty_existing_folder_is_filled(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    writers.write_modelnet_layout(out, {"train": (np.zeros((1, 4, 3)), [0]), "test": (np.zeros((1, 4, 3)), [0])}, ["a"])
    assert "train_files.txt" in os.listdir(out)


def test_a_file_in_the_way_is_reported(tmp_path):
    (tmp_path / "m").write_text("")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        writers.write_modelnet_layout(
            tmp_path / "m", {"train": (np.zeros((1, 4, 3)), [0]), "test": (np.zeros((1, 4, 3)), [0])}, ["a"]
        )


# --- ShapeNet part -------------------------------------------------------------------------

NAMES, SYNSETS, PARTS = ["Airplane", "Mug", "Table"], ["02691156", "03797390", "04379243"], [[0, 1, 2], [3, 4], [5, 6, 7]]


def _part_split(rng, n, points=12):
    category = np.arange(n) % 3
    pid = np.stack([rng.choice(PARTS[c], points) for c in category])
    return _clouds(rng, n, points), category, pid


def test_shapenet_part_round_trip(tmp_path, rng):
    splits = {"train": _part_split(rng, 5), "val": _part_split(rng, 2), "test": _part_split(rng, 3)}
    out = writers.write_shapenet_part_layout(tmp_path / "hdf5_data", splits, NAMES, SYNSETS, PARTS, shard_size=4)
    assert sorted(os.listdir(out)) == [
        ".pointnet_tf2_output", "all_object_categories.txt", "catid_partid_to_overallid.json", "overallid_to_catid_partid.json",
        "part_color_mapping.json", "ply_data_test0.h5", "ply_data_train0.h5", "ply_data_train1.h5",
        "ply_data_val0.h5", "test_hdf5_file_list.txt", "train_hdf5_file_list.txt", "val_hdf5_file_list.txt",
    ]  # fmt: skip
    assert _lines(os.path.join(out, "train_hdf5_file_list.txt")) == ["ply_data_train0.h5", "ply_data_train1.h5"]
    assert _lines(os.path.join(out, "all_object_categories.txt")) == [
        "Airplane\t02691156", "Mug\t03797390", "Table\t04379243",
    ]  # fmt: skip
    with h5py.File(os.path.join(out, "ply_data_train0.h5"), "r") as f:
        assert {k: (f[k].dtype, f[k].shape) for k in f} == {
            "data": (np.float32, (4, 12, 3)), "label": (np.uint8, (4, 1)), "pid": (np.uint8, (4, 12)),
        }  # fmt: skip
        assert all(f[k].compression == "gzip" for k in f)
    train_pid = np.concatenate([_read(os.path.join(out, f"ply_data_train{k}.h5"), "pid") for k in range(2)])
    np.testing.assert_array_equal(train_pid, splits["train"][2])
    np.testing.assert_array_equal(_read(os.path.join(out, "ply_data_val0.h5"), "label")[:, 0], splits["val"][1])

    with open(os.path.join(out, "overallid_to_catid_partid.json")) as f:
        overall = json.load(f)
    with open(os.path.join(out, "catid_partid_to_overallid.json")) as f:
        inverse = json.load(f)
    with open(os.path.join(out, "part_color_mapping.json")) as f:
        colors = json.load(f)
    assert overall == [["02691156", 1], ["02691156", 2], ["02691156", 3], ["03797390", 1], ["03797390", 2],
                       ["04379243", 1], ["04379243", 2], ["04379243", 3]]  # fmt: skip
    assert inverse == {f"{s}_{p}": oid for oid, (s, p) in enumerate(overall)}
    assert len(colors) == 8 and all(len(c) == 3 and all(0 <= v <= 1 for v in c) for c in colors)
    assert len({tuple(c) for c in colors}) == 8


def test_shapenet_part_parts_as_dict_in_any_order(tmp_path, rng):
    # Category 0 owns overall ids 2 and 0: within-category ids follow increasing overall id.
    parts = {0: [2, 0], 1: [1]}
    points = _clouds(rng, 2, 4)
    split = (points, np.array([0, 1]), np.array([[0, 2, 2, 0], [1, 1, 1, 1]]))
    out = writers.write_shapenet_part_layout(
        tmp_path / "p", {"train": split, "val": split, "test": split}, ["A", "B"], ["1", "2"], parts,
        part_colors=[[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5]],
    )  # fmt: skip
    with open(os.path.join(out, "overallid_to_catid_partid.json")) as f:
        assert json.load(f) == [["1", 1], ["2", 1], ["1", 2]]
    with open(os.path.join(out, "part_color_mapping.json")) as f:
        assert json.load(f)[1] == [1, 1, 1]


@pytest.mark.parametrize(
    "change, match",
    [
        ({"category_synsets": SYNSETS[:2]}, "2 synsets for 3 category names"),
        ({"category_parts": [[0, 1, 2], [3, 4]]}, "2 entries for 3 categories"),
        ({"category_parts": [[0, 1, 2], [2, 4], [5, 6, 7]]}, "part id 2 belongs to categories 0 and 1"),
        ({"category_parts": [[0, 1, 2], [3, 4], [6, 7, 8]]}, r"exactly 0..7; missing \[5\]"),
        ({"category_parts": [[0, 1, 2], [], [3, 4, 5, 6, 7]]}, "at least one part"),
        ({"category_parts": {0: [0, 1, 2], 1: [3, 4], 5: [5, 6, 7]}}, "keys 0..2"),
        ({"part_colors": [[0, 0, 0]] * 7}, r"part_colors: expected \(8, 3\)"),
        ({"part_colors": [[0, 0, 2]] * 8}, r"values in \[0, 1\]"),
        ({"category_names": ["Airplane", "Mug", "Coffee table"]}, "without whitespace"),
    ],
)
def test_shapenet_part_metadata_validation(tmp_path, rng, change, match):
    split = _part_split(rng, 3)
    args = {"category_names": NAMES, "category_synsets": SYNSETS, "category_parts": PARTS}
    args.update(change)
    with pytest.raises(ValueError, match=match):
        writers.write_shapenet_part_layout(tmp_path / "p", {"train": split, "val": split, "test": split}, **args)


def test_shapenet_part_pid_must_belong_to_the_category(tmp_path, rng):
    points, category, pid = _part_split(rng, 3)
    pid[1, 5] = 0  # cloud 1 is a Mug (parts 3, 4); 0 is an Airplane part
    bad = (points, category, pid)
    good = _part_split(rng, 3)
    with pytest.raises(ValueError, match=r"splits\['val'\] pid: cloud 1 point 5 has part 0, which is not a part of its category 1 \(Mug: parts \[3, 4\]\)"):
        writers.write_shapenet_part_layout(tmp_path / "p", {"train": good, "val": bad, "test": good}, NAMES, SYNSETS, PARTS)
    assert os.listdir(tmp_path) == []


def test_shapenet_part_shape_errors(tmp_path, rng):
    points, category, pid = _part_split(rng, 3)
    good = (points, category, pid)
    with pytest.raises(ValueError, match=r"splits\['train'\] pid: expected shape \(3, 12\), got \(3, 11\)"):
        writers.write_shapenet_part_layout(
            tmp_path / "p", {"train": (points, category, pid[:, :11]), "val": good, "test": good}, NAMES, SYNSETS, PARTS
        )
    with pytest.raises(ValueError, match=r"splits\['test'\] category: value 3 in cloud 0 is outside \[0, 3\)"):
        writers.write_shapenet_part_layout(
            tmp_path / "p", {"train": good, "val": good, "test": (points, category + 3, pid)}, NAMES, SYNSETS, PARTS
        )
    with pytest.raises(ValueError, match=r"splits\['val'\] \(points, category, pid\): expected a tuple of 3 arrays"):
        writers.write_shapenet_part_layout(
            tmp_path / "p", {"train": good, "val": (points, category), "test": good}, NAMES, SYNSETS, PARTS
        )


# --- S3DIS -----------------------------------------------------------------------------------


def _blocks(rng, n, points=10):
    blocks = rng.uniform(0, 1, (n, points, 9)).astype(np.float32)
    return blocks, rng.integers(0, 13, (n, points))


def test_s3dis_round_trip(tmp_path, rng):
    blocks, labels = _blocks(rng, 5)
    rooms = ["Area_1_office_1"] * 2 + ["Area_6_hallway_2"] * 3
    out = writers.write_s3dis_layout(tmp_path / "indoor3d_sem_seg_hdf5_data", blocks, labels, rooms, shard_size=2)
    assert sorted(os.listdir(out)) == [
        ".pointnet_tf2_output", "all_files.txt", "ply_data_all_0.h5", "ply_data_all_1.h5", "ply_data_all_2.h5", "room_filelist.txt",
    ]  # fmt: skip
    assert _lines(os.path.join(out, "all_files.txt")) == [
        f"indoor3d_sem_seg_hdf5_data/ply_data_all_{k}.h5" for k in range(3)
    ]
    assert _lines(os.path.join(out, "room_filelist.txt")) == rooms
    shards = [os.path.join(out, f"ply_data_all_{k}.h5") for k in range(3)]
    with h5py.File(shards[0], "r") as f:
        assert {k: (f[k].dtype, f[k].shape) for k in f} == {"data": (np.float32, (2, 10, 9)), "label": (np.uint8, (2, 10))}
        assert f["data"].compression == "gzip" and f["label"].compression == "gzip"
    np.testing.assert_array_equal(np.concatenate([_read(s, "data") for s in shards]), blocks)
    np.testing.assert_array_equal(np.concatenate([_read(s, "label") for s in shards]), labels)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"blocks": np.zeros((3, 10, 6), np.float32)}, r"blocks: expected shape \(n, P, 9\), got \(3, 10, 6\)"),
        ({"labels": np.zeros((3, 9), int)}, r"labels: expected shape \(3, 10\), got \(3, 9\)"),
        ({"labels": np.full((3, 10), 13)}, r"labels: value 13 in cloud 0 is outside \[0, 13\) \(13 classes\)"),
        ({"room_names": ["Area_1_a_1"] * 2}, "2 names for 3 blocks"),
        ({"room_names": ["Area_1_a_1", "", "x"]}, r"room_names\[1\] = ''"),
        ({"room_names": "Area_1_a_1"}, "one name per block"),
        ({"num_classes": 300}, "uint8"),
    ],
)
def test_s3dis_validation(tmp_path, rng, change, match):
    blocks, labels = _blocks(rng, 3)
    args = {"blocks": blocks, "labels": labels, "room_names": ["Area_1_office_1"] * 3}
    args.update(change)
    with pytest.raises(ValueError, match=match):
        writers.write_s3dis_layout(tmp_path / "s", **args)
    assert os.listdir(tmp_path) == []


def test_s3dis_rgb_must_be_divided_by_255(tmp_path, rng):
    blocks, labels = _blocks(rng, 3)
    blocks[2, :, 3:6] *= 255
    with pytest.raises(ValueError, match=r"blocks: block 2 has RGB channels \(3:6\) outside \[0, 1\].*RGB / 255"):
        writers.write_s3dis_layout(tmp_path / "s", blocks, labels, ["Area_1_office_1"] * 3)
    blocks, labels = _blocks(rng, 3)
    blocks[0, 0, 7] = np.nan
    with pytest.raises(ValueError, match="blocks: cloud 0 contains NaN"):
        writers.write_s3dis_layout(tmp_path / "s", blocks, labels, ["Area_1_office_1"] * 3)


def test_staged_folder_cleans_up_on_error(tmp_path):
    with pytest.raises(RuntimeError), writers.staged_folder(tmp_path / "x") as tmp:
        open(os.path.join(tmp, "half.h5"), "w").close()
        raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []
