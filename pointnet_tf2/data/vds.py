"""Virtual datasets: `build_vds` writes one HDF5 file over the shards of a dataset.

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

Reading a virtual dataset lives in `pointnet_tf2.data.io.vds_reader` (below
the datasets, which `open_dataset` dispatches to); building one opens the
source dataset with `open_dataset` first, so `build_vds` sits above both.
"""

import json
import os

import numpy as np

from pointnet_tf2.data.checks import check_non_negative_int
from pointnet_tf2.data.datasets import open_dataset
from pointnet_tf2.data.io import h5read
from pointnet_tf2.data.io.vds_reader import BUILD_ATTRIBUTE
from pointnet_tf2.data.io.vds_reader import SOURCES_ATTRIBUTE
from pointnet_tf2.data.io.vds_reader import VDS_ATTRIBUTE
from pointnet_tf2.data.io.vds_reader import check_sources  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import file_signature
from pointnet_tf2.data.io.vds_reader import open_vds  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.vds_reader import with_holdout
from pointnet_tf2.utils import atomic_output


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

    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    check_non_negative_int("seed", seed)
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
        splits = with_holdout(description, splits, val_fraction, seed)

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


def _stored_path(path, folder):
    try:
        return os.path.relpath(path, folder)
    except ValueError:  # another drive on Windows
        return os.path.abspath(path)


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
