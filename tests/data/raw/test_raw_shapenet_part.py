"""ShapeNet part raw release (classic and _normal) -> hdf5_data + full-resolution files."""

import json
import os

import h5py
import numpy as np
import pytest

from pointnet_tf2 import cli
from pointnet_tf2.data import PointCloudSequence
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.raw.shapenet_part import CATEGORIES
from pointnet_tf2.data.raw.shapenet_part import category_parts
from pointnet_tf2.data.raw.shapenet_part import overall_part_id
from pointnet_tf2.data.raw.shapenet_part import part_offsets
from pointnet_tf2.data.raw.shapenet_part import prepare_shapenet_part
from pointnet_tf2.data.raw.shapenet_part import read_full_resolution

# The table: categories in alphabetical order with their part counts.
TABLE = [("Airplane", 4), ("Bag", 2), ("Cap", 2), ("Car", 4), ("Chair", 4), ("Earphone", 3), ("Guitar", 3),
         ("Knife", 2), ("Lamp", 4), ("Laptop", 2), ("Motorbike", 6), ("Mug", 2), ("Pistol", 3), ("Rocket", 3),
         ("Skateboard", 3), ("Table", 3)]  # fmt: skip


def test_part_id_mapping_matches_the_table():
    assert [(name, count) for name, _, count in CATEGORIES] == TABLE
    assert [name for name, _ in TABLE] == sorted(name for name, _ in TABLE)
    assert part_offsets() == [0, 4, 6, 8, 12, 16, 19, 22, 24, 28, 30, 36, 38, 41, 44, 47, 50]
    parts = category_parts()
    assert [p for ids in parts for p in ids] == list(range(50))
    assert parts[10] == [30, 31, 32, 33, 34, 35]  # Motorbike
    assert overall_part_id(0, 1) == 0 and overall_part_id(1, 1) == 4 and overall_part_id(10, 6) == 35
    assert overall_part_id(15, 3) == 49
    with pytest.raises(ValueError, match="part label 3 is outside 1..2 for Bag"):
        overall_part_id(1, 3)


def _normalised(xyz):
    centred = xyz - xyz.mean(axis=0)
    return centred / np.sqrt((centred**2).sum(axis=1)).max()


def _rows(folder, split):
    with open(os.path.join(folder, f"{split}_hdf5_file_list.txt")) as f:
        names = [line.strip() for line in f if line.strip()]
    parts = {"data": [], "label": [], "pid": []}
    for name in names:
        with h5py.File(os.path.join(folder, name), "r") as h5:
            for key in parts:
                parts[key].append(h5[key][...])
    return {key: np.concatenate(value) for key, value in parts.items()}


def _check_conversion(raw, out, channels):
    description = open_dataset(out)
    assert description.task == "part_seg" and description.layout == "shapenet_part"
    assert description.input_dims == channels and description.num_points == 2048
    assert description.category_names == [name for name, _ in TABLE]
    assert description.num_parts == 50 and description.category_parts == category_parts()
    expected = {s: sorted(k for k, v in raw["shapes"].items() if v["split"] == s) for s in ("train", "val", "test")}
    assert description.splits == {s: len(keys) for s, keys in expected.items()}
    synset_index = {synset: i for i, (_, synset, _) in enumerate(CATEGORIES)}

    for split, keys in expected.items():
        rows = _rows(out, split)
        full = read_full_resolution(os.path.join(out, f"{split}_full_resolution.h5"))
        assert sorted(full.shape_id) == keys and len(full) == len(rows["data"])
        assert rows["data"].shape == (len(keys), 2048, channels) and rows["pid"].shape == (len(keys), 2048)
        for i, key in enumerate(full.shape_id):
            shape = raw["shapes"][key]
            category = synset_index[key.split("/")[0]]
            assert rows["label"][i, 0] == category == full.label[i]
            points, pid = full.cloud(i)
            # Every original point, normalised into the unit sphere, with its overall part id.
            np.testing.assert_allclose(points[:, :3], _normalised(np.round(shape["xyz"], 5 if channels == 3 else 6)),
                                       atol=2e-6)  # fmt: skip
            if channels == 6:
                np.testing.assert_allclose(points[:, 3:], shape["normals"], atol=2e-6)
            np.testing.assert_array_equal(pid, shape["pid"])
            assert set(np.unique(pid)) <= set(category_parts()[category])
            # The stored 2048 points are points[sample_index]: a subset, or every point plus duplicates.
            index = full.sample_index[i]
            np.testing.assert_array_equal(rows["data"][i], points[index])
            np.testing.assert_array_equal(rows["pid"][i], pid[index])
            unique = len(np.unique(index))
            assert unique == min(len(points), 2048)
    return description


def test_classic_release_to_hdf5_data(shapenet_raw, tmp_path):
    out = str(tmp_path / "hdf5_data")
    lines = []
    result = prepare_shapenet_part(shapenet_raw["root"], out, workers=1, progress=False, log=lines.append)
    assert result["variant"] == "classic" and result["unlisted_shapes"] == 1
    description = _check_conversion(shapenet_raw, out, 3)
    with open(os.path.join(out, "all_object_categories.txt")) as f:
        assert [line.rstrip("\n").split("\t") for line in f] == [[n, s] for n, s, _ in CATEGORIES]
    with open(os.path.join(out, "overallid_to_catid_partid.json")) as f:
        overall = json.load(f)
    assert len(overall) == 50 and overall[0] == ["02691156", 1] and overall[30] == ["03790512", 1]
    assert overall[49] == ["04379243", 3]
    with open(os.path.join(out, "catid_partid_to_overallid.json")) as f:
        assert json.load(f)["03790512_6"] == 35
    with open(os.path.join(out, "part_color_mapping.json")) as f:
        assert np.asarray(json.load(f)).shape == (50, 3)

    seq = PointCloudSequence(description, batch_size=2, split="train")
    x, y = seq[0]
    assert x["points"].shape == (2, 2048, 3) and x["category"].shape == (2, 16)
    assert y["parts"].shape == (2, 2048) and y["category"].shape == (2,)


