"""S3DIS raw rooms -> blocks: block counting, centring, normalisation, the layout, broken rooms."""

import json
import math
import os

import h5py
import numpy as np
import pytest

from pointnet_tf2 import cli
from pointnet_tf2.data import PointCloudSequence
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.raw.s3dis import BlockOptions
from pointnet_tf2.data.raw.s3dis import block_counts
from pointnet_tf2.data.raw.s3dis import class_of_annotation
from pointnet_tf2.data.raw.s3dis import prepare_s3dis
from pointnet_tf2.data.raw.s3dis import room_to_blocks

CLASSES = ("ceiling", "floor", "wall", "beam", "column", "window", "door",
           "table", "chair", "sofa", "bookcase", "board", "clutter")  # fmt: skip


def reference_blocks(points, block=1.0, stride=0.5, minimum=100):
    """Straight from the issue: per axis ceil((extent - 1) / 0.5) + 1 blocks, closed intervals, x-major."""
    extent = points[:, :3].max(axis=0)
    nx = int(math.ceil((extent[0] - block) / stride)) + 1
    ny = int(math.ceil((extent[1] - block) / stride)) + 1
    kept = []
    for i in range(nx):
        for j in range(ny):
            x0, y0 = i * stride, j * stride
            mask = ((points[:, 0] >= x0) & (points[:, 0] <= x0 + block)
                    & (points[:, 1] >= y0) & (points[:, 1] <= y0 + block))  # fmt: skip
            if mask.sum() >= minimum:
                kept.append(np.flatnonzero(mask))
    return kept


def crafted_room():
    """A 2.3 m x 1.4 m room: a 5 cm lattice for x <= 1.5 m, only 30 points beyond (so x-block 3 is dropped)."""
    xs, ys = np.round(np.arange(0, 1.5001, 0.05), 3), np.round(np.arange(0, 1.4001, 0.05), 3)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    lattice = np.stack([gx.ravel(), gy.ravel()], axis=1)
    rng = np.random.default_rng(3)
    sparse = np.stack([rng.uniform(1.51, 2.3, 30), rng.uniform(0, 1.4, 30)], axis=1)
    sparse[0] = (2.3, 0.7)
    xy = np.concatenate([lattice, sparse])
    z = 0.1 + 2.9 * ((xy[:, 0] * 7 + xy[:, 1] * 13) % 1.0)
    z[1] = 3.0
    rgb = np.stack([np.arange(len(xy)) % 256, (np.arange(len(xy)) * 7) % 256, np.full(len(xy), 255)], axis=1)
    labels = np.arange(len(xy)) % 13
    return np.concatenate([xy, z[:, None], rgb], axis=1).astype(np.float64), labels


def test_block_count_formula():
    assert [block_counts(e) for e in (0.4, 0.5, 0.51, 1.0, 1.01, 1.5, 2.3, 10.0)] == [0, 0, 1, 1, 2, 2, 4, 19]
    assert block_counts(3.0, block_size=2.0, stride=1.0) == 2


def test_class_of_annotation_maps_unknown_prefixes_to_clutter():
    assert class_of_annotation("chair_12.txt") == (CLASSES.index("chair"), "chair")
    assert class_of_annotation("bookcase_1.txt") == (CLASSES.index("bookcase"), "bookcase")
    assert class_of_annotation("Board_2.txt") == (CLASSES.index("board"), "board")
    assert class_of_annotation("stairs_1.txt") == (12, "stairs")
    assert class_of_annotation("clutter_7.txt") == (12, "clutter")


