"""Distributed training: `--distribute none|mirrored|multi_worker`.

The TensorFlow parts run in subprocesses: logical CPU devices must be set up
before TensorFlow initialises, and each multi-worker process is a worker of
its own. Multi-worker traffic stays on 127.0.0.1.
"""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from pointnet_tf2.training import distribute as dist
from pointnet_tf2.training.cli import build_parser
from pointnet_tf2.training.trainer import TrainConfig

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FAST = ["--num_point", "64", "--batch_size", "16", "--verbose", "2"]


def tf_config(ports, index, task_type="worker"):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": task_type, "index": index}})


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def subprocess_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update({k: str(v) for k, v in extra.items()})
    return env


# -- no TensorFlow needed ---------------------------------------------------------


def test_tf_config_absent_is_a_cluster_of_one():
    info = dist.read_tf_config({})
    assert (info.num_workers, info.worker_index, info.is_chief) == (1, 0, True)


def test_tf_config_ranks_chief_first():
    cluster = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}
    chief = dist.read_tf_config({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "chief", "index": 0}})})
    worker = dist.read_tf_config({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})})
    assert (chief.num_workers, chief.worker_index, chief.is_chief) == (3, 0, True)
    assert (worker.worker_index, worker.is_chief, worker.addresses) == (2, False, ("a:1", "b:1", "c:1"))
    plain = dist.read_tf_config({"TF_CONFIG": tf_config([1, 2], 1)})
    assert (plain.num_workers, plain.worker_index, plain.is_chief) == (2, 1, False)


