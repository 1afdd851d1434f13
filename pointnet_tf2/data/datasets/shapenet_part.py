"""ShapeNet part: categories and parts, the `hdf5_data` layout's reader and writer, the raw converter.

Part segmentation: an object category per cloud (`label`) and an overall
part id per point (`pid`); the 16 categories and 50 parts of the benchmark
(`CATEGORIES`, `part_offsets`, `category_parts`).

Layout `hdf5_data/` (`open_folder`, `write_shapenet_part_layout`):
`train_hdf5_file_list.txt`, `val_hdf5_file_list.txt`,
`test_hdf5_file_list.txt`; keys `data`, `label` (object category) and `pid`
(n, P) overall part ids; metadata `all_object_categories.txt` and
`overallid_to_catid_partid.json` (plus the optional
`catid_partid_to_overallid.json` and `part_names.txt`); beside it, per
split, `<split>_full_resolution.h5` with every original point
(`write_shapenet_part_full_resolution`, `read_full_resolution`).

Raw converter (`prepare_shapenet_part`, `pointnet-tf2 prepare-shapenet-part`):
the raw benchmark release -> that layout (+ full-resolution files).

Two raw variants are read (`variant="auto"` tells them apart):

- "classic", `shapenetcore_partanno_segmentation_benchmark_v0/`:
  `<synset>/points/<id>.pts` (`x y z` lines) and
  `<synset>/points_label/<id>.seg` (one part label per point, 1-based within
  the category);
- "normal", `shapenetcore_partanno_segmentation_benchmark_v0_normal/`:
  `<synset>/<id>.txt` (`x y z nx ny nz overall_part_id` lines).

Both have `synsetoffset2category.txt` (`Name<TAB>synset` lines) and
`train_test_split/shuffled_{train,val,test}_file_list.json` (JSON lists of
`shape_data/<synset>/<id>`), which decide the splits; shapes on disk that no
list names are not converted (their number is reported).

Categories and parts follow the original: the 16 categories in alphabetical
order are the category labels 0..15, and overall part ids 0..49 are assigned
category by category in that order with the part counts of `CATEGORIES`
(Airplane 4, Bag 2, Cap 2, Car 4, Chair 4, Earphone 3, Guitar 3, Knife 2,
Lamp 4, Laptop 2, Motorbike 6, Mug 2, Pistol 3, Rocket 3, Skateboard 3,
Table 3): a classic label `k` of a category with first overall id `o` becomes
`o + k - 1`.

Each shape is centred on its centroid and scaled into the unit sphere (as the
original evaluation did with `.pts` files; `normalize="none"` keeps the
coordinates; normals are unchanged), then resampled to `num_points` (2048): a
random subset, or every point plus random duplicates, in random order.

Output (by `write_shapenet_part_layout`): `ply_data_{train,val,test}<k>.h5`
(`data` float32 (n, 2048, 3) or (n, 2048, 6) with normals, `label` uint8
(n, 1) category, `pid` uint8 (n, 2048)), the three list files,
`all_object_categories.txt`, `overallid_to_catid_partid.json`,
`catid_partid_to_overallid.json`, `part_color_mapping.json`, and per split
`<split>_full_resolution.h5`: every original point and label of row i of the
split (see `write_shapenet_part_full_resolution`; read it with
`read_full_resolution`), plus `skipped.txt` and `prepare.json`.

Reported per shape (and skipped): malformed lines and NaN values (file and line
named), a missing `.seg`, point and label counts that differ, part labels
outside the category's parts, empty or degenerate shapes, a synset that is not
one of the 16 categories, and malformed list entries. A shape listed in two
splits is an error.
"""

import colorsys
import dataclasses
import functools
import json
import os
import re

import numpy as np

from pointnet_tf2.data import runner
from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.conversion import ConversionInput
from pointnet_tf2.data.conversion import SkipItem
from pointnet_tf2.data.conversion import item_seed
from pointnet_tf2.data.description import PART_LABELS
from pointnet_tf2.data.geometry import NORMALIZATIONS
from pointnet_tf2.data.geometry import resample_indices
from pointnet_tf2.data.geometry import to_unit_sphere
from pointnet_tf2.data.io import hdf5
from pointnet_tf2.data.io import shards as writing
from pointnet_tf2.data.io.tables import DEGENERATE  # noqa: F401  (a skip kind of this converter)
from pointnet_tf2.data.io.tables import read_table
from pointnet_tf2.utils import atomic_output

