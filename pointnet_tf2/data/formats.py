"""Readers for the original dataset layouts, and `open_dataset`.

Three layouts of the original PointNet are understood (see the README, "Data"):

- ModelNet40 `modelnet40_ply_hdf5_2048/`: `train_files.txt`, `test_files.txt`
  (one h5 path per line), `shape_names.txt` (class names, line = label); h5
  keys `data` (n, P, 3 or 6) and `label` (n, 1); an optional `voxels`
  uint8 (n, R, R, R) holds each cloud's occupancy grid (datasets prepared
  from voxel data: `DatasetDescription.voxel_resolution`).
- ShapeNet part `hdf5_data/`: `train_hdf5_file_list.txt`,
  `val_hdf5_file_list.txt`, `test_hdf5_file_list.txt`; keys `data`,
  `label` (object category) and `pid` (n, P) overall part ids; metadata
  `all_object_categories.txt` and `overallid_to_catid_partid.json` (plus the
  optional `catid_partid_to_overallid.json` and `part_names.txt`).
- S3DIS `indoor3d_sem_seg_hdf5_data/`: `all_files.txt` and
  `room_filelist.txt` (room per block, drives the test-area split); keys
  `data` (n, P, 9) and `label` (n, P). An optional `class_names.txt` replaces
  the 13 S3DIS class names.

List files name paths from the authors' machine, so every entry is resolved by
its file name inside the dataset directory. Every file is checked when the
dataset is opened (keys, shapes, dtypes, point counts, NaN/inf coordinates,
label ranges), and problems raise `ValueError`/`FileNotFoundError` naming the
file and the problem.
"""

import dataclasses
import json
import os
import re

import numpy as np

from pointnet_tf2.data import h5read
from pointnet_tf2.data.description import DatasetDescription
from pointnet_tf2.data.description import Shard
from pointnet_tf2.data.description import TASKS
from pointnet_tf2.data.description import area_of_room  # noqa: F401  (re-exported)
from pointnet_tf2.data.description import rows_to_ranges
from pointnet_tf2.data.description import s3dis_split_rows
from pointnet_tf2.data.vds_reader import VDS_ATTRIBUTE
from pointnet_tf2.data.vds_reader import open_vds

S3DIS_CLASS_NAMES = (
    "ceiling", "floor", "wall", "beam", "column", "window", "door",
    "table", "chair", "sofa", "bookcase", "board", "clutter",
)  # fmt: skip

LAYOUT_TASKS = {"modelnet40": "cls", "shapenet_part": "part_seg", "s3dis": "sem_seg"}

# Folder names of the original downloads, tried when a parent folder is given.
_KNOWN_FOLDERS = ("modelnet40_ply_hdf5_2048", "hdf5_data", "indoor3d_sem_seg_hdf5_data")


# Rows read at once while scanning values; about 32 MB of float32 xyz.
_SCAN_BYTES = 32 << 20

# (realpath, size, mtime_ns, key, limit) of files whose values were checked.
_CHECKED = {}


def open_dataset(path, task=None, *, test_area=None, check_values=True, num_classes=None):
    """Opens and validates a dataset, returning its description.

    Args:
        path: A dataset directory in one of the original layouts (or a folder
            holding exactly one such directory), a virtual dataset file built
            by `build_vds`, or a plain HDF5 file with `data` and `label` (and
            `pid` for part segmentation), whose rows form the split 'all'.
        task: Optional expected task ('cls', 'part_seg', 'sem_seg'); a layout
            of another task raises `ValueError`.
        test_area: S3DIS area used as test split. Defaults to 6 (the
            original's) for a directory, and to the area a virtual dataset was
            built with for a VDS file.
        check_values: Scan every file for NaN/inf coordinates and labels out of
            range (read in chunk-sized blocks; results are cached per process
            by file size and modification time).
        num_classes: The class count to use when the data has no class
            names (no `shape_names.txt`, no `class_names` attribute): labels
            must be below it. Without it such data gets the largest label + 1
            classes and `class_count_from == "labels"`, a guess the trainer
            refuses for a new run. Ignored when the data names its classes.

    Returns:
        A `DatasetDescription`.

    Raises:
        FileNotFoundError: If `path` or a file named in a list file is missing.
        ValueError: If the layout is unknown or any file is invalid; the
            message names the file and the problem.
    """
    path = os.path.abspath(os.fspath(path))
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS} or None, got {task!r}")
    if test_area is not None:
        test_area = _check_test_area(test_area)
    if os.path.isdir(path):
        description = _open_directory(path, task, test_area if test_area is not None else 6, check_values)
    elif os.path.isfile(path):
        if _is_vds(path):
            description = open_vds(path, test_area=test_area)
        else:
            description = _open_plain_file(path, check_values)
    else:
        raise FileNotFoundError(f"{path}: no such dataset directory or file")
    if task is not None and description.task != task:
        raise ValueError(
            f"{path}: holds a {description.source_layout} dataset for task {description.task!r}, not {task!r}"
        )
    if num_classes is not None and description.class_count_from is not None:
        description = with_class_count(description, num_classes)
    return description


