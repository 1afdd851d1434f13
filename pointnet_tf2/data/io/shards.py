"""Writing dataset folders of HDF5 shards: validated inputs, gzip shards, list files, atomic publishing.

What the writers of the three original layouts share (each writer lives with
its dataset in `pointnet_tf2.data.datasets`; see REFERENCE section 4):
shards `<prefix><k>.h5` of at most `shard_size` clouds, gzip-compressed and
chunked by one or a few clouds (so reading one cloud decompresses only that
cloud), and their list file (`write_shards`).

A whole dataset folder is built under a temporary name next to `output_dir`
and renamed into place when complete (`staged_folder`), so an interrupted or
failed write never leaves a half dataset, and an existing folder is only
replaced with `overwrite=True`, and only if pointnet-tf2 wrote it: every
published folder carries the marker file `.pointnet_tf2_output`.

Inputs are validated before anything is published: shapes, dtypes, label
ranges and NaN/inf coordinates give a `ValueError` naming the argument and the
problem (`check_points`, `check_label_array`, `finite_float32`,
`labels_in_range`, ...). Arrays are read shard by shard, so array-likes that
slice lazily (`numpy.memmap`, an `h5py.Dataset`) are written without loading
them whole.
"""

import json
import os
import re

import numpy as np

from pointnet_tf2.utils.files import staged_folder  # noqa: F401  (re-exported: the dataset writers' import)

GZIP_LEVEL = 4
# Chunk rows are chosen so a chunk holds about this many bytes, at least one cloud.
CHUNK_BYTES = 1 << 15
# Labels and part ids are stored as uint8.
UINT8_LIMIT = 256
WHITESPACE = re.compile(r"\s")


# --- validation ----------------------------------------------------------------------


def as_array_like(value, what):
    """`value` if it has a shape and a dtype (arrays, memmaps, h5py datasets), else `numpy.asarray(value)`."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what}: not an array ({error})") from None


def check_names(what, names, *, limit=None):
    """Returns `names` as a list of distinct non-empty strings without whitespace (at most `limit`)."""
    if isinstance(names, str) or not hasattr(names, "__iter__"):
        raise ValueError(f"{what}: expected a list of strings, got {names!r}")
    names = list(names)
    if not names:
        raise ValueError(f"{what}: the list is empty")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name or WHITESPACE.search(name):
            raise ValueError(f"{what}[{i}] = {name!r}: names must be non-empty strings without whitespace")
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what}: the name {name!r} appears twice")
        seen.add(name)
    if limit is not None and len(names) > limit:
        raise ValueError(f"{what}: {len(names)} names, but labels are stored as uint8 (at most {limit})")
    return names


def check_points(what, points, channels):
    """Checks `points` is float (n, P, C) with C in `channels`, n and P >= 1; returns it as an array-like."""
    points = as_array_like(points, what)
    shape = tuple(points.shape)
    wanted = " or ".join(f"(n, P, {c})" for c in channels)
    if len(shape) != 3 or shape[2] not in channels:
        raise ValueError(f"{what}: expected shape {wanted}, got {shape}")
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"{what}: expected at least one cloud of at least one point, got shape {shape}")
    if not np.issubdtype(points.dtype, np.floating):
        raise ValueError(f"{what}: expected floating-point coordinates, got dtype {points.dtype}")
    return points


def check_label_array(what, labels, shape):
    """Checks `labels` is an integer array of `shape` ((n,) also accepts (n, 1)); returns it as an array-like."""
    labels = as_array_like(labels, what)
    got = tuple(labels.shape)
    if got != shape and not (len(shape) == 1 and got == shape + (1,)):
        expected = f"{shape} or {shape + (1,)}" if len(shape) == 1 else f"{shape}"
        raise ValueError(f"{what}: expected shape {expected}, got {got}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what}: expected integer labels, got dtype {labels.dtype}")
    return labels


def finite_float32(what, chunk, start):
    """Rows `start..` of points as float32, or `ValueError` naming the first cloud with NaN/inf."""
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is reported below
        values = np.asarray(chunk, dtype=np.float32)
    finite = np.isfinite(values).reshape(len(values), -1).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0]) + start
        raise ValueError(f"{what}: cloud {bad} contains NaN or inf values (or values too large for float32)")
    return values


def labels_in_range(what, chunk, start, limit, limit_text):
    """Rows `start..` of labels as uint8, or `ValueError` naming the first value outside [0, limit)."""
    values = np.asarray(chunk)
    if values.size:
        low, high = values.min(), values.max()
        if low < 0 or high >= limit:
            flat = values.reshape(len(values), -1)
            row = int(np.flatnonzero(((flat < 0) | (flat >= limit)).any(axis=1))[0])
            value = flat[row][(flat[row] < 0) | (flat[row] >= limit)][0]
            raise ValueError(f"{what}: value {value} in cloud {row + start} is outside [0, {limit}) ({limit_text})")
    return values.astype(np.uint8)


def check_split_keys(what, splits, names, optional=()):
    """Checks `splits` is a dict with exactly the split `names` (those in `optional` may be left out)."""
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


def unpack(value, count, what):
    """Returns `value` if it is a tuple or list of `count` items, else raises `ValueError`."""
    if not isinstance(value, (tuple, list)) or len(value) != count:
        raise ValueError(f"{what}: expected a tuple of {count} arrays")
    return value


def check_same_cloud_shape(what, shapes):
    """Checks every split's (points, channels) agree; `shapes` maps split -> array shape."""
    distinct = {s[1:] for s in shapes.values()}
    if len(distinct) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in shapes.items())
        raise ValueError(f"{what}: every split must have the same points per cloud and channels ({listing})")


