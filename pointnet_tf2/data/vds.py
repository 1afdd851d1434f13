"""Virtual datasets: one HDF5 file over the shards of a dataset.

`build_vds` writes a file with one HDF5 virtual dataset per key (`data`,
`label`, `pid`, and `voxels` when the shards store occupancy grids)
mapping the rows of every source shard in order, the rows of
each split (`/splits/<name>`), the room name of each row for S3DIS
(`/meta/rooms`), and the dataset description as a JSON attribute. Reading it
needs only h5py; no data is copied.

HDF5 returns fill values, silently, for the rows of a source file that is
missing, so the file also records each source's path, row count, size and a
checksum of a few sampled blocks; `open_vds` (and so `open_dataset` and
`PointCloudSequence`) checks them and names the shard that is missing,
truncated or rewritten. Source paths are stored relative to the VDS file's
folder when possible (HDF5 resolves them against that folder), so a folder
holding the shards and the VDS can be moved as a whole.
"""

import json
import os
import zlib

import numpy as np

from pointnet_tf2.data import h5read
from pointnet_tf2.data.description import DatasetDescription
from pointnet_tf2.data.description import Shard
from pointnet_tf2.data.description import holdout_indices
from pointnet_tf2.data.description import rows_to_ranges
from pointnet_tf2.data.formats import VDS_ATTRIBUTE
from pointnet_tf2.data.formats import s3dis_split_rows

SOURCES_ATTRIBUTE = "pointnet_tf2.sources"
BUILD_ATTRIBUTE = "pointnet_tf2.build"

_CHECKSUM_BLOCK = 1 << 16
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


def build_vds(dataset_dir, output, *, task=None, test_area=6, val_fraction=0.0, seed=0, overwrite=False):
    """Builds a virtual dataset file over the shards of a dataset.

    Args:
        dataset_dir: A dataset directory in one of the original layouts (or a
            plain HDF5 file), validated with `open_dataset` first.
        output: The `.h5` file to write (atomically: a failed build leaves an
            existing file untouched). It must not exist, or with `overwrite`
            be a virtual dataset written by `build_vds`; it is never one of
            the dataset's files.
        task: Optional expected task ('cls', 'part_seg', 'sem_seg').
        test_area: S3DIS area used as test split.
        val_fraction: Share of the training rows moved, at random, into a 'val'
            split (for layouts without one). 0 keeps the layout's splits.
        seed: Seed of that random choice.
        overwrite: Replace an existing virtual dataset file.

    Returns:
        The absolute path of the written file.

    Raises:
        FileNotFoundError: If the dataset or one of its files is missing.
        ValueError: If the dataset is invalid, an argument is out of range,
            or the output exists (without `overwrite`, or not a virtual
            dataset), is the dataset or one of its shards.
    """
    import h5py

    from pointnet_tf2.data.formats import open_dataset
    from pointnet_tf2.utils import atomic_output

    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    output = os.path.abspath(os.fspath(output))
    if os.path.isdir(output):
        raise ValueError(f"{output}: is a directory; --output must be an .h5 file path")
    if os.path.lexists(output) and os.path.samefile(output, dataset_dir):
        raise ValueError(f"{output}: is the dataset being read; choose another --output")
    _check_replaceable(output, overwrite)
    description = open_dataset(dataset_dir, task, test_area=test_area)
    if description.layout == "vds":
        raise ValueError(f"{dataset_dir}: is already a virtual dataset")
    for shard in description.shards:
        if os.path.lexists(output) and os.path.samefile(output, shard.path):
            raise ValueError(f"{output}: is a source shard of the dataset {dataset_dir}; choose another --output")
    splits = {name: description.split_rows(name) for name in description.split_ranges}
    if val_fraction > 0:
        splits = _with_holdout(description, splits, val_fraction, seed)

    folder = os.path.dirname(output)
    sources = []
    for shard in description.shards:
        entry = {"path": _stored_path(shard.path, folder), "rows": shard.rows}
        entry.update(file_signature(shard.path))
        sources.append(entry)
    stored = description.to_dict()
    stored["rooms"] = None
    # Splits live in /splits (rebuilt into ranges on open): keep the attribute small.
    del stored["split_ranges"]
    stored["splits"] = {name: int(len(rows)) for name, rows in splits.items()}
    build = {"val_fraction": float(val_fraction), "seed": int(seed), "test_area": description.test_area}

    with atomic_output(output) as tmp:
        with h5py.File(tmp, "w", libver="v110") as f:
            for key in _mapped_keys(description):
                _write_virtual_dataset(f, key, description.shards, sources)
            group = f.create_group("splits")
            for name, rows in splits.items():
                group.create_dataset(name, data=np.asarray(rows, np.int64))
            if description.rooms is not None:
                f.create_dataset("meta/rooms", data=np.array(description.rooms, dtype=h5py.string_dtype()))
            f.attrs[VDS_ATTRIBUTE] = json.dumps(stored)
            f.attrs[SOURCES_ATTRIBUTE] = json.dumps(sources)
            f.attrs[BUILD_ATTRIBUTE] = json.dumps(build)
        _verify_mapping(tmp, description)
    return output


