"""ModelNet40: the classification layout's reader and writer, and the converter of the release with normals.

Classification: one class per cloud; the class names come with the data
(`shape_names.txt`, line = label), so no names table lives here.

Layout `modelnet40_ply_hdf5_2048/` (`open_folder`, `write_modelnet_layout`):
`train_files.txt`, `test_files.txt` (one h5 path per line),
`shape_names.txt` (class names, line = label); h5 keys `data` (n, P, 3 or
6) and `label` (n, 1); an optional `voxels` uint8 (n, R, R, R) holds each
cloud's occupancy grid (datasets prepared from voxel data:
`DatasetDescription.voxel_resolution`). The converters of folders of meshes
(`pointnet_tf2.data.datasets.mesh_folder`) and of voxel data
(`pointnet_tf2.data.datasets.voxel_archive`) write it too, through
`publish_cls_dataset`.

Raw converter (`prepare_modelnet_normals`, `pointnet-tf2
prepare-modelnet-normals`): ModelNet40 resampled with normals -> this layout
with 6-channel `data`.

Input, `modelnet40_normal_resampled/`: `<class>/<class>_NNNN.txt` with
`x,y,z,nx,ny,nz` lines (10,000 points per shape in the release; commas or
whitespace), `modelnet40_shape_names.txt` (class names, line index = label),
`modelnet40_train.txt` and `modelnet40_test.txt` (one shape name like
`night_stand_0001` per line; the class is the name without its `_NNNN`). The
same folder's `modelnet10_*` files are used with `classes=10`.

Chosen layout: normals are stored as channels 3-5 of `data`, so every h5
file holds `data` float32 (n, P, 6) = x y z nx ny nz and `label` uint8 (n, 1);
there is no separate `normal` key. The other files are exactly the ModelNet40
layout (`train_files.txt`, `test_files.txt`, `shape_names.txt`), so
`open_dataset(output).input_dims == 6` and `PointCloudSequence` yields
(B, N, 6) clouds; its augmentations turn channels 3-5 of 6-channel clouds as
normals. A model that wants xyz only takes `[..., :3]`.

Each shape is centred on its centroid and scaled into the unit sphere (the
normals are unchanged by that), like the original ModelNet40 HDF5 clouds
(`normalize="none"` keeps the coordinates), then reduced to `num_points`
(2048, as the original layout): "random" (default) a seeded random subset in
random order, "first" the file's first points (as PointNet++'s loader does),
"fps" farthest-point sampling. A shape with fewer points gets all its points
plus random duplicates.

Reported per file (and skipped): malformed lines and NaN values (file and line
named), empty files, listed files that are missing, list entries whose class is
not in the shape names file. A shape listed in both splits is an error.
"""

import dataclasses
import functools
import os

import numpy as np

from pointnet_tf2.data import runner
from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.conversion import ConversionInput
from pointnet_tf2.data.description import CLOUD_LABELS
from pointnet_tf2.data.geometry import NORMALIZATIONS
from pointnet_tf2.data.geometry import farthest_point_sampling
from pointnet_tf2.data.geometry import resample_indices
from pointnet_tf2.data.geometry import to_unit_sphere
from pointnet_tf2.data.io import hdf5
from pointnet_tf2.data.io import shards as writing
from pointnet_tf2.data.io.tables import DEGENERATE  # noqa: F401  (a skip kind of this converter)
from pointnet_tf2.data.io.tables import read_table
from pointnet_tf2.data.runner import SKIPPED_FILE

# The layout: its name, the folder of the original download, what its rows hold, the up axis (y).
NAME = "modelnet40"
FOLDER = "modelnet40_ply_hdf5_2048"
LABELS = CLOUD_LABELS
UP_AXIS = 1

SPLITS = ("train", "test")
MODELNET_SPLITS = SPLITS
# Version of the `prepare.json` of datasets made by `publish_cls_dataset`.
INFO_VERSION = 1
SAMPLINGS = ("random", "first", "fps")
CLASS_SETS = (40, 10)
RELEASE_FOLDER = "modelnet40_normal_resampled"

# Skip kinds of this converter, besides those of `tables` (DEGENERATE: all points of a shape coincide).
UNKNOWN_CLASS = "unknown_class"
BAD_ENTRY = "bad_entry"

_WORK_SHARD = 1024


# --- the layout: reading -----------------------------------------------------------------------