# The layout: its name, the folder of the original download, what its rows hold, the up axis (y).
NAME = "shapenet_part"
FOLDER = "hdf5_data"
LABELS = PART_LABELS
UP_AXIS = 1

# (name, synset, number of parts), in alphabetical order = category label.
CATEGORIES = (
    ("Airplane", "02691156", 4), ("Bag", "02773838", 2), ("Cap", "02954340", 2), ("Car", "02958343", 4),
    ("Chair", "03001627", 4), ("Earphone", "03261776", 3), ("Guitar", "03467517", 3), ("Knife", "03624134", 2),
    ("Lamp", "03636649", 4), ("Laptop", "03642806", 2), ("Motorbike", "03790512", 6), ("Mug", "03797390", 2),
    ("Pistol", "03948459", 3), ("Rocket", "04099429", 3), ("Skateboard", "04225943", 3), ("Table", "04379243", 3),
)  # fmt: skip
SPLITS = ("train", "val", "test")
SHAPENET_PART_SPLITS = SPLITS
VARIANTS = ("auto", "classic", "normal")
RELEASE_FOLDERS = (
    "shapenetcore_partanno_segmentation_benchmark_v0",
    "shapenetcore_partanno_segmentation_benchmark_v0_normal",
)
CATEGORY_FILE = "synsetoffset2category.txt"
SPLIT_FILE = "train_test_split/shuffled_{}_file_list.json"
FULL_RESOLUTION_FILE = "{}_full_resolution.h5"

# Skip kinds of this converter, besides those of `tables` (DEGENERATE: all points of a shape coincide).
UNKNOWN_CATEGORY = "unknown_category"
BAD_ENTRY = "bad_entry"
MISSING_LABELS = "missing_labels"
COUNT_MISMATCH = "count_mismatch"
BAD_LABEL = "bad_label"

_ENTRY = re.compile(r"^shape_data/([^/\s]+)/([^/\s]+)$")
_WORK_SHARD = 512
_FULL_FOLDER = "full_resolution"


def part_offsets():
    """First overall part id of every category of `CATEGORIES`, and the total (a list of 17 ints)."""
    offsets = [0]
    for _, _, count in CATEGORIES:
        offsets.append(offsets[-1] + count)
    return offsets


def category_parts():
    """`category_parts()[c]`: the overall part ids of category c (0..49 in total)."""
    offsets = part_offsets()
    return [list(range(offsets[c], offsets[c + 1])) for c in range(len(CATEGORIES))]


def overall_part_id(category, part):
    """Overall part id of a category's 1-based part label.

    Args:
        category: Category index (alphabetical order, 0..15).
        part: Part label within the category, 1-based (as in `.seg` files).

    Returns:
        The overall part id (0..49).

    Raises:
        ValueError: If `part` is not in 1..(parts of the category).
    """
    count = CATEGORIES[category][2]
    if not 1 <= part <= count:
        raise ValueError(f"part label {part} is outside 1..{count} for {CATEGORIES[category][0]}")
    return part_offsets()[category] + part - 1


# --- the layout: reading -------------------------------------------------------------------


def detect(directory):
    """True if `directory` has a list file of the ShapeNet part layout (`<split>_hdf5_file_list.txt`)."""
    return any(os.path.isfile(os.path.join(directory, f"{s}_hdf5_file_list.txt")) for s in ("train", "val", "test"))


