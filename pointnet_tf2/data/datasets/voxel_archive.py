"""Voxel archives and `.binvox` folders -> the ModelNet40 HDF5 layout, with the grids stored beside the points.

Two inputs are understood (`pointnet_tf2.data.datasets.mesh_folder.prepare_dataset`
and `pointnet-tf2 prepare` hand them here):

- a `.npz` archive with `X_train`, `y_train` and optionally `X_test`,
  `y_test` (`pointnet_tf2.data.io.binvox.load_voxel_npz`), such as the Keras 3-D
  CNN tutorial's `modelnet10.npz` (30^3 ModelNet10 grids). An archive
  without a test split gives a dataset with only a train split (the
  trainers then validate on a seeded hold-out of it, `--val_split`);
- a folder of `.binvox` files, `ROOT/<class>/{train,test}/*.binvox` or
  `ROOT/<class>/*.binvox` (the layouts of `scan_tree`). All grids of a
  dataset have one size R: the most common cubic `dim` of the files' headers;
  files of another size are skipped ("resolution").

Every non-empty grid becomes one row: `data` float32 (P, 3), P points drawn
uniformly on the exposed faces of its occupied cells
(`voxels.grid_cloud`), turned from the grids' up axis (`up_axis`, default
z, as the ModelNet grids) to y, and centred and scaled into the unit sphere
like ModelNet40's clouds; `label` uint8; and `voxels` uint8 (R, R, R), the
grid as given (0/1, not turned: its `up_axis` attribute says which axis is
up). Empty grids and unreadable files are skipped with a reason (`skipped.txt`
and the summary). Grids are converted by the conversion engine
(`pointnet_tf2.data.conversion`: parallel, seeded per grid by its key,
resumable) and the dataset is published in one step.
"""

import dataclasses
import functools
import os
from collections import Counter

import numpy as np

from pointnet_tf2.data import runner
from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.conversion import ConversionInput
from pointnet_tf2.data.conversion import SkipItem
from pointnet_tf2.data.conversion import check_output_folder
from pointnet_tf2.data.conversion import claim_work_dir
from pointnet_tf2.data.datasets.modelnet40 import publish_cls_dataset
from pointnet_tf2.data.geometry import NORMALIZATIONS
from pointnet_tf2.data.geometry import axis_index
from pointnet_tf2.data.geometry import up_axis_rotation
from pointnet_tf2.data.io.binvox import load_voxel_npz
from pointnet_tf2.data.io.binvox import read_binvox
from pointnet_tf2.data.io.binvox import read_binvox_dims
from pointnet_tf2.data.io.class_folders import SPLITS
from pointnet_tf2.data.io.class_folders import log_tree
from pointnet_tf2.data.io.class_folders import scan_tree
from pointnet_tf2.data.io.shards import check_names
from pointnet_tf2.data.voxels import grid_cloud

# Label order of the Keras tutorial's modelnet10.npz (ModelNet10's class folders, sorted).
MODELNET10_CLASSES = ("bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet")

KINDS = ("npz", "binvox")
EMPTY = "empty"
RESOLUTION = "resolution"
MALFORMED = "malformed"


@dataclasses.dataclass(frozen=True)
class GridOptions:
    """How a grid becomes a cloud (the options of a voxel `prepare`).

    Attributes:
        resolution: R of the dataset's grids (R^3 cells).
        num_points: Points per cloud.
        up_axis: The grids' up axis ("x", "y", "z"); the clouds are turned y-up.
        normalize: "unit_sphere" or "none" (cell units).
    """

    resolution: int
    num_points: int = 2048
    up_axis: str = "z"
    normalize: str = "unit_sphere"

    def __post_init__(self):
        check_positive_int("resolution", self.resolution)
        check_positive_int("num_points", self.num_points)
        up_axis_rotation(self.up_axis, "y")  # checks the axis
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")


