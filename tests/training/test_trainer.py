import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pointnet_tf2.data import PointCloudSequence
from pointnet_tf2.data import open_dataset
from pointnet_tf2.evaluation import evaluate
from pointnet_tf2.evaluation import predict_split
from pointnet_tf2.training.cli import main
from pointnet_tf2.training.trainer import TrainConfig
from pointnet_tf2.training.trainer import train

FAST = ["--num_point", "64", "--batch_size", "16", "--verbose", "0", "--visuals_every", "1"]


def read_events(folder):
    """Returns {tag: [(step, value or kind)]} from every event file under folder."""
    tags = {}
    for root, _, files in os.walk(folder):
        for name in files:
            if not name.startswith("events.out.tfevents"):
                continue
            for event in tf.compat.v1.train.summary_iterator(os.path.join(root, name)):
                for value in event.summary.value:
                    plugin = value.metadata.plugin_data.plugin_name
                    tags.setdefault(value.tag, []).append((event.step, plugin))
    return tags


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def cls_run(tiny_data, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("cls_run") / "log"
    status = main("cls", ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--max_epoch", "2",
                          "--model", "pointnet_cls", *FAST])
    assert status == 0
    return log_dir


def test_cls_run_writes_checkpoints_csv_config_and_results(cls_run):
    for name in ("best.keras", "last.keras", "config.json", "log.csv", "training_state.json", "test_results.json"):
        assert (cls_run / name).is_file(), name
    rows = read_csv(cls_run / "log.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    for key in ("loss", "accuracy", "mean_class_accuracy", "val_accuracy", "learning_rate", "bn_momentum",
                "steps_per_second", "regularization_loss", "val_regularization_loss"):
        assert key in rows[0], key
    # Defaults: BN momentum 0.5 (the original's); cosine lr half-way through 2 epochs of 5 steps.
    assert float(rows[0]["bn_momentum"]) == pytest.approx(0.5)
    assert float(rows[0]["learning_rate"]) == pytest.approx(0.000505, rel=1e-4)
    config = json.loads((cls_run / "config.json").read_text())
    assert config["train_config"]["num_point"] == 64 and config["dataset"]["num_classes"] == 12
    assert config["model"]["builder"] == "pointnet_cls"
    # The regulariser runs at the original's scale by default: 0.0005 * batch size.
    assert config["model"]["builder_config"]["orthogonal_weight"] == pytest.approx(0.008)
    results = json.loads((cls_run / "test_results.json").read_text())
    assert 0.0 <= results["overall_accuracy"] <= 1.0 and results["num_samples"] == 24


def test_cls_run_tensorboard_events(cls_run):
    tags = read_events(cls_run)
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_learning_rate", "epoch_bn_momentum", "epoch_steps_per_second"):
        assert tag in tags, (tag, sorted(tags))
    assert any(plugin == "images" for _, plugin in tags["confusion_matrix"])
    for kind in ("prediction", "ground_truth"):
        assert {plugin for _, plugin in tags[f"cloud_0/{kind}_VERTEX"] + tags[f"cloud_0/{kind}_COLOR"]} == {"mesh"}
    assert "epoch_regularization_loss" in tags


def test_resume_continues_at_the_right_epoch(tiny_data, tmp_path):
    log_dir = str(tmp_path / "log")
    args = ["--data", tiny_data("cls"), "--log_dir", log_dir, "--model", "pointnet_cls_basic", *FAST]
    assert main("cls", args + ["--max_epoch", "1"]) == 0
    steps_per_epoch = 86 // 16  # 96 train clouds minus a 10% hold-out; the partial last batch is dropped
    first = keras.saving.load_model(os.path.join(log_dir, "last.keras"))
    assert int(first.optimizer.iterations) == steps_per_epoch
    assert main("cls", args + ["--max_epoch", "3", "--resume"]) == 0
    rows = read_csv(os.path.join(log_dir, "log.csv"))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    last = keras.saving.load_model(os.path.join(log_dir, "last.keras"))
    assert int(last.optimizer.iterations) == 3 * steps_per_epoch
    assert json.loads(open(os.path.join(log_dir, "training_state.json")).read())["epochs_done"] == 3


