"""The run around a raw converter: destination checks, the parallel conversion, publishing.

Every converter of `pointnet_tf2.data.datasets` (S3DIS, ShapeNet part,
ModelNet40 with normals, folders of meshes and of voxel grids) does the same
around its per-file function:

1. `check_destination`: the output folder must not overlap the input, and be
   missing, empty, or a dataset pointnet-tf2 wrote, replaced with
   `overwrite`; an unfinished run's work folder
   (`.<output name>.prepare-work` next to the output) is continued with
   `resume`, discarded with `overwrite`, and an error otherwise
   (`pointnet_tf2.data.conversion.check_output_folder` and `claim_work_dir`).
   These checks happen before any file is converted.
2. `convert_inputs`: `pointnet_tf2.data.conversion.run_conversion` (worker
   processes, a progress line, per-input seeds, work shards, resume), then the
   summary: counts, skips by kind and one line per skipped file. Inputs that
   a `find_*` function could only report carry `info["problem"]`; the
   per-file function turns them into skips with `skip_if_problem`.
3. `split_arrays` (the rows of each split, an error if one has none), then
   `publish`: the dataset is written into a temporary folder next to the
   output (the layout writer, extra files, `skipped.txt` and `prepare.json`)
   and renamed into place in one step; then the work folder is removed. The
   closing "wrote ..." line ends with `skipped_note`.
"""

import json
import os

from pointnet_tf2.data.conversion import SkipItem
from pointnet_tf2.data.conversion import check_output_folder
from pointnet_tf2.data.conversion import claim_work_dir
from pointnet_tf2.data.conversion import run_conversion
from pointnet_tf2.data.io.shards import staged_folder

INFO_FILE = "prepare.json"
SKIPPED_FILE = "skipped.txt"
INFO_VERSION = 1

# Skipped files listed one per line in the summary; the rest are in skipped.txt.
SHOWN_SKIPS = 20


def check_destination(root, output_dir, *, overwrite=False, resume=False):
    """Checks the input folder and the destination before converting anything.

    Args:
        root: The raw data folder.
        output_dir: The dataset folder to create.
        overwrite: Replace a non-empty `output_dir`; without `resume`, also
            discard an unfinished run's work folder.
        resume: Continue the unfinished run in the work folder.

    Returns:
        `(root, output_dir, work_dir)` as absolute paths.

    Raises:
        FileNotFoundError: If `root` is not a folder.
        ValueError: If `output_dir` equals, contains or lies inside `root`,
            is a file, or is a non-empty folder without `overwrite` (or not
            written by pointnet-tf2), or if an unfinished run exists and
            neither `resume` nor `overwrite` is given.
    """
    root = os.path.abspath(os.fspath(root))
    output_dir = os.path.abspath(os.fspath(output_dir))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder")
    check_output_folder(output_dir, root, overwrite=overwrite, resume=resume)
    work_dir = claim_work_dir(output_dir, overwrite=overwrite, resume=resume)
    return root, output_dir, work_dir


def skip_if_problem(item):
    """Skips an input that a `find_*` function could only report (`item.info["problem"]`).

    Args:
        item: A `ConversionInput`; `info["problem"]`, when present, is
            `(kind, reason)`.

    Raises:
        SkipItem: With that kind and reason, if the input has a problem.
    """
    problem = item.info.get("problem")
    if problem:
        raise SkipItem(problem[1], problem[0])


def skip_detail_lines(skipped, limit=SHOWN_SKIPS, where=SKIPPED_FILE):
    """One summary line per skipped input (at most `limit`), then a count of the rest.

    Args:
        skipped: `(key, kind, reason)` tuples.
        limit: Lines to show.
        where: Name of the file that lists them all.

    Returns:
        A list of lines.
    """
    lines = [f"    {key}: {reason} [{kind}]" for key, kind, reason in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"    ... and {len(skipped) - limit} more, every one in {where}")
    return lines


def convert_inputs(
    inputs,
    convert,
    work_dir,
    *,
    schema,
    label,
    unit,
    row_unit,
    work_shard_size,
    seed,
    workers,
    resume,
    strict,
    options,
    progress,
    log,
    list_skips=True,
):
    """Runs `run_conversion` and logs its summary with one line per skipped input.

    Args:
        inputs: `ConversionInput`s.
        convert: The per-input function (picklable).
        work_dir: Work folder.
        schema: Row schema.
        label: Name of the run in the progress line and summary.
        unit: What the inputs are called ("rooms", "shapes", "files").
        row_unit: What the rows are called ("blocks", "clouds").
        work_shard_size: Inputs per work shard (the unit of resuming).
        seed: Run seed.
        workers: Worker processes (None: all CPUs).
        resume: Reuse finished work shards.
        strict: Raise if any input was skipped.
        options: JSON-able options a resumed run must share.
        progress: Show the progress line.
        log: Function taking one line.
        list_skips: Log one line per skipped input (at most `SHOWN_SKIPS`)
            after the summary.

    Returns:
        The `ConversionRun`.

    Raises:
        ValueError: From `run_conversion`, or (with `strict`) if anything was skipped.
    """
    run = run_conversion(
        inputs, convert, work_dir, schema=schema, shard_size=work_shard_size, seed=seed, workers=workers,
        resume=resume, strict=False, options=options, progress=progress, label=label,
    )  # fmt: skip
    if run.resumed_shards:
        log(f"  resumed {run.resumed_shards} of {len(run.shards)} work shards from {work_dir}")
    for line in run.summary_lines(label, unit=unit, row_unit=row_unit):
        log(line)
    if list_skips and run.skipped:
        log(f"  skipped {unit}:")
        for line in skip_detail_lines(run.skipped):
            log(line)
    if strict:
        run.raise_if_skipped()
    return run


