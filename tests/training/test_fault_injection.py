"""Fault injection: SIGKILL `train_cls.py` and `prepare` at many points, then `--resume`.

Every kill lands at a seeded random point: during start-up, in an epoch, while
a checkpoint is being written, or right after an epoch was committed (for
`prepare`: during the conversion, while a work shard is written, while the
dataset is published). After each kill the folder is recovered as the next
`--resume` does first (under the run lock) and checked: `log.csv` holds
epochs 0..k-1 once each without torn rows, `last.keras`, `best.keras` and
`training_state.json` describe the same epochs and load, no temporary is
left, and at most the epoch (or the work shards) in progress was lost.
"""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import h5py
import keras
import numpy as np
import pytest

from pointnet_tf2.data import load_split
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.conversion import MANIFEST
from pointnet_tf2.data.conversion import work_dir_for
from pointnet_tf2.data.prepare import prepare_dataset
from pointnet_tf2.data.synthetic import generate_synthetic
from pointnet_tf2.training import callbacks

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 17
TRAIN_KILLS = 20
PREPARE_KILLS = 8
NUM_TRAIN, BATCH = 32, 8
STEPS = -(-NUM_TRAIN // BATCH)  # optimizer steps per epoch (no validation hold-out)


def _env(tmp_path):
    return {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2",
            "POINTNET_TF2_CACHE": str(tmp_path / "cache")}


def _spawn(argv, tmp_path, name):
    """Starts a command in its own process group (so the kill takes its workers too)."""
    err = open(tmp_path / f"{name}.err", "w")
    return subprocess.Popen([sys.executable, *argv], env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=err,
                            start_new_session=True)


def _kill_when(process, ready, delay, progress, timeout=300):
    """SIGKILLs `process` `delay` seconds after `ready()` holds.

    Returns:
        `progress()` sampled just before the kill, or None if the process
        ended by itself first.
    """
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            return None
        assert time.monotonic() < deadline, "the process never reached the kill point"
        time.sleep(0.002)
    end = time.monotonic() + delay
    while time.monotonic() < end:
        if process.poll() is not None:
            return None
        time.sleep(0.002)
    before = progress()
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return before


def _hidden(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith("."))


# --- training ----------------------------------------------------------------------------------


def _epochs_done(log_dir):
    try:
        with open(os.path.join(log_dir, callbacks.STATE_FILE)) as f:
            return int(json.load(f)["epochs_done"])
    except (OSError, ValueError, KeyError):  # not there yet (it is always replaced whole)
        return 0


def _optimizer_step(path):
    """The optimizer step stored in a `.keras` checkpoint (Adam's `iterations`)."""
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None, f"{path}: damaged"
        weights = archive.read("model.weights.h5")
    with h5py.File(io.BytesIO(weights), "r") as f:
        return int(f["optimizer/vars/0"][()])


def _log_rows(log_dir):
    """The rows of `log.csv`, checking that every line is whole."""
    with open(os.path.join(log_dir, "log.csv"), "rb") as f:
        text = f.read().decode("utf-8")
    assert text.endswith("\r\n"), f"log.csv ends with a torn line: {text[-80:]!r}"
    lines = list(csv.reader(io.StringIO(text, newline="")))
    header = lines[0]
    for line in lines[1:]:
        assert len(line) == len(header), f"log.csv: torn row {line}"
    return [dict(zip(header, line)) for line in lines[1:]]


def _check_recovered_run(log_dir, at_least):
    """Checks a recovered run folder; returns its committed epochs."""
    assert _hidden(log_dir) == [], "temporaries left behind"
    state = callbacks.read_state(log_dir)
    if state is None:
        assert not os.path.exists(os.path.join(log_dir, "last.keras"))
        assert at_least == 0
        return 0
    done = int(state["epochs_done"])
    assert done >= at_least, f"committed epochs went back from {at_least} to {done}"
    rows = _log_rows(log_dir)
    assert [int(row["epoch"]) for row in rows] == list(range(done)), "log.csv is not epochs 0..k-1 once each"
    last, best = os.path.join(log_dir, "last.keras"), os.path.join(log_dir, "best.keras")
    assert _optimizer_step(last) == done * STEPS, "last.keras is not the committed epoch"
    best_epoch = state["best_epoch"]
    assert 1 <= best_epoch <= done and _optimizer_step(best) == best_epoch * STEPS, "best.keras is not its epoch"
    assert float(rows[best_epoch - 1][state["monitor"]]) == state["best_value"]
    assert max(float(row[state["monitor"]]) for row in rows) == state["best_value"]
    for path in (last, best):
        keras.saving.load_model(path, compile=False)
    return done


@pytest.mark.timeout(1500)
def test_training_survives_sigkill_anywhere(tmp_path):
    data = generate_synthetic("cls", tmp_path / "data", num_train=NUM_TRAIN, num_test=8, num_points=64)
    log_dir = str(tmp_path / "log")
    args = [os.path.join(ROOT, "train_cls.py"), "--data", data, "--log_dir", log_dir, "--model", "pointnet_cls_basic",
            "--num_point", "32", "--batch_size", str(BATCH), "--validate_on", "none", "--visuals_every", "0",
            "--no_test", "--verbose", "0"]
    rng = np.random.default_rng(SEED)
    done, kills, repairs = 0, [], []

    def hidden_write():
        return os.path.isdir(log_dir) and any(n != ".lock" for n in _hidden(log_dir))

    for kill in range(TRAIN_KILLS):
        resume = ["--resume"] if callbacks.read_state(log_dir) else []
        process = _spawn(args + resume + ["--max_epoch", "100000"], tmp_path, f"train{kill}")
        where = rng.choice(["start-up", "epoch", "checkpoint write", "commit"], p=[0.2, 0.3, 0.3, 0.2])
        if where == "start-up":
            ready, delay = (lambda: True), rng.uniform(0.0, 15.0)
        elif where == "epoch":
            target = done + 1 + int(rng.integers(0, 2))
            ready, delay = (lambda: _epochs_done(log_dir) >= target), rng.uniform(0.0, 1.5)
        elif where == "checkpoint write":
            ready, delay = hidden_write, rng.uniform(0.0, 0.4)
        else:
            ready, delay = (lambda: _epochs_done(log_dir) > done), rng.uniform(0.0, 0.05)
        before = _kill_when(process, ready, delay, lambda: _epochs_done(log_dir))
        assert before is not None, open(tmp_path / f"train{kill}.err").read()[-3000:]
        kills.append(f"{where} +{delay:.3f}s at epoch {before}")
        # What --resume does first: take the lock (the kernel released the dead run's) and recover.
        notes = []
        with callbacks.locked_run_folder(log_dir, log=notes.append):
            assert callbacks.recover_run_folder(log_dir) == []  # nothing left to repair
        repairs.extend(note for note in notes if "took over the lock" not in note)
        if not os.path.isdir(log_dir):
            continue  # killed before the run created anything
        done = _check_recovered_run(log_dir, at_least=before)
    assert done >= 3, f"too little progress between the kills: {kills}"

    final = subprocess.run([sys.executable, *args, "--resume", "--max_epoch", str(done + 2)], env=_env(tmp_path),
                           capture_output=True, text=True)
    assert final.returncode == 0, final.stderr[-3000:]
    assert _check_recovered_run(log_dir, at_least=done + 2) == done + 2
    print(f"\n{len(kills)} kills: " + "; ".join(kills) + f"\n{len(repairs)} repairs: " + "; ".join(repairs))


# --- prepare -----------------------------------------------------------------------------------


def _write_raw(root, rng, per_split=12, points=20000):
    for name in ("a", "b"):
        for split in ("train", "test"):
            folder = os.path.join(root, name, split)
            os.makedirs(folder)
            for i in range(per_split):
                np.savetxt(os.path.join(folder, f"{name}{i}.xyz"), rng.normal(size=(points, 3)), fmt="%.4f")


def _manifest(output):
    try:
        with open(os.path.join(work_dir_for(output), MANIFEST)) as f:
            return json.load(f)  # always replaced whole
    except FileNotFoundError:
        return None


def _recorded_shards(output):
    """The work shards the manifest records as finished (checking each one is whole)."""
    work = work_dir_for(output)
    manifest = _manifest(output)
    if manifest is None:
        return 0
    for shard in manifest["shards"]:
        if shard["file"]:
            with h5py.File(os.path.join(work, shard["file"]), "r") as f:
                assert len(f["data"]) == shard["rows"]
    return len(manifest["shards"])


def _same_dataset(output, reference):
    got, want = open_dataset(output), open_dataset(reference)
    assert got.class_names == want.class_names and got.splits == want.splits
    for split in ("train", "test"):
        a, b = load_split(got, split), load_split(want, split)
        np.testing.assert_array_equal(a["points"], b["points"])
        np.testing.assert_array_equal(a["labels"], b["labels"])


@pytest.mark.timeout(900)
def test_prepare_survives_sigkill_anywhere(tmp_path):
    rng = np.random.default_rng(SEED)
    raw, output, reference = str(tmp_path / "raw"), str(tmp_path / "out"), str(tmp_path / "reference")
    _write_raw(raw, rng)
    options = dict(num_points=64, shard_size=3, seed=0)
    prepare_dataset(raw, reference, workers=1, progress=False, log=None, **options)
    args = ["-m", "pointnet_tf2", "prepare", raw, output, "--num_point", "64", "--shard_size", "3", "--workers", "2",
            "--no_progress", "--resume"]
    work = work_dir_for(output)

    def staged():
        return any(name.startswith(".out.") and name.endswith(".tmp") for name in os.listdir(tmp_path))

    def shard_write():
        return os.path.isdir(work) and any(name.startswith(".shard-") for name in os.listdir(work))

    kills, finished = [], 0
    for cycle in range(2 * PREPARE_KILLS):
        if len(kills) == PREPARE_KILLS:
            break
        if os.path.exists(output) and not os.path.exists(work):
            shutil.rmtree(output)  # the last run finished before its kill point: start over
        process = _spawn(args, tmp_path, f"prepare{cycle}")
        where = rng.choice(["start-up", "conversion", "shard write", "publish"], p=[0.2, 0.4, 0.2, 0.2])
        if where == "start-up":
            ready, delay = (lambda: True), rng.uniform(0.0, 10.0)
        elif where == "conversion":
            ready, delay = (lambda: os.path.exists(os.path.join(work, MANIFEST))), rng.uniform(0.0, 1.0)
        elif where == "shard write":
            ready, delay = shard_write, rng.uniform(0.0, 0.02)
        else:
            ready, delay = staged, rng.uniform(0.0, 0.1)
        before = _kill_when(process, ready, delay, lambda: len((_manifest(output) or {"shards": []})["shards"]))
        if before is None:  # it finished before the kill point
            assert process.returncode == 0, open(tmp_path / f"prepare{cycle}.err").read()[-3000:]
            finished += 1
            _same_dataset(output, reference)
            continue
        kills.append(f"{where} +{delay:.3f}s with {before} shards")
        # Never a half dataset; the finished work shards are kept (the ones in flight are lost).
        if os.path.exists(output):
            _same_dataset(output, reference)
        if os.path.isdir(work):
            assert _recorded_shards(output) >= before
        else:
            assert before == 0 or os.path.exists(output)  # else it was published and its work folder removed
    assert len(kills) == PREPARE_KILLS, f"only {len(kills)} kills landed: {kills}"
    final = subprocess.run([sys.executable, *args], env=_env(tmp_path), capture_output=True, text=True)
    assert final.returncode == 0 or "exists and is not empty" in final.stderr, final.stderr[-3000:]
    _same_dataset(output, reference)
    assert not os.path.exists(work)
    assert _hidden(tmp_path) == [], "temporaries left behind"
    assert not [name for name in os.listdir(output) if name.startswith(".") and name != ".pointnet_tf2_output"]
    print(f"\n{len(kills)} kills ({finished} runs finished before their kill point): " + "; ".join(kills))