def test_normal_release_to_six_channel_hdf5_data(shapenet_normal_raw, tmp_path):
    out = str(tmp_path / "hdf5_data_normal")
    result = prepare_shapenet_part(shapenet_normal_raw["root"], out, workers=2, progress=False, log=None)
    assert result["variant"] == "normal"
    description = _check_conversion(shapenet_normal_raw, out, 6)
    seq = PointCloudSequence(description, batch_size=1, split="val", num_points=1024)
    x, y = seq[0]
    assert x["points"].shape == (1, 1024, 6) and y["parts"].shape == (1, 1024)


@pytest.mark.parametrize("variant", ["classic", "normal"])
def test_broken_shapes_are_reported(variant, shapenet_raw, shapenet_normal_raw, tmp_path):
    raw = shapenet_raw if variant == "classic" else shapenet_normal_raw
    out = str(tmp_path / "out")
    lines = []
    result = prepare_shapenet_part(raw["root"], out, num_points=256, workers=1, progress=False, log=lines.append)
    with open(os.path.join(out, "skipped.txt")) as f:
        skipped = [line.rstrip("\n").split("\t") for line in f]
    assert {key: kind for key, kind, _ in skipped} == raw["broken"]
    reasons = {key: reason for key, _, reason in skipped}
    if variant == "classic":
        assert reasons["02773838/bad_label"] == ("02773838/points_label/bad_label.seg: point 18 has part label 3, "
                                                 "but Bag has parts 1..2")  # fmt: skip
        assert reasons["03001627/bad_line"].startswith("03001627/points/bad_line.pts: line 100: 2 values, expected 3")
        assert "345 labels but the .pts file has 350 points" in reasons["03797390/short_seg"]
    else:
        assert reasons["02773838/bad_label"] == ("02773838/bad_label.txt: point 18 has part id 6, "
                                                 "but Bag's parts are 4..5")  # fmt: skip
        assert reasons["03001627/bad_line"].startswith("03001627/bad_line.txt: line 100: 6 values, expected 7")
    assert "line 13: NaN or infinite value" in reasons["03636649/nan_point"]
    assert "not one of the 16 ShapeNet part categories" in reasons["99999999/foreign"]
    assert result["skip_counts"]["unknown_category"] == 1
    assert any("03636649/nan_point" in line for line in lines)
    assert open_dataset(out).num_points == 256


def test_strict_resume_and_metadata_errors(shapenet_raw, tmp_path):
    out = str(tmp_path / "out")
    with pytest.raises(ValueError, match="strict mode is on"):
        prepare_shapenet_part(shapenet_raw["root"], out, num_points=128, strict=True, workers=1, progress=False,
                              log=None)  # fmt: skip
    assert not os.path.exists(out)
    lines = []
    prepare_shapenet_part(shapenet_raw["root"], out, num_points=128, resume=True, workers=1, progress=False,
                          log=lines.append)  # fmt: skip
    assert any("resumed 3 of 3 work shards" in line for line in lines)
    fresh = str(tmp_path / "fresh")
    prepare_shapenet_part(shapenet_raw["root"], fresh, num_points=128, workers=1, progress=False, log=None)
    for split in ("train", "val", "test"):
        a, b = _rows(out, split), _rows(fresh, split)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
        fa = read_full_resolution(os.path.join(out, f"{split}_full_resolution.h5"))
        fb = read_full_resolution(os.path.join(fresh, f"{split}_full_resolution.h5"))
        np.testing.assert_array_equal(fa.points, fb.points)
        np.testing.assert_array_equal(fa.sample_index, fb.sample_index)

    root = shapenet_raw["root"]
    split_file = os.path.join(root, "train_test_split", "shuffled_val_file_list.json")
    with open(split_file, "w") as f:
        json.dump(["shape_data/02691156/a01"], f)  # also in the train list
    with pytest.raises(ValueError, match="'shape_data/02691156/a01' is also listed in shuffled_train_file_list.json"):
        prepare_shapenet_part(root, str(tmp_path / "x"), log=None)
    with open(os.path.join(root, "synsetoffset2category.txt"), "a") as f:
        f.write("Airplane\t12345678\n")
    with pytest.raises(ValueError, match="Airplane has synset 12345678, but ShapeNet's Airplane is 02691156"):
        prepare_shapenet_part(root, str(tmp_path / "x"), log=None)
    with pytest.raises(ValueError, match="normalize must be one of"):
        prepare_shapenet_part(root, str(tmp_path / "x"), normalize="box", log=None)


def test_command_line(shapenet_normal_raw, tmp_path, capsys):
    out = str(tmp_path / "cli_out")
    parent = os.path.dirname(shapenet_normal_raw["root"])
    assert cli.main(["prepare-shapenet-part", parent, out, "--num_point", "64", "--workers", "1",
                     "--no_progress"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "prepare-shapenet-part: converted 8 of 14 shapes" in printed and "clouds of 64 x 6" in printed
    assert open_dataset(out).input_dims == 6
