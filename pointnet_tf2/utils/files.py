"""File-system helpers: atomic outputs, the tool's own outputs and temporaries, the cache directory.

What this package writes, it writes under a hidden temporary name next to the
destination and renames into place (`atomic_output`; dataset folders:
`staged_folder`). A temporary is named
`.<stem>.<8 random characters>.tmp<suffix>` for a file `<stem><suffix>`, and
`.<name>.<8 random characters>.tmp` (or `.old`, an old folder being replaced)
for a folder; a process killed while writing leaves one behind, and
`remove_stale_temporaries` removes those names (and nothing else) once no
writer is alive in the folder.

Every dataset folder the package publishes carries the marker file
`.pointnet_tf2_output`; `--overwrite` replaces only folders that carry it
(`check_output_folder`), never an arbitrary folder, and no output may
contain, equal or lie inside one of the command's inputs.
"""

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import tempfile

from pointnet_tf2.utils.locking import folder_lock
from pointnet_tf2.version import __version__

# Marker file in every dataset folder written by pointnet-tf2.
OUTPUT_MARKER = ".pointnet_tf2_output"
# A temporary of atomic_output, staged_folder or an export: `.<head>.<random>.{tmp,old}<tail>`,
# where `<head><tail>` is the name of the file or folder being written.
_TEMPORARY = re.compile(r"^\.(?P<head>[^/]+?)\.(?P<random>[a-z0-9_]{8})\.(?P<kind>tmp|old)(?P<tail>\.[^/]+)?$")


