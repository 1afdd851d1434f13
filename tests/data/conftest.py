"""Fixtures for the data tests: tiny datasets in each original layout.

Files are written with h5py directly, gzip-compressed and chunked as the
original downloads, and the list files name foreign absolute paths (as in the
original archives, written on the authors' machine), so readers must resolve
entries by file name.

Values are chosen so tests can check alignment:
- ModelNet40: label of global row r is r % num_classes;
- ShapeNet part: the x coordinate of each point is `pid * 0.01` + a tiny offset;
- S3DIS: channel 3 (red) of each point is `label / 16` exactly.
"""

import json
import os

import h5py
import numpy as np
import pytest

FOREIGN = "/home/someone/data"

PART_CATEGORIES = [("Airplane", "02691156", 4), ("Bag", "02773838", 2), ("Cap", "02954340", 2)]


def write_h5(path, chunk_rows=8, **datasets):
    """Writes datasets gzip-compressed and chunked by `chunk_rows` rows."""
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            value = np.asarray(value)
            chunks = (min(chunk_rows, max(1, value.shape[0])),) + value.shape[1:] if value.shape[0] else None
            f.create_dataset(key, data=value, compression="gzip", compression_opts=4, chunks=chunks)
    return path


def _write_list(path, folder_name, names, style="absolute"):
    with open(path, "w") as f:
        for name in names:
            if style == "absolute":
                f.write(f"{FOREIGN}/{folder_name}/{name}\n")
            elif style == "relative":
                f.write(f"data/{folder_name}/{name}\n")
            else:
                f.write(f"{name}\n")


def make_modelnet(root, *, num_classes=5, train_sizes=(20, 13), test_sizes=(9,), num_points=64, channels=3, seed=0):
    """ModelNet40 layout; returns the folder. Global row r has label r % num_classes."""
    root = os.path.join(root, "modelnet40_ply_hdf5_2048")
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(seed)
    row = 0
    for split, sizes in (("train", train_sizes), ("test", test_sizes)):
        names = []
        for i, size in enumerate(sizes):
            data = rng.uniform(-1, 1, (size, num_points, channels)).astype(np.float32)
            label = (np.arange(row, row + size) % num_classes).astype(np.uint8)[:, None]
            name = f"ply_data_{split}{i}.h5"
            write_h5(os.path.join(root, name), data=data, label=label)
            names.append(name)
            row += size
        _write_list(os.path.join(root, f"{split}_files.txt"), "modelnet40_ply_hdf5_2048", names)
    with open(os.path.join(root, "shape_names.txt"), "w") as f:
        f.write("\n".join(f"shape{c}" for c in range(num_classes)) + "\n")
    return root


def make_shapenet_part(root, *, sizes=None, num_points=48, seed=0):
    """ShapeNet part layout with 3 categories (4 + 2 + 2 parts); returns the folder."""
    sizes = sizes or {"train": (12, 10), "val": (6,), "test": (7,)}
    root = os.path.join(root, "hdf5_data")
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(seed)
    oid2cpid, parts_of = [], []
    for _name, synset, count in PART_CATEGORIES:
        parts_of.append(list(range(len(oid2cpid), len(oid2cpid) + count)))
        oid2cpid.extend([synset, part] for part in range(1, count + 1))
    for split, split_sizes in sizes.items():
        names = []
        for i, size in enumerate(split_sizes):
            category = rng.integers(0, len(PART_CATEGORIES), size)
            pid = np.stack([rng.choice(parts_of[c], num_points) for c in category]).astype(np.uint8)
            data = rng.uniform(-0.5, 0.5, (size, num_points, 3)).astype(np.float32)
            data[..., 0] = pid * 0.01 + rng.uniform(0, 0.002, pid.shape)
            name = f"ply_data_{split}{i}.h5"
            write_h5(os.path.join(root, name), data=data, label=category.astype(np.uint8)[:, None], pid=pid)
            names.append(name)
        _write_list(os.path.join(root, f"{split}_hdf5_file_list.txt"), "hdf5_data", names, style="bare")
    with open(os.path.join(root, "all_object_categories.txt"), "w") as f:
        f.write("".join(f"{name}\t{synset}\n" for name, synset, _ in PART_CATEGORIES))
    with open(os.path.join(root, "overallid_to_catid_partid.json"), "w") as f:
        json.dump(oid2cpid, f)
    with open(os.path.join(root, "catid_partid_to_overallid.json"), "w") as f:
        json.dump({f"{c}_{p}": oid for oid, (c, p) in enumerate(oid2cpid)}, f)
    with open(os.path.join(root, "part_color_mapping.json"), "w") as f:
        json.dump([[0.1 * (i % 10), 0.5, 0.5] for i in range(len(oid2cpid))], f)
    return root


def make_s3dis(root, *, rooms_per_file=(["Area_1_office_1"] * 5 + ["Area_2_hall_1"] * 4,
                                         ["Area_2_hall_1"] * 2 + ["Area_6_office_3"] * 6 + ["Area_3_wc_1"] * 3),
               num_points=32, seed=0):  # fmt: skip
    """S3DIS layout: 2 files, areas 1, 2, 3 and 6; red channel = label / 16."""
    root = os.path.join(root, "indoor3d_sem_seg_hdf5_data")
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(seed)
    names, rooms = [], []
    for i, file_rooms in enumerate(rooms_per_file):
        size = len(file_rooms)
        label = rng.integers(0, 13, (size, num_points)).astype(np.uint8)
        data = rng.uniform(0, 1, (size, num_points, 9)).astype(np.float32)
        data[..., 3] = label / 16.0
        name = f"ply_data_all_{i}.h5"
        write_h5(os.path.join(root, name), data=data, label=label)
        names.append(name)
        rooms.extend(file_rooms)
    _write_list(os.path.join(root, "all_files.txt"), "indoor3d_sem_seg_hdf5_data", names, style="relative")
    with open(os.path.join(root, "room_filelist.txt"), "w") as f:
        f.write("\n".join(rooms) + "\n")
    return root


def read_concat(paths, key):
    """Concatenates `key` over files, reading them directly."""
    parts = []
    for path in paths:
        with h5py.File(path, "r") as f:
            parts.append(f[key][...])
    return np.concatenate(parts)


@pytest.fixture
def modelnet_dir(tmp_path):
    return make_modelnet(str(tmp_path))


@pytest.fixture
def shapenet_part_dir(tmp_path):
    return make_shapenet_part(str(tmp_path))


@pytest.fixture
def s3dis_dir(tmp_path):
    return make_s3dis(str(tmp_path))


@pytest.fixture
def layouts():
    """The dataset writers, for tests that need variants: `layouts.modelnet(root, ...)`."""

    class Layouts:
        modelnet = staticmethod(make_modelnet)
        shapenet_part = staticmethod(make_shapenet_part)
        s3dis = staticmethod(make_s3dis)
        write_h5 = staticmethod(write_h5)
        read_concat = staticmethod(read_concat)

    return Layouts