def detect(directory):
    """True if `directory` has a list file of the ModelNet40 layout (`train_files.txt` or `test_files.txt`)."""
    return any(os.path.isfile(os.path.join(directory, f"{s}_files.txt")) for s in ("train", "test"))


def open_folder(directory, *, test_area=None, check_values=True):
    """Opens and checks a `modelnet40_ply_hdf5_2048`-layout folder (see `pointnet_tf2.data.open_dataset`).

    Args:
        directory: The dataset folder.
        test_area: Ignored (an S3DIS option).
        check_values: Scan coordinates and labels (see `open_dataset`).

    Returns:
        A `DatasetDescription` with the splits of the list files.

    Raises:
        FileNotFoundError: If a listed shard is missing.
        ValueError: Naming the file and the problem.
    """
    lists = hdf5.split_lists(directory, "{}_files.txt", ("train", "val", "test"))
    infos = hdf5.inspect_files(
        [p for paths in lists.values() for p in paths],
        label_per_point=False,
        channels=((3, 6), "ModelNet40 clouds have 3 (xyz) or 6 (xyz + normals) values per point"),
    )
    names_path = os.path.join(directory, "shape_names.txt")
    if os.path.isfile(names_path):
        class_names = hdf5.read_lines(names_path)
        if not class_names:
            raise ValueError(f"{names_path}: is empty (expected one class name per line)")
        limit_from = os.path.basename(names_path)
    else:
        class_names, limit_from = None, None
    num_classes = hdf5.check_label_values(infos, len(class_names) if class_names else None, limit_from, check_values)
    extra = {}
    if class_names is None:
        class_names = [f"class_{i}" for i in range(num_classes)]
        extra["class_count_from"] = "labels"
    shards, ranges = hdf5.shards_and_ranges(lists, infos)
    return hdf5.describe(LABELS, NAME, directory, class_names, infos, shards, ranges, up_axis=UP_AXIS, **extra)


# --- the layout: writing -----------------------------------------------------------------------


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
    class_names = writing.check_names("class_names", class_names, limit=writing.UINT8_LIMIT)
    shard_size = check_positive_int("shard_size", shard_size)
    writing.check_split_keys("splits", splits, SPLITS, optional=("test",))
    checked = {}
    for split in SPLITS:
        if split not in splits:
            continue
        what = f"splits[{split!r}]"
        points, labels = writing.unpack(splits[split], 2, f"{what} (points, labels)")
        points = writing.check_points(f"{what} points", points, (3, 6))
        labels = writing.check_label_array(f"{what} labels", labels, (points.shape[0],))
        checked[split] = (points, labels)
    writing.check_same_cloud_shape("splits", {s: tuple(p.shape) for s, (p, _) in checked.items()})
    grids = _check_voxels(voxels, {split: points.shape[0] for split, (points, _) in checked.items()})
    if voxel_up_axis is not None and (isinstance(voxel_up_axis, bool) or voxel_up_axis not in (0, 1, 2)):
        raise ValueError(f"voxel_up_axis must be 0, 1 or 2, got {voxel_up_axis!r}")
    prefix = writing.default_prefix(output_dir, "data/{name}/") if list_prefix is None else list_prefix
    num_classes = len(class_names)

    def shard_arrays(split, start, stop):
        points, labels = checked[split]
        values = writing.finite_float32(f"splits[{split!r}] points", points[start:stop], start)
        label = writing.labels_in_range(
            f"splits[{split!r}] labels", labels[start:stop], start, num_classes, f"{num_classes} class names"
        )
        arrays = {"data": values, "label": label.reshape(-1, 1)}
        if grids is not None:
            arrays["voxels"] = (np.asarray(grids[split][start:stop]) != 0).astype(np.uint8)
        return arrays

    h5_options = {"per_row_chunks": ("voxels",)}
    if voxel_up_axis is not None:
        h5_options["attrs"] = {"voxels": {"up_axis": int(voxel_up_axis)}}
    with writing.staged_folder(output_dir, overwrite=overwrite) as tmp:
        for split, (points, _) in checked.items():
            writing.write_shards(tmp, points.shape[0], shard_size, f"ply_data_{split}", f"{split}_files.txt", prefix,
                          functools.partial(shard_arrays, split), **h5_options)  # fmt: skip
        writing.write_text(os.path.join(tmp, "shape_names.txt"), class_names)
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
        grids = writing.as_array_like(grids, what)
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


