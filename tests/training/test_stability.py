"""Training on real shapes: full batches only, the divergence guard, the original's settings."""

import csv

import keras
import numpy as np
import pytest

from pointnet_tf2.data import PointCloudSequence
from pointnet_tf2.data.meshes import reorient
from pointnet_tf2.data.voxels import grid_surface_points
from pointnet_tf2.data.writers import write_modelnet_layout
from pointnet_tf2.training import callbacks as cb
from pointnet_tf2.training.cli import main
from pointnet_tf2.training.trainer import TrainConfig

FAST = ["--num_point", "128", "--batch_size", "16", "--verbose", "0", "--visuals_every", "0"]
CLASSES = ("chair", "monitor", "sofa", "toilet")  # labels 2, 5, 7, 9 of the archive


@pytest.fixture(scope="module")
def real_shapes(shared_voxels, tmp_path_factory):
    """66 training clouds (4 full batches of 16 and a remainder of 2) and 16 test clouds of real shapes."""
    grids, labels = shared_voxels
    rng = np.random.default_rng(0)
    picked = {name: rng.permutation(np.flatnonzero((labels == label) & grids.any(axis=(1, 2, 3))))[:21]
              for name, label in zip(CLASSES, (2, 5, 7, 9))}
    points, targets = [], []
    for index, rows in enumerate(picked.values()):
        for row in rows:
            cloud = reorient(grid_surface_points(grids[row], 256, rng=rng), "z", "y")
            cloud -= cloud.mean(axis=0)
            points.append(cloud / np.linalg.norm(cloud, axis=1).max())
            targets.append(index)
    points, targets = np.asarray(points, np.float32), np.asarray(targets)
    order = rng.permutation(len(points))
    train, test = order[:66], order[66:82]
    root = tmp_path_factory.mktemp("real") / "modelnet4"
    write_modelnet_layout(root, {"train": (points[train], targets[train]), "test": (points[test], targets[test])},
                          list(CLASSES))
    return str(root)


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_training_batches_are_full_and_stable_on_real_shapes(real_shapes, tmp_path):
    # Before the fix the epoch ended with a batch of 2: batch norm over 2 samples blew the feature transform up.
    log_dir = tmp_path / "log"
    args = ["--data", real_shapes, "--log_dir", str(log_dir), "--validate_on", "test", "--max_epoch", "4", *FAST]
    assert main("cls", args + ["--model", "pointnet_cls"]) == 0
    model = keras.saving.load_model(log_dir / "last.keras")
    assert int(model.optimizer.iterations) == 4 * (66 // 16)
    rows = read_csv(log_dir / "log.csv")
    losses = [float(r["loss"]) for r in rows]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert float(rows[-1]["accuracy"]) > 0.5  # 4 classes


def test_batch_norm_refuses_a_batch_of_one(real_shapes, tmp_path, capsys):
    args = ["--data", real_shapes, "--log_dir", str(tmp_path / "log"), "--max_epoch", "1", "--num_point", "64",
            "--batch_size", "1", "--verbose", "0", "--visuals_every", "0"]
    assert main("cls", args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--batch_size 1" in err and "batch norm" in err


def test_small_batch_norm_batches_warn(real_shapes, tmp_path, capsys):
    args = ["--data", real_shapes, "--log_dir", str(tmp_path / "log"), "--max_epoch", "1", "--num_point", "64",
            "--batch_size", "4", "--verbose", "0", "--visuals_every", "0", "--model", "pointnet_cls_basic", "--no_test"]
    assert main("cls", args) == 0
    assert "warning: --batch_size 4: batch norm over 4 clouds" in capsys.readouterr().out


def test_non_finite_loss_stops_the_run_and_keeps_the_checkpoints(real_shapes, tmp_path, capsys, monkeypatch):
    log_dir = tmp_path / "log"
    args = ["--data", real_shapes, "--log_dir", str(log_dir), "--model", "pointnet_cls_basic", *FAST]
    assert main("cls", args + ["--max_epoch", "1"]) == 0
    best, last = (log_dir / "best.keras").read_bytes(), (log_dir / "last.keras").read_bytes()
    capsys.readouterr()
    # From the third training batch of the resumed epoch 2 on, the clouds carry NaN coordinates.
    served = []
    original = PointCloudSequence.__getitem__

    def poisoned(self, index):
        points, labels = original(self, index)
        if self.shuffle:
            served.append(index)
            if len(served) > 2:
                points = points * np.nan
        return points, labels

    monkeypatch.setattr(PointCloudSequence, "__getitem__", poisoned)
    assert main("cls", args + ["--max_epoch", "3", "--resume"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "epoch 2:" in err and "training diverged" in err and "best.keras" in err
    assert (log_dir / "best.keras").read_bytes() == best
    assert (log_dir / "last.keras").read_bytes() == last
    assert cb.read_state(str(log_dir))["epochs_done"] == 1
    assert len(read_csv(log_dir / "log.csv")) == 1


@pytest.mark.parametrize("losses, stops_at", [
    ([2.0, 1.0, 4.9, 0.9], None),
    ([2.0, 1.0, 5.1], 3),
    ([2.0, 0.1, 0.6, 1.9], None),  # noise near 0 stays below the first epoch's loss
    ([2.0, 0.1, 2.1], 3),
    ([2.0, float("nan")], 2),
    ([2.0, float("inf")], 2),
])
def test_divergence_guard_judges_epoch_losses(losses, stops_at):
    guard = cb.DivergenceGuard(5.0, checkpoint_hint="best.keras stays")
    for epoch, loss in enumerate(losses):
        if epoch + 1 == stops_at:
            with pytest.raises(cb.TrainingDiverged, match=rf"^epoch {stops_at}: .*best\.keras stays"):
                guard.on_epoch_end(epoch, {"loss": loss})
            return
        guard.on_epoch_end(epoch, {"loss": loss})
    assert stops_at is None


def test_divergence_guard_off_still_stops_non_finite_losses():
    guard = cb.DivergenceGuard(0.0)
    guard.on_epoch_end(0, {"loss": 1.0})
    guard.on_epoch_end(1, {"loss": 1000.0})
    with pytest.raises(cb.TrainingDiverged, match="step 3"):
        guard.on_train_batch_end(2, {"loss": float("nan")})


def test_original_settings_flag_restores_the_original_schedules():
    config = TrainConfig(task="cls", original_settings=True).resolved()
    assert (config.lr_schedule, config.precise_bn_batches) == ("staircase", 0)
    assert (config.bn_init_decay, config.bn_decay_clip) == (0.5, 0.99)
    assert (config.decay_step, config.decay_rate, config.bn_decay_decay_step) == (200_000, 0.7, 200_000)
    default = TrainConfig(task="cls").resolved()
    assert (default.lr_schedule, default.precise_bn_batches, default.bn_init_decay) == ("cosine", 16, 0.5)


def test_precise_batch_norm_sets_the_mean_batch_statistics(real_shapes):
    from pointnet_tf2.data import open_dataset
    from pointnet_tf2.models import get_model

    model = get_model("pointnet_cls", num_classes=4, num_points=64)
    for layer in model.layers:  # random dropout masks would differ between the callback and the reference
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sequence = PointCloudSequence(open_dataset(real_shapes), batch_size=16, num_points=64, seed=0)
    callback = cb.PreciseBatchNorm(sequence, num_batches=3)
    callback.set_model(model)
    callback.recompute()
    layers = cb.batch_norm_layers(model)
    probe = keras.Model(model.inputs, [layer.input for layer in layers])
    # Reference: each layer's input statistics per batch in training mode (numpy), averaged over the 3 batches.
    expected_means, expected_variances = 0.0, 0.0
    for index in range(3):
        values = [np.asarray(v, np.float64) for v in probe(sequence[index][0], training=True)]
        expected_means = expected_means + np.concatenate([v.reshape(-1, v.shape[-1]).mean(0) for v in values]) / 3
        expected_variances = expected_variances + np.concatenate([v.reshape(-1, v.shape[-1]).var(0) for v in values]) / 3
    means = np.concatenate([np.asarray(layer.moving_mean) for layer in layers])
    variances = np.concatenate([np.asarray(layer.moving_variance) for layer in layers])
    np.testing.assert_allclose(means, expected_means, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(variances, expected_variances, rtol=1e-3, atol=1e-4)


def test_precise_batch_norm_keeps_validation_above_chance_on_a_short_run(tiny_data, tmp_path):
    # 5 steps per epoch: the moving averages alone (momentum 0.99) left validation at chance here.
    log_dir = tmp_path / "log"
    args = ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--model", "pointnet_cls_basic", "--max_epoch", "6",
            "--learning_rate", "0.003", "--bn_init_decay", "0.99", *FAST]
    assert main("cls", args) == 0
    rows = read_csv(log_dir / "log.csv")
    assert float(rows[-1]["val_accuracy"]) > 0.3  # 12 classes: chance is 0.08


@pytest.mark.parametrize("field, value, quoted", [
    ("lr_schedule", "linear", "'linear'"),
    ("bn_init_decay", 1.5, "1.5"),
    ("precise_bn_batches", -1, "-1"),
    ("divergence_factor", -1.0, "-1.0"),
])
def test_bad_schedule_settings_are_refused(field, value, quoted):
    with pytest.raises(ValueError, match=quoted):
        TrainConfig(task="cls", **{field: value}).resolved()


@pytest.mark.parametrize("original, rotated", [(False, False), (True, True)])
def test_classifiers_train_without_rotation_unless_original_settings(real_shapes, original, rotated):
    from pointnet_tf2.data import open_dataset
    from pointnet_tf2.data.augment import Jitter
    from pointnet_tf2.data.augment import RotateUp
    from pointnet_tf2.training import families

    config = TrainConfig(task="cls", data=real_shapes, original_settings=original).resolved()
    steps = families.train_sequence_options(config, open_dataset(real_shapes))["augment"].augmentations
    assert any(isinstance(step, RotateUp) for step in steps) == rotated
    assert any(isinstance(step, Jitter) for step in steps)


def test_divergence_guard_of_a_resumed_run_remembers_its_history(tmp_path):
    (tmp_path / "log.csv").write_text("epoch,loss\n0,2.8\n1,0.04\n")
    assert cb.logged_losses(str(tmp_path)) == [2.8, 0.04]
    # Noise after a resume: 0.23 is 5.75x the run's lowest (0.04) but far below its first epoch (2.8).
    guard = cb.DivergenceGuard(5.0, history=cb.logged_losses(str(tmp_path)))
    guard.on_epoch_end(2, {"loss": 0.23})
    with pytest.raises(cb.TrainingDiverged, match=r"^epoch 4: .*lowest epoch loss 0.04 \(epoch 2\)"):
        guard.on_epoch_end(3, {"loss": 3.0})
    assert cb.logged_losses(str(tmp_path / "missing")) == []
