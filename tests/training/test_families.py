"""Voxel, embedding and rotation-protocol runs through train_cls.py's trainer, evaluate and retrieve."""

import json

import numpy as np
import pytest

from pointnet_tf2.cli import main as cli_main
from pointnet_tf2.training.cli import main
from pointnet_tf2.utils import progress

FAST = ["--num_point", "64", "--batch_size", "16", "--verbose", "0", "--max_epoch", "1"]


def test_voxel_cnn_trains_through_train_cls(tiny_data, tmp_path, capsys, monkeypatch):
    log_dir = tmp_path / "voxel"
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--model", "voxel_cnn", *FAST]) == 0
    config = json.loads((log_dir / "config.json").read_text())
    assert config["model"]["builder"] == "voxel_cnn" and config["model"]["builder_config"]["resolution"] == 30
    results = json.loads((log_dir / "test_results.json").read_text())
    assert 0.0 <= results["overall_accuracy"] <= 1.0 and results["num_samples"] == 24
    capsys.readouterr()
    assert cli_main(["evaluate", "--checkpoint", str(log_dir / "best.keras"), "--test_rotation", "so3"]) == 0
    captured = capsys.readouterr()
    assert "overall_accuracy" in captured.out and captured.err == ""  # quick: no progress line
    monkeypatch.setattr(progress, "DEFAULT_INTERVAL", 0.0)  # a progress line per batch, however fast
    assert cli_main(["evaluate", "--checkpoint", str(log_dir / "best.keras"), "--num_votes", "2",
                     "--batch_size", "16"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("] ")[1].split(" (")[0] for line in lines] == ["16/24", "24/24", "24/24"]
    assert lines[-1].startswith("test, 2 votes: [########################] 24/24 (100%)")
    assert " clouds/s, took " in lines[-1]


@pytest.fixture(scope="module")
def embed_run(tiny_data, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("embed") / "log"
    status = main("cls", ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--model", "pointnet_embed",
                          "--classes_per_batch", "4", "--triplet_mining", "batch_all", "--model_arg", "embedding_dim=16",
                          *FAST])
    assert status == 0
    return log_dir


def test_pointnet_embed_trains_with_triplet_loss(embed_run):
    import csv

    with open(embed_run / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert "nn_accuracy" in rows[0] and "val_nn_accuracy" in rows[0]
    assert np.isfinite(float(rows[0]["loss"]))
    state = json.loads((embed_run / "training_state.json").read_text())
    assert state["monitor"] == "val_nn_accuracy"
    config = json.loads((embed_run / "config.json").read_text())
    assert config["model"]["builder_config"]["embedding_dim"] == 16
    results = json.loads((embed_run / "test_results.json").read_text())
    assert results["task"] == "retrieval" and 0.0 <= results["map"] <= 1.0


def test_retrieve_command_on_an_embedding_and_a_classifier_feature(embed_run, tmp_path, capsys):
    out = tmp_path / "retrieval"
    assert cli_main(["retrieve", "--checkpoint", str(embed_run / "best.keras"), "--output_dir", str(out),
                     "--top_k", "1,5", "--num_queries", "2"]) == 0
    printed = capsys.readouterr().out
    assert "map" in printed and "precision_at_5" in printed
    result = json.loads((out / "retrieval.json").read_text())
    assert result["feature"] == "embedding" and 0.0 <= result["map"] <= 1.0
    assert (out / "retrieval.png").read_bytes()[:4] == b"\x89PNG"
    assert cli_main(["retrieve", "--checkpoint", str(embed_run / "best.keras"), "--layer", "max_pool",
                     "--output_dir", str(out), "--num_queries", "0"]) == 0
    assert json.loads((out / "retrieval.json").read_text())["feature"] == "max_pool"
    named = tmp_path / "named" / "features.json"
    assert cli_main(["retrieve", "--checkpoint", str(embed_run / "best.keras"), "--output", str(named),
                     "--num_queries", "1"]) == 0
    assert json.loads(named.read_text())["png"] == str(tmp_path / "named" / "features.png")
    assert (tmp_path / "named" / "features.png").read_bytes()[:4] == b"\x89PNG"
    assert cli_main(["retrieve", "--checkpoint", str(embed_run / "best.keras"), "--top_k", "0"]) == 1
    assert "--top_k must be" in capsys.readouterr().err


def test_bad_family_options(tiny_data, tmp_path, capsys):
    assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(tmp_path / "a"), "--model", "pointnet_embed",
                        "--classes_per_batch", "12", *FAST]) == 1
    assert "fewer than 2 shapes per class" in capsys.readouterr().err


def test_rotation_protocol_table_from_two_runs(tiny_data, tmp_path, capsys):
    runs = {}
    for rotation in ("z", "so3"):
        log_dir = tmp_path / rotation
        assert main("cls", ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--model", "pointnet_cls_basic",
                            "--train_rotation", rotation, "--no_test", *FAST]) == 0
        config = json.loads((log_dir / "config.json").read_text())
        assert config["train_config"]["train_rotation"] == rotation
        runs[rotation] = str(log_dir / "best.keras")
    capsys.readouterr()
    output = tmp_path / "protocol.json"
    assert cli_main(["evaluate", "--checkpoint", runs["z"], "--rotation_protocol", "--rotation_checkpoint",
                     runs["so3"], "--output", str(output)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["protocol", "overall_accuracy", "mean_class_accuracy"]
    assert [line.split()[0] for line in lines[1:4]] == ["z/z", "z/SO3", "SO3/SO3"]
    rows = json.loads(output.read_text())
    assert all(0.0 <= row["overall_accuracy"] <= 1.0 for row in rows)
    # the same run twice cannot fill two rows
    assert cli_main(["evaluate", "--checkpoint", runs["z"], "--rotation_protocol", "--rotation_checkpoint",
                     runs["z"]]) == 1
    assert "second checkpoint trained with --train_rotation z" in capsys.readouterr().err
