"""HDF5 shards of the original layouts: list files, inspecting and checking shards, describing them.

Every shard is checked when a dataset is opened: `inspect_h5` reads the keys,
shapes and dtypes (`data` (n, P, C) floats, `label` (n,), (n, 1) or (n, P)
integers, `pid` (n, P), an optional `voxels` (n, R, R, R) occupancy grid
per cloud); `check_label_values` scans coordinates for NaN/inf and labels
for their range, in chunk-sized blocks (`row_blocks`), and remembers the
files it checked (by size and modification time) for the process. Problems
raise `ValueError` naming the file and the problem.

List files name paths from the authors' machine, so `read_list_file`
resolves every entry by its file name inside the dataset directory.
`describe` turns inspected shards and split ranges into a
`DatasetDescription`.
"""

import json
import os

import numpy as np

from pointnet_tf2.data.description import DatasetDescription
from pointnet_tf2.data.description import LABEL_TASKS
from pointnet_tf2.data.description import Shard
from pointnet_tf2.data.io import h5read

# Rows read at once while scanning values; about 32 MB of float32 xyz.
_SCAN_BYTES = 32 << 20

# (realpath, size, mtime_ns, key, limit) of files whose values were checked.
_CHECKED = {}


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
    for entry in read_lines(list_path):
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


def describe(labels, layout, root, class_names, infos, shards, ranges, **extra):
    """The `DatasetDescription` of inspected shards.

    Args:
        labels: The dataset's `Labels` (its task follows from them).
        layout: The layout name, e.g. 'modelnet40'.
        root: The dataset directory (or file).
        class_names: Names of the target classes.
        infos: `inspect_h5` results of the shards (the first gives the point
            count, channels, dtypes and voxel grids).
        shards: The `Shard`s in row order.
        ranges: Split name -> list of `[start, stop)` row ranges.
        **extra: Further `DatasetDescription` fields (up_axis, rooms, ...).

    Returns:
        A `DatasetDescription`.
    """
    first = infos[0]
    keys = labels.keys
    if not labels.per_point and first.get("voxel_resolution") is not None:
        extra.setdefault("voxel_resolution", first["voxel_resolution"])
        extra.setdefault("voxel_up_axis", first["voxel_up_axis"])
    return DatasetDescription(
        task=LABEL_TASKS[labels],
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


def inspect_files(paths, *, label_per_point, extra_key=None, channels=None):
    """`inspect_h5` of every file, checking they agree (points, channels, dtypes, grids, label shape).

    Args:
        paths: The h5 files.
        label_per_point: See `inspect_h5`.
        extra_key: See `inspect_h5`.
        channels: Optional `(allowed channel counts, message)`.

    Returns:
        The list of `inspect_h5` dicts.

    Raises:
        ValueError: Naming the file and the problem.
    """
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


def row_blocks(dataset):
    """Yields (start, stop) row blocks of an h5py dataset, aligned to its chunks, about 32 MB each."""
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


def check_label_values(infos, limit, limit_from, check_values):
    """Checks coordinates are finite and labels in [0, limit); returns the class count.

    Args:
        infos: `inspect_h5` results.
        limit: The class count, or None to count the classes (largest label + 1).
        limit_from: Where the count comes from, for messages (or None).
        check_values: Scan the coordinates and labels (else only what a
            missing `limit` needs); results are cached per file.

    Returns:
        `limit`, or the largest label + 1 when it is None.

    Raises:
        ValueError: Naming the file, the cloud and the bad value.
    """
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
                for start, stop in row_blocks(data):
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


def check_part_ids(info, allowed, category_names, where):
    """Checks every `pid` of a shard is one of its cloud's category parts.

    Args:
        info: An `inspect_h5` result with `pid`.
        allowed: bool (categories, parts): `allowed[c, p]` when part p belongs to category c.
        category_names: Names of the categories, for messages.
        where: The metadata file naming the parts, for messages.

    Raises:
        ValueError: Naming the file, the cloud and the part.
    """
    import h5py

    path = info["path"]
    key = _cache_key(path, "pid", allowed.shape, allowed.tobytes())
    if key in _CHECKED:
        return
    with h5py.File(path, "r") as f:
        category = h5read.read(f["label"]).reshape(-1).astype(np.int64)
        pid = f["pid"]
        for start, stop in row_blocks(pid):
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


def category_part_pairs(info):
    """The distinct (category, part id) pairs of a shard with `pid`, as an int64 (k, 2) array."""
    import h5py

    with h5py.File(info["path"], "r") as f:
        category = h5read.read(f["label"]).reshape(-1).astype(np.int64)
        pairs = set()
        pid = f["pid"]
        for start, stop in row_blocks(pid):
            block = h5read.read(pid, slice(start, stop)).astype(np.int64)
            if block.size and block.min() < 0:
                raise ValueError(f"{info['path']}: 'pid' has negative values")
            combined = np.unique(category[start:stop, None] * (1 << 32) + block)
            pairs.update(combined.tolist())
    return np.array(sorted((p >> 32, p & 0xFFFFFFFF) for p in pairs), np.int64).reshape(-1, 2)


def read_lines(path):
    """The non-empty lines of a text file, stripped; `ValueError` if it is not text."""
    try:
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None


def read_json(path):
    """A JSON file's value; `ValueError` naming the file if it is not valid JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def split_lists(directory, pattern, splits):
    """Split -> shard paths of the list files `pattern.format(split)` present in `directory`."""
    lists = {}
    for split in splits:
        list_path = os.path.join(directory, pattern.format(split))
        if os.path.isfile(list_path):
            lists[split] = read_list_file(list_path, directory)
    return lists


def shards_and_ranges(lists, infos):
    """Shards in list order and one contiguous row range per split.

    Args:
        lists: Split -> shard paths (`split_lists`).
        infos: `inspect_h5` results of those shards.

    Returns:
        `(shards, split_ranges)`: a list of `Shard` and split -> `[[start, stop]]`.
    """
    by_path = {info["path"]: info for info in infos}
    shards, split_ranges, offset = [], {}, 0
    for split, paths in lists.items():
        start = offset
        for path in paths:
            shards.append(Shard(path, by_path[path]["rows"]))
            offset += by_path[path]["rows"]
        split_ranges[split] = [[start, offset]]
    return shards, split_ranges
