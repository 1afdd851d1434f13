"""Reading a virtual dataset written by `build_vds` (see `pointnet_tf2.data.vds`), and checking its sources.

HDF5 returns fill values, silently, for the rows of a source file that is
missing, so `build_vds` records each source's path, row count, size and a
checksum of a few sampled blocks; `open_vds` checks them and names the shard
that is missing, truncated or rewritten.

This module needs only the dataset description: `open_dataset`
(`pointnet_tf2.data.datasets`) opens virtual datasets through it, and
`build_vds` (which reads the source dataset with `open_dataset`) sits above
both.
"""

import json
import os
import zlib

import numpy as np

from pointnet_tf2.data.description import DatasetDescription
from pointnet_tf2.data.description import Shard
from pointnet_tf2.data.description import holdout_indices
from pointnet_tf2.data.description import rows_to_ranges
from pointnet_tf2.data.description import s3dis_split_rows
from pointnet_tf2.data.io import h5read

# Attribute of a file written by `build_vds` holding the description JSON.
VDS_ATTRIBUTE = "pointnet_tf2.description"
SOURCES_ATTRIBUTE = "pointnet_tf2.sources"
BUILD_ATTRIBUTE = "pointnet_tf2.build"

_CHECKSUM_BLOCK = 1 << 16
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


def is_vds(path):
    """True if `path` is an HDF5 file written by `build_vds` (False for other or unreadable files)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return VDS_ATTRIBUTE in f.attrs
    except OSError:
        return False


def open_vds(path, *, test_area=None):
    """Opens a file written by `build_vds` and checks its source shards.

    Args:
        path: The virtual dataset file.
        test_area: For S3DIS, an area other than the one the file was built
            with re-splits train/test from the stored room names.

    Returns:
        A `DatasetDescription` with layout 'vds' and `root` = `path`.

    Raises:
        FileNotFoundError: If a source shard is missing.
        ValueError: If a source shard was truncated or rewritten since the
            build, or the file is not a valid virtual dataset.
    """
    import h5py

    path = os.path.abspath(os.fspath(path))
    with h5py.File(path, "r") as f:
        try:
            stored = json.loads(f.attrs[VDS_ATTRIBUTE])
            sources = json.loads(f.attrs[SOURCES_ATTRIBUTE])
            build = json.loads(f.attrs.get(BUILD_ATTRIBUTE, "{}"))
        except (KeyError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a virtual dataset written by build_vds ({error})") from None
        splits = {}
        if "splits" in f:
            names = sorted(f["splits"], key=lambda n: (_SPLIT_ORDER.get(n, len(_SPLIT_ORDER)), n))
            splits = {name: h5read.read(f["splits"][name]).astype(np.int64) for name in names}
        rooms = [r.decode() if isinstance(r, bytes) else str(r) for r in h5read.read(f["meta/rooms"])] if "meta/rooms" in f else None
        total = sum(int(s["rows"]) for s in sources)
        for key in stored.get("keys", ["data", "label"]) + (["voxels"] if stored.get("voxel_resolution") else []):
            if key not in f:
                raise ValueError(f"{path}: key {key!r} is missing")
            if f[key].shape[0] != total:
                raise ValueError(f"{path}: {key!r} has {f[key].shape[0]} rows, but its sources hold {total}")
    shards = check_sources(path, sources)

    if rooms is not None and test_area is not None and test_area != stored.get("test_area"):
        train, test = s3dis_split_rows(rooms, test_area, where=f"{path} (room names)")
        splits = {"train": train, "test": test}
        if build.get("val_fraction"):
            splits = with_holdout(None, splits, build["val_fraction"], build.get("seed", 0))
        stored["test_area"] = test_area
    for name, rows in splits.items():
        if len(rows) and (rows.min() < 0 or rows.max() >= total):
            raise ValueError(f"{path}: split {name!r} names rows outside 0..{total - 1}")
    stored.update(
        layout="vds",
        root=path,
        source_layout=stored.get("source_layout") or stored.get("layout"),
        shards=[{"path": s.path, "rows": s.rows} for s in shards],
        rooms=rooms,
        splits={name: int(len(rows)) for name, rows in splits.items()},
        split_ranges={name: rows_to_ranges(rows) for name, rows in splits.items()},
    )
    return DatasetDescription.from_dict(stored)


def check_sources(path, sources):
    """Checks that every source shard of a virtual dataset is unchanged.

    Args:
        path: The virtual dataset file (relative sources resolve against its folder).
        sources: The list stored by `build_vds` (path, rows, size, checksum).

    Returns:
        The list of `Shard`s with absolute paths.

    Raises:
        FileNotFoundError: If a source is missing.
        ValueError: If a source's size or checksum differs from the build.
    """
    folder = os.path.dirname(os.path.abspath(path))
    shards, offset = [], 0
    for source in sources:
        resolved = os.path.normpath(os.path.join(folder, source["path"]))
        rows = int(source["rows"])
        if not os.path.isfile(resolved):
            raise FileNotFoundError(
                f"{path}: source shard {resolved} is missing (rows {offset}..{offset + rows - 1} would read back "
                "as fill values); restore it or rebuild with build-vds"
            )
        size = os.path.getsize(resolved)
        if size != source["size"]:
            what = "truncated" if size < source["size"] else "rewritten"
            raise ValueError(
                f"{path}: source shard {resolved} is {size} bytes but was {source['size']} when the VDS was "
                f"built ({what}); restore it or rebuild with build-vds"
            )
        if file_signature(resolved)["checksum"] != source["checksum"]:
            raise ValueError(
                f"{path}: source shard {resolved} changed since the VDS was built (checksum differs); "
                "rebuild with build-vds"
            )
        shards.append(Shard(resolved, rows))
        offset += rows
    return shards


def file_signature(path):
    """Size and a cheap checksum (CRC32 of up to 4 sampled 64 KiB blocks) of a file.

    Args:
        path: A file.

    Returns:
        A dict with `size`, `mtime_ns` and `checksum`.
    """
    stat = os.stat(path)
    size = stat.st_size
    block = _CHECKSUM_BLOCK
    offsets = sorted({0, max(0, size // 3 - block // 2), max(0, 2 * size // 3 - block // 2), max(0, size - block)})
    crc = 0
    with open(path, "rb") as f:
        for offset in offsets:
            f.seek(offset)
            crc = zlib.crc32(f.read(block), crc)
    return {"size": size, "mtime_ns": stat.st_mtime_ns, "checksum": crc}


def with_holdout(description, splits, val_fraction, seed):
    """Moves a seeded share of the 'train' rows into a 'val' split.

    Args:
        description: The dataset (for messages; a 'val' split it already has
            is an error), or None when re-splitting a stored virtual dataset.
        splits: Split name -> row numbers.
        val_fraction: Share of the training rows to hold out, in [0, 1).
        seed: Seed of the choice (`holdout_indices`).

    Returns:
        A new dict of splits with 'train' reduced and 'val' added.

    Raises:
        ValueError: If there is no 'train' split, or already a 'val' one.
    """
    if description is not None and len(splits.get("val", ())):
        raise ValueError(
            f"{description.root}: already has a 'val' split ({len(splits['val'])} clouds); use val_fraction=0"
        )
    if "train" not in splits:
        where = description.root if description is not None else "dataset"
        raise ValueError(f"{where}: has no 'train' split to hold validation rows out of")
    train = np.asarray(splits["train"], np.int64)
    kept, held = holdout_indices(len(train), val_fraction, seed)
    out = dict(splits)
    out["train"], out["val"] = train[kept], train[held]
    return out