def test_resume_schedule_is_where_it_was(tiny_data, tmp_path):
    # The original's schedules; decay every 64 samples = 4 steps of 16, 5 steps per epoch.
    log_dir = str(tmp_path / "log")
    args = ["--data", tiny_data("cls"), "--log_dir", log_dir, "--model", "pointnet_cls_basic", "--decay_step", "64",
            "--bn_decay_step", "64", "--original_settings", *FAST]
    assert main("cls", args + ["--max_epoch", "1"]) == 0
    assert main("cls", args + ["--max_epoch", "2", "--resume"]) == 0
    rows = read_csv(os.path.join(log_dir, "log.csv"))
    # lr logged at the end of epoch 2 (10 steps = 160 samples -> 2 decays), momentum 1 - 0.5 * 0.5**2.
    assert float(rows[1]["learning_rate"]) == pytest.approx(0.001 * 0.7**2)
    assert float(rows[1]["bn_momentum"]) == pytest.approx(0.875)


def test_default_schedules_cosine_and_constant_momentum(tiny_data, tmp_path):
    # The default: cosine from 1e-3 down to 1e-5 over --max_epoch epochs of 5 steps; BN momentum 0.5.
    log_dir = str(tmp_path / "log")
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", log_dir, "--model", "pointnet_cls_basic",
                        "--max_epoch", "3", *FAST]) == 0
    rows = read_csv(os.path.join(log_dir, "log.csv"))
    total = 3 * 5
    for epoch, row in enumerate(rows):
        progress = 5 * (epoch + 1) / total
        cosine = 0.5 * (1 + np.cos(np.pi * progress))
        assert float(row["learning_rate"]) == pytest.approx(0.001 * ((1 - 0.01) * cosine + 0.01), rel=1e-5)
        assert float(row["bn_momentum"]) == pytest.approx(0.5)
    assert float(rows[-1]["learning_rate"]) == pytest.approx(1e-5)


@pytest.mark.parametrize("task", ["sem_seg", "part_seg"])
def test_segmentation_scripts_run(task, tiny_data, tmp_path):
    log_dir = tmp_path / "log"
    status = main(task, ["--data", tiny_data(task), "--log_dir", str(log_dir), "--max_epoch", "1", *FAST])
    assert status == 0
    rows = read_csv(log_dir / "log.csv")
    key = "val_miou" if task == "sem_seg" else "val_parts_instance_miou"
    assert 0.0 <= float(rows[0][key]) <= 1.0
    results = json.loads((log_dir / "test_results.json").read_text())
    assert 0.0 <= results["miou"] <= 1.0
    tags = read_events(log_dir)
    assert "confusion_matrix" in tags and "cloud_0/prediction_COLOR" in tags


def test_voting_with_one_vote_equals_plain_evaluation(cls_run, tiny_data):
    model = keras.saving.load_model(cls_run / "best.keras", compile=False)
    description = open_dataset(tiny_data("cls"), task="cls")
    predictions = predict_split(model, description, num_points=64, num_votes=1)
    seq = PointCloudSequence(description, split="test", num_points=64, augment=False, shuffle=False, batch_size=8)
    plain = np.concatenate([model.predict(seq[i][0], verbose=0) for i in range(len(seq))])
    np.testing.assert_allclose(predictions["logits"], plain, rtol=1e-5, atol=1e-5)
    result = evaluate(model, description, num_points=64, num_votes=1)
    assert result["overall_accuracy"] == pytest.approx(np.mean(plain.argmax(-1) == predictions["labels"]))
    voted = evaluate(model, description, num_points=64, num_votes=3)
    assert voted["num_votes"] == 3 and 0.0 <= voted["overall_accuracy"] <= 1.0


def test_unknown_model_for_task(tiny_data, tmp_path, capsys):
    status = main("cls", ["--data", tiny_data("cls"), "--log_dir", str(tmp_path / "l"), "--model", "pointnet_sem_seg", *FAST])
    assert status == 1
    assert "--model pointnet_sem_seg is a sem_seg model, not a cls model" in capsys.readouterr().err


def test_missing_data_directory(tmp_path, capsys):
    status = main("cls", ["--data", str(tmp_path / "nowhere"), "--log_dir", str(tmp_path / "l"), *FAST])
    assert status == 1
    err = capsys.readouterr().err.strip()
    assert "nowhere" in err and len(err.splitlines()) == 1


