"""ModelNet40 resampled with normals -> the ModelNet40 HDF5 layout with 6-channel `data`.

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

from pointnet_tf2.data.conversion import ConversionInput
from pointnet_tf2.data.meshes import farthest_point_sampling
from pointnet_tf2.data.raw import runner
from pointnet_tf2.data.raw.tables import DEGENERATE  # noqa: F401  (a skip kind of this converter)
from pointnet_tf2.data.raw.tables import check_positive_int
from pointnet_tf2.data.raw.tables import read_table
from pointnet_tf2.data.raw.tables import resample_indices
from pointnet_tf2.data.raw.tables import to_unit_sphere
from pointnet_tf2.data.writers import write_modelnet_layout

SPLITS = ("train", "test")
SAMPLINGS = ("random", "first", "fps")
NORMALIZATIONS = ("unit_sphere", "none")
CLASS_SETS = (40, 10)
RELEASE_FOLDER = "modelnet40_normal_resampled"

# Skip kinds of this converter, besides those of `tables` (DEGENERATE: all points of a shape coincide).
UNKNOWN_CLASS = "unknown_class"
BAD_ENTRY = "bad_entry"

_WORK_SHARD = 1024


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
