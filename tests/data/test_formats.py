"""Tests for pointnet_tf2.data.formats (readers of the original layouts, validation)."""

import json
import os
import re

import h5py
import numpy as np
import pytest

from pointnet_tf2.data import DatasetDescription
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data import read_list_file
from pointnet_tf2.data.formats import S3DIS_CLASS_NAMES


def test_modelnet_layout_with_foreign_absolute_paths(modelnet_dir):
    with open(os.path.join(modelnet_dir, "train_files.txt")) as f:
        assert f.readline().startswith("/home/someone/data/modelnet40_ply_hdf5_2048/")
    d = open_dataset(modelnet_dir)
    assert (d.task, d.layout, d.root) == ("cls", "modelnet40", modelnet_dir)
    assert d.class_names == [f"shape{i}" for i in range(5)] and d.num_classes == 5
    assert (d.num_points, d.input_dims, d.up_axis) == (64, 3, 1)
    assert d.splits == {"train": 33, "test": 9}
    assert [os.path.basename(s.path) for s in d.shards] == ["ply_data_train0.h5", "ply_data_train1.h5", "ply_data_test0.h5"]
    assert all(os.path.dirname(s.path) == modelnet_dir for s in d.shards)
    np.testing.assert_array_equal(d.split_rows("test"), np.arange(33, 42))
    assert d.dtypes == {"data": "float32", "label": "uint8"}


def test_parent_folder_is_accepted(modelnet_dir):
    assert open_dataset(os.path.dirname(modelnet_dir)).root == modelnet_dir


def test_shapenet_part_layout(shapenet_part_dir):
    d = open_dataset(shapenet_part_dir, task="part_seg")
    assert d.layout == "shapenet_part"
    assert d.category_names == ["Airplane", "Bag", "Cap"] and d.num_categories == 3
    assert d.category_ids == ["02691156", "02773838", "02954340"]
    assert d.num_parts == d.num_classes == 8
    assert d.category_parts == [[0, 1, 2, 3], [4, 5], [6, 7]]
    assert d.part_names[:2] == ["Airplane_1", "Airplane_2"] and d.class_names == d.part_names
    assert d.splits == {"train": 22, "val": 6, "test": 7}
    assert d.keys == ["data", "label", "pid"]


def test_shapenet_part_names_file(shapenet_part_dir):
    names = [f"p{i}" for i in range(8)]
    with open(os.path.join(shapenet_part_dir, "part_names.txt"), "w") as f:
        f.write("\n".join(names))
    assert open_dataset(shapenet_part_dir).part_names == names


def test_s3dis_layout_and_test_area(s3dis_dir):
    d = open_dataset(s3dis_dir)
    assert (d.task, d.layout, d.test_area, d.up_axis) == ("sem_seg", "s3dis", 6, 2)
    assert d.class_names == list(S3DIS_CLASS_NAMES) and d.num_classes == 13
    assert (d.num_points, d.input_dims) == (32, 9)
    assert d.splits == {"train": 14, "test": 6}
    assert set(d.split_rooms("test")) == {"Area_6_office_3"}
    assert "Area_6_office_3" not in d.split_rooms("train")
    other = open_dataset(s3dis_dir, test_area=2)
    assert other.splits == {"train": 14, "test": 6} and set(other.split_rooms("test")) == {"Area_2_hall_1"}
    assert open_dataset(s3dis_dir, test_area=3).splits == {"train": 17, "test": 3}


def test_s3dis_class_names_file(s3dis_dir):
    with open(os.path.join(s3dis_dir, "class_names.txt"), "w") as f:
        f.write("\n".join(f"c{i}" for i in range(13)))
    assert open_dataset(s3dis_dir).class_names[0] == "c0"


def test_plain_hdf5_file(tmp_path, layouts):
    path = layouts.write_h5(str(tmp_path / "mine.h5"), data=np.zeros((5, 10, 3), np.float32), label=np.array([0, 2, 1, 2, 0]))
    d = open_dataset(path)
    assert (d.task, d.layout, d.num_classes, d.splits) == ("cls", "hdf5", 3, {"all": 5})
    seg = layouts.write_h5(str(tmp_path / "seg.h5"), data=np.zeros((2, 10, 9), np.float32), label=np.ones((2, 10), np.int64))
    assert open_dataset(seg).task == "sem_seg"


def test_description_json_round_trip(shapenet_part_dir, s3dis_dir):
    for path in (shapenet_part_dir, s3dis_dir):
        d = open_dataset(path)
        text = json.dumps(d.to_dict())
        assert DatasetDescription.from_dict(json.loads(text)) == d