def test_crafted_room_block_count_centring_and_normalisation():
    points, labels = crafted_room()
    data, label = room_to_blocks(points, labels, np.random.default_rng(0))
    expected = reference_blocks(points)
    assert block_counts(2.3) == 4 and block_counts(1.4) == 2
    assert len(expected) == 6  # 4 x 2 candidates, x-block 3 (x in [1.5, 2.5]) has < 100 points in both rows
    assert data.shape == (6, 4096, 9) and data.dtype == np.float32
    assert label.shape == (6, 4096) and label.dtype == np.uint8
    room_max = points[:, :3].max(axis=0)
    np.testing.assert_allclose(room_max, [2.3, 1.4, 3.0])
    for b, members in enumerate(expected):
        feats = data[b].astype(np.float64)
        xyz = feats[:, 6:9] * room_max  # room-normalised xyz back to metres
        # Fewer than 4096 points: every point of the block is present, the rest are duplicates.
        keys = {tuple(k) for k in np.round(xyz * 1000).astype(int)}
        want = {tuple(k) for k in np.round(points[members, :3] * 1000).astype(int)}
        assert keys == want
        np.testing.assert_allclose(feats[:, 0], xyz[:, 0] - (xyz[:, 0].min() + 0.5), atol=2e-6)
        np.testing.assert_allclose(feats[:, 1], xyz[:, 1] - (xyz[:, 1].min() + 0.5), atol=2e-6)
        np.testing.assert_allclose(feats[:, 2], xyz[:, 2], atol=2e-6)
        lookup = {tuple(k): i for i, k in enumerate(np.round(points[:, :3] * 1000).astype(int))}
        rows = np.array([lookup[tuple(k)] for k in np.round(xyz * 1000).astype(int)])
        np.testing.assert_allclose(feats[:, 3:6], points[rows, 3:6] / 255.0, atol=1e-7)
        np.testing.assert_array_equal(label[b], labels[rows])
    # The highest point (z = 3.0) is in block (0, 0); the farthest x (2.3) only in the dropped blocks,
    # which still count for the room's maximum x.
    assert data[..., 8].max() == 1.0
    kept_max_x = points[np.concatenate(expected), 0].max()
    assert kept_max_x < 2.0
    np.testing.assert_allclose(data[..., 6].max(), kept_max_x / 2.3, rtol=1e-6)


def test_dense_block_is_a_subset_without_repeats_and_sparse_rooms_give_no_block():
    rng = np.random.default_rng(1)
    xyz = np.concatenate([[[0, 0, 0], [1, 1, 1]], rng.uniform(0, 1, (5998, 3))])
    points = np.concatenate([xyz, np.full((6000, 3), 128.0)], axis=1)
    data, _ = room_to_blocks(points, np.zeros(6000, int), rng)
    assert data.shape == (1, 4096, 9)
    assert len(np.unique(data[0, :, 6:9], axis=0)) == 4096
    small = BlockOptions(num_points=64, min_block_points=100)
    data, label = room_to_blocks(points[:99], np.zeros(99, int), rng, small)
    assert data.shape == (0, 64, 9) and label.shape == (0, 64)
    flat = points.copy()
    flat[:, 2] = 0.0
    with pytest.raises(ValueError, match="zero extent along z"):
        room_to_blocks(flat, np.zeros(6000, int), rng)


def _raw_room(release, key):
    folder = os.path.join(release, key, "Annotations")
    parts, labels = [], []
    for name in sorted(os.listdir(folder)):
        values = np.loadtxt(os.path.join(folder, name), ndmin=2)
        parts.append(values)
        labels.append(np.full(len(values), class_of_annotation(name)[0]))
    points = np.concatenate(parts)
    points[:, :3] -= points[:, :3].min(axis=0)
    return points, np.concatenate(labels)


def _read(folder):
    with open(os.path.join(folder, "all_files.txt")) as f:
        files = [line.strip() for line in f if line.strip()]
    data, label = [], []
    for entry in files:
        with h5py.File(os.path.join(folder, os.path.basename(entry)), "r") as h5:
            data.append(h5["data"][...])
            label.append(h5["label"][...])
    with open(os.path.join(folder, "room_filelist.txt")) as f:
        rooms = [line.strip() for line in f]
    return files, np.concatenate(data), np.concatenate(label), rooms