def fail_without_rows(run, what):
    """Raises ValueError (after writing `skipped.txt` in the work folder) when a needed part is empty.

    Args:
        run: The `ConversionRun`.
        what: What has no rows, e.g. "the 'val' split".

    Raises:
        ValueError: Always.
    """
    path = run.write_skipped(os.path.join(run.work_dir, SKIPPED_FILE))
    raise ValueError(
        f"{what} has no converted data ({len(run.skipped)} of {len(run.inputs)} inputs were skipped; "
        f"every reason is in {path})"
    )


def split_arrays(run, splits, keys):
    """The rows of every split, as lazy arrays; fails if a split has none.

    Args:
        run: The `ConversionRun`, whose groups are the splits.
        splits: Split names, e.g. ("train", "test").
        keys: Schema keys to take, e.g. ("data", "label").

    Returns:
        Dict split -> tuple of the split's arrays of `keys`, in that order.

    Raises:
        ValueError: From `fail_without_rows`, for the first split without rows.
    """
    out = {}
    for split in splits:
        if run.rows(split) == 0:
            fail_without_rows(run, f"the {split!r} split")
        arrays = run.arrays(split)
        out[split] = tuple(arrays[key] for key in keys)
    return out


def skipped_note(run, output_dir, unit):
    """The end of the closing "wrote ..." line: how many inputs were skipped and where they are listed.

    Args:
        run: The `ConversionRun`.
        output_dir: The published dataset folder (holding `skipped.txt`).
        unit: What the inputs are called ("files", "rooms", "shapes").

    Returns:
        `"; N skipped <unit> listed in <output_dir>/skipped.txt"`, or "" when
        nothing was skipped.
    """
    if not run.skipped:
        return ""
    return f"; {len(run.skipped)} skipped {unit} listed in {os.path.join(output_dir, SKIPPED_FILE)}"


def run_info(run, **extra):
    """The common part of `prepare.json`: counts, skips, notes, time and throughput.

    Args:
        run: The `ConversionRun`.
        **extra: More JSON-able entries (options, class names, ...).

    Returns:
        A dict.
    """
    info = {
        "version": INFO_VERSION,
        "inputs": len(run.inputs),
        "converted": run.converted,
        "skipped": len(run.skipped),
        "skip_counts": dict(run.skip_counts()),
        "note_counts": dict(run.note_counts()),
        "seconds": round(run.seconds, 3),
        "inputs_per_second": round(run.converted / run.seconds, 3) if run.seconds > 0 else None,
        "workers": run.workers,
    }
    info.update(extra)
    return info


def publish(output_dir, run, write, info, *, overwrite=False):
    """Writes the dataset into a temporary folder and renames it to `output_dir` in one step.

    Args:
        output_dir: Final folder.
        run: The `ConversionRun` (its skips go to `skipped.txt`; its work
            folder is removed once the dataset is in place).
        write: Function `write(folder)` filling the (empty) temporary folder.
        info: Dict written as `prepare.json`.
        overwrite: Replace a non-empty `output_dir`.

    Returns:
        The absolute path of `output_dir`.
    """
    output_dir = os.path.abspath(os.fspath(output_dir))
    with staged_folder(output_dir, overwrite=overwrite) as tmp:
        write(tmp)
        run.write_skipped(os.path.join(tmp, SKIPPED_FILE))
        with open(os.path.join(tmp, INFO_FILE), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
    run.cleanup()
    return output_dir


# --- command-line pieces shared by the prepare-* commands --------------------------------------


def add_run_arguments(parser, *, shard_size):
    """Adds the options every raw converter command has (seed, workers, resume, ...).

    Args:
        parser: An `argparse.ArgumentParser`.
        shard_size: Default of `--shard_size`.
    """
    parser.add_argument("--shard_size", type=int, default=shard_size,
                        help=f"at most this many clouds per h5 file (default {shard_size}, as the original)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling, per input file (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all CPUs; 1: no pool)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run, reusing its finished work shards")
    parser.add_argument("--strict", action="store_true", help="fail (and write nothing) if any input is skipped")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace OUTPUT (only a dataset pointnet-tf2 wrote) and discard an unfinished run")
    parser.add_argument("--no_progress", action="store_true", help="no progress line on stderr")


def run_kwargs(args):
    """The keyword arguments of a `prepare_*` function given by `add_run_arguments`'s options."""
    return {
        "shard_size": args.shard_size,
        "seed": args.seed,
        "workers": args.workers,
        "resume": args.resume,
        "strict": args.strict,
        "overwrite": args.overwrite,
        "progress": not args.no_progress,
    }
