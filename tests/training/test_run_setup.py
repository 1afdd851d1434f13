"""The run set-up shared by the fit path and the multi-worker loop: `prepare_run`, `Run`, `finish_run`."""

import contextlib
import json

import keras
import pytest

from pointnet_tf2.training import callbacks as cb
from pointnet_tf2.training.cli import main
from pointnet_tf2.training.distribute import ClusterInfo
from pointnet_tf2.training.run_setup import finish_run
from pointnet_tf2.training.run_setup import prepare_run
from pointnet_tf2.training.trainer import TrainConfig

FAST = ["--num_point", "64", "--batch_size", "16", "--verbose", "0", "--visuals_every", "0"]


def _config(tiny_data, log_dir, **overrides):
    values = dict(task="cls", model="pointnet_cls_basic", data=tiny_data("cls"), log_dir=str(log_dir), num_point=64,
                  batch_size=16, max_epoch=1, verbose=0)
    return TrainConfig(**{**values, **overrides})


def _worker(rank, workers=2):
    return ClusterInfo(workers, rank, rank == 0, "worker", rank, tuple(f"host{i}:1" for i in range(workers)))


@pytest.fixture(scope="module")
def finished_run(tiny_data, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("run_setup") / "log"
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--model", "pointnet_cls_basic",
                        "--max_epoch", "1", *FAST]) == 0
    return log_dir


def test_prepare_run_resolves_the_config_data_and_rows(tiny_data, tmp_path):
    with contextlib.ExitStack() as held:
        run = prepare_run(_config(tiny_data, tmp_path / "log"), held)
        assert run.config.distribute == "none" and run.strategy is None and run.cluster is None
        assert run.task.name == "cls" and run.is_chief and run.per_replica == 16
        assert run.log_dir == str(tmp_path / "log") and run.state is None and run.refusal is None
        # The tiny cls data has no "val" split: a 10% hold-out of train.
        assert run.val_split == "train" and len(run.val_indices) == 10 and len(run.train_indices) == 86
        assert run.channels == 3 and "augment" in run.train_options
        assert (tmp_path / "log").is_dir()  # locked while the run is held
    assert not (tmp_path / "log").exists()  # nothing written: the lock's folder goes again


def test_build_sets_the_model_and_the_monitor_and_callbacks_come_by_role(tiny_data, tmp_path):
    with contextlib.ExitStack() as held:
        run = prepare_run(_config(tiny_data, tmp_path / "log"), held)
        train_seq = run.training_sequence(run.train_indices, batch_size=16, seed=0)
        assert len(train_seq) == 86 // 16 and train_seq.drop_remainder
        val_seq = run.validation_sequence(run.val_indices, sampling="fixed")
        assert val_seq.num_samples == 10 and val_seq.sampling == "fixed"
        model = run.build(steps_per_epoch=len(train_seq))
        assert run.model is model and model.optimizer.built and run.monitor == "val_accuracy"
        callbacks = run.make_callbacks(precise_sequence=train_seq, visuals_sequence=val_seq)
    assert run.callbacks is callbacks and callbacks.checkpoint.monitor == "val_accuracy"
    assert callbacks.visuals.sequence is val_seq and callbacks.precise.sequence is train_seq
    order = [type(callback) for callback in callbacks.for_fit()]
    assert order == [cb.BatchNormMomentumScheduler, cb.EpochStatistics, cb.PreciseBatchNorm, cb.DivergenceGuard,
                     cb.AtomicCheckpoint, keras.callbacks.CSVLogger, keras.callbacks.TensorBoard, cb.ValidationVisuals]
    assert [type(c) for c in callbacks.epoch_writers()] == [cb.EpochStatistics, cb.AtomicCheckpoint,
                                                          keras.callbacks.CSVLogger, keras.callbacks.TensorBoard]
    assert callbacks.statistics.momentum_scheduler is callbacks.momentum
    assert str(callbacks.checkpoint.best_path) in callbacks.guard.checkpoint_hint


def test_without_validation_the_monitor_is_the_training_metric(tiny_data, tmp_path):
    with contextlib.ExitStack() as held:
        run = prepare_run(_config(tiny_data, tmp_path / "log", validate_on="none", precise_bn_batches=0), held)
        assert run.val_split is None
        run.build(steps_per_epoch=5)
        callbacks = run.make_callbacks()
    assert run.monitor == "accuracy" and callbacks.checkpoint.monitor == "accuracy"
    assert callbacks.precise is None and callbacks.visuals is None  # no validation: nothing to show