def publish_cls_dataset(
    run, output_dir, class_names, *, where, input_counts, extra, shard_size, overwrite, log, cloud_text, unit,
    optional_splits=(), voxels=False, voxel_up_axis=None, resume=False,
):
    """Writes the converted clouds of a `prepare` run as a ModelNet40-layout dataset and logs the closing lines.

    Args:
        run: The `ConversionRun` (groups "train" and "test"; schema keys
            "data", "label" and, with `voxels`, "voxels").
        output_dir: Absolute path of the dataset folder.
        class_names: Class names (index = label).
        where: The input named in errors.
        input_counts: Counter split -> inputs.
        extra: More entries of the result and of `prepare.json`.
        shard_size: Clouds per h5 file.
        overwrite: Replace a non-empty `output_dir` written by pointnet-tf2.
        resume: The run resumes an interrupted one: the marked output that
            run was publishing may be replaced.
        log: Function taking one line.
        cloud_text: What a row is, for the closing line ("clouds of 2048 x 3").
        unit: What the inputs are called ("files", "grids").
        optional_splits: Splits left out of the dataset when they had no
            input at all (a split whose inputs were all skipped is an error).
        voxels: Also store the "voxels" rows.
        voxel_up_axis: The grids' up axis (attribute of `voxels`).

    Returns:
        The result dict of `prepare_dataset`.

    Raises:
        ValueError: If a split that needs clouds has none (after writing
            `skipped.txt` into the work folder).
    """
    splits, grids, label_counts = {}, {}, {}
    for split in SPLITS:
        if split in optional_splits and input_counts[split] == 0:
            continue
        arrays = run.arrays(split)
        if len(arrays["data"]) == 0:
            run.write_skipped(os.path.join(run.work_dir, SKIPPED_FILE))
            raise ValueError(f"{where}: no {split} cloud could be made ({input_counts[split]} {split} {unit}, "
                             f"the rest skipped: see {os.path.join(run.work_dir, SKIPPED_FILE)})")  # fmt: skip
        splits[split] = (arrays["data"], arrays["label"])
        if voxels:
            grids[split] = arrays["voxels"]
        label_counts[split] = np.bincount(np.asarray(arrays["label"]), minlength=len(class_names))
    result = {
        "output_dir": output_dir,
        "class_names": list(class_names),
        "counts": {split: int(len(points)) for split, (points, _) in splits.items()},
        "per_class": {split: dict(zip(class_names, counts.tolist())) for split, counts in label_counts.items()},
        "converted": run.converted,
        "skipped": run.skipped,
        "skip_counts": dict(run.skip_counts()),
        "note_counts": dict(run.note_counts()),
        "seconds": run.seconds,
        "files_per_second": run.processed / run.seconds if run.seconds > 0 else None,
        "workers": run.workers,
        "version": INFO_VERSION,
        **extra,
    }
    list_prefix = f"data/{os.path.basename(output_dir)}/"

    def write(folder):
        write_modelnet_layout(folder, splits, class_names, shard_size=shard_size, list_prefix=list_prefix,
                              voxels=grids if voxels else None, voxel_up_axis=voxel_up_axis)  # fmt: skip

    runner.publish(output_dir, run, write, {k: v for k, v in result.items() if k != "skipped"},
                   overwrite=overwrite or resume)
    empty = [name for i, name in enumerate(class_names) if label_counts["train"][i] == 0]
    if empty:
        log(f"  warning: no training clouds for {len(empty)} class(es): {', '.join(empty[:10])}")
    log(f"wrote {output_dir}: " + ", ".join(f"{count} {s}" for s, count in result["counts"].items())
        + f" {cloud_text}, {len(class_names)} classes" + runner.skipped_note(run, output_dir, unit))  # fmt: skip
    return result


# --- the raw converter (ModelNet40 resampled with normals) -------------------------------------


@dataclasses.dataclass(frozen=True)
class CloudOptions:
    """How one shape becomes a stored cloud.

    Attributes:
        num_points: Points per stored cloud.
        sampling: "random", "first" or "fps".
        normalize: "unit_sphere" or "none".
    """

    num_points: int = 2048
    sampling: str = "random"
    normalize: str = "unit_sphere"

    def __post_init__(self):
        check_positive_int("num_points", self.num_points)
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {self.sampling!r}")
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")


