"""Built-in procedural datasets, written in the original HDF5 layouts.

Three seeded generators, numpy only, a few seconds at the default sizes, one
module each:

- `cls` (ModelNet40 layout, `objects`): 12 shape classes (`CLS_CLASS_NAMES`)
  of procedural surfaces with random size, aspect and pose;
- `part_seg` (ShapeNet part layout, `parts`): 6 categories made of labelled
  parts (`PART_CATEGORIES`), with the ShapeNet category names and synset ids;
- `sem_seg` (S3DIS layout, `rooms`): furnished rooms with the 13 S3DIS
  classes, cut into blocks by the S3DIS converter's own functions, so they
  match converted data; training rooms in Areas 1-5, test rooms in Area 6.

A generator module declares what its rows hold (`LABELS`), its splits,
default sizes and files, and writes its dataset with the layout's writer
(`generate`). `generate_synthetic` writes one into a folder;
`builtin_dataset` generates one once into the cache and returns its folder:
the training scripts use it when no data is given.
"""

import hashlib
import json
import os
import shutil

from pointnet_tf2.data.checks import check_int
from pointnet_tf2.data.datasets.s3dis import S3DIS_CLASS_NAMES  # noqa: F401  (re-exported)
from pointnet_tf2.data.description import LABEL_TASKS
from pointnet_tf2.data.io.shards import staged_folder
from pointnet_tf2.data.synthetic import objects
from pointnet_tf2.data.synthetic import parts
from pointnet_tf2.data.synthetic import rooms
from pointnet_tf2.data.synthetic.objects import CLS_CLASS_NAMES  # noqa: F401  (re-exported)
from pointnet_tf2.data.synthetic.objects import CLS_SHAPES  # noqa: F401  (re-exported)
from pointnet_tf2.data.synthetic.parts import PART_CATEGORIES  # noqa: F401  (re-exported)
from pointnet_tf2.data.synthetic.parts import part_category_offsets  # noqa: F401  (re-exported)
from pointnet_tf2.utils import cache_dir

# Task name -> generator module, by what the generator's rows hold.
GENERATORS = {LABEL_TASKS[module.LABELS]: module for module in (objects, parts, rooms)}
TASKS = tuple(GENERATORS)

# Bump when the generated data changes, so cached built-in datasets are rebuilt.
# 2: sem_seg blocks come from the S3DIS converter's `room_blocks` (features centred
# on the sampled points' minimum + half a block, the converter's sampling).
GENERATOR_VERSION = 2

DEFAULT_SIZES = {task: dict(module.DEFAULT_SIZES) for task, module in GENERATORS.items()}

INFO_FILE = "synthetic.json"


def resolve_sizes(task, **sizes):
    """Fills in and validates the size arguments of a synthetic task.

    Args:
        task: "cls", "part_seg" or "sem_seg".
        **sizes: Any of num_train, num_val, num_test, num_points, seed (None = default).

    Returns:
        A dict with all five keys.

    Raises:
        ValueError: On an unknown task or key, or a bad value.
    """
    if task not in TASKS:
        raise ValueError(f"unknown synthetic task {task!r}; choose one of {', '.join(TASKS)}")
    unknown = set(sizes) - {"num_train", "num_val", "num_test", "num_points", "seed"}
    if unknown:
        raise ValueError(f"unknown synthetic dataset arguments {sorted(unknown)}")
    config = dict(DEFAULT_SIZES[task])
    config["seed"] = 0
    config.update({k: v for k, v in sizes.items() if v is not None})
    if "val" in GENERATORS[task].SPLITS:
        config["num_val"] = check_int("num_val", config["num_val"], 1)
    elif config["num_val"] is not None:
        with_val = ", ".join(t for t, module in GENERATORS.items() if "val" in module.SPLITS)
        raise ValueError(f"num_val applies to {with_val} only (the {task} layout has no validation split)")
    config["num_train"] = check_int("num_train", config["num_train"], 1)
    config["num_test"] = check_int("num_test", config["num_test"], 1)
    config["num_points"] = check_int("num_points", config["num_points"], 1)
    config["seed"] = check_int("seed", config["seed"], 0)
    return config


