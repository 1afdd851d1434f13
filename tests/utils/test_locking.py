"""Run locks, folder locks and the clean-up of a killed writer's temporaries (pointnet_tf2.utils)."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils.files import remove_stale_temporaries
from pointnet_tf2.utils.files import temporary_target
from pointnet_tf2.utils.locking import FolderLockedError
from pointnet_tf2.utils.locking import run_lock

# Children import this checkout of the package, not the installed one.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), os.environ.get("PYTHONPATH", "")])}
HOLD = textwrap.dedent("""
    import sys, time
    from pointnet_tf2.utils.locking import run_lock
    with run_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(120)
""")


def _holder(folder):
    """A child process holding the run lock of `folder` (waits until it does)."""
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True, env=ENV)
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_second_run_is_refused_while_the_first_lives(tmp_path):
    folder = tmp_path / "run"
    child = _holder(folder)
    try:
        with pytest.raises(FolderLockedError) as caught:
            with run_lock(folder, what="log folder"):
                pass
        message = str(caught.value)
        assert message.startswith(f"{folder}: the log folder is in use by pid {child.pid} on {socket.gethostname()}")
        assert "\n" not in message
        assert folder.is_dir()  # not ours to remove
    finally:
        child.kill()
        child.wait()
    # The kernel released the dead holder's lock: the folder is free, the stale lock is reported and taken over.
    with run_lock(folder) as lock:
        assert lock.stale_holder == f"pid {child.pid} on {socket.gethostname()}"
        assert (folder / ".lock").read_text() == f"pid={os.getpid()}\nhost={socket.gethostname()}\n"
    assert not (folder / ".lock").exists()


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    with run_lock(tmp_path / "run") as lock:
        assert lock.created_folder and lock.stale_holder is None
        with pytest.raises(FolderLockedError, match=f"in use by pid {os.getpid()}"):
            with run_lock(tmp_path / "run"):
                pass
        (tmp_path / "run" / "log.csv").write_text("epoch\n")
    with run_lock(tmp_path / "run"):
        pass
    assert os.listdir(tmp_path / "run") == ["log.csv"]


def test_a_folder_the_lock_created_is_removed_if_the_run_wrote_nothing(tmp_path):
    with pytest.raises(ValueError, match="bad data"):
        with run_lock(tmp_path / "new"):
            raise ValueError("bad data")
    assert not (tmp_path / "new").exists()
    (tmp_path / "existing").mkdir()
    with run_lock(tmp_path / "existing"):
        pass
    assert (tmp_path / "existing").is_dir()  # it was there before: kept, even empty


@pytest.mark.parametrize("name, target", [
    (".last.k2j4_x9a.tmp.keras", "last.keras"),
    (".training_state.abcdefgh.tmp.json", "training_state.json"),
    (".syn_cls.0a1b2c3d.tmp", "syn_cls"),
    (".syn_cls.0a1b2c3d.old", "syn_cls"),
    (".data.v1.0a1b2c3d.tmp", "data.v1"),
    (".saved_model.x_1y2z3w.tmp", "saved_model"),
    ("last.keras", None),
    (".lock", None),
    (".data.prepare-work", None),
    (".notes.tmp", None),
    (".last.short.tmp.keras", None),
])  # fmt: skip
def test_only_the_names_of_our_temporaries_are_recognised(name, target):
    assert temporary_target(name) == target


def test_stale_temporaries_are_removed_but_never_a_live_writers(tmp_path):
    stale = [".last.k2j4_x9a.tmp.keras", ".export.0a1b2c3d.tmp"]
    (tmp_path / stale[0]).write_text("half a checkpoint")
    (tmp_path / stale[1]).mkdir()
    (tmp_path / stale[1] / "saved_model.pb").write_text("half")
    (tmp_path / ".notes.tmp").write_text("the user's")
    (tmp_path / "last.keras").write_text("good")
    with atomic_output(tmp_path / "best.keras") as live:
        with open(live, "w") as f:
            f.write("being written")
        assert remove_stale_temporaries(tmp_path) == []  # a writer is alive in the folder
        assert os.path.exists(live) and (tmp_path / stale[0]).exists()
    assert remove_stale_temporaries(tmp_path, ["best.keras"]) == []
    assert remove_stale_temporaries(tmp_path) == sorted(stale)
    assert sorted(os.listdir(tmp_path)) == [".notes.tmp", "best.keras", "last.keras"]


def test_a_killed_writer_leaves_a_temporary_that_the_next_run_removes(tmp_path):
    script = textwrap.dedent("""
        import sys, time
        from pointnet_tf2.utils import atomic_output
        with atomic_output(sys.argv[1]) as tmp:
            open(tmp, "w").write("half")
            print("writing", flush=True)
            time.sleep(120)
    """)
    child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "last.keras")], stdout=subprocess.PIPE,
                             text=True, env=ENV)
    assert child.stdout.readline().strip() == "writing"
    assert remove_stale_temporaries(tmp_path) == []  # alive: kept
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    time.sleep(0.1)
    [left] = os.listdir(tmp_path)
    assert temporary_target(left) == "last.keras"
    assert remove_stale_temporaries(tmp_path) == [left]
    assert os.listdir(tmp_path) == []