def convert_grid(item, rng, options):
    """Conversion function of a voxel `prepare`: one grid -> one cloud, its label and the grid.

    Args:
        item: A `ConversionInput`; `info["label"]`, and either
            `info["packed"]` (the grid of an archive, `numpy.packbits` of its
            R^3 cells) or a `.binvox` file at `item.path`; an
            `info["problem"]` found while scanning skips it.
        rng: The grid's `numpy.random.Generator`.
        options: `GridOptions`.

    Returns:
        A dict: "data" (1, P, 3) float32, "label" (1,) uint8, "voxels" (1, R, R, R) uint8.

    Raises:
        SkipItem: "empty" (no occupied cell), "malformed" (an unreadable
            `.binvox` file) or "resolution" (a grid of another size).
    """
    runner.skip_if_problem(item)
    size = options.resolution
    if "packed" in item.info:
        grid = np.unpackbits(item.info["packed"], count=size**3).reshape(size, size, size)
    else:
        try:
            grid = read_binvox(item.path).grid
        except ValueError as error:
            raise SkipItem(str(error).removeprefix(f"{item.path}: "), MALFORMED) from None
        if grid.shape != (size,) * 3:
            raise SkipItem(f"its grid is {'x'.join(map(str, grid.shape))}, the dataset's grids are {size}^3", RESOLUTION)
    if not grid.any():
        raise SkipItem("the grid is empty (no occupied cell)", EMPTY)
    points = grid_cloud(grid, options.num_points, rng=rng, up_axis=options.up_axis, normalize=options.normalize)
    return {"data": points[None], "label": np.array([item.info["label"]], np.uint8),
            "voxels": (grid != 0).astype(np.uint8)[None]}  # fmt: skip