def open_folder(directory, *, test_area=None, check_values=True):
    """Opens and checks a `hdf5_data` folder (see `pointnet_tf2.data.open_dataset`).

    Args:
        directory: The dataset folder.
        test_area: Ignored (an S3DIS option).
        check_values: Scan coordinates, categories and part ids (see `open_dataset`).

    Returns:
        A `DatasetDescription` with the splits of the list files, the
        categories and their parts.

    Raises:
        FileNotFoundError: If a list or metadata file or a listed shard is missing.
        ValueError: Naming the file and the problem.
    """
    lists = hdf5.split_lists(directory, "{}_hdf5_file_list.txt", ("train", "val", "test"))
    categories_path = os.path.join(directory, "all_object_categories.txt")
    oid_path = os.path.join(directory, "overallid_to_catid_partid.json")
    for required in (categories_path, oid_path):
        if not os.path.isfile(required):
            raise FileNotFoundError(f"{required}: missing (ShapeNet part metadata, needed for categories and parts)")
    category_names, category_ids = [], []
    for i, line in enumerate(hdf5.read_lines(categories_path)):
        fields = line.split()
        if len(fields) < 2:
            raise ValueError(f"{categories_path}: line {i + 1} {line!r} is not '<name> <category id>'")
        category_names.append(fields[0])
        category_ids.append(fields[1])
    if not category_names:
        raise ValueError(f"{categories_path}: is empty")
    oid2cpid = hdf5.read_json(oid_path)
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
        cpid2oid = hdf5.read_json(cpid_path)
        for oid, (cat_id, part_id) in enumerate(oid2cpid):
            if cpid2oid.get(f"{cat_id}_{part_id}") != oid:
                raise ValueError(f"{cpid_path}: '{cat_id}_{part_id}' should map to {oid} as in {oid_path}")
    names_path = os.path.join(directory, "part_names.txt")
    if os.path.isfile(names_path):
        part_names = hdf5.read_lines(names_path)
        if len(part_names) != len(oid2cpid):
            raise ValueError(f"{names_path}: {len(part_names)} names but {len(oid2cpid)} parts in {oid_path}")

    paths = [p for ps in lists.values() for p in ps]
    infos = hdf5.inspect_files(
        paths,
        label_per_point=False,
        extra_key="pid",
        channels=((3, 6), "ShapeNet part clouds have 3 (xyz) or 6 (xyz + normals) values per point"),
    )
    hdf5.check_label_values(infos, len(category_names), os.path.basename(categories_path), check_values)
    if check_values:
        allowed = np.zeros((len(category_names), len(oid2cpid)), bool)
        for category, parts in enumerate(category_parts):
            allowed[category, parts] = True
        for info in infos:
            hdf5.check_part_ids(info, allowed, category_names, os.path.basename(oid_path))
    shards, ranges = hdf5.shards_and_ranges(lists, infos)
    return hdf5.describe(
        LABELS, NAME, directory, part_names, infos, shards, ranges, up_axis=UP_AXIS,
        category_names=category_names, category_ids=category_ids, category_parts=category_parts,
        part_names=part_names,
    )  # fmt: skip