@contextlib.contextmanager
def atomic_output(path):
    """Writes a file or directory under a temporary name, renamed when complete.

    The temporary path lives in the destination's folder (so the final rename is
    atomic on POSIX file systems) and starts with a dot. If the body raises, the
    temporary path is removed and `path` is left exactly as it was, so an
    existing good file is never replaced by a half-written one.

    Example:

    ```python
    with atomic_output("model.keras") as tmp:
        model.save(tmp)
    ```

    Args:
        path: Final path of the file or directory.

    Yields:
        The temporary path to write to. It keeps `path`'s suffix, because some
        writers (Keras, h5py) choose their format from it.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem_suffix = name.split(".", 1)
    suffix = "." + stem_suffix[1] if len(stem_suffix) == 2 else ""
    with folder_lock(folder):  # shared: remove_stale_temporaries leaves a live temporary alone
        fd, tmp = tempfile.mkstemp(prefix=f".{stem_suffix[0]}.", suffix=f".tmp{suffix}", dir=folder)
        os.close(fd)
        os.unlink(tmp)
        try:
            yield tmp
            if not os.path.exists(tmp):
                raise FileNotFoundError(f"{path}: nothing was written to the temporary file {tmp}")
            os.replace(tmp, path)
        except BaseException:
            remove_path(tmp)
            raise


def remove_path(path):
    """Removes a file, link or folder tree if it exists (a folder's link is unlinked, not followed)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def temporary_target(name):
    """The name of the file or folder a temporary of this package is written for.

    Args:
        name: A file name, e.g. `.last.k2j4_x9a.tmp.keras`.

    Returns:
        The target's name (`last.keras`), or None if `name` is not one of the
        temporaries named by `atomic_output`, `staged_folder` or an export.
    """
    match = _TEMPORARY.match(name)
    if match is None:
        return None
    return match["head"] + (match["tail"] or "")


def remove_stale_temporaries(folder, targets=None):
    """Removes the temporaries this package left in `folder` when a writer was killed.

    Only names of the form written by `atomic_output`, `staged_folder` and
    the exports are considered, and only when no writer is alive in the
    folder (every writer holds the folder's shared lock while its temporary
    exists; this takes it exclusive, without waiting, and does nothing if
    that fails).

    Args:
        folder: The folder to clean (not recursive).
        targets: Optional names of the outputs whose temporaries to remove
            (e.g. `["syn_cls"]`); default: every output's.

    Returns:
        The removed names, sorted.
    """
    folder = os.path.abspath(os.fspath(folder))
    if not os.path.isdir(folder):
        return []
    targets = None if targets is None else {os.path.basename(os.fspath(t)) for t in targets}
    removed = []
    with folder_lock(folder, shared=False) as held:
        if not held:
            return []
        for name in sorted(os.listdir(folder)):
            target = temporary_target(name)
            if target is not None and (targets is None or target in targets):
                remove_path(os.path.join(folder, name))
                removed.append(name)
    return removed


def path_is_inside(path, folder):
    """Whether `path` is `folder` or lies below it (symlinks resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_not_an_input(output, inputs, *, what="output folder"):
    """Refuses an output that equals, contains or lies inside one of the inputs (symlinks resolved).

    Args:
        output: The output path.
        inputs: Input paths (files or folders); missing ones are ignored.
        what: What the output is, for the message.

    Raises:
        ValueError: Naming the output, the input and how they overlap.
    """
    for source in inputs:
        source = os.path.abspath(os.fspath(source))
        if not os.path.lexists(source):
            continue
        if os.path.realpath(output) == os.path.realpath(source):
            raise ValueError(f"{output}: the {what} is the input {source}; choose another one")
        if path_is_inside(output, source):
            raise ValueError(f"{output}: the {what} must not be inside the input folder {source}; choose one "
                             "outside it")  # fmt: skip
        if path_is_inside(source, output):
            raise ValueError(f"{output}: the {what} contains the input {source}, which writing it would "
                             "replace; choose one outside it")  # fmt: skip


def write_output_marker(folder, **info):
    """Writes the marker file saying `folder` is an output of pointnet-tf2 (see `OUTPUT_MARKER`).

    Args:
        folder: The folder being written.
        **info: JSON-able details stored in the marker (e.g. `kind="dataset"`).
    """
    with open(os.path.join(folder, OUTPUT_MARKER), "w", encoding="utf-8") as f:
        json.dump({"written_by": "pointnet_tf2", "version": __version__, **info}, f)
        f.write("\n")


def has_output_marker(folder):
    """Whether `folder` carries the marker file of a pointnet-tf2 output."""
    return os.path.isfile(os.path.join(folder, OUTPUT_MARKER))


def check_output_folder(output_dir, inputs=(), *, overwrite=False, option="--overwrite"):
    """Checks, before anything is written, that a folder may be created (or replaced) at `output_dir`.

    Args:
        output_dir: The folder to create.
        inputs: The command's input paths: the output must not equal,
            contain or lie inside any of them.
        overwrite: Whether an existing non-empty folder may be replaced; only
            one written by pointnet-tf2 (carrying `OUTPUT_MARKER`) ever is.
        option: How the user asks for `overwrite`, for the messages.

    Raises:
        ValueError: If the output overlaps an input, is not a folder, or is a
            non-empty folder without `overwrite` or without the marker.
    """
    output_dir = os.path.abspath(os.fspath(output_dir))
    check_not_an_input(output_dir, inputs)
    if os.path.lexists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(f"{output_dir}: exists and is not a folder")
    if not os.path.isdir(output_dir) or not os.listdir(output_dir):
        return
    if not overwrite:
        raise ValueError(f"{output_dir}: the folder exists and is not empty; choose another folder or pass "
                         f"{option} to replace it")  # fmt: skip
    if not has_output_marker(output_dir):
        raise ValueError(f"{output_dir}: the folder was not written by pointnet-tf2 (it has no {OUTPUT_MARKER} "
                         f"file), so {option} does not replace it; choose another folder, or empty or remove "
                         "it yourself")  # fmt: skip


def cache_dir(*parts):
    """Returns (and creates) the project's cache directory.

    The root is `$POINTNET_TF2_CACHE` if set, else `$XDG_CACHE_HOME/pointnet_tf2`,
    else `~/.cache/pointnet_tf2`.

    Args:
        *parts: Optional sub-folders to append to the root.

    Returns:
        The absolute path of the (existing) folder.
    """
    root = os.environ.get("POINTNET_TF2_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "pointnet_tf2")
    path = os.path.abspath(os.path.join(root, *parts))
    os.makedirs(path, exist_ok=True)
    return path


def check_writable(path, *, folder=False):
    """Checks before any work is done that an output can be written there.

    Nothing is created: the nearest existing folder on the way to `path` gets
    a probe file, made and removed at once, so a read-only or full file
    system, a missing permission or a file in the way is found before an
    evaluation or prediction spends minutes.

    Args:
        path: The output file (or folder, with `folder=True`).
        folder: `path` is a folder to write files into.

    Raises:
        ValueError: One line naming the path and the problem.
    """
    path = os.path.abspath(os.fspath(path))
    if folder:
        if os.path.exists(path) and not os.path.isdir(path):
            raise ValueError(f"{path}: cannot write into it: a file, not a folder")
        existing = path
    else:
        if os.path.isdir(path):
            raise ValueError(f"{path}: is a folder; the output needs a file name")
        existing = os.path.dirname(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{path}: cannot be written: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write_probe.", dir=existing)
    except OSError as error:
        raise ValueError(f"{path}: cannot be written in {existing} ({error.strerror or error})") from None
    os.close(fd)
    os.unlink(probe)


def _new_unique_dir(parent, prefix, suffix):
    for _ in range(1000):
        path = os.path.join(parent, f"{prefix}{secrets.token_hex(4)}{suffix}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent}: could not create a temporary folder {prefix}*{suffix}")


@contextlib.contextmanager
def staged_folder(output_dir, *, overwrite=False, kind="dataset"):
    """Yields an empty temporary folder that becomes `output_dir` on success.

    The temporary folder is created next to `output_dir` (same file system, so
    the final rename is atomic). If the body raises, it is removed and
    `output_dir` is left as it was. Before publishing, the marker file
    `pointnet_tf2.utils.files.OUTPUT_MARKER` is written into it. A missing or
    empty `output_dir` is simply replaced; a non-empty one only with
    `overwrite=True` and only if it carries the marker (pointnet-tf2 wrote
    it), in which case the old folder is moved aside, the new one renamed in,
    and the old one deleted. Temporaries of `output_dir` left by a killed
    writer are removed first (when no writer is alive).

    Args:
        output_dir: Final folder.
        overwrite: Replace a non-empty existing folder written by pointnet-tf2
            (and everything in it).
        kind: What the folder is, recorded in its marker ("dataset", "preset").

    Yields:
        The absolute path of the temporary folder to fill.

    Raises:
        ValueError: If `output_dir` is a file, or a non-empty folder without
            `overwrite` or without the marker.
        FileExistsError: If `output_dir` was filled by someone else while the
            temporary folder was being built (and `overwrite` is off, or it
            has no marker).
    """
    output_dir = os.path.abspath(os.fspath(output_dir))
    check_output_folder(output_dir, overwrite=overwrite)
    parent, name = os.path.split(output_dir)
    os.makedirs(parent, exist_ok=True)
    remove_stale_temporaries(parent, [name])
    with folder_lock(parent):  # shared: keeps our temporary safe from remove_stale_temporaries
        tmp = _new_unique_dir(parent, f".{name}.", ".tmp")
        try:
            yield tmp
            write_output_marker(tmp, kind=kind)
            _publish(tmp, output_dir, overwrite)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _publish(tmp, output_dir, overwrite):
    try:
        os.replace(tmp, output_dir)  # works onto a missing or an empty folder
        return
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        if not overwrite or not has_output_marker(output_dir):
            raise FileExistsError(
                f"{output_dir}: the folder was filled by another process while this one was being written"
            ) from error
    parent, name = os.path.split(output_dir)
    old = os.path.join(parent, f".{name}.{secrets.token_hex(4)}.old")
    os.rename(output_dir, old)
    try:
        os.rename(tmp, output_dir)
    except BaseException:
        os.rename(old, output_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