def resolve_class_names(class_names, num_classes, where):
    """The class names of an archive's labels.

    Args:
        class_names: None, a list of names, a comma-separated string, or the
            path of a file with one name per line.
        num_classes: Largest label + 1.
        where: The archive, named in errors.

    Returns:
        `(names, how)`: the list (at least `num_classes` long) and a few words
        on where it came from, for the summary.

    Raises:
        ValueError: If fewer names than classes are given, or a name is
            empty, repeated or has whitespace (checked by the writer).
    """
    if class_names is None:
        if num_classes == len(MODELNET10_CLASSES):
            return list(MODELNET10_CLASSES), "the ModelNet10 class names (10 classes)"
        names = [f"class_{i}" for i in range(num_classes)]
        return names, f"class_0..class_{num_classes - 1} (pass --class_names to name them)"
    if isinstance(class_names, (str, os.PathLike)) and os.path.isfile(class_names):
        with open(class_names, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        how = f"the names in {os.fspath(class_names)}"
    elif isinstance(class_names, str):
        names = [name.strip() for name in class_names.split(",")]
        how = "the given class names"
    else:
        names, how = [str(name) for name in class_names], "the given class names"
    if len(names) < num_classes:
        raise ValueError(f"{where}: the labels go up to {num_classes - 1}, but {len(names)} class names were given")
    try:
        names = check_names("class names", names, limit=256)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return names, how


def _archive_inputs(path, class_names):
    """ConversionInputs of every grid of a `.npz` archive, its class names and resolution."""
    archive = load_voxel_npz(path, dtype=np.uint8)
    names, how = resolve_class_names(class_names, archive["num_classes"], path)
    inputs = []
    for split in archive["splits"]:
        grids, labels = archive.pop(f"X_{split}"), archive.pop(f"y_{split}")
        inputs.extend(
            ConversionInput(key=f"X_{split}[{i}]", path=path, group=split,
                            info={"label": int(label), "packed": np.packbits(grid)})  # fmt: skip
            for i, (grid, label) in enumerate(zip(grids, labels))
        )
    return inputs, names, how, archive["resolution"]


def _binvox_sizes(root, files):
    """The grid size R of a `.binvox` tree and each file's problem (kind, reason) or None."""
    dims, problems = {}, {}
    for rel, _, _ in files:
        try:
            dims[rel] = read_binvox_dims(os.path.join(root, rel))
        except (OSError, ValueError) as error:
            problems[rel] = (MALFORMED, str(error).removeprefix(f"{os.path.join(root, rel)}: "))
    cubic = Counter(d[0] for d in dims.values() if d[0] == d[1] == d[2])
    if not cubic:
        first = files[0][0]
        reason = problems[first][1] if first in problems else f"dim {' '.join(map(str, dims[first]))} is not cubic"
        raise ValueError(f"{root}: none of the {len(files)} .binvox files has a readable header with a cubic grid "
                         f"(e.g. {first}: {reason})")  # fmt: skip
    size = cubic.most_common(1)[0][0]
    for rel, d in dims.items():
        if d != (size,) * 3:
            problems[rel] = (RESOLUTION, f"its grid is {'x'.join(map(str, d))}, most files' grids are {size}^3")
    return size, problems


def prepare_voxels(
    root,
    output_dir,
    *,
    kind,
    layout="auto",
    num_points=2048,
    normalize="unit_sphere",
    up_axis="z",
    class_names=None,
    test_fraction=0.2,
    seed=0,
    shard_size=2048,
    workers=None,
    resume=False,
    strict=False,
    overwrite=False,
    progress=True,
    log=print,
):
    """Converts a `.npz` voxel archive or a folder of `.binvox` files into the ModelNet40 layout, grids included.

    See the module docstring for what is written; `prepare_dataset` documents
    the shared arguments.

    Args:
        root: The `.npz` archive or the data folder.
        output_dir: Dataset folder to create.
        kind: "npz" or "binvox".
        layout: Folders: "auto", "modelnet" or "flat".
        num_points: Points per cloud.
        normalize: "unit_sphere" or "none".
        up_axis: The grids' up axis (default z).
        class_names: Archives: see `resolve_class_names`.
        test_fraction: Flat folders: test share of each class.
        seed: Seed of the sampling (per grid) and of the flat split.
        shard_size: Clouds per h5 file and grids per work shard.
        workers: Worker processes (default: all CPUs).
        resume: Continue an interrupted run.
        strict: Fail if any grid is skipped.
        overwrite: Replace a non-empty `output_dir`.
        progress: Show a progress line.
        log: Function printing the summary lines (None: silent).

    Returns:
        The result dict of `prepare_dataset`, plus "resolution" and "kind".

    Raises:
        FileNotFoundError: If `root` is missing.
        ValueError: On a bad archive or folder (naming it), bad arguments, an
            existing output, a needed split without any cloud, or skips with
            `strict`.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    log = log or (lambda *_: None)
    shard_size = check_positive_int("shard_size", shard_size)
    root = os.path.abspath(os.fspath(root))
    output_dir = os.path.abspath(os.fspath(output_dir))
    check_output_folder(output_dir, root, overwrite=overwrite)
    if kind == "npz":
        if not os.path.isfile(root):
            raise FileNotFoundError(f"{root}: no such file")
        inputs, names, how, size = _archive_inputs(root, class_names)
        counts = Counter(item.group for item in inputs)
        found = {"layout": "npz"}
        log(f"prepare: {len(inputs)} grids of {size}^3 in {root} ("
            + ", ".join(f"{counts[s]} {s}" for s in SPLITS if counts[s]) + f"); class names: {how}")  # fmt: skip
    else:
        if class_names is not None:
            raise ValueError(f"{root}: class_names is for .npz archives; a folder's classes are its class folders")
        tree = scan_tree(root, layout=layout, test_fraction=test_fraction, seed=seed, suffixes=(".binvox",))
        size, problems = _binvox_sizes(tree.root, tree.files)
        inputs = [
            ConversionInput(key=rel, path=os.path.join(tree.root, rel), group=split,
                            info={"label": label, **({"problem": problems[rel]} if rel in problems else {})})
            for rel, label, split in tree.files
        ]  # fmt: skip
        names = tree.class_names
        counts = log_tree(tree, log)
        found = {"layout": tree.layout, "test_fraction": test_fraction}
        log(f"  grids: {size}^3 (the most common size)")
    options = GridOptions(resolution=size, num_points=num_points, up_axis=up_axis, normalize=normalize)
    work_dir = claim_work_dir(output_dir, overwrite=overwrite, resume=resume, run_name="prepare run")
    recorded = {"kind": kind, "grids": dataclasses.asdict(options), "class_names": names, **found}
    run = runner.convert_inputs(
        inputs, functools.partial(convert_grid, options=options), work_dir,
        schema={"data": ((options.num_points, 3), "float32"), "label": ((), "uint8"),
                "voxels": ((size, size, size), "uint8")},
        label="prepare", unit="grids", row_unit="clouds", work_shard_size=shard_size, seed=seed, workers=workers,
        resume=resume, strict=strict, options=recorded, progress=progress, log=log,
    )  # fmt: skip
    up = axis_index(options.up_axis)
    extra = {"root": root, "kind": kind, **found, "resolution": size, "seed": seed, "shard_size": shard_size,
             "sampling": dataclasses.asdict(options)}  # fmt: skip
    return publish_cls_dataset(
        run, output_dir, names, where=root, input_counts=counts, extra=extra, shard_size=shard_size,
        overwrite=overwrite, resume=resume, log=log,
        cloud_text=f"clouds of {options.num_points} x 3 with {size}^3 voxel grids",
        unit="grids", optional_splits=("test",), voxels=True, voxel_up_axis=up,
    )  # fmt: skip
