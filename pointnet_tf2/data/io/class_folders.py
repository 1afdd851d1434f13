"""Class folders: finding the classes and files of a data root, `ROOT/<class>/...`.

Two folder layouts are understood (`layout="auto"` tells them apart):

- "modelnet": `ROOT/<class>/train/*` and `ROOT/<class>/test/*`, as in the raw
  ModelNet40 archive (`ModelNet40/chair/train/chair_0001.off`);
- "flat": `ROOT/<class>/*` (files anywhere below the class folder), split
  into train and test at random per class (`test_fraction`, seeded).

Class names are the class folder names sorted alphabetically (ModelNet40's
label order). Used by the converters of folders of meshes and point files
(`pointnet_tf2.data.datasets.mesh_folder`) and of `.binvox` files
(`pointnet_tf2.data.datasets.voxel_archive`).
"""

import dataclasses
import os
import zlib
from collections import Counter

import numpy as np

from pointnet_tf2.data.io.mesh_files import SUPPORTED_SUFFIXES

LAYOUTS = ("auto", "modelnet", "flat")
SPLITS = ("train", "test")


@dataclasses.dataclass
class SourceTree:
    """The files found under a data root.

    Attributes:
        root: The absolute root folder.
        layout: "modelnet" or "flat".
        class_names: Sorted class names (index = label).
        files: `(relative path, class index, split)` in a stable order.
        ignored: Counter of ignored file suffixes (unsupported types, files
            outside train/test folders in the modelnet layout).
    """

    root: str
    layout: str
    class_names: list
    files: list
    ignored: Counter


def visible(name):
    """True for a file or folder name that does not start with a dot."""
    return not name.startswith(".")


def _walk_files(folder):
    """Relative paths of the visible files below `folder`, sorted."""
    found = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if visible(d))
        found.extend(os.path.join(current, n) for n in sorted(names) if visible(n))
    return found


def _split_flat(files, test_fraction, seed, class_name):
    n = len(files)
    count = int(round(test_fraction * n))
    if test_fraction > 0 and n >= 2:
        count = min(max(count, 1), n - 1)
    elif n < 2:
        count = 0
    order = np.random.default_rng([int(seed), zlib.crc32(class_name.encode("utf-8"))]).permutation(n)
    test = set(order[:count].tolist())
    return ["test" if i in test else "train" for i in range(n)]


def scan_tree(root, *, layout="auto", test_fraction=0.2, seed=0, suffixes=None):
    """Finds the class folders and files under `root`.

    Args:
        root: The data folder.
        layout: "auto", "modelnet" or "flat" (see the module docstring).
        test_fraction: Flat layout: share of each class's files put in the
            test split (at least one file when a class has two or more).
        seed: Flat layout: seed of the split.
        suffixes: File suffixes to take (lower case, with the dot); default
            the mesh and point formats (`SUPPORTED_SUFFIXES` of `pointnet_tf2.data.io.mesh_files`). Other
            files are counted as ignored.

    Returns:
        A `SourceTree`.

    Raises:
        FileNotFoundError: If `root` is not a folder.
        ValueError: On a bad layout or fraction, no class folders, no
            supported files, or class names with whitespace.
    """
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be a number in [0, 1), got {test_fraction!r}")
    classes = sorted(d for d in os.listdir(root) if visible(d) and os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise ValueError(f"{root}: no class folders (expected ROOT/<class>/... with one folder per class)")
    if layout == "auto":
        split_dirs = any(os.path.isdir(os.path.join(root, c, s)) for c in classes for s in SPLITS)
        layout = "modelnet" if split_dirs else "flat"
    supported = set(SUPPORTED_SUFFIXES if suffixes is None else suffixes)
    ignored = Counter()
    per_class = {}
    for name in classes:
        folder = os.path.join(root, name)
        entries = []
        for path in _walk_files(folder):
            suffix = os.path.splitext(path)[1].lower()
            relative = os.path.relpath(path, folder)
            split = relative.split(os.sep, 1)[0] if layout == "modelnet" else None
            if suffix not in supported or (layout == "modelnet" and (split not in SPLITS or os.sep not in relative)):
                ignored[suffix or "(no suffix)"] += 1
                continue
            entries.append((os.path.relpath(path, root).replace(os.sep, "/"), split))
        if entries:
            per_class[name] = entries
        else:
            ignored["(class folders without supported files)"] += 1
    if not per_class:
        raise ValueError(f"{root}: no supported files (suffixes: {' '.join(sorted(supported))}) "
                         f"in {'ROOT/<class>/{train,test}/' if layout == 'modelnet' else 'ROOT/<class>/'}")  # fmt: skip
    class_names = sorted(per_class)
    for name in class_names:
        if any(c.isspace() for c in name):
            raise ValueError(f"{os.path.join(root, name)}: class folder names must not contain whitespace")
    files = []
    for label, name in enumerate(class_names):
        entries = per_class[name]
        if layout == "flat":
            splits = _split_flat(entries, test_fraction, seed, name)
            entries = [(rel, split) for (rel, _), split in zip(entries, splits)]
        files.extend((rel, label, split) for rel, split in entries)
    order = {split: i for i, split in enumerate(SPLITS)}
    files.sort(key=lambda f: (order[f[2]], f[0]))
    return SourceTree(root, layout, class_names, files, ignored)


def log_tree(tree, log):
    """Logs what `scan_tree` found; returns the Counter split -> files."""
    counts = Counter(split for _, _, split in tree.files)
    log(f"prepare: {len(tree.files)} files in {len(tree.class_names)} classes ({tree.layout} layout: "
        + ", ".join(f"{counts[s]} {s}" for s in SPLITS) + f") under {tree.root}")  # fmt: skip
    if tree.ignored:
        log("  ignored: " + ", ".join(f"{n} {s}" for s, n in sorted(tree.ignored.items())))
    return counts