def test_fake_release_to_layout_read_back_by_readers_and_sequence(s3dis_raw, tmp_path):
    out = str(tmp_path / "indoor3d_sem_seg_hdf5_data")
    lines = []
    result = prepare_s3dis(s3dis_raw["root"], out, workers=1, progress=False, log=lines.append)
    files, data, label, rooms = _read(out)
    assert files == ["indoor3d_sem_seg_hdf5_data/ply_data_all_0.h5"]
    assert data.shape[1:] == (4096, 9) and data.dtype == np.float32 and label.dtype == np.uint8
    order = ["Area_1_hallway_2", "Area_1_hallway_10", "Area_1_office_1", "Area_2_conferenceRoom_1"]
    assert list(dict.fromkeys(rooms)) == order  # areas numerically, rooms in natural order
    row = 0
    for room in order:
        key = room.replace("_", "/", 2).replace("/", "_", 1)  # Area_1_office_1 -> Area_1/office_1
        points, labels = _raw_room(s3dis_raw["root"], key)
        expected = reference_blocks(points)
        count = rooms.count(room)
        assert count == len(expected), room
        room_max = points[:, :3].max(axis=0)
        lookup = {tuple(k): i for i, k in enumerate(np.round(points[:, :3] * 1000).astype(int))}
        for b in range(count):
            xyz = data[row + b, :, 6:9].astype(np.float64) * room_max
            idx = np.array([lookup[tuple(k)] for k in np.round(xyz * 1000).astype(int)])
            assert set(idx.tolist()) == set(expected[b].tolist())  # shifted to the origin, every point kept
            np.testing.assert_array_equal(label[row + b], labels[idx])
        row += count
    assert (label == CLASSES.index("clutter")).any()  # the stairs_1.txt points

    description = open_dataset(out, test_area=2)
    assert description.task == "sem_seg" and description.input_dims == 9 and description.num_points == 4096
    assert description.class_names == list(CLASSES)
    assert description.splits == {"train": rooms.count(order[0]) + rooms.count(order[1]) + rooms.count(order[2]),
                                  "test": rooms.count(order[3])}  # fmt: skip
    seq = PointCloudSequence(out, batch_size=4, split="test", test_area=2)
    x, y = seq[0]
    assert x.shape == (min(4, description.splits["test"]), 4096, 9) and y.shape == x.shape[:2]

    assert result["rooms"] == 4 and result["blocks"] == len(rooms)
    assert any("class 'stairs' counted as clutter" in line for line in lines)
    with open(os.path.join(out, "prepare.json")) as f:
        info = json.load(f)
    assert info["skip_counts"] == {"malformed": 1, "nonfinite": 1, "no_annotations": 1, "no_blocks": 1,
                                   "unknown_area": 1}  # fmt: skip
    assert not os.path.exists(os.path.join(tmp_path, ".indoor3d_sem_seg_hdf5_data.prepare-work"))


def test_broken_rooms_are_reported_per_file_and_never_partial(s3dis_raw, tmp_path):
    out = str(tmp_path / "out")
    lines = []
    prepare_s3dis(s3dis_raw["root"], out, num_points=128, workers=1, progress=False, log=lines.append)
    with open(os.path.join(out, "skipped.txt")) as f:
        skipped = [line.rstrip("\n").split("\t") for line in f]
    assert {key: kind for key, kind, _ in skipped} == s3dis_raw["broken"]
    reasons = {key: reason for key, _, reason in skipped}
    assert reasons["Area_2/office_3"].startswith("Annotations/ceiling_1.txt: line 42: '0.733\\x10' is not a number")
    assert reasons["Area_2/office_4"].startswith("Annotations/chair_1.txt: line 7: NaN or infinite value")
    assert reasons["Area_2/storage_1"] == "no Annotations folder"
    assert "at least 100 points" in reasons["Area_2/WC_1"]
    text = "\n".join(lines)
    assert "Area_2/office_3: Annotations/ceiling_1.txt: line 42" in text and "[unknown_area]" in text
    with open(os.path.join(out, "room_filelist.txt")) as f:
        rooms = {line.strip() for line in f}
    assert rooms == {"Area_1_hallway_2", "Area_1_hallway_10", "Area_1_office_1", "Area_2_conferenceRoom_1"}


def test_drop_bad_lines_converts_those_rooms_with_a_note(s3dis_raw, tmp_path):
    lines = []
    result = prepare_s3dis(s3dis_raw["root"], str(tmp_path / "out"), num_points=128, areas=[2], drop_bad_lines=True,
                           workers=1, progress=False, log=lines.append)  # fmt: skip
    assert {key for key, _, _ in result["skipped_rooms"]} == {"Area_2/storage_1", "Area_2/WC_1", "Area_x/"}
    assert result["rooms"] == 3
    notes = result["note_counts"]
    assert notes["dropped 1 bad line(s) of Annotations/ceiling_1.txt (line 42)"] == 1
    assert notes["dropped 1 bad line(s) of Annotations/chair_1.txt (line 7)"] == 1


