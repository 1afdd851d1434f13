"""Writers for the original PointNet HDF5 layouts: ModelNet40, ShapeNet part, S3DIS.

Each writer produces exactly the files of the original release (see
REFERENCE section 4): shards `ply_data_<split><k>.h5` of at most `shard_size`
clouds, gzip-compressed and chunked by one or a few clouds (so reading one
cloud decompresses only that cloud), list files, and the metadata files.

A whole dataset folder is built under a temporary name next to `output_dir`
and renamed into place when complete, so an interrupted or failed write never
leaves a half dataset, and an existing folder is only replaced with
`overwrite=True`, and only if pointnet-tf2 wrote it: every published folder
carries the marker file `.pointnet_tf2_output`.

Inputs are validated before anything is published: shapes, dtypes, label
ranges and NaN/inf coordinates give a `ValueError` naming the argument and the
problem. Arrays are read shard by shard, so array-likes that slice lazily
(`numpy.memmap`, an `h5py.Dataset`) are written without loading them whole.
"""

import colorsys
import contextlib
import errno
import functools
import json
import os
import re
import secrets
import shutil

import numpy as np

from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils.files import check_output_folder
from pointnet_tf2.utils.files import has_output_marker
from pointnet_tf2.utils.files import remove_stale_temporaries
from pointnet_tf2.utils.files import write_output_marker
from pointnet_tf2.utils.locking import folder_lock

MODELNET_SPLITS = ("train", "test")
SHAPENET_PART_SPLITS = ("train", "val", "test")
S3DIS_NUM_CLASSES = 13

_GZIP_LEVEL = 4
# Chunk rows are chosen so a chunk holds about this many bytes, at least one cloud.
_CHUNK_BYTES = 1 << 15
_UINT8_LIMIT = 256
_WHITESPACE = re.compile(r"\s")


# --- publishing a folder atomically --------------------------------------------------


def _new_unique_dir(parent, prefix, suffix):
    for _ in range(1000):
        path = os.path.join(parent, f"{prefix}{secrets.token_hex(4)}{suffix}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent}: could not create a temporary folder {prefix}*{suffix}")


@contextlib.contextmanager
def staged_folder(output_dir, *, overwrite=False):
    """Yields an empty temporary folder that becomes `output_dir` on success.

    The temporary folder is created next to `output_dir` (same file system, so
    the final rename is atomic). If the body raises, it is removed and
    `output_dir` is left as it was. Before publishing, the marker file
    `pointnet_tf2.utils.files.OUTPUT_MARKER` is written into it. A missing or
    empty `output_dir` is simply replaced; a non-empty one only with
    `overwrite=True` and only if it carries the marker (pointnet-tf2 wrote
    it), in which case the old folder is moved aside, the new one renamed in,
    and the old one deleted. Temporaries of `output_dir` left by a killed
    writer are removed first (when no writer is alive).

    Args:
        output_dir: Final folder.
        overwrite: Replace a non-empty existing folder written by pointnet-tf2
            (and everything in it).

    Yields:
        The absolute path of the temporary folder to fill.

    Raises:
        ValueError: If `output_dir` is a file, or a non-empty folder without
            `overwrite` or without the marker.
        FileExistsError: If `output_dir` was filled by someone else while the
            temporary folder was being built (and `overwrite` is off, or it
            has no marker).
    """
    output_dir = os.path.abspath(os.fspath(output_dir))
    check_output_folder(output_dir, overwrite=overwrite)
    parent, name = os.path.split(output_dir)
    os.makedirs(parent, exist_ok=True)
    remove_stale_temporaries(parent, [name])
    with folder_lock(parent):  # shared: keeps our temporary safe from remove_stale_temporaries
        tmp = _new_unique_dir(parent, f".{name}.", ".tmp")
        try:
            yield tmp
            write_output_marker(tmp, kind="dataset")
            _publish(tmp, output_dir, overwrite)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _publish(tmp, output_dir, overwrite):
    try:
        os.replace(tmp, output_dir)  # works onto a missing or an empty folder
        return
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        if not overwrite or not has_output_marker(output_dir):
            raise FileExistsError(
                f"{output_dir}: the folder was filled by another process while this one was being written"
            ) from error
    parent, name = os.path.split(output_dir)
    old = os.path.join(parent, f".{name}.{secrets.token_hex(4)}.old")
    os.rename(output_dir, old)
    try:
        os.rename(tmp, output_dir)
    except BaseException:
        os.rename(old, output_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


# --- validation ----------------------------------------------------------------------


def _as_array_like(value, what):
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what}: not an array ({error})") from None


