"""ModelNet40 resampled with normals -> ModelNet40 layout with 6-channel data."""

import json
import os

import h5py
import numpy as np
import pytest

from pointnet_tf2 import cli
from pointnet_tf2.data import PointCloudSequence
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.raw.modelnet_normals import prepare_modelnet_normals


def _normalised(values):
    xyz = values[:, :3] - values[:, :3].mean(axis=0)
    return np.concatenate([xyz / np.sqrt((xyz**2).sum(axis=1)).max(), values[:, 3:]], axis=1)


def _split(folder, split):
    with open(os.path.join(folder, f"{split}_files.txt")) as f:
        names = [os.path.basename(line.strip()) for line in f if line.strip()]
    data, label = [], []
    for name in names:
        with h5py.File(os.path.join(folder, name), "r") as h5:
            data.append(h5["data"][...])
            label.append(h5["label"][...])
    return names, np.concatenate(data), np.concatenate(label)


def test_release_to_six_channel_layout_read_back(modelnet_normals_raw, tmp_path):
    out = str(tmp_path / "modelnet40_normal_hdf5")
    result = prepare_modelnet_normals(modelnet_normals_raw["root"], out, num_points=256, workers=1, progress=False,
                                      log=None)  # fmt: skip
    description = open_dataset(out)
    assert description.task == "cls" and description.input_dims == 6 and description.num_points == 256
    assert description.class_names == ["airplane", "bed", "night_stand"]
    files = modelnet_normals_raw["files"]
    for split in ("train", "test"):
        keys = [k for k, v in files.items() if v["split"] == split]
        names, data, label = _split(out, split)
        assert names == [f"ply_data_{split}0.h5"]
        assert data.shape == (len(keys), 256, 6) and data.dtype == np.float32 and label.shape == (len(keys), 1)
        assert description.splits[split] == len(keys)
        for i, key in enumerate(keys):  # rows keep the list order
            assert label[i, 0] == files[key]["label"]
            raw = _normalised(np.round(files[key]["values"], 6))
            # A subset of the file's points without repeats, normals unchanged, in the unit sphere.
            match = np.abs(data[i][:, None, :] - raw[None, :, :]).max(axis=2).min(axis=1)
            assert match.max() < 2e-6
            assert len(np.unique(data[i], axis=0)) == 256
            assert np.sqrt((data[i, :, :3] ** 2).sum(axis=1)).max() <= 1.0 + 1e-6
    assert result["clouds"] == {"train": 9, "test": 3}

    seq = PointCloudSequence(out, batch_size=4, split="train", num_points=128)
    x, y = seq[0]
    assert x.shape == (4, 128, 6) and y.shape == (4,)
    normals = x[..., 3:]  # the training augmentation turns normals with the points: still unit length
    np.testing.assert_allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=1e-4)


def test_first_points_and_broken_files_reported(modelnet_normals_raw, tmp_path):
    out = str(tmp_path / "out")
    lines = []
    prepare_modelnet_normals(modelnet_normals_raw["root"], out, num_points=100, sampling="first", workers=2,
                             progress=False, log=lines.append)  # fmt: skip
    files = modelnet_normals_raw["files"]
    _, data, _ = _split(out, "test")
    first_test = next(k for k, v in files.items() if v["split"] == "test")
    np.testing.assert_allclose(data[0], _normalised(np.round(files[first_test]["values"], 6))[:100], atol=2e-6)
    with open(os.path.join(out, "skipped.txt")) as f:
        skipped = [line.rstrip("\n").split("\t") for line in f]
    assert {key: kind for key, kind, _ in skipped} == modelnet_normals_raw["broken"]
    reasons = {key: reason for key, _, reason in skipped}
    assert reasons["bed/bed_0100.txt"] == "line 21: 5 values, expected 6 ('0.1,0.2,0.3,0.4,0.5')"
    assert reasons["airplane/airplane_0300.txt"] == "holds no points (no data lines)"
    assert reasons["train:sofa_0001"] == ("modelnet40_train.txt: line 12: class 'sofa' is not in "
                                          "modelnet40_shape_names.txt")  # fmt: skip
    with open(os.path.join(out, "prepare.json")) as f:
        info = json.load(f)
    assert info["channels"] == ["x", "y", "z", "nx", "ny", "nz"] and info["skipped"] == 4
    assert any("bed/bed_0100.txt: line 21" in line for line in lines)


def test_errors(modelnet_normals_raw, tmp_path):
    root = modelnet_normals_raw["root"]
    with pytest.raises(ValueError, match="sampling must be one of"):
        prepare_modelnet_normals(root, str(tmp_path / "o"), sampling="grid", log=None)
    with pytest.raises(ValueError, match="no modelnet10_shape_names.txt"):
        prepare_modelnet_normals(root, str(tmp_path / "o"), classes=10, log=None)
    with open(os.path.join(root, "modelnet40_test.txt"), "a") as f:
        f.write("bed_0005\n")
    with pytest.raises(ValueError, match="'bed_0005' is also listed in modelnet40_train.txt"):
        prepare_modelnet_normals(root, str(tmp_path / "o"), log=None)


def test_command_line(modelnet_normals_raw, tmp_path, capsys):
    out = str(tmp_path / "cli_out")
    argv = ["prepare-modelnet-normals", os.path.dirname(modelnet_normals_raw["root"]), out, "--num_point", "64",
            "--sampling", "fps", "--workers", "1", "--no_progress"]  # fmt: skip
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "converted 12 of 16 files" in printed and "clouds of 64 x 6 (xyz + normals)" in printed
    assert open_dataset(out).input_dims == 6
    assert cli.main(argv) == 1
    assert "exists and is not empty" in capsys.readouterr().err
    assert cli.main(argv + ["--overwrite"]) == 0