@pytest.mark.parametrize("text, message", [
    ("{not json", "not a valid cluster description"),
    (json.dumps({"cluster": {"worker": ["a:1"]}}), "not a valid cluster description"),
    (json.dumps({"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}), "no 'chief' or 'worker' tasks"),
    (json.dumps({"cluster": {"worker": ["a:1"], "evaluator": ["b:1"]}, "task": {"type": "evaluator", "index": 0}}),
     "does not train"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}), "index 3 is out of range"),
    (json.dumps({"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}), "host:port"),
])
def test_bad_tf_config(text, message):
    with pytest.raises(ValueError, match=message):
        dist.read_tf_config({"TF_CONFIG": text})


def test_shards_are_disjoint_cover_and_balanced():
    positions = np.arange(100, 203)
    shards = [dist.shard_positions(positions, 3, k) for k in range(3)]
    assert sorted(np.concatenate(shards).tolist()) == positions.tolist()
    assert [len(s) for s in shards] == [35, 34, 34]
    assert shards[1][:3].tolist() == [101, 104, 107]  # strided: each shard spans the whole split
    assert dist.shard_positions(5, 2, 1).tolist() == [1, 3]
    with pytest.raises(ValueError, match="shard index 2 is out of range for 2"):
        dist.shard_positions(positions, 2, 2)


def test_global_batch_must_split_evenly():
    assert dist.replica_batch_size(32, 4) == 8
    with pytest.raises(ValueError, match="--batch_size 30 .* multiple of the 4 replicas"):
        dist.replica_batch_size(30, 4)


def test_mode_flag_and_config():
    args = build_parser("cls").parse_args([])
    assert args.distribute is None and args.sync_batch_norm is False
    assert build_parser("sem_seg").parse_args(["--distribute", "multi_worker"]).distribute == "multi_worker"
    with pytest.raises(SystemExit):
        build_parser("part_seg").parse_args(["--distribute", "horovod"])
    with pytest.raises(ValueError, match="--distribute must be none, mirrored or multi_worker, got 'gpu'"):
        TrainConfig(task="cls", distribute="gpu").resolved()
    assert TrainConfig(task="cls").resolved().distribute is None


def test_automatic_mode_without_gpus():
    import tensorflow as tf

    expected = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "none"
    assert dist.resolve_mode(None) == expected
    assert dist.resolve_mode("multi_worker") == "multi_worker"


def test_timeouts_from_environment(monkeypatch):
    monkeypatch.delenv(dist.ENV_COLLECTIVE_TIMEOUT, raising=False)
    assert dist.collective_timeout() == dist.DEFAULT_COLLECTIVE_TIMEOUT
    monkeypatch.setenv(dist.ENV_STARTUP_TIMEOUT, "12.5")
    assert dist.startup_timeout() == 12.5
    monkeypatch.setenv(dist.ENV_COLLECTIVE_TIMEOUT, "soon")
    with pytest.raises(ValueError, match="POINTNET_TF2_COLLECTIVE_TIMEOUT must be a positive number of seconds, got 'soon'"):
        dist.collective_timeout()


def test_first_line_of_tensorflow_errors():
    error = RuntimeError("{{function_node __inference_step_12}} Collective ops is aborted by: peer down\nmore\n")
    assert dist.first_line(error) == "Collective ops is aborted by: peer down"


# -- mirrored on 2 logical CPU devices (default run) ------------------------------


@pytest.fixture(scope="module")
def mirrored_report(tiny_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mirrored")
    out = folder / "report.json"
    log_dir = folder / "log"
    proc = subprocess.run([sys.executable, os.path.join(HERE, "distributed_mirrored_helper.py"), tiny_data("cls"),
                           str(log_dir), str(out)], env=subprocess_env(), capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), log_dir


def test_mirrored_step_with_synchronised_batch_norm_equals_one_device(mirrored_report):
    report = mirrored_report[0]["sync"]
    assert report["replicas"] == 2
    assert report["mirrored"]["loss"] == pytest.approx(report["single"]["loss"], rel=1e-5)
    assert report["mirrored"]["accuracy"] == report["single"]["accuracy"]
    # Weights after one SGD step: the same up to float32 rounding (measured 2e-7 for steps up to 0.02).
    assert report["max_update"] > 1e-3
    assert report["max_trainable_diff"] < 1e-4 * report["max_update"]
    assert report["max_moving_relative_diff"] < 1e-3


def test_mirrored_step_with_per_replica_batch_norm(mirrored_report):
    report = mirrored_report[0]["per_replica"]
    halves = report["halves"]
    # Each replica normalises with its own 4 clouds: the loss (regulariser
    # included) is the mean of the one-device losses of the half batches ...
    assert report["mirrored"]["loss"] == pytest.approx(np.mean([h["loss"] for h in halves]), rel=1e-5)
    assert report["mirrored"]["regularization_loss"] == pytest.approx(
        np.mean([h["regularization_loss"] for h in halves]), rel=1e-5)
    assert report["mirrored"]["regularization_loss"] > 1.0
    # ... and the step follows the mean of their gradients.
    assert report["max_diff_to_mean_half_gradient_step"] < 1e-4 * report["max_update"]
    # Moving statistics: per replica during the epoch, averaged at its end.
    assert report["replicas_differed_before"] > 1e-6
    assert report["replicas_differ_after"] == 0.0
    assert report["first_bn"] == "transform_net1_tconv1_bn"
    assert report["first_bn_moving_mean_diff"] < 1e-6
    assert "once per replica" in report["sync_refused"]


def test_mirrored_run_trains_two_epochs_and_resumes(mirrored_report):
    report, log_dir = mirrored_report
    run = report["run"]
    assert run["status"] == 0
    assert "distribute: mirrored over 2 replica(s) (CPU:0, CPU:1)" in run["stdout"]
    assert "global batch 16 = 2 x 8 per replica" in run["stdout"]
    assert run["resume_status"] == 0
    assert "after epoch 2 (optimizer step 10)" in run["stdout"]
    rows = read_csv(log_dir / "log.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for key in ("loss", "accuracy", "mean_class_accuracy", "val_loss", "val_accuracy", "learning_rate", "bn_momentum"):
        assert np.isfinite(float(rows[-1][key])), key
    config = json.loads((log_dir / "config.json").read_text())
    assert config["train_config"]["distribute"] == "mirrored"
    state = json.loads((log_dir / "training_state.json").read_text())
    assert state["epochs_done"] == 3

    import keras

    model = keras.saving.load_model(log_dir / "last.keras")
    # 86 training clouds (96 minus a 10% hold-out): 5 full global batches of 16 per epoch.
    assert int(model.optimizer.iterations) == 15
    assert model.builder == "pointnet_cls_basic"


# -- multi_worker: two processes on 127.0.0.1 (slow) ------------------------------


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_workers(folder, args, *, count=2, timeout=300, env_for=None, only=None, wait_for=None):
    """Runs `count` multi-worker processes of `train_cls.py args`; returns [(status, output)].

    Waits for the processes of `wait_for` (default all), then kills every
    process still running (status None); likewise if the time runs out or the
    test fails.
    """
    ports = free_ports(count)
    procs, logs = [], []
    try:
        for index in range(count):
            if only is not None and index not in only:
                continue
            extra = {"TF_CONFIG": tf_config(ports, index)}
            extra.update((env_for or (lambda i: {}))(index))
            log = open(os.path.join(folder, f"worker{index}-{time.monotonic_ns()}.log"), "w+")
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, os.path.join(HERE, "distributed_worker_helper.py"), "cls", *args],
                env=subprocess_env(**extra), stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + timeout
        for i, proc in enumerate(procs):
            if wait_for is None or i in wait_for:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        results = []
        for proc, log in zip(procs, logs):
            log.seek(0)
            results.append((proc.poll(), log.read()))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs:
            log.close()


def samples(path):
    by_epoch = {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            by_epoch.setdefault(record["epoch"], []).extend(record["rows"])
    return by_epoch


@pytest.mark.slow
def test_multi_worker_two_processes(tiny_data, tmp_path):
    import keras

    from pointnet_tf2.data import PointCloudSequence
    from pointnet_tf2.data import open_dataset
    from pointnet_tf2.training.trainer import validation_rows

    log_dir = tmp_path / "log"
    args = ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--max_epoch", "2", "--visuals_every", "1",
            "--distribute", "multi_worker", *FAST]
    start = time.monotonic()
    results = run_workers(tmp_path, args, env_for=lambda i: {"DISTRIBUTED_SAMPLES_LOG": tmp_path / f"samples{i}.jsonl"})
    elapsed = time.monotonic() - start
    for status, output in results:
        assert status == 0, output[-3000:]
    chief, other = results[0][1], results[1][1]
    assert "[worker 0/2] distribute: multi_worker over 2 worker(s) x 1 device(s) (CPU:0) = 2 replica(s)" in chief
    assert "global batch 16 = 2 x 8 per replica" in chief
    assert "[worker 1/2] done: 2 epoch(s) of 5 steps" in other
    print(f"two workers, 2 epochs: {elapsed:.1f} s")

    # Disjoint shards: 86 training clouds, 43 per worker, 5 steps of 8 each per epoch.
    seen = [samples(tmp_path / f"samples{i}.jsonl") for i in range(2)]
    for epoch in (1, 2):
        a, b = seen[0][epoch], seen[1][epoch]
        assert len(a) == len(set(a)) == 40 and len(b) == len(set(b)) == 40
        assert not set(a) & set(b)
    description = open_dataset(tiny_data("cls"), task="cls")
    config = TrainConfig(task="cls", data=tiny_data("cls")).resolved()
    train_rows = set(description.split_rows("train")[validation_rows(description, config)[0]].tolist())
    assert set(seen[0][1]) | set(seen[1][1]) <= train_rows

    # The chief's checkpoint loads and carries the 10 global steps; the
    # sharded, summed validation equals evaluating the whole hold-out with it.
    model = keras.saving.load_model(log_dir / "last.keras")
    assert int(model.optimizer.iterations) == 10
    rows = read_csv(log_dir / "log.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    for key in ("loss", "accuracy", "mean_class_accuracy", "regularization_loss", "learning_rate", "bn_momentum",
                "steps_per_second", "val_loss", "val_accuracy", "val_mean_class_accuracy", "val_regularization_loss"):
        assert key in rows[-1], key
    _, val_split, val_indices = validation_rows(description, config)
    val = PointCloudSequence(description, split=val_split, indices=val_indices, num_points=64, batch_size=16,
                             augment=False, shuffle=False, sampling="fixed")
    evaluated = model.evaluate(val, verbose=0, return_dict=True)
    assert float(rows[-1]["val_loss"]) == pytest.approx(evaluated["loss"], rel=1e-4)
    assert float(rows[-1]["val_accuracy"]) == pytest.approx(evaluated["accuracy"], abs=1e-6)
    for name in ("best.keras", "config.json", "training_state.json", "test_results.json"):
        assert (log_dir / name).is_file(), name
    assert any(name.startswith("events.out") for name in os.listdir(log_dir / "train"))
    assert os.path.isdir(log_dir / "validation")


@pytest.mark.slow
def test_multi_worker_failure_stops_the_others_and_resume_continues(tiny_data, tmp_path):
    import keras

    log_dir = tmp_path / "log"
    args = ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--max_epoch", "3", "--visuals_every", "0",
            "--distribute", "multi_worker", "--model", "pointnet_cls_basic", *FAST]
    # Worker 1 dies as epoch 2 starts: the chief must stop with a clear error, soon.
    start = time.monotonic()
    results = run_workers(tmp_path, args, env_for=lambda i: {"DISTRIBUTED_DIE_AT_EPOCH": 2} if i == 1 else {})
    elapsed = time.monotonic() - start
    (chief_status, chief), (other_status, _) = results
    assert other_status == 17
    assert chief_status == 1, chief[-3000:]
    assert "train_cls.py: error: worker 0 of 2: training stopped because another worker failed" in chief
    assert "restart every worker with --resume" in chief
    assert elapsed < 120
    assert json.loads((log_dir / "training_state.json").read_text())["epochs_done"] == 1
    print(f"failure detected after {elapsed:.1f} s (including start-up)")

    # Both restarted with --resume: epochs 2 and 3, the step counter continues.
    results = run_workers(tmp_path, args + ["--resume"])
    for status, output in results:
        assert status == 0, output[-3000:]
    assert "resuming" in results[0][1] and "after epoch 1 (optimizer step 5)" in results[0][1]
    assert [int(r["epoch"]) for r in read_csv(log_dir / "log.csv")] == [0, 1, 2]
    assert int(keras.saving.load_model(log_dir / "last.keras").optimizer.iterations) == 15

    # A frozen worker (no connection reset): the heartbeats of TensorFlow's
    # coordination service give it away.
    start = time.monotonic()
    results = run_workers(tmp_path, ["--data", tiny_data("cls"), "--log_dir", str(tmp_path / "frozen"),
                                     "--max_epoch", "3", "--visuals_every", "0", "--no_test", "--distribute",
                                     "multi_worker", "--model", "pointnet_cls_basic", *FAST],
                          env_for=lambda i: {"DISTRIBUTED_FREEZE_AT_EPOCH": 2} if i == 1 else {}, wait_for=[0])
    elapsed = time.monotonic() - start
    (chief_status, chief), (other_status, _) = results
    assert chief_status == 1 and other_status is None, chief[-3000:]
    assert "training stopped because another worker failed or could not be reached" in chief
    assert elapsed < 120
    print(f"frozen worker detected; the chief stopped {elapsed:.1f} s after start")

    # A worker that never comes: the other gives up after the start-up timeout.
    start = time.monotonic()
    [(status, output)] = run_workers(tmp_path, ["--data", tiny_data("cls"), "--log_dir", str(tmp_path / "lonely"),
                                                "--distribute", "multi_worker", *FAST],
                                     env_for=lambda i: {dist.ENV_STARTUP_TIMEOUT: 5}, only=[0])
    assert status == 1 and "did not come up within 5 s" in output, output[-3000:]
    assert time.monotonic() - start < 60
