"""File-system helpers: atomic outputs and the project's cache directory."""

import contextlib
import os
import shutil
import tempfile


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
    fd, tmp = tempfile.mkstemp(prefix=f".{stem_suffix[0]}.", suffix=f".tmp{suffix}", dir=folder)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise FileNotFoundError(f"{path}: nothing was written to the temporary file {tmp}")
        os.replace(tmp, path)
    except BaseException:
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)
        raise


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