def test_strict_writes_nothing_then_resume_reuses_every_room(s3dis_raw, tmp_path):
    out = str(tmp_path / "out")
    work = str(tmp_path / ".out.prepare-work")
    with pytest.raises(ValueError, match=r"5 of 9 inputs were skipped and strict mode is on"):
        prepare_s3dis(s3dis_raw["root"], out, num_points=128, strict=True, workers=1, progress=False, log=None)
    assert not os.path.exists(out)
    assert os.path.isfile(os.path.join(work, "skipped.txt"))
    with pytest.raises(ValueError, match="holds an unfinished run.*--resume"):
        prepare_s3dis(s3dis_raw["root"], out, num_points=128, workers=1, progress=False, log=None)
    with pytest.raises(ValueError, match="other options"):
        prepare_s3dis(s3dis_raw["root"], out, num_points=256, resume=True, workers=1, progress=False, log=None)

    # Replace one annotation file (as an editor does): only that room is converted again.
    ann = os.path.join(s3dis_raw["root"], "Area_1", "office_1", "Annotations")
    with open(os.path.join(ann, "table_1.txt")) as f:
        text = f.read()
    with open(os.path.join(ann, "table_1.txt.new"), "w") as f:
        f.write(text)
    os.replace(os.path.join(ann, "table_1.txt.new"), os.path.join(ann, "table_1.txt"))
    lines = []
    resumed = prepare_s3dis(s3dis_raw["root"], out, num_points=128, resume=True, workers=1, progress=False,
                            log=lines.append)  # fmt: skip
    assert any("resumed 8 of 9 work shards" in line for line in lines)
    fresh = prepare_s3dis(s3dis_raw["root"], str(tmp_path / "fresh"), num_points=128, workers=1, progress=False,
                          log=None)  # fmt: skip
    assert resumed["blocks"] == fresh["blocks"]
    _, data_a, label_a, rooms_a = _read(out)
    _, data_b, label_b, rooms_b = _read(str(tmp_path / "fresh"))
    np.testing.assert_array_equal(data_a, data_b)
    np.testing.assert_array_equal(label_a, label_b)
    assert rooms_a == rooms_b
    assert not os.path.exists(work)


def test_results_depend_on_the_seed_not_on_the_workers(s3dis_raw, tmp_path):
    kwargs = dict(num_points=256, areas=[1], progress=False, log=None)
    prepare_s3dis(s3dis_raw["root"], str(tmp_path / "one"), workers=1, seed=5, **kwargs)
    prepare_s3dis(s3dis_raw["root"], str(tmp_path / "two"), workers=2, seed=5, **kwargs)
    prepare_s3dis(s3dis_raw["root"], str(tmp_path / "other"), workers=1, seed=6, **kwargs)
    _, one, _, _ = _read(str(tmp_path / "one"))
    _, two, _, _ = _read(str(tmp_path / "two"))
    _, other, _, _ = _read(str(tmp_path / "other"))
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, other)


def test_bad_arguments_and_destinations(s3dis_raw, tmp_path):
    with pytest.raises(ValueError, match="no folder for area\\(s\\) \\[7\\]"):
        prepare_s3dis(s3dis_raw["root"], str(tmp_path / "o"), areas=[7], log=None)
    with pytest.raises(ValueError, match="stride must be a positive number, got 0"):
        prepare_s3dis(s3dis_raw["root"], str(tmp_path / "o"), stride=0, log=None)
    os.makedirs(tmp_path / "empty" / "Area_one")
    with pytest.raises(ValueError, match="no Area_<N> folders"):
        prepare_s3dis(str(tmp_path / "empty"), str(tmp_path / "o"), log=None)
    with pytest.raises(ValueError, match="must not be inside the input folder"):
        prepare_s3dis(s3dis_raw["root"], os.path.join(s3dis_raw["root"], "out"), log=None)
    os.makedirs(tmp_path / "full")
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="exists and is not empty"):
        prepare_s3dis(s3dis_raw["root"], str(tmp_path / "full"), log=None)


def test_command_line(s3dis_raw, tmp_path, capsys):
    out = str(tmp_path / "cli_out")
    assert cli.main(["prepare-s3dis", os.path.dirname(s3dis_raw["root"]), out, "--areas", "1", "--num_point", "64",
                     "--workers", "1", "--no_progress"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "prepare-s3dis: converted 3 of 4 rooms" in printed and f"wrote {out}" in printed
    assert open_dataset(out, test_area=1).num_points == 64
    assert cli.main(["prepare-s3dis", s3dis_raw["root"], out, "--no_progress"]) == 1
    assert "exists and is not empty" in capsys.readouterr().err