# --- writing -------------------------------------------------------------------------


def chunk_shape(shape, itemsize):
    """The chunk of an array to store: whole rows, about `CHUNK_BYTES`, at least one row."""
    row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * itemsize)
    rows = max(1, min(shape[0], CHUNK_BYTES // row_bytes))
    return (rows,) + tuple(shape[1:])


def write_h5(path, arrays, *, per_row_chunks=(), attrs=None):
    """Writes arrays to an HDF5 file, gzip-compressed and chunked by whole rows (`chunk_shape`).

    Args:
        path: The file to write.
        arrays: Key -> array.
        per_row_chunks: Keys stored one row per chunk (e.g. `voxels`).
        attrs: Optional key -> {attribute: value} of the datasets.
    """
    import h5py

    with h5py.File(path, "w") as f:
        for key, values in arrays.items():
            values = np.ascontiguousarray(values)
            chunks = (1,) + values.shape[1:] if key in per_row_chunks else chunk_shape(values.shape, values.itemsize)
            dataset = f.create_dataset(
                key,
                data=values,
                chunks=chunks,
                compression="gzip",
                compression_opts=GZIP_LEVEL,
            )
            for name, value in (attrs or {}).get(key, {}).items():
                dataset.attrs[name] = value


def write_text(path, lines):
    """Writes one line per item."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{line}\n" for line in lines)


def write_json(path, value):
    """Writes `value` as compact JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


def _shard_ranges(n, shard_size):
    return [(start, min(start + shard_size, n)) for start in range(0, n, shard_size)]


def write_shards(folder, rows, shard_size, file_prefix, list_file, list_prefix, shard_arrays, **h5_options):
    """Writes rows [0, rows) as `<file_prefix><k>.h5` files of at most `shard_size` rows, and their list file.

    `shard_arrays(start, stop)` validates rows [start, stop) and returns the
    arrays of one file; `list_file` gets `<list_prefix><file name>` per file;
    `h5_options` go to `write_h5`.
    """
    listed = []
    for k, (start, stop) in enumerate(_shard_ranges(rows, shard_size)):
        name = f"{file_prefix}{k}.h5"
        write_h5(os.path.join(folder, name), shard_arrays(start, stop), **h5_options)
        listed.append(list_prefix + name)
    write_text(os.path.join(folder, list_file), listed)


def default_prefix(output_dir, pattern):
    """`pattern` with `{name}` = the output folder's name (list-file prefixes like `data/<name>/`)."""
    return pattern.format(name=os.path.basename(os.path.abspath(os.fspath(output_dir))))