def test_list_entries_resolve_by_file_name(tmp_path):
    (tmp_path / "a.h5").write_bytes(b"x")
    (tmp_path / "b.h5").write_bytes(b"x")
    (tmp_path / "list.txt").write_text("/elsewhere/deep/a.h5\nC:\\Users\\x\\b.h5\n\n")
    assert read_list_file(str(tmp_path / "list.txt")) == [str(tmp_path / "a.h5"), str(tmp_path / "b.h5")]


# -- bad input: one clear error each, raised at open time ------------------------------------


def _rewrite(path, **datasets):
    """Rewrites an h5 file with the given datasets (None drops a key)."""
    with h5py.File(path, "r") as f:
        content = {key: f[key][...] for key in f}
    content.update(datasets)
    os.remove(path)
    with h5py.File(path, "w") as f:
        for key, value in content.items():
            if value is not None:
                f.create_dataset(key, data=value)


def test_missing_file_named_in_list(modelnet_dir):
    os.remove(os.path.join(modelnet_dir, "ply_data_train1.h5"))
    with pytest.raises(FileNotFoundError, match=r"train_files\.txt: lists .*ply_data_train1\.h5.*does not exist"):
        open_dataset(modelnet_dir)


def test_missing_key(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_test0.h5")
    _rewrite(path, label=None)
    with pytest.raises(ValueError, match=re.escape(path) + r": key 'label' is missing"):
        open_dataset(modelnet_dir)


def test_wrong_shape(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_train0.h5")
    _rewrite(path, data=np.zeros((20, 64, 2), np.float32))
    with pytest.raises(ValueError, match=re.escape(path) + r": 'data' has shape \(20, 64, 2\)"):
        open_dataset(modelnet_dir)


def test_wrong_label_shape(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_train0.h5")
    _rewrite(path, label=np.zeros((20, 3), np.uint8))
    with pytest.raises(ValueError, match=re.escape(path) + r": 'label' has shape \(20, 3\); expected \(20,\) or \(20, 1\)"):
        open_dataset(modelnet_dir)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_coordinates(modelnet_dir, bad):
    path = os.path.join(modelnet_dir, "ply_data_train1.h5")
    with h5py.File(path, "r") as f:
        data = f["data"][...]
    data[7, 3, 1] = bad
    _rewrite(path, data=data)
    with pytest.raises(ValueError, match=re.escape(path) + r": 'data' holds NaN or infinite coordinates \(first in cloud 7\)"):
        open_dataset(modelnet_dir)


def test_label_out_of_range(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_test0.h5")
    label = np.zeros((9, 1), np.uint8)
    label[4] = 5
    _rewrite(path, label=label)
    with pytest.raises(ValueError, match=re.escape(path) + r": 'label' value 5 \(cloud 4\) is out of range 0..4 \(5 classes in shape_names.txt\)"):
        open_dataset(modelnet_dir)


def test_negative_label(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_test0.h5")
    label = np.zeros((9, 1), np.int32)
    label[2] = -1
    # every shard must share the label dtype, so rewrite all of them as int32
    for name in ("ply_data_train0.h5", "ply_data_train1.h5"):
        other = os.path.join(modelnet_dir, name)
        with h5py.File(other, "r") as f:
            _rewrite(other, label=f["label"][...].astype(np.int32))
    _rewrite(path, label=label)
    with pytest.raises(ValueError, match=re.escape(path) + r": 'label' has negative value -1 \(cloud 2\)"):
        open_dataset(modelnet_dir)


def test_empty_file(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_test0.h5")
    open(path, "w").close()
    with pytest.raises(ValueError, match=re.escape(path) + r": empty file \(0 bytes\)"):
        open_dataset(modelnet_dir)


def test_file_without_clouds(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_test0.h5")
    _rewrite(path, data=np.zeros((0, 64, 3), np.float32), label=np.zeros((0, 1), np.uint8))
    with pytest.raises(ValueError, match=re.escape(path) + r": holds no clouds"):
        open_dataset(modelnet_dir)


def test_not_hdf5(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_test0.h5")
    with open(path, "w") as f:
        f.write("not hdf5")
    with pytest.raises(ValueError, match=re.escape(path) + r": not a readable HDF5 file"):
        open_dataset(modelnet_dir)


def test_point_count_mismatch_between_shards(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_train1.h5")
    _rewrite(path, data=np.zeros((13, 32, 3), np.float32))
    with pytest.raises(ValueError, match=re.escape(path) + r": 32 points per cloud, but .*ply_data_train0\.h5 has 64"):
        open_dataset(modelnet_dir)


def test_dtype_mismatch_between_shards(modelnet_dir):
    path = os.path.join(modelnet_dir, "ply_data_test0.h5")
    with h5py.File(path, "r") as f:
        data = f["data"][...]
    _rewrite(path, data=data.astype(np.float64))
    with pytest.raises(ValueError, match=re.escape(path) + r": 'data' has dtype float64, but .*ply_data_train0\.h5 has float32"):
        open_dataset(modelnet_dir)


def test_part_id_out_of_range_and_of_the_wrong_category(shapenet_part_dir):
    path = os.path.join(shapenet_part_dir, "ply_data_val0.h5")
    with h5py.File(path, "r") as f:
        pid, label = f["pid"][...], f["label"][...]
    bad = pid.copy()
    bad[3, 5] = 50
    _rewrite(path, pid=bad)
    with pytest.raises(ValueError, match=re.escape(path) + r": 'pid' value 50 \(cloud 3\) is out of range: 8 parts"):
        open_dataset(shapenet_part_dir)
    wrong = pid.copy()
    category = int(label[2, 0])
    wrong[2, 0] = {0: 4, 1: 0, 2: 0}[category]
    _rewrite(path, pid=wrong)
    with pytest.raises(ValueError, match=re.escape(path) + r": 'pid' value \d \(cloud 2\) is not a part of category"):
        open_dataset(shapenet_part_dir)


def test_category_out_of_range(shapenet_part_dir):
    path = os.path.join(shapenet_part_dir, "ply_data_test0.h5")
    with h5py.File(path, "r") as f:
        label = f["label"][...]
    label[1] = 3
    _rewrite(path, label=label)
    with pytest.raises(ValueError, match=re.escape(path) + r": 'label' value 3 \(cloud 1\) is out of range 0..2 \(3 classes in all_object_categories.txt\)"):
        open_dataset(shapenet_part_dir)


def test_missing_part_metadata(shapenet_part_dir):
    os.remove(os.path.join(shapenet_part_dir, "overallid_to_catid_partid.json"))
    with pytest.raises(FileNotFoundError, match=r"overallid_to_catid_partid\.json: missing"):
        open_dataset(shapenet_part_dir)


def test_s3dis_errors(s3dis_dir):
    with pytest.raises(ValueError, match=r"room_filelist\.txt: test_area=5 has no blocks \(areas present: 1, 2, 3, 6\)"):
        open_dataset(s3dis_dir, test_area=5)
    rooms = os.path.join(s3dis_dir, "room_filelist.txt")
    with open(rooms) as f:
        lines = f.read().splitlines()
    with open(rooms, "w") as f:
        f.write("\n".join(lines[:-1]))
    with pytest.raises(ValueError, match=r"room_filelist\.txt: 19 room names, but the files in all_files\.txt hold 20 blocks"):
        open_dataset(s3dis_dir)
    with open(rooms, "w") as f:
        f.write("\n".join(["office_1"] + lines[1:]))
    with pytest.raises(ValueError, match=r"room_filelist\.txt: line 1 'office_1' does not name an area"):
        open_dataset(s3dis_dir)


def test_s3dis_needs_nine_channels_and_labels_in_range(s3dis_dir):
    path = os.path.join(s3dis_dir, "ply_data_all_1.h5")
    with h5py.File(path, "r") as f:
        data, label = f["data"][...], f["label"][...]
    label[4, 7] = 13
    _rewrite(path, label=label)
    with pytest.raises(ValueError, match=re.escape(path) + r": 'label' value 13 \(cloud 4\) is out of range 0..12 \(13 classes\)"):
        open_dataset(s3dis_dir)
    _rewrite(path, data=data[..., :6], label=label % 13)
    with pytest.raises(ValueError, match=re.escape(path) + r": 'data' has shape \(11, 32, 6\); S3DIS blocks have 9 values"):
        open_dataset(s3dis_dir)


def test_wrong_task_and_unknown_layout(modelnet_dir, tmp_path):
    with pytest.raises(ValueError, match=r"modelnet40 dataset for task 'cls', not 'sem_seg'"):
        open_dataset(modelnet_dir, task="sem_seg")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"empty: not a known dataset layout"):
        open_dataset(str(empty))
    with pytest.raises(FileNotFoundError, match=r"nowhere: no such dataset directory or file"):
        open_dataset(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"task must be one of"):
        open_dataset(modelnet_dir, task="segmentation")


def test_value_scan_is_cached_and_can_be_skipped(modelnet_dir, monkeypatch):
    from pointnet_tf2.data.io import hdf5

    open_dataset(modelnet_dir)
    calls = []
    original = hdf5.row_blocks
    monkeypatch.setattr(hdf5, "row_blocks", lambda ds: calls.append(1) or original(ds))
    open_dataset(modelnet_dir)
    assert not calls  # unchanged files are not scanned twice
    hdf5._CHECKED.clear()
    open_dataset(modelnet_dir, check_values=False)
    assert not calls
