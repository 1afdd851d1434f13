"""What `prepare` (meshes, point files) and `prepare_voxels` (occupancy grids) share.

Finding the class folders and files under a data root (`scan_tree`, the
"modelnet" and "flat" layouts of `pointnet_tf2.data.prepare`), and publishing
the converted clouds of a run as a ModelNet40-layout dataset
(`publish_cls_dataset`). `pointnet_tf2.data.prepare` re-exports these names.
"""

import dataclasses
import os
import zlib
from collections import Counter

import numpy as np

from pointnet_tf2.data import meshes
from pointnet_tf2.data.raw import runner
from pointnet_tf2.data.raw.runner import SKIPPED_FILE
from pointnet_tf2.data.writers import write_modelnet_layout

LAYOUTS = ("auto", "modelnet", "flat")
SPLITS = ("train", "test")
INFO_VERSION = 1


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


def _visible(name):
    return not name.startswith(".")


def _walk_files(folder):
    """Relative paths of the visible files below `folder`, sorted."""
    found = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if _visible(d))
        found.extend(os.path.join(current, n) for n in sorted(names) if _visible(n))
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
            the mesh and point formats (`meshes.SUPPORTED_SUFFIXES`). Other
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
    classes = sorted(d for d in os.listdir(root) if _visible(d) and os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise ValueError(f"{root}: no class folders (expected ROOT/<class>/... with one folder per class)")
    if layout == "auto":
        split_dirs = any(os.path.isdir(os.path.join(root, c, s)) for c in classes for s in SPLITS)
        layout = "modelnet" if split_dirs else "flat"
    supported = set(meshes.SUPPORTED_SUFFIXES if suffixes is None else suffixes)
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
