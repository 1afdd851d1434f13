"""The datasets, one module each, and `open_dataset`, which finds which one a path holds.

Each module owns its dataset end to end: its names (class, part, category
tables), the reader of its HDF5 layout (`detect`, `open_folder`), the writer
of that layout, and the converter of its raw release:

- `modelnet40`: classification, `modelnet40_ply_hdf5_2048/`; the converter
  of ModelNet40 resampled with normals;
- `shapenet_part`: part segmentation, `hdf5_data/` (+ full-resolution files);
  the converter of the ShapeNet part benchmark release;
- `s3dis`: semantic segmentation of rooms, `indoor3d_sem_seg_hdf5_data/`;
  the converter of the raw S3DIS rooms and the one S3DIS block-feature
  function (`block_features`);
- `mesh_folder` and `voxel_archive`: folders of meshes or point files, and
  voxel data (`.npz` archives, `.binvox` folders), converted into the
  ModelNet40 layout;
- `plain_file`: a single HDF5 file with `data` and `label` (and `pid`).

A module declares what its rows hold (`LABELS`, see
`pointnet_tf2.data.description.Labels`); the task name of a description
follows from that, through the one table of `description.TASK_LABELS`.

Every file is checked when a dataset is opened (keys, shapes, dtypes, point
counts, NaN/inf coordinates, label ranges), and problems raise
`ValueError`/`FileNotFoundError` naming the file and the problem.
"""

import dataclasses
import os

from pointnet_tf2.data.checks import check_int
from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.datasets import modelnet40
from pointnet_tf2.data.datasets import plain_file
from pointnet_tf2.data.datasets import s3dis
from pointnet_tf2.data.datasets import shapenet_part
from pointnet_tf2.data.description import LABEL_TASKS
from pointnet_tf2.data.description import TASKS
from pointnet_tf2.data.io.vds_reader import is_vds
from pointnet_tf2.data.io.vds_reader import open_vds

# The folder layouts `open_dataset` recognises, in the order they are tried.
LAYOUTS = {module.NAME: module for module in (modelnet40, shapenet_part, s3dis)}
LAYOUT_TASKS = {name: LABEL_TASKS[module.LABELS] for name, module in LAYOUTS.items()}

# Folder names of the original downloads, tried when a parent folder is given.
_KNOWN_FOLDERS = tuple(module.FOLDER for module in LAYOUTS.values())


def open_dataset(path, task=None, *, test_area=None, check_values=True, num_classes=None):
    """Opens and validates a dataset, returning its description.

    Args:
        path: A dataset directory in one of the original layouts (or a folder
            holding exactly one such directory), a virtual dataset file built
            by `build_vds`, or a plain HDF5 file with `data` and `label` (and
            `pid` for part segmentation), whose rows form the split 'all'.
        task: Optional expected task ('cls', 'part_seg', 'sem_seg'); a layout
            of another task raises `ValueError`.
        test_area: S3DIS area used as test split. Defaults to 6 (the
            original's) for a directory, and to the area a virtual dataset was
            built with for a VDS file.
        check_values: Scan every file for NaN/inf coordinates and labels out of
            range (read in chunk-sized blocks; results are cached per process
            by file size and modification time).
        num_classes: The class count to use when the data has no class
            names (no `shape_names.txt`, no `class_names` attribute): labels
            must be below it. Without it such data gets the largest label + 1
            classes and `class_count_from == "labels"`, a guess the trainer
            refuses for a new run. Ignored when the data names its classes.

    Returns:
        A `DatasetDescription`.

    Raises:
        FileNotFoundError: If `path` or a file named in a list file is missing.
        ValueError: If the layout is unknown or any file is invalid; the
            message names the file and the problem.
    """
    path = os.path.abspath(os.fspath(path))
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS} or None, got {task!r}")
    if test_area is not None:
        test_area = _check_test_area(test_area)
    if os.path.isdir(path):
        area = test_area if test_area is not None else s3dis.DEFAULT_TEST_AREA
        description = _open_directory(path, task, area, check_values)
    elif os.path.isfile(path):
        if is_vds(path):
            description = open_vds(path, test_area=test_area)
        else:
            description = plain_file.open_file(path, check_values=check_values)
    else:
        raise FileNotFoundError(f"{path}: no such dataset directory or file")
    if task is not None and description.task != task:
        raise ValueError(
            f"{path}: holds a {description.source_layout} dataset for task {description.task!r}, not {task!r}"
        )
    if num_classes is not None and description.class_count_from is not None:
        description = with_class_count(description, num_classes)
    return description


def with_class_count(description, num_classes, source="num_classes"):
    """A description of data without class names, with a given class count.

    Args:
        description: A `DatasetDescription` whose `class_count_from` is not None.
        num_classes: The class count (at least the largest label + 1).
        source: What gave the count, for the error message.

    Returns:
        A copy with `num_classes` classes named `class_0`, ... and
        `class_count_from == "num_classes"`.

    Raises:
        ValueError: If a label is not below `num_classes`.
    """
    num_classes = check_int("num_classes", num_classes, 2)
    if description.class_count_from == "labels" and description.num_classes > num_classes:
        raise ValueError(f"{description.root}: has label {description.num_classes - 1}, out of range for the "
                         f"{num_classes} classes of {source}")  # fmt: skip
    names = [f"class_{i}" for i in range(num_classes)]
    return dataclasses.replace(description, class_names=names, num_classes=len(names), class_count_from="num_classes")


def detect_layout(directory):
    """Returns the layout name of a dataset directory, or None.

    Args:
        directory: A folder.

    Returns:
        'modelnet40', 'shapenet_part', 's3dis' or None.
    """
    return next((name for name, module in LAYOUTS.items() if module.detect(directory)), None)


def _open_directory(directory, task, test_area, check_values):
    layout = detect_layout(directory)
    if layout is None:
        children = [
            os.path.join(directory, name)
            for name in sorted(os.listdir(directory))
            if os.path.isdir(os.path.join(directory, name)) and detect_layout(os.path.join(directory, name))
        ]
        preferred = [c for c in children if os.path.basename(c) in _KNOWN_FOLDERS]
        if len(children) == 1 or len(preferred) == 1:
            directory = (preferred or children)[0]
            layout = detect_layout(directory)
    if layout is None:
        raise ValueError(
            f"{directory}: not a known dataset layout (expected train_files.txt/test_files.txt for ModelNet40, "
            "*_hdf5_file_list.txt for ShapeNet part, or all_files.txt + room_filelist.txt for S3DIS)"
        )
    if task is not None and LAYOUT_TASKS[layout] != task:
        raise ValueError(f"{directory}: holds a {layout} dataset for task {LAYOUT_TASKS[layout]!r}, not {task!r}")
    return LAYOUTS[layout].open_folder(directory, test_area=test_area, check_values=check_values)


def _check_test_area(test_area):
    try:
        return check_positive_int("test_area", test_area)
    except ValueError:
        raise ValueError(f"test_area must be a positive integer (an S3DIS area number), got {test_area!r}") from None
