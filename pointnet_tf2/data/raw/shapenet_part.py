"""ShapeNet part: the raw benchmark release -> the `hdf5_data` layout (+ full-resolution files).

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

Output (by `pointnet_tf2.data.writers`): `ply_data_{train,val,test}<k>.h5`
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

import dataclasses
import functools
import json
import os
import re

import numpy as np

from pointnet_tf2.data.conversion import ConversionInput
from pointnet_tf2.data.conversion import SkipItem
from pointnet_tf2.data.conversion import item_seed
from pointnet_tf2.data.raw import runner
from pointnet_tf2.data.raw.tables import DEGENERATE  # noqa: F401  (a skip kind of this converter)
from pointnet_tf2.data.raw.tables import check_positive_int
from pointnet_tf2.data.raw.tables import read_table
from pointnet_tf2.data.raw.tables import resample_indices
from pointnet_tf2.data.raw.tables import to_unit_sphere
from pointnet_tf2.data.writers import FULL_RESOLUTION_FORMAT
from pointnet_tf2.data.writers import write_shapenet_part_full_resolution
from pointnet_tf2.data.writers import write_shapenet_part_layout
from pointnet_tf2.utils import atomic_output

# (name, synset, number of parts), in alphabetical order = category label.
CATEGORIES = (
    ("Airplane", "02691156", 4), ("Bag", "02773838", 2), ("Cap", "02954340", 2), ("Car", "02958343", 4),
    ("Chair", "03001627", 4), ("Earphone", "03261776", 3), ("Guitar", "03467517", 3), ("Knife", "03624134", 2),
    ("Lamp", "03636649", 4), ("Laptop", "03642806", 2), ("Motorbike", "03790512", 6), ("Mug", "03797390", 2),
    ("Pistol", "03948459", 3), ("Rocket", "04099429", 3), ("Skateboard", "04225943", 3), ("Table", "04379243", 3),
)  # fmt: skip
SPLITS = ("train", "val", "test")
VARIANTS = ("auto", "classic", "normal")
NORMALIZATIONS = ("unit_sphere", "none")
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
