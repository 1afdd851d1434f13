"""Locks between processes: one run per folder, and no clean-up under a live writer.

Two kinds of lock, both `fcntl.flock` locks, which the kernel releases when
the process holding them ends, however it ends (a SIGKILL included):

- `run_lock(folder)`: an exclusive lock on `folder/.lock` for a whole run (a
  training run holds its `--log_dir`, a conversion its work folder). The
  file holds the holder's pid and host, so a second run is refused with a
  message naming them. A lock file left by a process that died is found
  unlocked: it is taken over (and reported by `RunLock.stale_holder`). The
  file is removed on release.
- `folder_lock(folder, shared=True)`: a lock on the folder itself (no file is
  created). Every atomic write (`pointnet_tf2.utils.atomic_output`, staged
  dataset folders, exports) holds it shared while its temporary exists;
  `pointnet_tf2.utils.files.remove_stale_temporaries` takes it exclusive and
  without waiting, so it only removes temporaries when no writer is alive.

Forked children (process-pool workers) close their copies of these locks, so
a lock never outlives the process that took it.
"""

import contextlib
import errno
import fcntl
import os
import socket

LOCK_FILE = ".lock"

# Lock descriptors held by this process. A forked child (a worker of a process
# pool) closes its copies, so a lock dies with the process that took it even
# when the child outlives it.
_HELD = set()


def _close_held_in_child():
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


class FolderLockedError(OSError):
    """Raised when another live process holds the lock of a folder."""


class RunLock:
    """What `run_lock` yields.

    Attributes:
        folder: The locked folder (absolute).
        path: The lock file.
        created_folder: Whether `run_lock` created the folder.
        stale_holder: `"pid P on HOST"` of a dead process whose lock file was
            taken over, else None.
    """

    def __init__(self, folder, path, created_folder, stale_holder):
        self.folder = folder
        self.path = path
        self.created_folder = created_folder
        self.stale_holder = stale_holder


def _holder(path):
    """The `"pid P on HOST"` written in a lock file, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            fields = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
    except (OSError, ValueError):
        return None
    if "pid" not in fields:
        return None
    return f"pid {fields['pid']} on {fields.get('host', 'an unknown host')}"


def _open_locked(path):
    """Opens `path` (created if missing) and locks it exclusively without waiting.

    Returns:
        The file descriptor, or None if another process holds the lock.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        # The holder we waited for may have removed the file before we locked it: retry on the new one.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def run_lock(folder, *, what="run folder"):
    """Holds an exclusive lock on `folder` (the file `folder/.lock`) for a whole run.

    The folder is created if missing; if this call created it and it is
    empty when the lock is released (the run failed before writing
    anything), it is removed again.

    Args:
        folder: The folder to lock.
        what: What the folder is, for the error message (e.g. "log folder").

    Yields:
        A `RunLock`.

    Raises:
        FolderLockedError: If another live process holds the lock (naming
            the folder and the holder's pid and host).
    """
    folder = os.path.abspath(os.fspath(folder))
    created = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_FILE)
    try:
        fd = _open_locked(path)
        if fd is None:
            holder = _holder(path) or "another process"
            raise FolderLockedError(f"{folder}: the {what} is in use by {holder} (lock file {path}); wait for "
                                    "that run to end or choose another folder")  # fmt: skip
    except BaseException:
        _remove_if_empty(folder, created)
        raise
    stale = _holder(path)
    owner = os.getpid()
    _HELD.add(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid={owner}\nhost={socket.gethostname()}\n".encode("utf-8"))
        yield RunLock(folder, path, created, stale)
    finally:
        if os.getpid() == owner:  # not in a forked child that unwinds this frame
            _HELD.discard(fd)
            # Unlink while still locked, so nobody locks the file we are leaving.
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.close(fd)
            _remove_if_empty(folder, created)


def _remove_if_empty(folder, created):
    if created:
        with contextlib.suppress(OSError):  # not empty, or already gone
            os.rmdir(folder)


@contextlib.contextmanager
def folder_lock(folder, *, shared=True):
    """Locks a folder itself (shared for writers, exclusive for clean-up).

    Args:
        folder: An existing folder.
        shared: A shared lock (waits for an exclusive holder); else an
            exclusive one taken without waiting.

    Yields:
        True if the lock is held; False if it could not be taken (exclusive:
        a writer is alive; or the file system has no locks).
    """
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        yield False
        return
    owner = os.getpid()
    _HELD.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except OSError:
            held = False
        yield held
    finally:
        if os.getpid() == owner:
            _HELD.discard(fd)
            os.close(fd)