def _check_replaceable(output, overwrite):
    """Refuses an existing output unless `overwrite` is on and it is a virtual dataset of `build_vds`."""
    import h5py

    if not os.path.lexists(output):
        return
    if not overwrite:
        raise ValueError(f"{output}: exists; choose another --output or pass --overwrite to replace it")
    try:
        with h5py.File(output, "r") as f:
            ours = VDS_ATTRIBUTE in f.attrs and SOURCES_ATTRIBUTE in f.attrs
    except OSError:
        ours = False
    if not ours:
        raise ValueError(f"{output}: is not a virtual dataset written by build-vds, so --overwrite does not "
                         "replace it; choose another --output, or remove it yourself")  # fmt: skip


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
            splits = _with_holdout(None, splits, build["val_fraction"], build.get("seed", 0))
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


def _stored_path(path, folder):
    try:
        return os.path.relpath(path, folder)
    except ValueError:  # another drive on Windows
        return os.path.abspath(path)


def _with_holdout(description, splits, val_fraction, seed):
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


def _mapped_keys(description):
    """The keys given a virtual dataset: the description's, plus `voxels` when the shards store grids."""
    return list(description.keys) + (["voxels"] if description.voxel_resolution is not None else [])


def _write_virtual_dataset(f, key, shards, sources):
    import h5py

    shapes, dtype = [], None
    for shard in shards:
        with h5py.File(shard.path, "r") as source_file:
            dataset = source_file[key]
            shapes.append(dataset.shape)
            dtype = dataset.dtype if dtype is None else dtype
    total = sum(shape[0] for shape in shapes)
    layout = h5py.VirtualLayout(shape=(total,) + tuple(shapes[0][1:]), dtype=dtype)
    offset = 0
    for source, shape in zip(sources, shapes):
        layout[offset : offset + shape[0]] = h5py.VirtualSource(source["path"], key, shape=shape, dtype=dtype)
        offset += shape[0]
    # Fill values that validation would reject, as a second line of defence.
    fill = np.nan if dtype.kind == "f" else np.iinfo(dtype).max
    f.create_virtual_dataset(key, layout, fillvalue=fill)


def _verify_mapping(vds_path, description):
    """Reads the first and last row of every shard through the VDS and compares."""
    import h5py

    with h5py.File(vds_path, "r") as vds:
        offset = 0
        for shard in description.shards:
            with h5py.File(shard.path, "r") as source:
                for key in _mapped_keys(description):
                    for local in sorted({0, shard.rows - 1}):
                        if not np.array_equal(h5read.read(vds[key], offset + local), h5read.read(source[key], local),
                                              equal_nan=False):
                            raise ValueError(
                                f"{vds_path}: row {offset + local} of {key!r} does not match {shard.path} row "
                                f"{local}; the virtual dataset could not map its sources"
                            )
            offset += shard.rows
