"""Tests for pointnet_tf2.data.vds (virtual datasets) and the build-vds command."""

import argparse
import json
import os
import re
import shutil

import h5py
import numpy as np
import pytest

from pointnet_tf2.data import build_vds
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.formats import VDS_ATTRIBUTE


@pytest.mark.parametrize("layout", ["modelnet", "shapenet_part", "s3dis"])
def test_vds_equals_the_concatenation_of_its_shards(tmp_path, layouts, layout):
    root = getattr(layouts, layout)(str(tmp_path))
    source = open_dataset(root)
    output = build_vds(root, str(tmp_path / "out" / "data.vds.h5"))
    assert output == str(tmp_path / "out" / "data.vds.h5")
    paths = [s.path for s in source.shards]
    with h5py.File(output, "r") as f:
        for key in source.keys:
            assert f[key].is_virtual
            np.testing.assert_array_equal(f[key][...], layouts.read_concat(paths, key))
        for split in source.splits:
            np.testing.assert_array_equal(f["splits"][split][...], source.split_rows(split))
        stored = json.loads(f.attrs[VDS_ATTRIBUTE])
        assert stored["task"] == source.task and stored["class_names"] == source.class_names
        # sources are stored relative to the VDS folder
        assert f["data"].virtual_sources()[0].file_name.startswith("..")
    d = open_dataset(output)
    assert (d.layout, d.source_layout, d.root, d.task) == ("vds", source.layout, output, source.task)
    assert d.splits == source.splits and d.split_ranges == source.split_ranges
    assert d.class_names == source.class_names and d.num_points == source.num_points
    assert d.rooms == source.rooms and d.category_parts == source.category_parts
    assert [s.path for s in d.shards] == paths


def test_vds_survives_moving_the_folder(tmp_path, layouts):
    root = layouts.modelnet(str(tmp_path / "a"))
    output = build_vds(root, os.path.join(root, "all.vds.h5"))
    moved = str(tmp_path / "b")
    shutil.move(str(tmp_path / "a"), moved)
    output = os.path.join(moved, "modelnet40_ply_hdf5_2048", "all.vds.h5")
    d = open_dataset(output)
    with h5py.File(output, "r") as f:
        np.testing.assert_array_equal(f["label"][...], layouts.read_concat([s.path for s in d.shards], "label"))


def test_deleted_shard_is_reported_at_build_and_open(tmp_path, layouts):
    root = layouts.modelnet(str(tmp_path))
    output = build_vds(root, str(tmp_path / "data.vds.h5"))
    victim = os.path.join(root, "ply_data_train1.h5")
    os.remove(victim)
    with pytest.raises(FileNotFoundError, match=re.escape(output) + r": source shard .*ply_data_train1\.h5 is missing \(rows 20\.\.32"):
        open_dataset(output)
    with pytest.raises(FileNotFoundError, match=r"train_files\.txt: lists .*ply_data_train1\.h5"):
        build_vds(root, str(tmp_path / "again.vds.h5"))
    assert not os.path.exists(tmp_path / "again.vds.h5")


def test_truncated_shard_is_reported_at_build_and_open(tmp_path, layouts):
    root = layouts.s3dis(str(tmp_path))
    output = build_vds(root, str(tmp_path / "data.vds.h5"))
    victim = os.path.join(root, "ply_data_all_1.h5")
    size = os.path.getsize(victim)
    with open(victim, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(ValueError, match=re.escape(output) + r": source shard .*ply_data_all_1\.h5 is \d+ bytes but was \d+ .*\(truncated\)"):
        open_dataset(output)
    with pytest.raises(ValueError, match=r"ply_data_all_1\.h5: not a readable HDF5 file"):
        build_vds(root, str(tmp_path / "again.vds.h5"))


def test_rewritten_shard_of_the_same_size_is_reported(tmp_path, layouts):
    root = layouts.modelnet(str(tmp_path))
    output = build_vds(root, str(tmp_path / "data.vds.h5"))
    victim = os.path.join(root, "ply_data_test0.h5")
    size = os.path.getsize(victim)
    with open(victim, "r+b") as f:
        f.seek(size - 100)
        byte = f.read(1)
        f.seek(size - 100)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert os.path.getsize(victim) == size
    with pytest.raises(ValueError, match=r"ply_data_test0\.h5 changed since the VDS was built \(checksum differs\)"):
        open_dataset(output)


def test_failed_build_keeps_the_existing_file(tmp_path, layouts):
    root = layouts.modelnet(str(tmp_path))
    output = build_vds(root, str(tmp_path / "data.vds.h5"))
    before = open(output, "rb").read()
    os.remove(os.path.join(root, "ply_data_test0.h5"))
    with pytest.raises(FileNotFoundError):
        build_vds(root, output, overwrite=True)
    assert open(output, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["data.vds.h5", "modelnet40_ply_hdf5_2048"]


def test_validation_hold_out(tmp_path, layouts):
    root = layouts.modelnet(str(tmp_path))
    output = build_vds(root, str(tmp_path / "data.vds.h5"), val_fraction=0.25, seed=3)
    d = open_dataset(output)
    assert d.splits == {"train": 25, "val": 8, "test": 9}
    train, val = d.split_rows("train"), d.split_rows("val")
    assert not set(train) & set(val) and sorted(set(train) | set(val)) == list(range(33))
    again = open_dataset(build_vds(root, str(tmp_path / "again.vds.h5"), val_fraction=0.25, seed=3))
    np.testing.assert_array_equal(again.split_rows("val"), val)
    other = open_dataset(build_vds(root, str(tmp_path / "other.vds.h5"), val_fraction=0.25, seed=4))
    assert not np.array_equal(other.split_rows("val"), val)


def test_s3dis_vds_keeps_rooms_and_can_be_resplit(tmp_path, layouts):
    root = layouts.s3dis(str(tmp_path))
    output = build_vds(root, str(tmp_path / "data.vds.h5"), test_area=6)
    d = open_dataset(output)
    assert d.test_area == 6 and set(d.split_rooms("test")) == {"Area_6_office_3"}
    area2 = open_dataset(output, test_area=2)
    assert area2.test_area == 2 and set(area2.split_rooms("test")) == {"Area_2_hall_1"}
    assert area2.splits == open_dataset(root, test_area=2).splits


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"val_fraction": 1.0}, ValueError, r"val_fraction must be a number in \[0, 1\), got 1\.0"),
        ({"seed": -1}, ValueError, r"seed must be a non-negative integer"),
        ({"task": "part_seg"}, ValueError, r"not 'part_seg'"),
    ],
)
def test_bad_build_arguments(tmp_path, layouts, kwargs, error, match):
    root = layouts.modelnet(str(tmp_path))
    with pytest.raises(error, match=match):
        build_vds(root, str(tmp_path / "x.h5"), **kwargs)