def _check_positive_int(what, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _check_names(what, names, *, limit=None):
    if isinstance(names, str) or not hasattr(names, "__iter__"):
        raise ValueError(f"{what}: expected a list of strings, got {names!r}")
    names = list(names)
    if not names:
        raise ValueError(f"{what}: the list is empty")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name or _WHITESPACE.search(name):
            raise ValueError(f"{what}[{i}] = {name!r}: names must be non-empty strings without whitespace")
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what}: the name {name!r} appears twice")
        seen.add(name)
    if limit is not None and len(names) > limit:
        raise ValueError(f"{what}: {len(names)} names, but labels are stored as uint8 (at most {limit})")
    return names


def _check_points(what, points, channels):
    points = _as_array_like(points, what)
    shape = tuple(points.shape)
    wanted = " or ".join(f"(n, P, {c})" for c in channels)
    if len(shape) != 3 or shape[2] not in channels:
        raise ValueError(f"{what}: expected shape {wanted}, got {shape}")
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"{what}: expected at least one cloud of at least one point, got shape {shape}")
    if not np.issubdtype(points.dtype, np.floating):
        raise ValueError(f"{what}: expected floating-point coordinates, got dtype {points.dtype}")
    return points


def _check_labels(what, labels, shape):
    labels = _as_array_like(labels, what)
    got = tuple(labels.shape)
    if got != shape and not (len(shape) == 1 and got == shape + (1,)):
        expected = f"{shape} or {shape + (1,)}" if len(shape) == 1 else f"{shape}"
        raise ValueError(f"{what}: expected shape {expected}, got {got}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what}: expected integer labels, got dtype {labels.dtype}")
    return labels


def _finite_float32(what, chunk, start):
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is reported below
        values = np.asarray(chunk, dtype=np.float32)
    finite = np.isfinite(values).reshape(len(values), -1).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0]) + start
        raise ValueError(f"{what}: cloud {bad} contains NaN or inf values (or values too large for float32)")
    return values


def _labels_in_range(what, chunk, start, limit, limit_text):
    values = np.asarray(chunk)
    if values.size:
        low, high = values.min(), values.max()
        if low < 0 or high >= limit:
            flat = values.reshape(len(values), -1)
            row = int(np.flatnonzero(((flat < 0) | (flat >= limit)).any(axis=1))[0])
            value = flat[row][(flat[row] < 0) | (flat[row] >= limit)][0]
            raise ValueError(f"{what}: value {value} in cloud {row + start} is outside [0, {limit}) ({limit_text})")
    return values.astype(np.uint8)


def _check_split_keys(what, splits, names, optional=()):
    if not isinstance(splits, dict):
        raise ValueError(f"{what}: expected a dict {{split name: arrays}}, got {type(splits).__name__}")
    missing = [s for s in names if s not in splits and s not in optional]
    unknown = [s for s in splits if s not in names]
    if missing or unknown:
        raise ValueError(
            f"{what}: expected exactly the splits {list(names)}"
            + (f" ({', '.join(optional)} optional)" if optional else "")
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )


def _unpack(value, count, what):
    if not isinstance(value, (tuple, list)) or len(value) != count:
        raise ValueError(f"{what}: expected a tuple of {count} arrays")
    return value


def _check_same_cloud_shape(what, shapes):
    distinct = {s[1:] for s in shapes.values()}
    if len(distinct) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in shapes.items())
        raise ValueError(f"{what}: every split must have the same points per cloud and channels ({listing})")


# --- writing -------------------------------------------------------------------------