def with_class_count(description, num_classes, source="num_classes"):
    """A description of data without class names, with a given class count.

    Args:
        description: A `DatasetDescription` whose `class_count_from` is not None.
        num_classes: The class count (at least the largest label + 1).
        source: What gave the count, for the error message.

    Returns:
        A copy with `num_classes` classes named `class_0`, ... and
        `class_count_from == "num_classes"`.

    Raises:
        ValueError: If a label is not below `num_classes`.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if description.class_count_from == "labels" and description.num_classes > num_classes:
        raise ValueError(f"{description.root}: has label {description.num_classes - 1}, out of range for the "
                         f"{num_classes} classes of {source}")  # fmt: skip
    names = [f"class_{i}" for i in range(int(num_classes))]
    return dataclasses.replace(description, class_names=names, num_classes=len(names), class_count_from="num_classes")


def detect_layout(directory):
    """Returns the layout name of a dataset directory, or None.

    Args:
        directory: A folder.

    Returns:
        'modelnet40', 'shapenet_part', 's3dis' or None.
    """
    if any(os.path.isfile(os.path.join(directory, f"{s}_files.txt")) for s in ("train", "test")):
        return "modelnet40"
    if any(os.path.isfile(os.path.join(directory, f"{s}_hdf5_file_list.txt")) for s in ("train", "val", "test")):
        return "shapenet_part"
    if os.path.isfile(os.path.join(directory, "all_files.txt")) or os.path.isfile(
        os.path.join(directory, "room_filelist.txt")
    ):
        return "s3dis"
    return None


def read_list_file(list_path, root=None):
    """Reads a list file and resolves every entry inside `root`.

    Entries were written on another machine (e.g.
    `/home/someone/data/modelnet40_ply_hdf5_2048/ply_data_train0.h5`), so an
    entry is found by its file name inside `root`; a relative entry is also
    tried as a path below `root`, and an absolute one as-is.

    Args:
        list_path: The list file.
        root: Folder to resolve entries in; defaults to the list file's folder.

    Returns:
        The list of absolute paths, in file order.

    Raises:
        FileNotFoundError: If an entry names a file that cannot be found.
        ValueError: If the list is empty.
    """
    root = os.path.dirname(os.path.abspath(list_path)) if root is None else root
    paths = []
    for entry in _read_lines(list_path):
        name = entry.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        candidates = [os.path.join(root, name)]
        if os.path.isabs(entry):
            candidates.append(entry)
        else:
            candidates.append(os.path.join(root, entry))
        found = next((c for c in candidates if os.path.isfile(c)), None)
        if found is None:
            raise FileNotFoundError(f"{list_path}: lists {entry!r}, but {candidates[0]} does not exist")
        paths.append(os.path.abspath(found))
    if not paths:
        raise ValueError(f"{list_path}: lists no files")
    return paths


# -- directories --------------------------------------------------------------


def _open_directory(directory, task, test_area, check_values):
    layout = detect_layout(directory)
    if layout is None:
        children = [
            os.path.join(directory, name)
            for name in sorted(os.listdir(directory))
            if os.path.isdir(os.path.join(directory, name)) and detect_layout(os.path.join(directory, name))
        ]
        preferred = [c for c in children if os.path.basename(c) in _KNOWN_FOLDERS]
        if len(children) == 1 or len(preferred) == 1:
            directory = (preferred or children)[0]
            layout = detect_layout(directory)
    if layout is None:
        raise ValueError(
            f"{directory}: not a known dataset layout (expected train_files.txt/test_files.txt for ModelNet40, "
            "*_hdf5_file_list.txt for ShapeNet part, or all_files.txt + room_filelist.txt for S3DIS)"
        )
    if task is not None and LAYOUT_TASKS[layout] != task:
        raise ValueError(f"{directory}: holds a {layout} dataset for task {LAYOUT_TASKS[layout]!r}, not {task!r}")
    if layout == "modelnet40":
        return _open_modelnet(directory, check_values)
    if layout == "shapenet_part":
        return _open_shapenet_part(directory, check_values)
    return _open_s3dis(directory, test_area, check_values)


def _split_lists(directory, pattern, splits):
    lists = {}
    for split in splits:
        list_path = os.path.join(directory, pattern.format(split))
        if os.path.isfile(list_path):
            lists[split] = read_list_file(list_path, directory)
    return lists


def _shards_and_ranges(lists, infos):
    """Shards in list order and one contiguous row range per split."""
    by_path = {info["path"]: info for info in infos}
    shards, split_ranges, offset = [], {}, 0
    for split, paths in lists.items():
        start = offset
        for path in paths:
            shards.append(Shard(path, by_path[path]["rows"]))
            offset += by_path[path]["rows"]
        split_ranges[split] = [[start, offset]]
    return shards, split_ranges


def _open_modelnet(directory, check_values):
    lists = _split_lists(directory, "{}_files.txt", ("train", "val", "test"))
    infos = _inspect_files(
        [p for paths in lists.values() for p in paths],
        label_per_point=False,
        channels=((3, 6), "ModelNet40 clouds have 3 (xyz) or 6 (xyz + normals) values per point"),
    )
    names_path = os.path.join(directory, "shape_names.txt")
    if os.path.isfile(names_path):
        class_names = _read_lines(names_path)
        if not class_names:
            raise ValueError(f"{names_path}: is empty (expected one class name per line)")
        limit_from = os.path.basename(names_path)
    else:
        class_names, limit_from = None, None
    num_classes = _check_labels(infos, len(class_names) if class_names else None, limit_from, check_values)
    extra = {}
    if class_names is None:
        class_names = [f"class_{i}" for i in range(num_classes)]
        extra["class_count_from"] = "labels"
    shards, ranges = _shards_and_ranges(lists, infos)
    return _make_description(
        "cls", "modelnet40", directory, class_names, infos, shards, ranges, up_axis=1, **extra
    )


def _open_shapenet_part(directory, check_values):
    lists = _split_lists(directory, "{}_hdf5_file_list.txt", ("train", "val", "test"))
    categories_path = os.path.join(directory, "all_object_categories.txt")
    oid_path = os.path.join(directory, "overallid_to_catid_partid.json")
    for required in (categories_path, oid_path):
        if not os.path.isfile(required):
            raise FileNotFoundError(f"{required}: missing (ShapeNet part metadata, needed for categories and parts)")
    category_names, category_ids = [], []
    for i, line in enumerate(_read_lines(categories_path)):
        fields = line.split()
        if len(fields) < 2:
            raise ValueError(f"{categories_path}: line {i + 1} {line!r} is not '<name> <category id>'")
        category_names.append(fields[0])
        category_ids.append(fields[1])
    if not category_names:
        raise ValueError(f"{categories_path}: is empty")
    oid2cpid = _read_json(oid_path)
    if not isinstance(oid2cpid, list) or not oid2cpid:
        raise ValueError(f"{oid_path}: expected a non-empty list of [category id, part id] pairs")
    category_parts = [[] for _ in category_names]
    part_names = []
    for oid, entry in enumerate(oid2cpid):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
            raise ValueError(f"{oid_path}: entry {oid} {entry!r} is not a [category id, part id] pair")
        cat_id, part_id = str(entry[0]), entry[1]
        if cat_id not in category_ids:
            raise ValueError(f"{oid_path}: entry {oid} names category {cat_id!r}, which is not in {categories_path}")
        category = category_ids.index(cat_id)
        category_parts[category].append(oid)
        part_names.append(f"{category_names[category]}_{part_id}")
    for category, parts in enumerate(category_parts):
        if not parts:
            raise ValueError(f"{oid_path}: category {category_names[category]!r} has no parts")
    cpid_path = os.path.join(directory, "catid_partid_to_overallid.json")
    if os.path.isfile(cpid_path):
        cpid2oid = _read_json(cpid_path)
        for oid, (cat_id, part_id) in enumerate(oid2cpid):
            if cpid2oid.get(f"{cat_id}_{part_id}") != oid:
                raise ValueError(f"{cpid_path}: '{cat_id}_{part_id}' should map to {oid} as in {oid_path}")
    names_path = os.path.join(directory, "part_names.txt")
    if os.path.isfile(names_path):
        part_names = _read_lines(names_path)
        if len(part_names) != len(oid2cpid):
            raise ValueError(f"{names_path}: {len(part_names)} names but {len(oid2cpid)} parts in {oid_path}")

    paths = [p for ps in lists.values() for p in ps]
    infos = _inspect_files(
        paths,
        label_per_point=False,
        extra_key="pid",
        channels=((3, 6), "ShapeNet part clouds have 3 (xyz) or 6 (xyz + normals) values per point"),
    )
    _check_labels(infos, len(category_names), os.path.basename(categories_path), check_values)
    if check_values:
        allowed = np.zeros((len(category_names), len(oid2cpid)), bool)
        for category, parts in enumerate(category_parts):
            allowed[category, parts] = True
        for info in infos:
            _check_part_ids(info, allowed, category_names, os.path.basename(oid_path))
    shards, ranges = _shards_and_ranges(lists, infos)
    return _make_description(
        "part_seg", "shapenet_part", directory, part_names, infos, shards, ranges, up_axis=1,
        category_names=category_names, category_ids=category_ids, category_parts=category_parts,
        part_names=part_names,
    )  # fmt: skip


def _open_s3dis(directory, test_area, check_values):
    files_path = os.path.join(directory, "all_files.txt")
    rooms_path = os.path.join(directory, "room_filelist.txt")
    for required in (files_path, rooms_path):
        if not os.path.isfile(required):
            raise FileNotFoundError(f"{required}: missing (an S3DIS folder needs all_files.txt and room_filelist.txt)")
    paths = read_list_file(files_path, directory)
    infos = _inspect_files(
        paths,
        label_per_point=True,
        channels=((9,), "S3DIS blocks have 9 values per point (xyz, rgb, room-normalised xyz)"),
    )
    names_path = os.path.join(directory, "class_names.txt")
    class_names = _read_lines(names_path) if os.path.isfile(names_path) else list(S3DIS_CLASS_NAMES)
    where = os.path.basename(names_path) if os.path.isfile(names_path) else None
    _check_labels(infos, len(class_names), where, check_values)
    rooms = _read_lines(rooms_path)
    total = sum(info["rows"] for info in infos)
    if len(rooms) != total:
        raise ValueError(f"{rooms_path}: {len(rooms)} room names, but the files in all_files.txt hold {total} blocks")
    train, test = s3dis_split_rows(rooms, test_area, where=rooms_path)
    shards = [Shard(info["path"], info["rows"]) for info in infos]
    ranges = {"train": rows_to_ranges(train), "test": rows_to_ranges(test)}
    return _make_description(
        "sem_seg", "s3dis", directory, class_names, infos, shards, ranges, up_axis=2, rooms=rooms, test_area=test_area
    )


def _open_plain_file(path, check_values):
    import h5py

    info = _inspect_files([path], label_per_point=None, extra_key="optional_pid")[0]
    task = "part_seg" if info["has_pid"] else ("sem_seg" if info["label_per_point"] else "cls")
    with h5py.File(path, "r") as f:
        stored_names = [n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs.get("class_names", [])]
    shards = [Shard(path, info["rows"])]
    ranges = {"all": [[0, info["rows"]]]}
    if task == "part_seg":
        num_categories = _check_labels([info], None, None, True)
        pairs = _category_part_pairs(info)
        num_parts = int(pairs[:, 1].max()) + 1 if len(pairs) else 1
        category_parts = [sorted(pairs[pairs[:, 0] == c, 1].tolist()) for c in range(num_categories)]
        names = [f"part_{i}" for i in range(num_parts)]
        return _make_description(
            task, "hdf5", path, names, [info], shards, ranges, up_axis=1,
            category_names=[f"category_{c}" for c in range(num_categories)],
            category_ids=[str(c) for c in range(num_categories)], category_parts=category_parts,
        )  # fmt: skip
    limit_from = "its class_names attribute" if stored_names else None
    beside = os.path.join(os.path.dirname(path), "shape_names.txt")
    if not stored_names and task == "cls" and os.path.isfile(beside):  # a shard of a ModelNet40-layout folder
        stored_names, limit_from = _read_lines(beside), beside
    limit = len(stored_names) or None
    num_classes = _check_labels([info], limit, limit_from, True)
    names = stored_names or [f"class_{i}" for i in range(num_classes)]
    extra = {} if stored_names else {"class_count_from": "labels"}
    return _make_description(task, "hdf5", path, names, [info], shards, ranges, up_axis=1, **extra)


def _make_description(task, layout, root, class_names, infos, shards, ranges, **extra):
    first = infos[0]
    keys = ["data", "label"] + (["pid"] if task == "part_seg" else [])
    if task == "cls" and first.get("voxel_resolution") is not None:
        extra.setdefault("voxel_resolution", first["voxel_resolution"])
        extra.setdefault("voxel_up_axis", first["voxel_up_axis"])
    return DatasetDescription(
        task=task,
        layout=layout,
        root=root,
        class_names=list(class_names),
        num_classes=len(class_names),
        num_points=first["num_points"],
        input_dims=first["input_dims"],
        splits={name: sum(b - a for a, b in r) for name, r in ranges.items()},
        split_ranges=ranges,
        shards=shards,
        keys=keys,
        dtypes={key: first["dtypes"][key] for key in keys},
        **extra,
    )


# -- file inspection ----------------------------------------------------------


def inspect_h5(path, *, label_per_point=None, extra_key=None):
    """Checks the keys, shapes and dtypes of one h5 file of a point cloud dataset.

    Args:
        path: The h5 file.
        label_per_point: True if `label` must be (n, P), False if it must be
            (n,) or (n, 1), None to accept both.
        extra_key: 'pid' to require a per-point `pid`, 'optional_pid' to
            accept one, None to ignore it.

    Returns:
        A dict with `path`, `rows`, `num_points`, `input_dims`, `shape`,
        `dtypes` (key -> dtype name), `chunk_rows`, `label_per_point`, `has_pid`.

    Raises:
        ValueError: Naming the file and the problem.
    """
    import h5py

    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: empty file (0 bytes)")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None
    with f:
        keys = ["data", "label"] + (["pid"] if extra_key == "pid" else [])
        for key in keys:
            if key not in f:
                raise ValueError(f"{path}: key {key!r} is missing (keys: {', '.join(sorted(f.keys())) or 'none'})")
            if not isinstance(f[key], h5py.Dataset):
                raise ValueError(f"{path}: {key!r} is a group, not a dataset")
        data, label = f["data"], f["label"]
        has_pid = "pid" in f and extra_key in ("pid", "optional_pid") and isinstance(f["pid"], h5py.Dataset)
        if data.ndim != 3 or data.shape[2] < 3:
            raise ValueError(
                f"{path}: 'data' has shape {data.shape}; expected (clouds, points, channels) with at least "
                "3 channels (x, y, z)"
            )
        rows, num_points = data.shape[0], data.shape[1]
        if rows == 0 or num_points == 0:
            raise ValueError(f"{path}: holds no clouds ('data' has shape {data.shape})")
        if data.dtype.kind != "f":
            raise ValueError(f"{path}: 'data' has dtype {data.dtype}; expected floating point coordinates")
        per_cloud = label.shape in ((rows,), (rows, 1))
        per_point = label.shape == (rows, num_points)
        if label_per_point is None:
            label_per_point = per_point and not per_cloud
            ok = per_cloud or per_point
            expected = f"({rows},), ({rows}, 1) or ({rows}, {num_points})"
        elif label_per_point:
            ok, expected = per_point, f"({rows}, {num_points}) (one label per point)"
        else:
            ok, expected = per_cloud, f"({rows},) or ({rows}, 1) (one label per cloud)"
        if not ok:
            raise ValueError(f"{path}: 'label' has shape {label.shape}; expected {expected}")
        checked = [label] + ([f["pid"]] if has_pid else [])
        if has_pid and f["pid"].shape != (rows, num_points):
            raise ValueError(f"{path}: 'pid' has shape {f['pid'].shape}; expected ({rows}, {num_points})")
        for dataset in checked:
            if dataset.dtype.kind not in "iu":
                raise ValueError(f"{path}: {dataset.name.lstrip('/')!r} has dtype {dataset.dtype}; expected integers")
        dtypes = {"data": data.dtype.name, "label": label.dtype.name}
        if has_pid:
            dtypes["pid"] = f["pid"].dtype.name
        voxel_resolution, voxel_up_axis = _inspect_voxels(f, path, rows)
        return {
            "path": path,
            "rows": rows,
            "num_points": num_points,
            "input_dims": data.shape[2],
            "shape": data.shape,
            "label_shape": label.shape,
            "dtypes": dtypes,
            "chunk_rows": data.chunks[0] if data.chunks else None,
            "label_per_point": label_per_point,
            "has_pid": has_pid,
            "voxel_resolution": voxel_resolution,
            "voxel_up_axis": voxel_up_axis,
        }


def _inspect_voxels(f, path, rows):
    """(R, up axis or None) of an optional `voxels` dataset of one grid per cloud, or (None, None)."""
    import h5py

    if "voxels" not in f:
        return None, None
    voxels = f["voxels"]
    if not isinstance(voxels, h5py.Dataset):
        raise ValueError(f"{path}: 'voxels' is a group, not a dataset")
    shape = voxels.shape
    if len(shape) != 4 or shape[0] != rows or not (shape[1] == shape[2] == shape[3]) or shape[1] < 1:
        raise ValueError(f"{path}: 'voxels' has shape {shape}; expected ({rows}, R, R, R) "
                         "(one occupancy grid per cloud)")  # fmt: skip
    if voxels.dtype.kind not in "biu":
        raise ValueError(f"{path}: 'voxels' has dtype {voxels.dtype}; expected uint8 occupancy (0/1)")
    up_axis = voxels.attrs.get("up_axis")
    up_axis = int(up_axis) if up_axis is not None and int(up_axis) in (0, 1, 2) else None
    return int(shape[1]), up_axis


def _inspect_files(paths, *, label_per_point, extra_key=None, channels=None):
    infos = []
    for path in paths:
        info = inspect_h5(path, label_per_point=label_per_point, extra_key=extra_key)
        if channels is not None and info["input_dims"] not in channels[0]:
            raise ValueError(f"{path}: 'data' has shape {info['shape']}; {channels[1]}")
        if infos:
            first = infos[0]
            if info["num_points"] != first["num_points"]:
                raise ValueError(
                    f"{path}: {info['num_points']} points per cloud, but {first['path']} has "
                    f"{first['num_points']} (all files must match)"
                )
            if info["input_dims"] != first["input_dims"]:
                raise ValueError(
                    f"{path}: {info['input_dims']} channels per point, but {first['path']} has "
                    f"{first['input_dims']} (all files must match)"
                )
            for key, dtype in info["dtypes"].items():
                if first["dtypes"].get(key, dtype) != dtype:
                    raise ValueError(
                        f"{path}: {key!r} has dtype {dtype}, but {first['path']} has {first['dtypes'][key]} "
                        "(all files must match)"
                    )
            if info["voxel_resolution"] != first["voxel_resolution"]:
                raise ValueError(
                    f"{path}: {_voxels_text(info)}, but {first['path']} {_voxels_text(first)} (all files must match)"
                )
            if info["label_shape"][1:] != first["label_shape"][1:]:
                raise ValueError(
                    f"{path}: 'label' has shape {info['label_shape']}, but {first['path']} has "
                    f"{first['label_shape']} (all files must match)"
                )
        infos.append(info)
    return infos


def _voxels_text(info):
    resolution = info["voxel_resolution"]
    return "has no 'voxels' grids" if resolution is None else f"has {resolution}^3 'voxels' grids"


def _blocks(dataset):
    """Yields (start, stop) row blocks aligned to the chunks, about _SCAN_BYTES each."""
    rows = dataset.shape[0]
    row_bytes = max(1, int(np.prod(dataset.shape[1:], dtype=np.int64)) * dataset.dtype.itemsize)
    step = max(1, _SCAN_BYTES // row_bytes)
    if dataset.chunks:
        chunk = dataset.chunks[0]
        step = max(chunk, step // chunk * chunk)
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


def _cache_key(path, *extra):
    stat = os.stat(path)
    return (os.path.realpath(path), stat.st_size, stat.st_mtime_ns) + extra


def _check_labels(infos, limit, limit_from, check_values):
    """Checks coordinates are finite and labels in [0, limit); returns the class count."""
    import h5py

    highest = -1
    for info in infos:
        path = info["path"]
        key = _cache_key(path, "values", limit)
        cached = _CHECKED.get(key)
        if cached is not None:
            highest = max(highest, cached)
            continue
        if not check_values and limit is not None:
            continue
        file_highest = -1
        with h5py.File(path, "r") as f:
            if check_values:
                data = f["data"]
                for start, stop in _blocks(data):
                    block = h5read.read(data, slice(start, stop))
                    finite = np.isfinite(block).all(axis=(1, 2))
                    if not finite.all():
                        bad = start + int(np.argmin(finite))
                        raise ValueError(f"{path}: 'data' holds NaN or infinite coordinates (first in cloud {bad})")
            label = h5read.read(f["label"])
        label = label.reshape(label.shape[0], -1)
        if label.size:
            low, file_highest = int(label.min()), int(label.max())
            if low < 0:
                row = int(np.argmax((label < 0).any(axis=1)))
                raise ValueError(f"{path}: 'label' has negative value {low} (cloud {row})")
            if limit is not None and file_highest >= limit:
                row = int(np.argmax((label >= limit).any(axis=1)))
                source = f" in {limit_from}" if limit_from else ""
                raise ValueError(
                    f"{path}: 'label' value {file_highest} (cloud {row}) is out of range 0..{limit - 1} "
                    f"({limit} classes{source})"
                )
        if check_values:
            _CHECKED[key] = file_highest
        highest = max(highest, file_highest)
    return limit if limit is not None else highest + 1


def _check_part_ids(info, allowed, category_names, where):
    import h5py

    path = info["path"]
    key = _cache_key(path, "pid", allowed.shape, allowed.tobytes())
    if key in _CHECKED:
        return
    with h5py.File(path, "r") as f:
        category = h5read.read(f["label"]).reshape(-1).astype(np.int64)
        pid = f["pid"]
        for start, stop in _blocks(pid):
            block = h5read.read(pid, slice(start, stop)).astype(np.int64)
            if block.min() < 0 or block.max() >= allowed.shape[1]:
                value = int(block.min()) if block.min() < 0 else int(block.max())
                row = start + int(np.argmax(((block < 0) | (block >= allowed.shape[1])).any(axis=1)))
                raise ValueError(
                    f"{path}: 'pid' value {value} (cloud {row}) is out of range: {allowed.shape[1]} parts in {where}"
                )
            ok = allowed[category[start:stop, None], block]
            if not ok.all():
                row = int(np.argmin(ok.all(axis=1)))
                value = int(block[row][~ok[row]][0])
                name = category_names[category[start + row]]
                raise ValueError(
                    f"{path}: 'pid' value {value} (cloud {start + row}) is not a part of category "
                    f"{name!r} in {where}"
                )
    _CHECKED[key] = True


def _category_part_pairs(info):
    import h5py

    with h5py.File(info["path"], "r") as f:
        category = h5read.read(f["label"]).reshape(-1).astype(np.int64)
        pairs = set()
        pid = f["pid"]
        for start, stop in _blocks(pid):
            block = h5read.read(pid, slice(start, stop)).astype(np.int64)
            if block.size and block.min() < 0:
                raise ValueError(f"{info['path']}: 'pid' has negative values")
            combined = np.unique(category[start:stop, None] * (1 << 32) + block)
            pairs.update(combined.tolist())
    return np.array(sorted((p >> 32, p & 0xFFFFFFFF) for p in pairs), np.int64).reshape(-1, 2)


# -- small helpers ------------------------------------------------------------


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def _check_test_area(test_area):
    if isinstance(test_area, bool) or not isinstance(test_area, (int, np.integer)) or test_area < 1:
        raise ValueError(f"test_area must be a positive integer (an S3DIS area number), got {test_area!r}")
    return int(test_area)


def _is_vds(path):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return VDS_ATTRIBUTE in f.attrs
    except OSError:
        return False