def select_points(count, options, rng, xyz=None):
    """Indices of the `options.num_points` points kept of `count` (see the module docstring).

    Args:
        count: Points in the file.
        options: `CloudOptions`.
        rng: The shape's generator.
        xyz: (count, 3) coordinates, needed for "fps".

    Returns:
        int64 (num_points,) indices.
    """
    wanted = options.num_points
    if count < wanted or options.sampling == "random":
        return resample_indices(count, wanted, rng)
    if options.sampling == "first":
        return np.arange(wanted, dtype=np.int64)

    return farthest_point_sampling(xyz, wanted, start=int(rng.integers(count)))


def convert_file(item, rng, options):
    """Conversion function: one `x,y,z,nx,ny,nz` file -> one labelled 6-channel cloud.

    Args:
        item: A `ConversionInput` with `info` "label" and "name" (or
            "problem" = `(kind, reason)` for an entry that is only reported).
        rng: The shape's generator.
        options: `CloudOptions`.

    Returns:
        Dict "data" float32 (1, P, 6) and "label" uint8 (1,).

    Raises:
        SkipItem: Kinds "malformed", "nonfinite", "empty", "degenerate".
    """
    runner.skip_if_problem(item)
    values = read_table(item.path, 6, name="", delimiter="auto")
    if options.normalize == "unit_sphere":
        values = to_unit_sphere(values)
    index = select_points(len(values), options, rng, values[:, :3])
    return {"data": values[index].astype(np.float32)[None], "label": np.array([item.info["label"]], np.uint8)}


def find_release_root(root, classes=40):
    """Returns `root` if it holds `modelnet<classes>_shape_names.txt`, else `root/modelnet40_normal_resampled`.

    Args:
        root: The release folder or its parent.
        classes: 40 or 10.

    Returns:
        The absolute path of the release folder.

    Raises:
        FileNotFoundError: If `root` is not a folder.
        ValueError: If the shape names file is not found.
    """
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder")
    names = f"modelnet{classes}_shape_names.txt"
    for folder in (root, os.path.join(root, RELEASE_FOLDER)):
        if os.path.isfile(os.path.join(folder, names)):
            return folder
    raise ValueError(f"{root}: no {names} (expected the {RELEASE_FOLDER}/ folder with <class>/<class>_NNNN.txt, "
                     f"{names} and modelnet{classes}_{{train,test}}.txt)")  # fmt: skip


def _read_names(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.strip() for line in f if line.strip()]


def find_files(root, *, classes=40):
    """Lists the shapes of the split lists as conversion inputs.

    Args:
        root: The release folder (or its parent).
        classes: 40 or 10 (which `modelnet<classes>_*` files to use).

    Returns:
        `(release_root, class_names, inputs)`; inputs have keys
        `<class>/<name>.txt` and groups "train"/"test"; entries that cannot be
        converted carry `info["problem"]`.

    Raises:
        FileNotFoundError: If a list file is missing.
        ValueError: If the names file is empty or has duplicates or names with
            whitespace, or a shape is listed in both splits.
    """
    if classes not in CLASS_SETS:
        raise ValueError(f"classes must be one of {CLASS_SETS}, got {classes!r}")
    root = find_release_root(root, classes)
    names_path = os.path.join(root, f"modelnet{classes}_shape_names.txt")
    class_names = _read_names(names_path)
    if not class_names:
        raise ValueError(f"{names_path}: is empty (expected one class name per line)")
    for number, name in enumerate(class_names, 1):
        if any(c.isspace() for c in name):
            raise ValueError(f"{names_path}: line {number} {name!r} contains whitespace")
    if len(set(class_names)) != len(class_names):
        duplicate = next(n for n in class_names if class_names.count(n) > 1)
        raise ValueError(f"{names_path}: the class {duplicate!r} appears twice")
    labels = {name: i for i, name in enumerate(class_names)}
    inputs, seen = [], {}
    for split in SPLITS:
        list_path = os.path.join(root, f"modelnet{classes}_{split}.txt")
        if not os.path.isfile(list_path):
            raise FileNotFoundError(f"{list_path}: missing (one shape name like airplane_0001 per line)")
        list_name = os.path.basename(list_path)
        for number, entry in enumerate(_read_names(list_path), 1):
            if entry in seen:
                raise ValueError(
                    f"{list_path}: {entry!r} is also listed in {seen[entry]} (a shape must be in one split)"
                )
            seen[entry] = list_name
            stem, _, digits = entry.rpartition("_")
            problem = None
            if not stem or not digits or any(c.isspace() or c in "/\\" for c in entry):
                problem = (BAD_ENTRY, f"{list_name}: line {number} {entry!r} is not '<class>_<NNNN>'")
            elif stem not in labels:
                names_file = os.path.basename(names_path)
                problem = (UNKNOWN_CLASS, f"{list_name}: line {number}: class {stem!r} is not in {names_file}")
            if problem:
                inputs.append(ConversionInput(key=f"{split}:{entry}", path=list_path, group=split,
                                              info={"problem": problem}))  # fmt: skip
                continue
            name = f"{stem}/{entry}.txt"
            inputs.append(ConversionInput(key=name, path=os.path.join(root, stem, f"{entry}.txt"), group=split,
                                          info={"label": labels[stem], "name": name}))  # fmt: skip
    return root, class_names, inputs


