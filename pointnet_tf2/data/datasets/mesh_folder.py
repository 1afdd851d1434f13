"""`prepare_dataset`: a folder of meshes or point files (or voxel data) -> the ModelNet40 HDF5 layout.

The converter of `pointnet-tf2 prepare`, for the raw ModelNet40 archive of
`.off` meshes and any folder of classes like it. Two folder layouts are
understood (`layout="auto"` tells them apart; `pointnet_tf2.data.io.class_folders`):

- "modelnet": `ROOT/<class>/train/*` and `ROOT/<class>/test/*`, as in the raw
  ModelNet40 archive (`ModelNet40/chair/train/chair_0001.off`);
- "flat": `ROOT/<class>/*` (files anywhere below the class folder), split
  into train and test at random per class (`test_fraction`, seeded).

Class names are the class folder names sorted alphabetically (ModelNet40's
label order), so label `i` is line `i` of `shape_names.txt`. Every supported
file (see `pointnet_tf2.data.meshes`) becomes one cloud of `num_points`
points: surfaces are sampled uniformly by area, point files are reduced or
padded, clouds are turned y-up and scaled into the unit sphere. Files are
converted in parallel by `pointnet_tf2.data.conversion` (seeded per file,
work shards of at most `shard_size` files, `resume`), and the result is
written by `pointnet_tf2.data.datasets.modelnet40.write_modelnet_layout` (shards of at
most `shard_size` clouds, list files, `shape_names.txt`), plus:

- `skipped.txt`: one `path<TAB>kind<TAB>reason` line per skipped file;
- `prepare.json`: the options, the counts and the skip and note counts.

Around the conversion it takes the same steps as the raw converters
(`pointnet_tf2.data.runner`): destination checks, the summary, and the
dataset folder published in one step.

Bad files are skipped with a one-line reason (or fail the run with
`strict=True`); they never stop the run or reach a shard.

Voxel data (a `.npz` archive of occupancy grids, or class folders of
`.binvox` files) is handed to `pointnet_tf2.data.datasets.voxel_archive`, which
writes the same layout plus the grids themselves.
"""

import dataclasses
import functools
import os

import numpy as np

from pointnet_tf2.data import meshes
from pointnet_tf2.data import runner
from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.conversion import ConversionInput
from pointnet_tf2.data.conversion import Converted
from pointnet_tf2.data.conversion import check_output_folder
from pointnet_tf2.data.conversion import claim_work_dir
from pointnet_tf2.data.datasets.modelnet40 import publish_cls_dataset
from pointnet_tf2.data.datasets.voxel_archive import prepare_voxels
from pointnet_tf2.data.io.class_folders import log_tree
from pointnet_tf2.data.io.class_folders import scan_tree
from pointnet_tf2.data.io.class_folders import visible


def convert_file(item, rng, options):
    """Conversion function of `prepare`: one file -> one labelled cloud.

    Args:
        item: A `ConversionInput` with `info["label"]`.
        rng: The file's `numpy.random.Generator`.
        options: `meshes.SamplingOptions`.

    Returns:
        A `Converted` with "data" (1, P, 3 or 6) float32 and "label" (1,).
    """
    cloud = meshes.cloud_from_file(item.path, options, rng)
    return Converted({"data": cloud.points[None], "label": np.array([item.info["label"]], dtype=np.uint8)},
                     tuple(cloud.notes))