# --- the layout: writing -------------------------------------------------------------------


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
    if total > writing.UINT8_LIMIT:
        raise ValueError(f"{what}: {total} parts, but pid is stored as uint8 (at most {writing.UINT8_LIMIT})")
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
    category_names = writing.check_names("category_names", category_names, limit=writing.UINT8_LIMIT)
    category_synsets = writing.check_names("category_synsets", category_synsets)
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
    shard_size = check_positive_int("shard_size", shard_size)
    writing.check_split_keys("splits", splits, SPLITS)

    checked = {}
    for split in SPLITS:
        what = f"splits[{split!r}]"
        points, category, pid = writing.unpack(splits[split], 3, f"{what} (points, category, pid)")
        points = writing.check_points(f"{what} points", points, (3, 6))
        category = writing.check_label_array(f"{what} category", category, (points.shape[0],))
        pid = writing.check_label_array(f"{what} pid", pid, tuple(points.shape[:2]))
        checked[split] = (points, category, pid)
    writing.check_same_cloud_shape("splits", {s: tuple(v[0].shape) for s, v in checked.items()})

    allowed = np.zeros((num_categories, num_parts), dtype=bool)
    for cat, ids in enumerate(parts):
        allowed[cat, ids] = True

    def shard_arrays(split, start, stop):
        points, category, pid = checked[split]
        what = f"splits[{split!r}]"
        values = writing.finite_float32(f"{what} points", points[start:stop], start)
        cat = writing.labels_in_range(
            f"{what} category", category[start:stop], start, num_categories, f"{num_categories} categories"
        ).reshape(-1)
        part = writing.labels_in_range(f"{what} pid", pid[start:stop], start, num_parts, f"{num_parts} parts")
        ok = allowed[cat[:, None], part]
        if not ok.all():
            row, col = (int(i) for i in np.argwhere(~ok)[0])
            raise ValueError(
                f"{what} pid: cloud {row + start} point {col} has part {part[row, col]}, which is not "
                f"a part of its category {cat[row]} ({category_names[cat[row]]}: parts {parts[cat[row]]})"
            )
        return {"data": values, "label": cat.reshape(-1, 1), "pid": part}

    with writing.staged_folder(output_dir, overwrite=overwrite) as tmp:
        for split, (points, _, _) in checked.items():
            writing.write_shards(tmp, points.shape[0], shard_size, f"ply_data_{split}", f"{split}_hdf5_file_list.txt",
                          list_prefix, functools.partial(shard_arrays, split))  # fmt: skip

        writing.write_text(
            os.path.join(tmp, "all_object_categories.txt"),
            [f"{n}\t{s}" for n, s in zip(category_names, category_synsets)],
        )
        overall = []
        for oid in range(num_parts):
            cat = owner[oid]
            overall.append([category_synsets[cat], parts[cat].index(oid) + 1])
        writing.write_json(os.path.join(tmp, "overallid_to_catid_partid.json"), overall)
        writing.write_json(
            os.path.join(tmp, "catid_partid_to_overallid.json"),
            {f"{synset}_{part_id}": oid for oid, (synset, part_id) in enumerate(overall)},
        )
        writing.write_json(os.path.join(tmp, "part_color_mapping.json"), colors.tolist())
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
    entry = writing.unpack(entry, 5, f"{what} (shape_id, category, points, pid, sample_index)")
    shape_id, category, points, pid, sample_index = entry
    if not isinstance(shape_id, str) or not shape_id:
        raise ValueError(f"{what}: shape_id must be a non-empty string, got {shape_id!r}")
    if isinstance(category, bool) or not isinstance(category, (int, np.integer)) or not 0 <= category < writing.UINT8_LIMIT:
        raise ValueError(f"{what} ({shape_id}): category must be an integer in [0, {writing.UINT8_LIMIT}), got {category!r}")
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] not in (3, 6) or points.shape[0] < 1:
        raise ValueError(f"{what} ({shape_id}): points must have shape (N, 3) or (N, 6) with N >= 1, "
                         f"got {points.shape}")  # fmt: skip
    if channels is not None and points.shape[1] != channels:
        raise ValueError(f"{what} ({shape_id}): {points.shape[1]} channels, earlier clouds have {channels}")
    if not np.issubdtype(points.dtype, np.floating):
        raise ValueError(f"{what} ({shape_id}): points must be floating point, got dtype {points.dtype}")
    values = writing.finite_float32(f"{what} ({shape_id}) points", points[None], 0)[0]
    pid = np.asarray(pid)
    if pid.shape != (points.shape[0],) or not np.issubdtype(pid.dtype, np.integer):
        raise ValueError(f"{what} ({shape_id}): pid must be integers of shape ({points.shape[0]},), got "
                         f"{pid.shape} {pid.dtype}")  # fmt: skip
    pid = writing.labels_in_range(f"{what} ({shape_id}) pid", pid[None], 0, writing.UINT8_LIMIT, "stored as uint8")[0]
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
            gzip = {"compression": "gzip", "compression_opts": writing.GZIP_LEVEL}
            f.create_dataset("points", (0, channels), np.float32, maxshape=(None, channels),
                             chunks=(4096, channels), **gzip)  # fmt: skip
            f.create_dataset("pid", (0,), np.uint8, maxshape=(None,), chunks=(16384,), **gzip)
            f.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(4096,))
            f.create_dataset("label", (0,), np.uint8, maxshape=(None,), chunks=(4096,))
            f.create_dataset("sample_index", (0, num_samples), np.int32, maxshape=(None, num_samples),
                             chunks=(max(1, writing.CHUNK_BYTES // (4 * num_samples)), num_samples), **gzip)  # fmt: skip
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


# --- the raw converter ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ShapeOptions:
    """How one shape is converted.

    Attributes:
        variant: "classic" or "normal".
        num_points: Points per stored cloud.
        normalize: "unit_sphere" or "none".
    """

    variant: str
    num_points: int = 2048
    normalize: str = "unit_sphere"

    def __post_init__(self):
        if self.variant not in ("classic", "normal"):
            raise ValueError(f"variant must be 'classic' or 'normal', got {self.variant!r}")
        check_positive_int("num_points", self.num_points)
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")

    @property
    def channels(self):
        """3 (xyz) or 6 (xyz + normals)."""
        return 6 if self.variant == "normal" else 3


def _labels_as_ints(values, name):
    rounded = np.rint(values)
    if not np.array_equal(rounded, values):
        row = int(np.argmax(rounded != values))
        raise SkipItem(f"{name}: point {row + 1} has the non-integer part label {values[row]!r}", BAD_LABEL)
    return rounded.astype(np.int64)


def read_shape(item, options):
    """Reads one raw shape: its points and overall part ids.

    Args:
        item: A `ConversionInput` with `info` "category", "shape_id" (and
            "seg" for the classic variant).
        options: `ShapeOptions`.

    Returns:
        `(points, pid)`: float64 (N, 3 or 6) and int64 (N,) overall part ids.

    Raises:
        SkipItem: Kinds "malformed", "nonfinite", "empty", "missing_labels",
            "count_mismatch", "bad_label".
    """
    category = item.info["category"]
    name, _, count = CATEGORIES[category]
    first = part_offsets()[category]
    synset, shape = item.info["shape_id"].split("/")
    if options.variant == "classic":
        points = read_table(item.path, 3, name=f"{synset}/points/{shape}.pts", delimiter="whitespace")
        seg_name = f"{synset}/points_label/{shape}.seg"
        if not os.path.isfile(item.info["seg"]):
            raise SkipItem(f"{seg_name} is missing (the part labels of {synset}/points/{shape}.pts)", MISSING_LABELS)
        labels = _labels_as_ints(read_table(item.info["seg"], 1, name=seg_name, delimiter="whitespace")[:, 0], seg_name)
        if len(labels) != len(points):
            raise SkipItem(f"{seg_name} has {len(labels)} labels but the .pts file has {len(points)} points",
                           COUNT_MISMATCH)  # fmt: skip
        bad = (labels < 1) | (labels > count)
        if bad.any():
            row = int(np.argmax(bad))
            raise SkipItem(f"{seg_name}: point {row + 1} has part label {labels[row]}, but {name} has parts "
                           f"1..{count}", BAD_LABEL)  # fmt: skip
        return points, labels + (first - 1)
    file_name = f"{synset}/{shape}.txt"
    values = read_table(item.path, 7, name=file_name, delimiter="whitespace")
    pid = _labels_as_ints(values[:, 6], file_name)
    bad = (pid < first) | (pid >= first + count)
    if bad.any():
        row = int(np.argmax(bad))
        raise SkipItem(f"{file_name}: point {row + 1} has part id {pid[row]}, but {name}'s parts are "
                       f"{first}..{first + count - 1}", BAD_LABEL)  # fmt: skip
    return values[:, :6], pid


def _full_path(full_dir, key):
    return os.path.join(full_dir, *key.split("/")) + ".npy"


def convert_shape(item, rng, options, full_dir):
    """Conversion function: one shape -> one row, and its full-resolution points in `full_dir`.

    The full-resolution cloud (points and overall part id as one float32
    (N, C + 1) array) is saved to `full_dir/<synset>/<id>.npy`, atomically.

    Args:
        item: A `ConversionInput` (see `read_shape`), or one with
            `info["problem"]` = `(kind, reason)` that is only reported.
        rng: The shape's generator.
        options: `ShapeOptions`.
        full_dir: Folder of the full-resolution side files.

    Returns:
        Dict "data" float32 (1, P, C), "label" uint8 (1,), "pid" uint8 (1, P),
        "sample_index" int32 (1, P).

    Raises:
        SkipItem: See `read_shape`, plus "degenerate" (all points coincide).
    """
    runner.skip_if_problem(item)
    points, pid = read_shape(item, options)
    if options.normalize == "unit_sphere":
        points = to_unit_sphere(points)
    index = resample_indices(len(points), options.num_points, rng)
    full = np.concatenate([points, pid[:, None]], axis=1).astype(np.float32)
    path = _full_path(full_dir, item.key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_output(path) as tmp:
        np.save(tmp, full)
    return {
        "data": full[index, :-1][None],
        "label": np.array([item.info["category"]], np.uint8),
        "pid": pid[index][None],
        "sample_index": index.astype(np.int32)[None],
    }


# --- finding the shapes --------------------------------------------------------------------


def find_release_root(root):
    """Returns the release folder: `root` if it holds `synsetoffset2category.txt`, else a known folder inside it.

    Args:
        root: The release folder or its parent.

    Returns:
        The absolute path of the release folder.

    Raises:
        FileNotFoundError: If `root` is not a folder.
        ValueError: If no release folder is found.
    """
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder")
    if os.path.isfile(os.path.join(root, CATEGORY_FILE)):
        return root
    found = [os.path.join(root, n) for n in RELEASE_FOLDERS if os.path.isfile(os.path.join(root, n, CATEGORY_FILE))]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise ValueError(f"{root}: holds both {RELEASE_FOLDERS[0]}/ and {RELEASE_FOLDERS[1]}/; pass one of them")
    raise ValueError(f"{root}: no {CATEGORY_FILE} (expected the release folder {RELEASE_FOLDERS[0]}/ or "
                     f"{RELEASE_FOLDERS[1]}/)")  # fmt: skip


def detect_variant(root):
    """Tells the two raw variants apart.

    Args:
        root: The release folder.

    Returns:
        "classic" (`<synset>/points/` folders) or "normal" (`<synset>/*.txt`).

    Raises:
        ValueError: If neither is found.
    """
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder) or name == "train_test_split" or name.startswith("."):
            continue
        if os.path.isdir(os.path.join(folder, "points")):
            return "classic"
        if any(n.endswith(".txt") for n in os.listdir(folder)):
            return "normal"
    raise ValueError(f"{root}: found neither <synset>/points/*.pts (classic release) nor <synset>/*.txt "
                     "(the _normal release)")  # fmt: skip


def read_category_file(root):
    """Reads `synsetoffset2category.txt` and checks it against `CATEGORIES`.

    Args:
        root: The release folder.

    Returns:
        Dict synset -> category index, for the synsets of the 16 categories
        (the built-in synsets, and those the file gives).

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If a line is not `Name synset`, or a known category name
            has another synset than ShapeNet's.
    """
    path = os.path.join(root, CATEGORY_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing (Name<TAB>synset lines)")
    known = {name.lower(): (i, synset) for i, (name, synset, _) in enumerate(CATEGORIES)}
    mapping = {synset: i for i, (_, synset, _) in enumerate(CATEGORIES)}
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise ValueError(f"{path}: line {number} {line.strip()!r} is not 'Name<TAB>synset'")
            name, synset = fields
            entry = known.get(name.lower())
            if entry is not None and entry[1] != synset:
                raise ValueError(f"{path}: line {number}: {name} has synset {synset}, but ShapeNet's {name} is "
                                 f"{entry[1]}")  # fmt: skip
    return mapping


def read_split_lists(root):
    """Reads the three split lists.

    Args:
        root: The release folder.

    Returns:
        Dict split -> list of entries (strings as written).

    Raises:
        FileNotFoundError: If a list is missing.
        ValueError: If a list is not a JSON list of strings, or a shape is in two splits.
    """
    lists, seen = {}, {}
    for split in SPLITS:
        path = os.path.join(root, SPLIT_FILE.format(split))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: missing (a JSON list of shape_data/<synset>/<id> entries)")
        try:
            with open(path, encoding="utf-8") as f:
                entries = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise ValueError(f"{path}: expected a JSON list of strings like 'shape_data/<synset>/<id>'")
        for entry in entries:
            if entry in seen:
                raise ValueError(f"{path}: {entry!r} is also listed in {os.path.basename(seen[entry])} "
                                 "(a shape must be in one split)")  # fmt: skip
            seen[entry] = path
        lists[split] = entries
    return lists


def find_shapes(root, *, variant="auto"):
    """Lists the shapes of the split lists as conversion inputs.

    Args:
        root: The release folder (or its parent).
        variant: "auto", "classic" or "normal".

    Returns:
        `(release_root, variant, inputs, unlisted)`: inputs with keys
        `<synset>/<id>` and groups train/val/test (entries that cannot be
        converted carry `info["problem"]`), and the number of shapes on disk
        that no list names.

    Raises:
        FileNotFoundError, ValueError: From the metadata files.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    root = find_release_root(root)
    if variant == "auto":
        variant = detect_variant(root)
    synsets = read_category_file(root)
    lists = read_split_lists(root)
    inputs, listed = [], set()
    for split in SPLITS:
        list_name = os.path.basename(SPLIT_FILE.format(split))
        for entry in lists[split]:
            match = _ENTRY.match(entry)
            if not match:
                reason = f"{list_name}: entry {entry!r} is not 'shape_data/<synset>/<id>'"
                inputs.append(ConversionInput(key=f"{split}:{entry}", path=os.path.join(root, SPLIT_FILE.format(split)),
                                              group=split, info={"problem": (BAD_ENTRY, reason)}))  # fmt: skip
                continue
            synset, shape = match.groups()
            key = f"{synset}/{shape}"
            listed.add(key)
            info = {"shape_id": key, "category": synsets.get(synset, -1)}
            if variant == "classic":
                path = os.path.join(root, synset, "points", f"{shape}.pts")
                info["seg"] = os.path.join(root, synset, "points_label", f"{shape}.seg")
            else:
                path = os.path.join(root, synset, f"{shape}.txt")
            if synset not in synsets:
                info["problem"] = (UNKNOWN_CATEGORY, f"synset {synset} is not one of the 16 ShapeNet part categories")
                path = os.path.join(root, SPLIT_FILE.format(split))  # reported even if the shape's file is missing
            inputs.append(ConversionInput(key=key, path=path, group=split, info=info))
    unlisted = 0
    for synset in synsets:
        folder = os.path.join(root, synset, "points") if variant == "classic" else os.path.join(root, synset)
        suffix = ".pts" if variant == "classic" else ".txt"
        if os.path.isdir(folder):
            unlisted += sum(1 for n in os.listdir(folder)
                            if n.endswith(suffix) and f"{synset}/{n[: -len(suffix)]}" not in listed)  # fmt: skip
    return root, variant, inputs, unlisted


# --- reading the full-resolution files ------------------------------------------------------------


@dataclasses.dataclass
class FullResolution:
    """The contents of a `<split>_full_resolution.h5` file.

    Attributes:
        points: float32 (T, C): every cloud's points, concatenated.
        pid: uint8 (T,): overall part ids.
        offsets: int64 (n + 1,): cloud i is `points[offsets[i]:offsets[i + 1]]`.
        label: uint8 (n,): categories.
        sample_index: int32 (n, P): the split's row i is
            `points[offsets[i] + sample_index[i]]`.
        shape_id: list of n `<synset>/<id>` strings.
    """

    points: np.ndarray
    pid: np.ndarray
    offsets: np.ndarray
    label: np.ndarray
    sample_index: np.ndarray
    shape_id: list

    def __len__(self):
        return len(self.label)

    def cloud(self, i):
        """`(points (N, C), pid (N,))` of cloud i."""
        start, stop = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.points[start:stop], self.pid[start:stop]


def read_full_resolution(path):
    """Reads a full-resolution file written by `prepare_shapenet_part`.

    Args:
        path: A `<split>_full_resolution.h5` file.

    Returns:
        A `FullResolution`.

    Raises:
        ValueError: If the file is not such a file or is inconsistent.
    """
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None
    with f:
        if f.attrs.get("format") != FULL_RESOLUTION_FORMAT:
            raise ValueError(f"{path}: not a full-resolution part file (its 'format' attribute is not "
                             f"{FULL_RESOLUTION_FORMAT!r})")  # fmt: skip
        missing = [k for k in ("points", "pid", "offsets", "label", "sample_index", "shape_id") if k not in f]
        if missing:
            raise ValueError(f"{path}: key(s) {missing} missing")
        shape_ids = [s.decode() if isinstance(s, bytes) else str(s) for s in f["shape_id"][...]]
        result = FullResolution(
            points=f["points"][...], pid=f["pid"][...], offsets=f["offsets"][...], label=f["label"][...],
            sample_index=f["sample_index"][...], shape_id=shape_ids,
        )  # fmt: skip
    n = len(result.label)
    sizes_ok = (len(result.offsets) == n + 1 and result.offsets[0] == 0 and result.offsets[-1] == len(result.points)
                and len(result.pid) == len(result.points) and len(result.sample_index) == n and len(shape_ids) == n)
    if not sizes_ok:
        raise ValueError(f"{path}: inconsistent sizes (points {len(result.points)}, pid {len(result.pid)}, "
                         f"offsets {len(result.offsets)}, clouds {n})")  # fmt: skip
    return result


# --- the whole conversion --------------------------------------------------------------------


def _full_clouds(run, split, options, full_dir, seed):
    """Yields the full-resolution entries of a split's rows, in row order."""
    arrays = run.arrays(split)
    positions = arrays["input"]
    step = 1024
    for start in range(0, len(positions), step):
        sample_index = arrays["sample_index"][start:start + step]
        for offset, position in enumerate(positions[start:start + step]):
            item = run.inputs[int(position)]
            path = _full_path(full_dir, item.key)
            if not os.path.isfile(path):  # e.g. deleted from the work folder between resumed runs
                convert_shape(item, np.random.default_rng(item_seed(seed, item.key)), options, full_dir)
            full = np.load(path)
            yield item.key, item.info["category"], full[:, :-1], full[:, -1].astype(np.int64), sample_index[offset]


def prepare_shapenet_part(
    root,
    output_dir,
    *,
    variant="auto",
    num_points=2048,
    normalize="unit_sphere",
    shard_size=2048,
    seed=0,
    workers=None,
    resume=False,
    strict=False,
    overwrite=False,
    progress=True,
    log=print,
):
    """Converts the raw ShapeNet part release into the `hdf5_data` layout (+ full-resolution files).

    Args:
        root: `shapenetcore_partanno_segmentation_benchmark_v0[_normal]` (or a
            folder holding one of them).
        output_dir: Dataset folder to create (missing or empty, or one
            pointnet-tf2 wrote with `overwrite`); it must not overlap `root`.
        variant: "auto", "classic" (xyz, `.pts` + `.seg`) or "normal" (xyz +
            normals, `.txt`).
        num_points: Points per stored cloud (2048).
        normalize: "unit_sphere" (default) or "none".
        shard_size: Clouds per h5 file.
        seed: Seed of the resampling (per shape, independent of `workers`).
        workers: Worker processes (default: all CPUs; <= 1: this process).
        resume: Continue an interrupted run.
        strict: Fail if any shape is skipped (nothing is written then).
        overwrite: Replace a non-empty `output_dir` written by pointnet-tf2; discard an unfinished run.
        progress: Show a progress line on stderr.
        log: Function printing summary lines (None: silent).

    Returns:
        The `prepare.json` dict, plus "output_dir" and "skipped_shapes".

    Raises:
        FileNotFoundError: If `root` or a metadata file is missing.
        ValueError: On bad arguments or metadata, an existing output without
            `overwrite`, an unfinished run without `resume`/`overwrite`, a
            split without any converted shape, or skips with `strict`.
    """
    log = log or (lambda *_: None)
    shard_size = check_positive_int("shard_size", shard_size)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    ShapeOptions("classic", num_points=num_points, normalize=normalize)  # validates before touching files
    root, output_dir, work_dir = runner.check_destination(root, output_dir, overwrite=overwrite, resume=resume)
    release, variant, inputs, unlisted = find_shapes(root, variant=variant)
    options = ShapeOptions(variant, num_points=num_points, normalize=normalize)
    counts = {s: sum(item.group == s for item in inputs) for s in SPLITS}
    log(f"prepare-shapenet-part: {len(inputs)} listed shapes ({', '.join(f'{counts[s]} {s}' for s in SPLITS)}) in "
        f"the {variant} release {release}" + (f"; {unlisted} shapes on disk are in no split list (not converted)"
                                              if unlisted else ""))  # fmt: skip
    full_dir = os.path.join(work_dir, _FULL_FOLDER)
    schema = {
        "data": ((options.num_points, options.channels), "float32"), "label": ((), "uint8"),
        "pid": ((options.num_points,), "uint8"), "sample_index": ((options.num_points,), "int32"),
    }  # fmt: skip
    run = runner.convert_inputs(
        inputs, functools.partial(convert_shape, options=options, full_dir=full_dir), work_dir, schema=schema,
        label="prepare-shapenet-part", unit="shapes", row_unit="clouds", work_shard_size=_WORK_SHARD, seed=seed,
        workers=workers, resume=resume, strict=strict, options=dataclasses.asdict(options), progress=progress, log=log,
    )  # fmt: skip
    splits = runner.split_arrays(run, SPLITS, ("data", "label", "pid"))
    rows = {split: len(splits[split][0]) for split in SPLITS}
    info = runner.run_info(
        run, layout="shapenet_part", root=release, variant=variant, options=dataclasses.asdict(options), seed=seed,
        shard_size=shard_size, clouds=rows, unlisted_shapes=unlisted,
        full_resolution={split: FULL_RESOLUTION_FILE.format(split) for split in SPLITS},
    )  # fmt: skip

    def write(folder):
        write_shapenet_part_layout(
            folder, splits, [c[0] for c in CATEGORIES], [c[1] for c in CATEGORIES], category_parts(),
            shard_size=shard_size,
        )  # fmt: skip
        for split in SPLITS:
            write_shapenet_part_full_resolution(
                os.path.join(folder, FULL_RESOLUTION_FILE.format(split)),
                _full_clouds(run, split, options, full_dir, seed),
            )

    runner.publish(output_dir, run, write, info, overwrite=overwrite or resume)
    log(f"wrote {output_dir}: " + ", ".join(f"{rows[s]} {s}" for s in SPLITS)
        + f" clouds of {options.num_points} x {options.channels}, 16 categories, 50 parts, full-resolution files"
        + runner.skipped_note(run, output_dir, "shapes"))  # fmt: skip
    return dict(info, output_dir=output_dir, skipped_shapes=run.skipped)