def test_a_multi_worker_chief_keeps_its_refusal_for_the_others_to_learn(tiny_data, finished_run, tmp_path):
    config = _config(tiny_data, finished_run)  # the folder holds a run, and this is no --resume
    with contextlib.ExitStack() as held, pytest.raises(ValueError, match="already holds a training run"):
        prepare_run(config, held)
    with contextlib.ExitStack() as held:
        chief = prepare_run(config, held, cluster=_worker(0))
        assert "already holds a training run" in str(chief.refusal) and chief.state is None
        # The other worker neither locks nor checks the folder: only the chief writes it.
        other = prepare_run(config, held, cluster=_worker(1))
        assert other.refusal is None and not other.is_chief


def test_resume_reads_the_recorded_state(tiny_data, finished_run):
    config = _config(tiny_data, finished_run, resume=True, max_epoch=2)
    with contextlib.ExitStack() as held:
        run = prepare_run(config, held)
        assert run.state["epochs_done"] == 1
        epochs, best_value, best_epoch = run.recorded_start()
        assert (epochs, best_epoch) == (1, 1) and best_value == run.state["best_value"]
        run.build(steps_per_epoch=5)
        run.load_last_checkpoint()
        assert int(run.model.optimizer.iterations.numpy()) == 5
        run.start_after(epochs, best_value, best_epoch)
        callbacks = run.make_callbacks(precise_sequence=None)
    assert run.initial_epoch == 1
    assert (callbacks.checkpoint.best_value, callbacks.checkpoint.best_epoch) == (best_value, 1)


def test_a_last_checkpoint_that_does_not_fit_is_one_line(tiny_data, finished_run, monkeypatch):
    def misfit(self, path):
        raise ValueError("Layer 'dense' expected 2 variables, but received 0 variables during loading.\nDetails")

    monkeypatch.setattr(keras.Model, "load_weights", misfit)
    with contextlib.ExitStack() as held:
        run = prepare_run(_config(tiny_data, finished_run, resume=True, max_epoch=2), held)
        run.build(steps_per_epoch=5)
        with pytest.raises(ValueError) as error:
            run.load_last_checkpoint()
    assert str(error.value) == (f"{finished_run / 'last.keras'}: does not fit the model pointnet_cls_basic for this "
                                "dataset (ValueError: Layer 'dense' expected 2 variables, but received 0 variables "
                                "during loading.)")


def test_run_log_prefixes_multi_worker_lines(tiny_data, tmp_path, capsys):
    config = _config(tiny_data, tmp_path / "log", verbose=1)
    with contextlib.ExitStack() as held:
        alone = prepare_run(config, held)
        capsys.readouterr()
        alone.log("one device")
        other = prepare_run(config, held, cluster=_worker(1))
        other.log("only the chief says this")
        other.log("every worker says this", everyone=True)
    assert capsys.readouterr().out == "one device\n[worker 1/2] every worker says this\n"


def test_finish_run_evaluates_on_the_chief_and_waits_before_the_summary(tiny_data, finished_run, tmp_path, capsys):
    calls = []
    config = _config(tiny_data, finished_run, resume=True, verbose=1)
    with contextlib.ExitStack() as held:
        run = prepare_run(config, held)
        run.build(steps_per_epoch=5)
        run.start_after(*run.recorded_start())
        run.make_callbacks()
        capsys.readouterr()
        result = finish_run(run, 1.5, wait=lambda: calls.append(capsys.readouterr().out), extra_key=7)
    state = json.loads((finished_run / "training_state.json").read_text())
    assert result["best_value"] == state["best_value"] and result["best_epoch"] == 1
    assert result["monitor"] == "val_accuracy" and result["train_seconds"] == 1.5 and result["extra_key"] == 7
    assert result["test"]["num_samples"] == 24
    assert json.loads((finished_run / "test_results.json").read_text()) == result["test"]
    assert calls == [""]  # waited before the summary line
    assert capsys.readouterr().out.startswith("done: best val_accuracy ")

    with contextlib.ExitStack() as held:  # another worker: no test run, no summary, no best value
        other = prepare_run(_config(tiny_data, finished_run, resume=True, test=True), held, cluster=_worker(1))
        other.build(steps_per_epoch=5)
        other.make_callbacks()
        result = finish_run(other, 2.0)
    assert "test" not in result and result["best_value"] is None and result["best_epoch"] is None
    assert result["best_checkpoint"] == str(finished_run / "best.keras")