def generate_synthetic(
    task, output_dir, *, num_train=None, num_val=None, num_test=None, num_points=None, seed=0, overwrite=False
):
    """Generates a built-in procedural dataset in the matching original layout.

    `cls` writes the ModelNet40 layout, `part_seg` the ShapeNet part layout and
    `sem_seg` the S3DIS layout (see the module docstring), plus `synthetic.json`
    (the generation arguments and counts). The folder is built under a
    temporary name and renamed into place when complete. The same arguments
    always give the same data.

    Args:
        task: "cls", "part_seg" or "sem_seg".
        output_dir: Folder to create (missing or empty, or one written by pointnet-tf2 with `overwrite`).
        num_train: Training clouds (cls 480, part_seg 480), or training rooms
            for sem_seg (10, spread over Areas 1-5, about 70 blocks each).
        num_val: Validation clouds (part_seg only, default 60).
        num_test: Test clouds (cls 120, part_seg 120), or Area 6 rooms (sem_seg 2).
        num_points: Points per cloud or block (2048; sem_seg 4096).
        seed: Non-negative integer seed.
        overwrite: Replace an existing non-empty folder written by pointnet-tf2.

    Returns:
        The absolute path of the folder.

    Raises:
        ValueError: On bad arguments or an existing non-empty folder without `overwrite`.
    """
    config = resolve_sizes(
        task, num_train=num_train, num_val=num_val, num_test=num_test, num_points=num_points, seed=seed
    )
    output_dir = os.path.abspath(os.fspath(output_dir))
    with staged_folder(output_dir, overwrite=overwrite) as folder:
        info = GENERATORS[task].generate(folder, config, os.path.basename(output_dir))
        info = {"generator": "pointnet_tf2.data.synthetic", "version": GENERATOR_VERSION, "task": task,
                **config, **info}  # fmt: skip
        with open(os.path.join(folder, INFO_FILE), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
    return output_dir


def is_complete(task, folder):
    """Tells whether `folder` holds a complete generated dataset of `task`.

    Checks `synthetic.json`, the list and metadata files, and that every shard
    named in a list file exists.

    Args:
        task: "cls", "part_seg" or "sem_seg".
        folder: The dataset folder.

    Returns:
        True if complete.
    """
    try:
        with open(os.path.join(folder, INFO_FILE), encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return False
    if info.get("task") != task or info.get("version") != GENERATOR_VERSION:
        return False
    for name in GENERATORS[task].LIST_FILES:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            return False
        if name.endswith(("files.txt", "file_list.txt")):
            with open(path, encoding="utf-8") as f:
                shards = [line.strip() for line in f if line.strip()]
            if not shards or not all(os.path.isfile(os.path.join(folder, os.path.basename(s))) for s in shards):
                return False
    return True


def builtin_dataset(task, *, root=None, **sizes):
    """Returns the folder of a built-in synthetic dataset, generating it once.

    The folder is `<root>/<task>-<hash of the arguments>`, with root defaulting
    to `pointnet_tf2.utils.cache_dir("synthetic")`. A complete folder is reused;
    an incomplete one is regenerated. Generation happens in a temporary folder
    renamed into place, so an interrupted run never leaves a half dataset, and
    two processes generating at once both end up with the same folder.

    Args:
        task: "cls", "part_seg" or "sem_seg".
        root: Optional parent folder instead of the cache.
        **sizes: num_train, num_val, num_test, num_points, seed (see
            `generate_synthetic`; None or absent = default).

    Returns:
        The absolute path of the dataset folder.

    Raises:
        ValueError: On bad arguments.
    """
    config = resolve_sizes(task, **sizes)
    key = json.dumps({"task": task, "version": GENERATOR_VERSION, **config}, sort_keys=True)
    name = f"{task}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if root is None:
        root = cache_dir("synthetic")
    path = os.path.join(os.path.abspath(os.fspath(root)), name)
    if is_complete(task, path):
        return path
    if os.path.isdir(path) and os.listdir(path):
        shutil.rmtree(path)  # an incomplete or outdated copy
    try:
        generate_synthetic(task, path, **config)
    except (FileExistsError, ValueError):
        if not is_complete(task, path):  # else another process has just written it
            raise
    return path