def test_wrong_layout_directory(tiny_data, tmp_path, capsys):
    status = main("sem_seg", ["--data", tiny_data("cls"), "--log_dir", str(tmp_path / "l"), *FAST])
    assert status == 1
    assert "error" in capsys.readouterr().err


def test_resume_needs_a_run_and_existing_runs_are_not_overwritten(tiny_data, cls_run, tmp_path, capsys):
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(tmp_path / "empty"), "--resume", *FAST]) == 1
    assert "nothing to resume" in capsys.readouterr().err
    before = (cls_run / "best.keras").read_bytes()
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(cls_run), *FAST]) == 1
    assert "already holds a training run" in capsys.readouterr().err
    assert (cls_run / "best.keras").read_bytes() == before


def test_resume_with_another_model_is_refused(tiny_data, cls_run, capsys):
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(cls_run), "--resume",
                        "--model", "pointnet_cls_basic", *FAST]) == 1
    assert "--resume of a cls/pointnet_cls run with --model pointnet_cls_basic" in capsys.readouterr().err


def test_failed_save_keeps_the_good_checkpoint(tiny_data, tmp_path, monkeypatch):
    log_dir = tmp_path / "log"
    args = ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--model", "pointnet_cls_basic", *FAST]
    assert main("cls", args + ["--max_epoch", "1"]) == 0
    good = (log_dir / "last.keras").read_bytes()

    def full_disk(self, path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    assert main("cls", args + ["--max_epoch", "2", "--resume"]) == 1
    assert (log_dir / "last.keras").read_bytes() == good
    assert not [p for p in os.listdir(log_dir) if p.startswith(".")]


def test_short_training_beats_chance(tiny_data, tmp_path):
    config = TrainConfig(task="cls", data=tiny_data("cls"), model="pointnet_cls_basic", log_dir=str(tmp_path / "log"),
                         num_point=128, batch_size=16, max_epoch=8, verbose=0, visuals_every=0, learning_rate=0.003)
    result = train(config)
    # 12 classes: chance is 1/12.
    assert result["test"]["overall_accuracy"] > 0.35


@pytest.mark.slow
def test_longer_training_on_builtin_data_reaches_a_high_bar(tmp_path):
    config = TrainConfig(task="cls", log_dir=str(tmp_path / "log"), num_point=512, max_epoch=25, verbose=0,
                         visuals_every=0, decay_step=4000)
    result = train(config)
    assert result["test"]["overall_accuracy"] > 0.8


def test_evaluate_command_writes_results(cls_run, tmp_path, capsys):
    from pointnet_tf2 import cli

    output = tmp_path / "results.json"
    assert cli.main(["evaluate", "--checkpoint", str(cls_run / "best.keras"), "--num_votes", "2",
                     "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    assert results["num_votes"] == 2 and results["num_samples"] == 24
    assert 0.0 <= results["overall_accuracy"] <= 1.0 and 0.0 <= results["mean_class_accuracy"] <= 1.0
    assert len(results["confusion_matrix"]) == 12
    assert "overall_accuracy" in capsys.readouterr().out


def test_evaluate_command_on_the_runs_validation_hold_out(cls_run, tiny_data, tmp_path):
    from pointnet_tf2 import cli
    from pointnet_tf2.data import holdout_indices

    output = tmp_path / "results.json"
    assert cli.main(["evaluate", "--checkpoint", str(cls_run / "best.keras"), "--split", "validation",
                     "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    held = holdout_indices(96, 0.1, seed=0)[1]  # the run's hold-out: 10% of the 96 training clouds, seed 0
    assert results["split"] == "train" and results["num_samples"] == len(held) == 10
    labels = PointCloudSequence(open_dataset(tiny_data("cls")), split="train", batch_size=1).read_labels()
    assert sum(map(sum, results["confusion_matrix"])) == 10
    assert [sum(row) for row in results["confusion_matrix"]] == np.bincount(np.asarray(labels).ravel()[held],
                                                                            minlength=12).tolist()


def test_evaluate_command_rejects_data_of_another_task(cls_run, tiny_data, tmp_path, capsys):
    from pointnet_tf2 import cli

    output = tmp_path / "results.json"
    assert cli.main(["evaluate", "--checkpoint", str(cls_run / "best.keras"), "--data", tiny_data("sem_seg"),
                     "--output", str(output)]) == 1
    assert "error" in capsys.readouterr().err
    assert not output.exists()


def test_evaluate_command_on_a_missing_or_foreign_checkpoint(tmp_path, capsys):
    from pointnet_tf2 import cli

    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "none.keras")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "junk.keras")]) == 1
    assert "junk.keras: a text file, not a .keras model" in capsys.readouterr().err


@pytest.fixture(scope="module")
def normals_data(tmp_path_factory):
    from pointnet_tf2.data.writers import write_modelnet_layout

    rng = np.random.default_rng(0)
    splits = {}
    for split, size in (("train", 40), ("test", 12)):
        xyz = rng.normal(size=(size, 64, 3)).astype("float32")
        normals = xyz / np.linalg.norm(xyz, axis=-1, keepdims=True)
        splits[split] = (np.concatenate([xyz, normals], axis=-1), np.arange(size) % 4)
    folder = tmp_path_factory.mktemp("normals") / "modelnet40_normal_hdf5_2048"
    write_modelnet_layout(folder, splits, ["a", "b", "c", "d"])
    return str(folder)


@pytest.mark.parametrize("use_normals, dims", [(False, 3), (True, 6)])
def test_use_normals_chooses_the_input_channels(normals_data, tmp_path, use_normals, dims):
    log_dir = tmp_path / "log"
    args = ["--data", normals_data, "--log_dir", str(log_dir), "--model", "pointnet_cls_basic", "--max_epoch", "1",
            *FAST] + (["--use_normals"] if use_normals else [])
    assert main("cls", args) == 0
    config = json.loads((log_dir / "config.json").read_text())
    assert config["model"]["builder_config"]["input_dims"] == dims
    assert json.loads((log_dir / "test_results.json").read_text())["num_samples"] == 12


def test_use_normals_without_normals_in_the_data(tiny_data, tmp_path, capsys):
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(tmp_path / "l"), "--use_normals", *FAST]) == 1
    assert "--use_normals, but the points have 3 channels (no normals)" in capsys.readouterr().err


