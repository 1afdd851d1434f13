"""EpochStatistics (learning rate, BN momentum and training steps/s in the epoch logs); the visuals' predictions."""

import types

import keras
import numpy as np
import pytest

from pointnet_tf2.tasks import get_task
from pointnet_tf2.training import callbacks as callbacks_module
from pointnet_tf2.training.callbacks import EpochStatistics
from pointnet_tf2.training.callbacks import ValidationVisuals


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _statistics_with_clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(callbacks_module.time, "perf_counter", clock)
    optimizer = types.SimpleNamespace(iterations=keras.Variable(0, dtype="int64"), learning_rate=keras.Variable(0.001))
    statistics = EpochStatistics()
    statistics.set_model(types.SimpleNamespace(optimizer=optimizer))
    return statistics, clock, optimizer


def _epoch(statistics, clock, optimizer, epoch, *, train_seconds, steps, validation_seconds=None):
    """One simulated epoch; returns its logs."""
    statistics.on_epoch_begin(epoch)
    clock.now += train_seconds
    optimizer.iterations.assign_add(steps)
    if validation_seconds is not None:
        statistics.on_test_begin()
        clock.now += validation_seconds
        statistics.on_test_begin()  # a second evaluation in the same epoch changes nothing
    logs = {}
    statistics.on_epoch_end(epoch, logs)
    return logs


def test_steps_per_second_counts_training_time_only(monkeypatch):
    statistics, clock, optimizer = _statistics_with_clock(monkeypatch)
    logs = _epoch(statistics, clock, optimizer, 0, train_seconds=4.0, steps=8, validation_seconds=6.0)
    assert logs["steps_per_second"] == 2.0
    assert abs(logs["learning_rate"] - 0.001) < 1e-9


def test_steps_per_second_without_validation_uses_the_whole_epoch(monkeypatch):
    statistics, clock, optimizer = _statistics_with_clock(monkeypatch)
    assert _epoch(statistics, clock, optimizer, 0, train_seconds=5.0, steps=10)["steps_per_second"] == 2.0
    # The next epoch starts its own clock, and an evaluate() outside an epoch is ignored.
    statistics.on_test_begin()
    assert _epoch(statistics, clock, optimizer, 1, train_seconds=1.0, steps=3)["steps_per_second"] == 3.0


@pytest.mark.parametrize("task, outputs, targets, expected, labels", [
    # Part segmentation: the prediction keeps to the cloud's category (parts 0-1, then 2-3).
    ("part_seg", {"parts": np.array([[[0.0, 1.0, 5.0, 0.0]], [[9.0, 0.0, 1.0, 2.0]]]), "category": np.zeros((2, 2))},
     {"parts": np.array([[1], [2]]), "category": np.array([0, 1])}, [[1], [3]], [[1], [2]]),
    ("cls", np.array([[0.0, 3.0, 1.0], [2.0, 0.0, 1.0]]), np.array([1, 2]), [1, 0], [1, 2]),
])
def test_visuals_predict_through_the_task(task, outputs, targets, expected, labels):
    visuals = ValidationVisuals("unused", None, ["a", "b", "c", "d"], task=get_task(task),
                                category_parts=[[0, 1], [2, 3]])
    visuals.set_model(lambda inputs, training: outputs)
    predicted, true = visuals._predict(None, targets)
    assert predicted.tolist() == expected and true.tolist() == labels
