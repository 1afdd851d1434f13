"""One run per log folder (the run lock), and a run folder recovered after a kill."""

import csv
import json
import os
import subprocess
import sys
import time

import keras
import pytest

from pointnet_tf2.training import callbacks
from pointnet_tf2.training.cli import main
from pointnet_tf2.training.trainer import TrainConfig
from pointnet_tf2.training.trainer import train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST = ["--num_point", "64", "--batch_size", "16", "--verbose", "0", "--visuals_every", "0", "--no_test",
        "--model", "pointnet_cls_basic"]


def _epochs(log_dir):
    with open(os.path.join(log_dir, "log.csv"), newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _hidden(log_dir):
    return sorted(name for name in os.listdir(log_dir) if name.startswith("."))


def test_two_trainings_into_one_log_dir_at_once(tiny_data, tmp_path, capsys):
    log_dir = tmp_path / "log"
    first = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "train_cls.py"), "--data", tiny_data("cls"), "--log_dir", str(log_dir),
         "--max_epoch", "2", *FAST],
        env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (log_dir / ".lock").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first run never took its lock"
            time.sleep(0.05)
        assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--max_epoch", "1", *FAST]) == 1
        err = capsys.readouterr().err
        assert err == (f"train_cls.py: error: {log_dir}: the log folder is in use by pid {first.pid} on "
                       f"{os.uname().nodename} (lock file {log_dir / '.lock'}); wait for that run to end or "
                       "choose another folder\n")
    finally:
        _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert _epochs(log_dir) == [0, 1]  # the first run alone
    assert callbacks.read_state(log_dir)["epochs_done"] == 2
    assert _hidden(log_dir) == []  # lock released


def test_a_run_that_fails_its_checks_leaves_no_log_dir(tiny_data, tmp_path, capsys):
    log_dir = tmp_path / "log"
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--use_normals", *FAST]) == 1
    assert "--use_normals, but the points have 3 channels" in capsys.readouterr().err
    assert not log_dir.exists()
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--resume", *FAST]) == 1
    assert "nothing to resume" in capsys.readouterr().err
    assert not log_dir.exists()
    log_dir.mkdir()  # a folder the user made is theirs: kept
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--resume", *FAST]) == 1
    assert log_dir.is_dir() and os.listdir(log_dir) == []


def test_a_run_killed_between_commit_and_rename_resumes_consistently(tiny_data, tmp_path, monkeypatch):
    log_dir = tmp_path / "log"
    args = ["--data", tiny_data("cls"), "--log_dir", str(log_dir), *FAST]
    assert main("cls", args + ["--max_epoch", "1"]) == 0
    epoch_1 = (log_dir / "last.keras").read_bytes()

    def killed(*_):  # the process dies right after training_state.json committed epoch 2
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(callbacks, "_commit_pending", killed)
        assert main("cls", args + ["--max_epoch", "2", "--resume"]) == 130
    assert callbacks.read_state(log_dir)["epochs_done"] == 2
    assert (log_dir / "last.keras").read_bytes() == epoch_1  # not renamed yet
    assert ".last.epoch-000002.pending.keras" in _hidden(log_dir)
    assert _epochs(log_dir) == [0]  # CSVLogger never saw epoch 2
    epoch_2 = (log_dir / ".last.epoch-000002.pending.keras").read_bytes()
    # A stale temporary of a killed atomic write, and a pending checkpoint of an epoch never committed.
    (log_dir / ".test_results.abcd1234.tmp.json").write_text("{")
    (log_dir / ".last.epoch-000003.pending.keras").write_text("half")

    callbacks.recover_run_folder(str(log_dir))  # what the next run does first, holding the lock
    assert (log_dir / "last.keras").read_bytes() == epoch_2
    assert _epochs(log_dir) == [0, 1] and _hidden(log_dir) == []
    keras.saving.load_model(log_dir / "last.keras", compile=False)
    keras.saving.load_model(log_dir / "best.keras", compile=False)

    assert main("cls", args + ["--max_epoch", "3", "--resume"]) == 0
    assert _epochs(log_dir) == [0, 1, 2]
    assert callbacks.read_state(log_dir)["epochs_done"] == 3
    assert _hidden(log_dir) == []