def test_steps_per_execution_runs_every_step_and_reports_it(tiny_data, tmp_path):
    log_dir = str(tmp_path / "log")
    args = ["--data", tiny_data("cls"), "--log_dir", log_dir, "--model", "pointnet_cls_basic", "--max_epoch", "1",
            "--steps_per_execution", "4", *FAST]
    assert main("cls", args) == 0
    steps_per_epoch = 86 // 16  # the partial last batch is dropped
    last = keras.saving.load_model(os.path.join(log_dir, "last.keras"))
    assert int(last.optimizer.iterations) == steps_per_epoch
    assert last.get_compile_config()["steps_per_execution"] == 4
    assert float(read_csv(os.path.join(log_dir, "log.csv"))[0]["steps_per_second"]) > 0


def test_steps_per_execution_must_be_positive(tiny_data, tmp_path, capsys):
    status = main("cls", ["--data", tiny_data("cls"), "--log_dir", str(tmp_path / "l"), "--steps_per_execution", "0", *FAST])
    assert status == 1
    assert "--steps_per_execution must be a positive integer, got 0" in capsys.readouterr().err


def test_bf16_products_hold_for_the_run_only(tiny_data, tmp_path, monkeypatch, capsys):
    from pointnet_tf2.layers import fused
    from pointnet_tf2.training import run_setup

    traced = []
    convolve = fused.PointwiseDense._convolve
    monkeypatch.setattr(fused.PointwiseDense, "_convolve",
                        lambda self, tf, x: traced.append(fused._BF16_PRODUCTS[0]) or convolve(self, tf, x))  # fmt: skip
    monkeypatch.setattr(run_setup, "native_bf16", lambda: False)
    log_dir = str(tmp_path / "log")
    args = ["--data", tiny_data("cls"), "--log_dir", log_dir, "--max_epoch", "1", "--bf16_products", "--no_test", *FAST,
            "--verbose", "2"]  # fmt: skip
    assert main("cls", args) == 0
    assert traced and all(traced)  # every per-point product of the training step was traced with bf16 on
    assert fused._BF16_PRODUCTS[0] is False  # and the setting ends with the run
    assert json.load(open(os.path.join(log_dir, "config.json")))["train_config"]["bf16_products"] is True
    assert "--bf16_products: no GPU, and this CPU has no native bf16 dot products" in capsys.readouterr().out