def prepare_dataset(
    root,
    output_dir,
    *,
    layout="auto",
    num_points=2048,
    normals=False,
    fps=False,
    oversample=4,
    density=None,
    normalize="unit_sphere",
    up_axis=meshes.DEFAULT_INPUT_UP_AXIS,
    columns="auto",
    max_file_mb=meshes.DEFAULT_MAX_FILE_MB,
    test_fraction=0.2,
    seed=0,
    shard_size=2048,
    workers=None,
    resume=False,
    strict=False,
    overwrite=False,
    progress=True,
    log=print,
    inputs="auto",
    class_names=None,
):
    """Converts meshes, point files or voxel grids into the ModelNet40 HDF5 layout.

    Voxel inputs (a `.npz` archive, or a folder holding `.binvox` files) are
    converted by `pointnet_tf2.data.datasets.voxel_archive.prepare_voxels`: the
    points are sampled on the grids' surfaces and the grids are stored too.

    Args:
        root: Data folder (`ROOT/<class>/{train,test}/*` or `ROOT/<class>/*`),
            or a `.npz` voxel archive (`X_train`, `y_train`[, `X_test`, `y_test`]).
        output_dir: Dataset folder to create (missing or empty, or one
            pointnet-tf2 wrote with `overwrite`); it must not overlap `root`.
        layout: "auto", "modelnet" or "flat".
        num_points: Points per cloud (the original: 2048).
        normals: Store xyz + normals, (P, 6) (meshes and point files only).
        fps: Reduce by farthest-point sampling (meshes are sampled
            `oversample` times denser first; meshes and point files only).
        oversample: See `fps`.
        density: Count-by-density mode (see `meshes.SamplingOptions`).
        normalize: "unit_sphere" (default, as the original) or "none".
        up_axis: Up axis of the input files ("z" for raw ModelNet40 and its
            voxel grids); the clouds are turned so it becomes y, the layout's
            up axis.
        columns: Column layout of point files ("auto", "xyz,normals", ...).
        max_file_mb: Larger files are skipped.
        test_fraction: Flat layout: test share of each class.
        seed: Seed of the sampling (per file) and of the flat split.
        shard_size: At most this many clouds per h5 file (and files per work shard).
        workers: Worker processes (default: all CPUs; <= 1: in this process).
        resume: Continue an interrupted run (reuses its finished work shards).
        strict: Fail (ValueError) if any file is skipped; nothing is written
            to `output_dir` then.
        overwrite: Replace a non-empty `output_dir` written by pointnet-tf2 and discard an
            unfinished run.
        progress: Show a progress line on stderr.
        log: Function printing the summary lines (None: silent).
        inputs: What to read from a folder: "auto" (`.binvox` files when the
            class folders hold any, else meshes and point files), "meshes"
            or "binvox".
        class_names: `.npz` archives only: the class names (a list, a
            comma-separated string, or a file with one name per line); by
            default the ModelNet10 names for a 10-class archive, else
            `class_<i>`.

    Returns:
        A dict: "output_dir", "class_names", "counts" ({split: clouds}),
        "converted", "skipped" (list of (file, kind, reason)), "skip_counts",
        "note_counts", "seconds", "files_per_second".

    Raises:
        FileNotFoundError: If `root` is missing.
        ValueError: On bad arguments, an existing non-empty `output_dir`
            without `overwrite`, an unfinished run without `resume` or
            `overwrite`, a split without any cloud, or skips with `strict`.
    """
    kind = input_kind(root, inputs)
    if kind != "meshes":
        mesh_only = {"normals": normals, "fps": fps, "density": density, "columns": columns != "auto"}
        used = [f"--{name}" for name, value in mesh_only.items() if value not in (False, None)]
        if used:
            raise ValueError(f"{root}: {', '.join(used)} apply to meshes and point files, not to voxel grids")
        return prepare_voxels(
            root, output_dir, kind=kind, layout=layout, num_points=num_points, normalize=normalize, up_axis=up_axis,
            class_names=class_names, test_fraction=test_fraction, seed=seed, shard_size=shard_size, workers=workers,
            resume=resume, strict=strict, overwrite=overwrite, progress=progress, log=log,
        )  # fmt: skip
    if class_names is not None:
        raise ValueError(f"{root}: class_names is for .npz archives; a folder's classes are its class folders")
    import trimesh  # noqa: F401  (imported before the workers fork, so each one does not import it again)

    log = log or (lambda *_: None)
    options = meshes.SamplingOptions(
        num_points=num_points, normals=normals, fps=fps, oversample=oversample, density=density,
        normalize=normalize, up_axis=up_axis, target_up_axis=1, columns=columns, max_file_mb=max_file_mb,
    )  # fmt: skip
    shard_size = check_positive_int("shard_size", shard_size)
    output_dir = os.path.abspath(os.fspath(output_dir))
    root = os.path.abspath(os.fspath(root))
    check_output_folder(output_dir, root, overwrite=overwrite, resume=resume)
    tree = scan_tree(root, layout=layout, test_fraction=test_fraction, seed=seed)
    work_dir = claim_work_dir(output_dir, overwrite=overwrite, resume=resume, run_name="prepare run")

    conversion_inputs = [
        ConversionInput(key=rel, path=os.path.join(tree.root, rel), group=split, info={"label": label})
        for rel, label, split in tree.files
    ]
    counts = log_tree(tree, log)
    channels = 6 if normals else 3
    recorded = {"sampling": dataclasses.asdict(options), "layout": tree.layout, "test_fraction": test_fraction,
                "class_names": tree.class_names}  # fmt: skip
    run = runner.convert_inputs(
        conversion_inputs, functools.partial(convert_file, options=options), work_dir,
        schema={"data": ((options.num_points, channels), "float32"), "label": ((), "uint8")},
        label="prepare", unit="files", row_unit="clouds", work_shard_size=shard_size, seed=seed, workers=workers,
        resume=resume, strict=strict, options=recorded, progress=progress, log=log, list_skips=False,
    )  # fmt: skip
    extra = {"root": tree.root, "layout": tree.layout, "seed": seed, "shard_size": shard_size,
             "sampling": dataclasses.asdict(options)}  # fmt: skip
    return publish_cls_dataset(
        run, output_dir, tree.class_names, where=tree.root, input_counts=counts, extra=extra, shard_size=shard_size,
        overwrite=overwrite, resume=resume, log=log, cloud_text=f"clouds of {options.num_points} x {channels}",
        unit="files",
    )  # fmt: skip


INPUT_KINDS = ("auto", "meshes", "binvox")
VOXEL_SUFFIXES = (".binvox",)


def input_kind(root, inputs="auto"):
    """What `prepare_dataset` converts: "npz" (a voxel archive), "binvox" or "meshes" (meshes and point files).

    Args:
        root: The data folder or `.npz` file.
        inputs: "auto" (a folder holding `.binvox` files is "binvox"),
            "meshes" or "binvox".

    Returns:
        "npz", "binvox" or "meshes".

    Raises:
        FileNotFoundError: If `root` does not exist.
        ValueError: If `inputs` is unknown, or `root` is a file other than a
            `.npz` archive.
    """
    if inputs not in INPUT_KINDS:
        raise ValueError(f"inputs must be one of {INPUT_KINDS}, got {inputs!r}")
    path = os.path.abspath(os.fspath(root))
    if os.path.isfile(path):
        if not path.lower().endswith(".npz"):
            raise ValueError(f"{path}: is a file; prepare takes a data folder or a .npz voxel archive")
        return "npz"
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such folder or .npz file")
    if inputs != "auto":
        return inputs
    for _, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if visible(d)]
        if any(visible(n) and os.path.splitext(n)[1].lower() in VOXEL_SUFFIXES for n in names):
            return "binvox"
    return "meshes"
