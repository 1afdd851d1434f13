"""A plain HDF5 file: `data` and `label` (and `pid`), its rows forming the split 'all'.

What the file holds decides what it is for: a `pid` key gives part labels
(with object categories in `label`), a `label` of one value per point gives
per-point labels, one per cloud gives cloud labels. Class names come from a
`class_names` attribute of the file or, for cloud labels, a `shape_names.txt`
beside it (a shard of a ModelNet40-layout folder); without names the classes
are counted from the labels (`class_count_from == "labels"`).
"""

import os

from pointnet_tf2.data.description import CLOUD_LABELS
from pointnet_tf2.data.description import PART_LABELS
from pointnet_tf2.data.description import POINT_LABELS
from pointnet_tf2.data.description import Shard
from pointnet_tf2.data.io import hdf5

NAME = "hdf5"


def open_file(path, *, check_values=True):
    """Opens and checks a plain HDF5 file (see `pointnet_tf2.data.open_dataset`).

    Args:
        path: The `.h5` file.
        check_values: Unused: the file's values are always scanned (its
            class count may come from its labels).

    Returns:
        A `DatasetDescription` with layout 'hdf5' and one split, 'all'.

    Raises:
        ValueError: Naming the file and the problem.
    """
    import h5py

    info = hdf5.inspect_files([path], label_per_point=None, extra_key="optional_pid")[0]
    labels = PART_LABELS if info["has_pid"] else (POINT_LABELS if info["label_per_point"] else CLOUD_LABELS)
    with h5py.File(path, "r") as f:
        stored_names = [n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs.get("class_names", [])]
    shards = [Shard(path, info["rows"])]
    ranges = {"all": [[0, info["rows"]]]}
    if labels.categories:
        num_categories = hdf5.check_label_values([info], None, None, True)
        pairs = hdf5.category_part_pairs(info)
        num_parts = int(pairs[:, 1].max()) + 1 if len(pairs) else 1
        category_parts = [sorted(pairs[pairs[:, 0] == c, 1].tolist()) for c in range(num_categories)]
        names = [f"part_{i}" for i in range(num_parts)]
        return hdf5.describe(
            labels, NAME, path, names, [info], shards, ranges, up_axis=1,
            category_names=[f"category_{c}" for c in range(num_categories)],
            category_ids=[str(c) for c in range(num_categories)], category_parts=category_parts,
        )  # fmt: skip
    limit_from = "its class_names attribute" if stored_names else None
    beside = os.path.join(os.path.dirname(path), "shape_names.txt")
    if not stored_names and not labels.per_point and os.path.isfile(beside):  # a shard of a ModelNet40-layout folder
        stored_names, limit_from = hdf5.read_lines(beside), beside
    limit = len(stored_names) or None
    num_classes = hdf5.check_label_values([info], limit, limit_from, True)
    names = stored_names or [f"class_{i}" for i in range(num_classes)]
    extra = {} if stored_names else {"class_count_from": "labels"}
    return hdf5.describe(labels, NAME, path, names, [info], shards, ranges, up_axis=1, **extra)