def test_existing_val_split_refuses_a_hold_out(tmp_path, layouts):
    root = layouts.shapenet_part(str(tmp_path))
    with pytest.raises(ValueError, match=r"already has a 'val' split \(6 clouds\)"):
        build_vds(root, str(tmp_path / "x.h5"), val_fraction=0.1)


def _command_args(argv):
    from pointnet_tf2.commands import build_vds as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command, parser.parse_args(argv)


def test_build_vds_command(tmp_path, layouts, capsys):
    root = layouts.shapenet_part(str(tmp_path))
    output = str(tmp_path / "part.vds.h5")
    command, args = _command_args([root, "--output", output])
    assert command.run(args) == 0
    printed = capsys.readouterr().out
    assert f"wrote {output}" in printed and "train 22, val 6, test 7" in printed
    assert open_dataset(output).task == "part_seg"
    assert isinstance(command.HELP, str) and "\n" not in command.HELP


def test_build_vds_command_is_registered():
    from pointnet_tf2 import cli

    assert cli.COMMANDS["build-vds"] == "build_vds"


def test_build_vds_never_overwrites_what_it_did_not_write(tmp_path, layouts, capsys):
    from pointnet_tf2 import cli

    root = layouts.modelnet(str(tmp_path))
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    assert cli.main(["build-vds", root, "--output", str(notes)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"pointnet-tf2 build-vds: error: {notes}: exists; choose another --output or pass --overwrite to replace it")
    assert cli.main(["build-vds", root, "--output", str(notes), "--overwrite"]) == 1
    assert "notes.txt: is not a virtual dataset written by build-vds, so --overwrite does not replace it" in (
        capsys.readouterr().err)
    assert notes.read_text() == "my notes"
    # One of its own source shards: refused, with or without --overwrite, and the shard is intact.
    shard = os.path.join(root, "ply_data_train0.h5")
    before = open(shard, "rb").read()
    for extra in ([], ["--overwrite"]):
        assert cli.main(["build-vds", root, "--output", shard, *extra]) == 1
        assert "ply_data_train0.h5: " in capsys.readouterr().err
    assert open(shard, "rb").read() == before
    assert cli.main(["build-vds", shard, "--output", shard, "--overwrite"]) == 1
    assert "ply_data_train0.h5: is the dataset being read; choose another --output" in capsys.readouterr().err
    assert open(shard, "rb").read() == before
    # Its own output is replaced with --overwrite, through a temporary name.
    output = str(tmp_path / "data.vds.h5")
    assert cli.main(["build-vds", root, "--output", output]) == 0
    assert cli.main(["build-vds", root, "--output", output, "--val_fraction", "0.25", "--overwrite"]) == 0
    assert "val" in open_dataset(output).splits
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]


def test_a_shard_is_refused_even_when_it_looks_like_a_vds(tmp_path, layouts):
    root = layouts.modelnet(str(tmp_path))
    shard = os.path.join(root, "ply_data_test0.h5")
    with h5py.File(shard, "a") as f:  # make the check on the sources the one that refuses
        f.attrs[VDS_ATTRIBUTE] = "{}"
        f.attrs["pointnet_tf2.sources"] = "[]"
    with pytest.raises(ValueError, match=r"ply_data_test0\.h5: is a source shard of the dataset"):
        build_vds(root, shard, overwrite=True)