def _chunks(shape, itemsize):
    row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * itemsize)
    rows = max(1, min(shape[0], _CHUNK_BYTES // row_bytes))
    return (rows,) + tuple(shape[1:])


def _write_h5(path, arrays, *, per_row_chunks=(), attrs=None):
    """Writes arrays gzip-compressed; keys in `per_row_chunks` get one row per chunk; `attrs`: key -> attributes."""
    import h5py

    with h5py.File(path, "w") as f:
        for key, values in arrays.items():
            values = np.ascontiguousarray(values)
            chunks = (1,) + values.shape[1:] if key in per_row_chunks else _chunks(values.shape, values.itemsize)
            dataset = f.create_dataset(
                key,
                data=values,
                chunks=chunks,
                compression="gzip",
                compression_opts=_GZIP_LEVEL,
            )
            for name, value in (attrs or {}).get(key, {}).items():
                dataset.attrs[name] = value


def _write_text(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{line}\n" for line in lines)


def _write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


def _shard_ranges(n, shard_size):
    return [(start, min(start + shard_size, n)) for start in range(0, n, shard_size)]


def _write_shards(folder, rows, shard_size, file_prefix, list_file, list_prefix, shard_arrays, **h5_options):
    """Writes rows [0, rows) as `<file_prefix><k>.h5` files of at most `shard_size` rows, and their list file.

    `shard_arrays(start, stop)` validates rows [start, stop) and returns the
    arrays of one file; `list_file` gets `<list_prefix><file name>` per file;
    `h5_options` go to `_write_h5`.
    """
    listed = []
    for k, (start, stop) in enumerate(_shard_ranges(rows, shard_size)):
        name = f"{file_prefix}{k}.h5"
        _write_h5(os.path.join(folder, name), shard_arrays(start, stop), **h5_options)
        listed.append(list_prefix + name)
    _write_text(os.path.join(folder, list_file), listed)


def _default_prefix(output_dir, pattern):
    return pattern.format(name=os.path.basename(os.path.abspath(os.fspath(output_dir))))


# --- ModelNet40 ------------------------------------------------------------------------


def write_modelnet_layout(
    output_dir, splits, class_names, *, shard_size=2048, list_prefix=None, overwrite=False, voxels=None,
    voxel_up_axis=None,
):
    """Writes a classification dataset in the ModelNet40 HDF5 layout.

    Files: `ply_data_train0.h5`.., `ply_data_test0.h5`.. with `data` float32
    (n, P, 3), or (n, P, 6) = xyz + normals, and `label` uint8 (n, 1);
    `train_files.txt` and
    `test_files.txt` (one shard path per line, `data/<folder name>/ply_data_...`
    like the original: readers resolve them by file name); `shape_names.txt`
    (one class name per line, line index = label). A dataset may have no test
    split (only `train_files.txt` is written then). With `voxels`, every
    shard also holds `voxels` uint8 (n, R, R, R): the occupancy grid (0/1) of
    each cloud, gzip-compressed, one grid per chunk.

    Args:
        output_dir: Folder to create (missing or empty, or one written by pointnet-tf2 with `overwrite`).
        splits: `{"train": (points, labels), "test": (points, labels)}` ("test"
            may be left out); points float (n, P, 3) or (n, P, 6) = xyz +
            normals, labels int (n,) or (n, 1) in [0, len(class_names)).
        class_names: Class names (no whitespace), index = label, at most 256.
        shard_size: Maximum clouds per h5 file (the original used 2048).
        list_prefix: Text put before each shard name in the list files; default
            `data/<basename of output_dir>/`.
        overwrite: Replace an existing non-empty folder written by pointnet-tf2.
        voxels: Optional `{split: grids}` with one integer or bool `(n, R, R,
            R)` array per split of `splits` (row i is cloud i's grid; non-zero
            is occupied).
        voxel_up_axis: Optional grid axis (0, 1, 2) pointing up, stored as the
            `up_axis` attribute of `voxels`.

    Returns:
        The absolute path of the written folder.

    Raises:
        ValueError: On bad shapes, dtypes, labels, NaN/inf values, names or an
            existing non-empty folder without `overwrite`.
    """
    class_names = _check_names("class_names", class_names, limit=_UINT8_LIMIT)
    shard_size = _check_positive_int("shard_size", shard_size)
    _check_split_keys("splits", splits, MODELNET_SPLITS, optional=("test",))
    checked = {}
    for split in MODELNET_SPLITS:
        if split not in splits:
            continue
        what = f"splits[{split!r}]"
        points, labels = _unpack(splits[split], 2, f"{what} (points, labels)")
        points = _check_points(f"{what} points", points, (3, 6))
        labels = _check_labels(f"{what} labels", labels, (points.shape[0],))
        checked[split] = (points, labels)
    _check_same_cloud_shape("splits", {s: tuple(p.shape) for s, (p, _) in checked.items()})
    grids = _check_voxels(voxels, {split: points.shape[0] for split, (points, _) in checked.items()})
    if voxel_up_axis is not None and (isinstance(voxel_up_axis, bool) or voxel_up_axis not in (0, 1, 2)):
        raise ValueError(f"voxel_up_axis must be 0, 1 or 2, got {voxel_up_axis!r}")
    prefix = _default_prefix(output_dir, "data/{name}/") if list_prefix is None else list_prefix
    num_classes = len(class_names)

    def shard_arrays(split, start, stop):
        points, labels = checked[split]
        values = _finite_float32(f"splits[{split!r}] points", points[start:stop], start)
        label = _labels_in_range(
            f"splits[{split!r}] labels", labels[start:stop], start, num_classes, f"{num_classes} class names"
        )
        arrays = {"data": values, "label": label.reshape(-1, 1)}
        if grids is not None:
            arrays["voxels"] = (np.asarray(grids[split][start:stop]) != 0).astype(np.uint8)
        return arrays

    h5_options = {"per_row_chunks": ("voxels",)}
    if voxel_up_axis is not None:
        h5_options["attrs"] = {"voxels": {"up_axis": int(voxel_up_axis)}}
    with staged_folder(output_dir, overwrite=overwrite) as tmp:
        for split, (points, _) in checked.items():
            _write_shards(tmp, points.shape[0], shard_size, f"ply_data_{split}", f"{split}_files.txt", prefix,
                          functools.partial(shard_arrays, split), **h5_options)  # fmt: skip
        _write_text(os.path.join(tmp, "shape_names.txt"), class_names)
    return os.path.abspath(os.fspath(output_dir))


def _check_voxels(voxels, rows):
    """Checks `{split: (n, R, R, R) grids}` against the splits' row counts; returns it (or None)."""
    if voxels is None:
        return None
    if not isinstance(voxels, dict) or sorted(voxels) != sorted(rows):
        got = sorted(voxels) if isinstance(voxels, dict) else type(voxels).__name__
        raise ValueError(f"voxels: expected a dict with one array per split {sorted(rows)}, got {got}")
    out, resolution = {}, None
    for split, grids in voxels.items():
        what = f"voxels[{split!r}]"
        grids = _as_array_like(grids, what)
        shape = tuple(grids.shape)
        if len(shape) != 4 or not (shape[1] == shape[2] == shape[3]) or shape[1] < 1:
            raise ValueError(f"{what}: expected shape (n, R, R, R), got {shape}")
        if shape[0] != rows[split]:
            raise ValueError(f"{what}: {shape[0]} grids for {rows[split]} clouds")
        if resolution is not None and shape[1] != resolution:
            raise ValueError(f"voxels: every split must have the same grid size ({resolution}^3 and {shape[1]}^3)")
        if np.dtype(grids.dtype).kind not in "biu":
            raise ValueError(f"{what}: expected integer or bool occupancy, got dtype {grids.dtype}")
        resolution = shape[1]
        out[split] = grids
    return out


# --- ShapeNet part ---------------------------------------------------------------------


def _check_category_parts(category_parts, num_categories):
    what = "category_parts"
    if isinstance(category_parts, dict):
        keys = sorted(category_parts)
        if keys != list(range(num_categories)):
            raise ValueError(
                f"{what}: expected the keys 0..{num_categories - 1} (one per category), got {keys}"
            )
        lists = [category_parts[i] for i in range(num_categories)]
    else:
        lists = list(category_parts)
        if len(lists) != num_categories:
            raise ValueError(f"{what}: {len(lists)} entries for {num_categories} categories")
    parts = []
    owner = {}
    for cat, ids in enumerate(lists):
        ids = list(ids)
        if not ids:
            raise ValueError(f"{what}[{cat}]: a category needs at least one part")
        for pid in ids:
            if isinstance(pid, bool) or not isinstance(pid, (int, np.integer)) or pid < 0:
                raise ValueError(f"{what}[{cat}]: part ids must be non-negative integers, got {pid!r}")
            if int(pid) in owner:
                raise ValueError(f"{what}: part id {pid} belongs to categories {owner[int(pid)]} and {cat}")
            owner[int(pid)] = cat
        parts.append(sorted(int(p) for p in ids))
    total = len(owner)
    if sorted(owner) != list(range(total)):
        missing = sorted(set(range(max(owner) + 1)) - set(owner))
        raise ValueError(f"{what}: overall part ids must be exactly 0..{total - 1}; missing {missing}")
    if total > _UINT8_LIMIT:
        raise ValueError(f"{what}: {total} parts, but pid is stored as uint8 (at most {_UINT8_LIMIT})")
    return parts, owner


def default_part_colors(num_parts):
    """Distinct RGB colours (floats in [0, 1]) for `num_parts` parts, golden-ratio hues.

    Args:
        num_parts: Number of colours.

    Returns:
        A list of [r, g, b] lists.
    """
    colors = []
    for i in range(num_parts):
        hue = (i * 0.618033988749895) % 1.0
        value = 0.95 if i % 2 == 0 else 0.7
        colors.append([round(c, 4) for c in colorsys.hsv_to_rgb(hue, 0.75, value)])
    return colors


def write_shapenet_part_layout(
    output_dir,
    splits,
    category_names,
    category_synsets,
    category_parts,
    *,
    part_colors=None,
    shard_size=2048,
    list_prefix="",
    overwrite=False,
):
    """Writes a part-segmentation dataset in the ShapeNet part `hdf5_data` layout.

    Files: `ply_data_train0.h5`.., `ply_data_val0.h5`.., `ply_data_test0.h5`..
    with `data` float32 (n, P, 3), or (n, P, 6) = xyz + normals, `label` uint8
    (n, 1) (object category) and `pid` uint8 (n, P) (overall part id);
    `train_hdf5_file_list.txt`,
    `val_hdf5_file_list.txt`, `test_hdf5_file_list.txt` (bare file names, like
    the original); `all_object_categories.txt` (`Name<TAB>synset` per line,
    line index = category); `overallid_to_catid_partid.json` (a list, index =
    overall part id, of `[synset, part id within the category]`, 1-based);
    `catid_partid_to_overallid.json` (`{"<synset>_<part id>": overall id}`);
    `part_color_mapping.json` (a list of `[r, g, b]` floats per overall id).

    Args:
        output_dir: Folder to create (missing or empty, or one written by pointnet-tf2 with `overwrite`).
        splits: `{"train" | "val" | "test": (points, category, pid)}` with points
            float (n, P, 3) or (n, P, 6) = xyz + normals, category int (n,) or
            (n, 1), pid int (n, P); every
            pid must be one of its cloud's category parts.
        category_names: Category names (no whitespace), index = category label.
        category_synsets: One synset id string per category (e.g. "02691156").
        category_parts: For each category (a list, or a dict keyed 0..C-1) the
            list of its overall part ids; together exactly 0..num_parts-1.
            Part ids within a category are numbered 1.. in increasing overall id.
        part_colors: Optional (num_parts, 3) colours in [0, 1]; default
            `default_part_colors`.
        shard_size: Maximum clouds per h5 file.
        list_prefix: Text put before each shard name in the list files.
        overwrite: Replace an existing non-empty folder written by pointnet-tf2.

    Returns:
        The absolute path of the written folder.

    Raises:
        ValueError: On bad shapes, dtypes, ids, metadata, NaN/inf values or an
            existing non-empty folder without `overwrite`.
    """
    category_names = _check_names("category_names", category_names, limit=_UINT8_LIMIT)
    category_synsets = _check_names("category_synsets", category_synsets)
    num_categories = len(category_names)
    if len(category_synsets) != num_categories:
        raise ValueError(
            f"category_synsets: {len(category_synsets)} synsets for {num_categories} category names"
        )
    parts, owner = _check_category_parts(category_parts, num_categories)
    num_parts = len(owner)
    colors = default_part_colors(num_parts) if part_colors is None else part_colors
    colors = np.asarray(colors, dtype=np.float64)
    if colors.shape != (num_parts, 3) or not np.all((colors >= 0) & (colors <= 1)):
        raise ValueError(f"part_colors: expected ({num_parts}, 3) values in [0, 1], got shape {colors.shape}")
    shard_size = _check_positive_int("shard_size", shard_size)
    _check_split_keys("splits", splits, SHAPENET_PART_SPLITS)

    checked = {}
    for split in SHAPENET_PART_SPLITS:
        what = f"splits[{split!r}]"
        points, category, pid = _unpack(splits[split], 3, f"{what} (points, category, pid)")
        points = _check_points(f"{what} points", points, (3, 6))
        category = _check_labels(f"{what} category", category, (points.shape[0],))
        pid = _check_labels(f"{what} pid", pid, tuple(points.shape[:2]))
        checked[split] = (points, category, pid)
    _check_same_cloud_shape("splits", {s: tuple(v[0].shape) for s, v in checked.items()})

    allowed = np.zeros((num_categories, num_parts), dtype=bool)
    for cat, ids in enumerate(parts):
        allowed[cat, ids] = True

    def shard_arrays(split, start, stop):
        points, category, pid = checked[split]
        what = f"splits[{split!r}]"
        values = _finite_float32(f"{what} points", points[start:stop], start)
        cat = _labels_in_range(
            f"{what} category", category[start:stop], start, num_categories, f"{num_categories} categories"
        ).reshape(-1)
        part = _labels_in_range(f"{what} pid", pid[start:stop], start, num_parts, f"{num_parts} parts")
        ok = allowed[cat[:, None], part]
        if not ok.all():
            row, col = (int(i) for i in np.argwhere(~ok)[0])
            raise ValueError(
                f"{what} pid: cloud {row + start} point {col} has part {part[row, col]}, which is not "
                f"a part of its category {cat[row]} ({category_names[cat[row]]}: parts {parts[cat[row]]})"
            )
        return {"data": values, "label": cat.reshape(-1, 1), "pid": part}

    with staged_folder(output_dir, overwrite=overwrite) as tmp:
        for split, (points, _, _) in checked.items():
            _write_shards(tmp, points.shape[0], shard_size, f"ply_data_{split}", f"{split}_hdf5_file_list.txt",
                          list_prefix, functools.partial(shard_arrays, split))  # fmt: skip

        _write_text(
            os.path.join(tmp, "all_object_categories.txt"),
            [f"{n}\t{s}" for n, s in zip(category_names, category_synsets)],
        )
        overall = []
        for oid in range(num_parts):
            cat = owner[oid]
            overall.append([category_synsets[cat], parts[cat].index(oid) + 1])
        _write_json(os.path.join(tmp, "overallid_to_catid_partid.json"), overall)
        _write_json(
            os.path.join(tmp, "catid_partid_to_overallid.json"),
            {f"{synset}_{part_id}": oid for oid, (synset, part_id) in enumerate(overall)},
        )
        _write_json(os.path.join(tmp, "part_color_mapping.json"), colors.tolist())
    return os.path.abspath(os.fspath(output_dir))


# Format tag of the files written by `write_shapenet_part_full_resolution`.
FULL_RESOLUTION_FORMAT = "pointnet_tf2.part_full_resolution"
FULL_RESOLUTION_VERSION = 1
_FULL_RESOLUTION_FLUSH_POINTS = 1 << 20


def write_shapenet_part_full_resolution(path, clouds):
    """Writes part-labelled clouds at full resolution (any number of points each) to one HDF5 file.

    The companion of one split of a `hdf5_data` dataset: entry i describes
    row i of the split (its shards concatenated in list-file order), so that
    evaluation can score every original point. Keys:

    - `points` float32 (T, C): the points of every cloud, concatenated (C = 3,
      or 6 = xyz + normals), in the same coordinates as the split's `data`;
    - `pid` uint8 (T,): the overall part id of every point;
    - `offsets` int64 (n + 1,): cloud i is `points[offsets[i]:offsets[i + 1]]`;
    - `label` uint8 (n,): object category of every cloud;
    - `sample_index` int32 (n, P): which of cloud i's points make up row i of
      the split's `data` (`data[i] == points[offsets[i] + sample_index[i]]`);
    - `shape_id` (n,) UTF-8 strings, e.g. `02691156/1a04e3eab45ca15dd86060f189eb133`;
    - attributes `format` = "pointnet_tf2.part_full_resolution", `version` = 1.

    Clouds are streamed (never all in memory) and the file is written
    through `atomic_output`.

    Args:
        path: The file to write.
        clouds: An iterable of `(shape_id, category, points (N, C), pid (N,),
            sample_index (P,))` tuples, in split row order.

    Returns:
        The absolute path of the file.

    Raises:
        ValueError: On an empty iterable, bad shapes or dtypes, NaN/inf
            points, ids outside 0..255, sample indices outside the cloud, or C
            and P that change between clouds.
    """
    import h5py

    path = os.path.abspath(os.fspath(path))
    with atomic_output(path) as tmp:
        with h5py.File(tmp, "w") as f:
            count = _stream_full_resolution(f, clouds)
            if count == 0:
                raise ValueError(f"{path}: no clouds to write")
    return path


def _check_full_cloud(i, entry, channels, num_samples):
    what = f"clouds[{i}]"
    entry = _unpack(entry, 5, f"{what} (shape_id, category, points, pid, sample_index)")
    shape_id, category, points, pid, sample_index = entry
    if not isinstance(shape_id, str) or not shape_id:
        raise ValueError(f"{what}: shape_id must be a non-empty string, got {shape_id!r}")
    if isinstance(category, bool) or not isinstance(category, (int, np.integer)) or not 0 <= category < _UINT8_LIMIT:
        raise ValueError(f"{what} ({shape_id}): category must be an integer in [0, {_UINT8_LIMIT}), got {category!r}")
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] not in (3, 6) or points.shape[0] < 1:
        raise ValueError(f"{what} ({shape_id}): points must have shape (N, 3) or (N, 6) with N >= 1, "
                         f"got {points.shape}")  # fmt: skip
    if channels is not None and points.shape[1] != channels:
        raise ValueError(f"{what} ({shape_id}): {points.shape[1]} channels, earlier clouds have {channels}")
    if not np.issubdtype(points.dtype, np.floating):
        raise ValueError(f"{what} ({shape_id}): points must be floating point, got dtype {points.dtype}")
    values = _finite_float32(f"{what} ({shape_id}) points", points[None], 0)[0]
    pid = np.asarray(pid)
    if pid.shape != (points.shape[0],) or not np.issubdtype(pid.dtype, np.integer):
        raise ValueError(f"{what} ({shape_id}): pid must be integers of shape ({points.shape[0]},), got "
                         f"{pid.shape} {pid.dtype}")  # fmt: skip
    pid = _labels_in_range(f"{what} ({shape_id}) pid", pid[None], 0, _UINT8_LIMIT, "stored as uint8")[0]
    sample_index = np.asarray(sample_index)
    if sample_index.ndim != 1 or sample_index.size < 1 or not np.issubdtype(sample_index.dtype, np.integer):
        raise ValueError(f"{what} ({shape_id}): sample_index must be a non-empty 1-D integer array, got "
                         f"{sample_index.shape} {sample_index.dtype}")  # fmt: skip
    if num_samples is not None and sample_index.size != num_samples:
        raise ValueError(f"{what} ({shape_id}): {sample_index.size} sample indices, earlier clouds have {num_samples}")
    if sample_index.min() < 0 or sample_index.max() >= points.shape[0]:
        raise ValueError(f"{what} ({shape_id}): sample_index values must be in [0, {points.shape[0]})")
    return shape_id, int(category), values, pid, sample_index.astype(np.int32)


def _stream_full_resolution(f, clouds):
    import h5py

    channels = num_samples = None
    count = total = 0
    buffered = []

    def flush():
        nonlocal total
        if not buffered:
            return
        points = np.concatenate([b[2] for b in buffered])
        pid = np.concatenate([b[3] for b in buffered])
        n = len(buffered)
        sizes = np.array([len(b[2]) for b in buffered], np.int64)
        rows = count - n
        for key, values in (("points", points), ("pid", pid)):
            f[key].resize(total + len(values), axis=0)
            f[key][total:total + len(values)] = values
        f["offsets"].resize(rows + n + 1, axis=0)
        f["offsets"][rows + 1:rows + n + 1] = total + np.cumsum(sizes)
        for key, values in (
            ("label", np.array([b[1] for b in buffered], np.uint8)),
            ("sample_index", np.stack([b[4] for b in buffered])),
            ("shape_id", np.array([b[0] for b in buffered], dtype=object)),
        ):
            f[key].resize(rows + n, axis=0)
            f[key][rows:rows + n] = values
        total += len(points)
        buffered.clear()

    pending_points = 0
    for i, entry in enumerate(clouds):
        cloud = _check_full_cloud(i, entry, channels, num_samples)
        if channels is None:
            channels, num_samples = cloud[2].shape[1], cloud[4].size
            gzip = {"compression": "gzip", "compression_opts": _GZIP_LEVEL}
            f.create_dataset("points", (0, channels), np.float32, maxshape=(None, channels),
                             chunks=(4096, channels), **gzip)  # fmt: skip
            f.create_dataset("pid", (0,), np.uint8, maxshape=(None,), chunks=(16384,), **gzip)
            f.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(4096,))
            f.create_dataset("label", (0,), np.uint8, maxshape=(None,), chunks=(4096,))
            f.create_dataset("sample_index", (0, num_samples), np.int32, maxshape=(None, num_samples),
                             chunks=(max(1, _CHUNK_BYTES // (4 * num_samples)), num_samples), **gzip)  # fmt: skip
            f.create_dataset("shape_id", (0,), h5py.string_dtype("utf-8"), maxshape=(None,), chunks=(1024,))
            f.attrs["format"] = FULL_RESOLUTION_FORMAT
            f.attrs["version"] = FULL_RESOLUTION_VERSION
        buffered.append(cloud)
        count += 1
        pending_points += len(cloud[2])
        if pending_points >= _FULL_RESOLUTION_FLUSH_POINTS:
            flush()
            pending_points = 0
    flush()
    return count


# --- S3DIS -----------------------------------------------------------------------------


def write_s3dis_layout(
    output_dir,
    blocks,
    labels,
    room_names,
    *,
    num_classes=S3DIS_NUM_CLASSES,
    shard_size=1000,
    list_prefix=None,
    overwrite=False,
):
    """Writes a semantic-segmentation dataset in the S3DIS `indoor3d_sem_seg_hdf5_data` layout.

    Files: `ply_data_all_0.h5`.. with `data` float32 (n, P, 9) (block-centred
    XYZ, RGB / 255, room-normalised XYZ) and `label` uint8 (n, P);
    `all_files.txt` (`<folder name>/ply_data_all_<k>.h5` per line, like the
    original); `room_filelist.txt` (the room of every block, in file order,
    e.g. `Area_1_office_1`: readers split train/test by its area).

    Args:
        output_dir: Folder to create (missing or empty, or one written by pointnet-tf2 with `overwrite`).
        blocks: Float (n, P, 9) block features; channels 3:6 (RGB) must be in [0, 1].
        labels: Int (n, P) class ids in [0, num_classes).
        room_names: n room names (no whitespace), one per block.
        num_classes: Number of classes (13 for S3DIS), at most 256.
        shard_size: Maximum blocks per h5 file (the original used 1000).
        list_prefix: Text put before each shard name in `all_files.txt`;
            default `<basename of output_dir>/`.
        overwrite: Replace an existing non-empty folder written by pointnet-tf2.

    Returns:
        The absolute path of the written folder.

    Raises:
        ValueError: On bad shapes, dtypes, labels, colours, NaN/inf values, room
            names or an existing non-empty folder without `overwrite`.
    """
    num_classes = _check_positive_int("num_classes", num_classes)
    if num_classes > _UINT8_LIMIT:
        raise ValueError(f"num_classes: {num_classes}, but labels are stored as uint8 (at most {_UINT8_LIMIT})")
    shard_size = _check_positive_int("shard_size", shard_size)
    blocks = _check_points("blocks", blocks, (9,))
    labels = _check_labels("labels", labels, tuple(blocks.shape[:2]))
    if isinstance(room_names, str) or not hasattr(room_names, "__iter__"):
        raise ValueError(f"room_names: expected one name per block, got {room_names!r}")
    room_names = [str(r) if isinstance(r, np.str_) else r for r in room_names]
    if len(room_names) != blocks.shape[0]:
        raise ValueError(f"room_names: {len(room_names)} names for {blocks.shape[0]} blocks")
    for i, name in enumerate(room_names):
        if not isinstance(name, str) or not name or _WHITESPACE.search(name):
            raise ValueError(f"room_names[{i}] = {name!r}: names must be non-empty strings without whitespace")
    prefix = _default_prefix(output_dir, "{name}/") if list_prefix is None else list_prefix

    def shard_arrays(start, stop):
        values = _finite_float32("blocks", blocks[start:stop], start)
        rgb = values[..., 3:6]
        bad = ((rgb < 0) | (rgb > 1)).reshape(len(values), -1).any(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"blocks: block {row + start} has RGB channels (3:6) outside [0, 1] "
                f"(min {rgb[row].min():.3g}, max {rgb[row].max():.3g}); store RGB / 255"
            )
        label = _labels_in_range("labels", labels[start:stop], start, num_classes, f"{num_classes} classes")
        return {"data": values, "label": label}

    with staged_folder(output_dir, overwrite=overwrite) as tmp:
        _write_shards(tmp, blocks.shape[0], shard_size, "ply_data_all_", "all_files.txt", prefix, shard_arrays)
        _write_text(os.path.join(tmp, "room_filelist.txt"), room_names)
    return os.path.abspath(os.fspath(output_dir))