def _write_state(log_dir, done, pending, logs):
    callbacks.write_state(str(log_dir), {"epochs_done": done, "monitor": "val_accuracy", "mode": "max",
                                         "best_value": 0.5, "best_epoch": 1, "pending": pending, "logs": logs})


def test_recover_commits_the_last_epoch_and_drops_an_uncommitted_one(tmp_path):
    (tmp_path / "last.keras").write_text("epoch 2")
    (tmp_path / "best.keras").write_text("epoch 1")
    (tmp_path / callbacks.pending_name("last.keras", 3)).write_text("epoch 3")
    (tmp_path / callbacks.pending_name("best.keras", 3)).write_text("epoch 3")
    (tmp_path / callbacks.pending_name("last.keras", 4)).write_text("half of epoch 4")
    _write_state(tmp_path, 3, ["last.keras", "best.keras"], {"loss": 0.25, "accuracy": 0.75})
    (tmp_path / "log.csv").write_bytes(b"epoch,accuracy,loss\r\n0,0.5,1.0\r\n1,0.6,0.5\r\n")
    notes = callbacks.recover_run_folder(str(tmp_path))
    assert (tmp_path / "last.keras").read_text() == "epoch 3" and (tmp_path / "best.keras").read_text() == "epoch 3"
    assert _hidden(tmp_path) == []
    assert (tmp_path / "log.csv").read_bytes() == b"epoch,accuracy,loss\r\n0,0.5,1.0\r\n1,0.6,0.5\r\n2,0.75,0.25\r\n"
    assert any("epoch 4 was never committed" in note for note in notes)
    assert callbacks.recover_run_folder(str(tmp_path)) == []  # nothing left to do


@pytest.mark.parametrize("text", [
    b"epoch,accuracy,loss\r\n0,0.5,1.0\r\n1,0.6,0.5\r\n2,0.7",  # torn row
    b"epoch,accuracy,loss\r\n0,0.5,1.0\r\n1,0.6,0.5\r\n1,0.6,0.5\r\n2,0.7,0.3\r\n3,0.8,0.2\r\n",  # twice, uncommitted
])  # fmt: skip
def test_recover_repairs_the_log(tmp_path, text):
    _write_state(tmp_path, 3, ["last.keras"], {"loss": 0.3, "accuracy": 0.7})
    (tmp_path / "log.csv").write_bytes(text)
    callbacks.recover_run_folder(str(tmp_path))
    with open(tmp_path / "log.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["epoch", "accuracy", "loss"], ["0", "0.5", "1.0"], ["1", "0.6", "0.5"], ["2", "0.7", "0.3"]]


def test_recover_leaves_a_folder_without_a_run_alone(tmp_path):
    (tmp_path / "log.csv").write_text("epoch,loss\n0,1\n")
    (tmp_path / "notes.txt").write_text("mine")
    assert callbacks.recover_run_folder(str(tmp_path)) == []
    assert sorted(os.listdir(tmp_path)) == ["log.csv", "notes.txt"]


def test_the_state_names_what_it_commits(tiny_data, tmp_path):
    config = TrainConfig(task="cls", data=tiny_data("cls"), model="pointnet_cls_basic", log_dir=str(tmp_path / "log"),
                         num_point=64, batch_size=16, max_epoch=1, verbose=0, visuals_every=0, test=False)
    train(config)
    with open(tmp_path / "log" / callbacks.STATE_FILE) as f:
        state = json.load(f)
    assert state["pending"] == ["last.keras", "best.keras"] and "loss" in state["logs"]
    assert _hidden(tmp_path / "log") == []