def prepare_modelnet_normals(
    root,
    output_dir,
    *,
    classes=40,
    num_points=2048,
    sampling="random",
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
    """Converts `modelnet40_normal_resampled` into the ModelNet40 layout with `data` (n, P, 6).

    Args:
        root: `modelnet40_normal_resampled` (or a folder holding it).
        output_dir: Dataset folder to create (missing or empty, or one
            pointnet-tf2 wrote with `overwrite`); it must not overlap `root`.
        classes: 40 (default) or 10 (the folder's ModelNet10 lists).
        num_points: Points per stored cloud (2048).
        sampling: "random" (default), "first" or "fps".
        normalize: "unit_sphere" (default) or "none".
        shard_size: Clouds per h5 file (2048, as the original).
        seed: Seed of the sampling (per file, independent of `workers`).
        workers: Worker processes (default: all CPUs; <= 1: this process).
        resume: Continue an interrupted run.
        strict: Fail if any file is skipped (nothing is written then).
        overwrite: Replace a non-empty `output_dir` written by pointnet-tf2; discard an unfinished run.
        progress: Show a progress line on stderr.
        log: Function printing summary lines (None: silent).

    Returns:
        The `prepare.json` dict, plus "output_dir" and "skipped_files".

    Raises:
        FileNotFoundError: If `root` or a list file is missing.
        ValueError: On bad arguments or lists, an existing output without
            `overwrite`, an unfinished run without `resume`/`overwrite`, a
            split without any converted file, or skips with `strict`.
    """
    log = log or (lambda *_: None)
    options = CloudOptions(num_points=num_points, sampling=sampling, normalize=normalize)
    shard_size = check_positive_int("shard_size", shard_size)
    if classes not in CLASS_SETS:
        raise ValueError(f"classes must be one of {CLASS_SETS}, got {classes!r}")
    root, output_dir, work_dir = runner.check_destination(root, output_dir, overwrite=overwrite, resume=resume)
    release, class_names, inputs = find_files(root, classes=classes)
    counts = {s: sum(item.group == s for item in inputs) for s in SPLITS}
    log(f"prepare-modelnet-normals: {len(inputs)} listed files ({counts['train']} train, {counts['test']} test) in "
        f"{len(class_names)} classes under {release}")  # fmt: skip
    run = runner.convert_inputs(
        inputs, functools.partial(convert_file, options=options), work_dir,
        schema={"data": ((options.num_points, 6), "float32"), "label": ((), "uint8")},
        label="prepare-modelnet-normals", unit="files", row_unit="clouds", work_shard_size=_WORK_SHARD, seed=seed,
        workers=workers, resume=resume, strict=strict, options=dict(dataclasses.asdict(options), classes=classes),
        progress=progress, log=log,
    )  # fmt: skip
    splits = runner.split_arrays(run, SPLITS, ("data", "label"))
    rows = {split: len(splits[split][0]) for split in SPLITS}
    info = runner.run_info(
        run, layout="modelnet40", root=release, channels=["x", "y", "z", "nx", "ny", "nz"], classes=classes,
        class_names=class_names, options=dataclasses.asdict(options), seed=seed, shard_size=shard_size, clouds=rows,
    )  # fmt: skip
    name = os.path.basename(output_dir)

    def write(folder):
        write_modelnet_layout(folder, splits, class_names, shard_size=shard_size, list_prefix=f"data/{name}/")

    runner.publish(output_dir, run, write, info, overwrite=overwrite or resume)
    log(f"wrote {output_dir}: {rows['train']} train, {rows['test']} test clouds of {options.num_points} x 6 "
        f"(xyz + normals), {len(class_names)} classes" + runner.skipped_note(run, output_dir, "files"))
    return dict(info, output_dir=output_dir, skipped_files=run.skipped)
