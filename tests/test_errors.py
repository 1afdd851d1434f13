"""Issue 17, "Nothing lost, ever": each case of a bad resume, model file or data file.

Every case runs the command the user would run and checks what they see: exit
status 1, one `error:` line on stderr naming the file and the problem, no
traceback, and nothing written or rewritten.
"""

import json
import os
import shutil

import h5py
import keras
import numpy as np
import pytest

from pointnet_tf2 import cli
from pointnet_tf2.data import generate_synthetic
from pointnet_tf2.data import open_dataset
from pointnet_tf2.data.writers import write_modelnet_layout
from pointnet_tf2.training.cli import main as train_main

FAST = ["--num_point", "64", "--batch_size", "16", "--verbose", "0", "--visuals_every", "0", "--max_epoch", "1",
        "--model", "pointnet_cls_basic"]  # fmt: skip


# TensorFlow's own log lines (retracing notes, oneDNN and CUDA notices).
TF_LOG_PREFIXES = ("WARNING:tensorflow:", "I0000", "W0000", "E0000", "WARNING: All log messages")


def error_line(capsys):
    """The one error line on stderr (fails if there is not exactly one)."""
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.strip() and not line.startswith(TF_LOG_PREFIXES)]  # fmt: skip
    assert len(lines) == 1, lines
    assert "error:" in lines[0] and "Traceback" not in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate_synthetic("cls", str(tmp_path_factory.mktemp("errors") / "syn"), num_train=48, num_test=16,
                              num_points=128)  # fmt: skip


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("run") / "log"
    assert train_main("cls", ["--data", data, "--log_dir", str(log_dir), *FAST]) == 0
    return log_dir


@pytest.fixture
def run_copy(run, tmp_path):
    copy = tmp_path / "log"
    shutil.copytree(run, copy)
    return copy


def snapshot(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder)) if (folder / name).is_file()}


# --- 4, 11: resume with other settings ------------------------------------------------


def test_resume_with_another_num_point_is_refused_before_training(data, run_copy, capsys):
    before = snapshot(run_copy)
    args = ["--data", data, "--log_dir", str(run_copy), "--resume", *FAST, "--num_point", "32", "--max_epoch", "2"]
    assert train_main("cls", args) == 1
    line = error_line(capsys)
    assert "--num_point was 64, now 32" in line and str(run_copy) in line
    assert snapshot(run_copy) == before  # config.json not rewritten, no epoch trained


@pytest.mark.parametrize("flag, value, old", [("--batch_size", "8", "16"), ("--seed", "3", "0")])
def test_resume_with_another_data_setting_is_refused(data, run_copy, capsys, flag, value, old):
    assert train_main("cls", ["--data", data, "--log_dir", str(run_copy), "--resume", *FAST, flag, value]) == 1
    assert f"{flag} was {old}, now {value}" in error_line(capsys)


def test_resume_with_another_class_count_is_one_line(run_copy, tmp_path, capsys):
    rng = np.random.default_rng(0)
    splits = {s: (rng.normal(size=(n, 128, 3)).astype("float32"), np.arange(n) % 5) for s, n in (("train", 20), ("test", 5))}
    write_modelnet_layout(tmp_path / "five", splits, list("abcde"))
    before = snapshot(run_copy)
    assert train_main("cls", ["--data", str(tmp_path / "five"), "--log_dir", str(run_copy), "--resume", *FAST]) == 1
    line = error_line(capsys)
    assert "the class count was 12, now 5" in line and len(line) < 400
    assert snapshot(run_copy) == before


def test_resume_that_still_fails_to_load_weights_says_one_line(data, run_copy, capsys, monkeypatch):
    def fail(self, path, *args, **kwargs):
        raise ValueError("Shape mismatch in layer dense\n" + "\n".join(["[0.1 0.2 0.3]"] * 260))

    monkeypatch.setattr(keras.Model, "load_weights", fail)
    assert train_main("cls", ["--data", data, "--log_dir", str(run_copy), "--resume", *FAST, "--max_epoch", "2"]) == 1
    line = error_line(capsys)
    assert "last.keras: does not fit" in line and "[0.1" not in line


# --- 5: damaged last.keras ------------------------------------------------------------


def test_resume_from_a_truncated_last_keras_says_what_to_do(data, run_copy, capsys):
    last = run_copy / "last.keras"
    last.write_bytes(last.read_bytes()[:5000])
    before = snapshot(run_copy)
    assert train_main("cls", ["--data", data, "--log_dir", str(run_copy), "--resume", *FAST, "--max_epoch", "2"]) == 1
    line = error_line(capsys)
    assert str(last) in line and "truncated or damaged" in line and "best.keras" in line
    assert snapshot(run_copy) == before


# --- 6: one shard as --data -----------------------------------------------------------


def test_training_on_one_shard_uses_it_all_as_training_data(data, tmp_path, capsys):
    shard = os.path.join(data, "ply_data_train0.h5")
    log_dir = tmp_path / "log"
    assert train_main("cls", ["--data", shard, "--log_dir", str(log_dir), *FAST, "--verbose", "2"]) == 0
    out = capsys.readouterr().out
    assert "one file: all 48 clouds are training data" in out and "no test split" in out
    config = json.loads((log_dir / "config.json").read_text())
    assert config["dataset"]["class_names"][0] != "class_0"  # shape_names.txt beside the shard
    assert (log_dir / "best.keras").is_file() and not (log_dir / "test_results.json").exists()
    refused = tmp_path / "refused"
    assert train_main("cls", ["--data", shard, "--log_dir", str(refused), *FAST, "--validate_on", "test"]) == 1
    assert "has no 'test' split" in error_line(capsys)
    assert not refused.exists()  # no empty run folder left


# --- 7, 8, 9: .keras files that are not run checkpoints -------------------------------


def _plain(path, inputs, outputs):
    keras.Model(inputs, outputs).save(path)
    return str(path)


def test_predict_and_export_refuse_a_model_without_point_input_in_one_line(data, tmp_path, capsys):
    inputs = keras.Input((30,))
    path = _plain(tmp_path / "flat.keras", inputs, keras.layers.Dense(5)(inputs))
    assert cli.main(["predict", "--checkpoint", path, os.path.join(data, "ply_data_test0.h5:0")]) == 1
    assert f"{path}: not a point-cloud model: its input has shape (B, 30)" in error_line(capsys)
    assert cli.main(["export", "--checkpoint", path, "--output", str(tmp_path / "out")]) == 1
    assert "not a point-cloud model" in error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_predict_accepts_a_plain_keras_point_classifier(data, tmp_path, capsys):
    inputs = keras.Input((None, 3))
    pooled = keras.layers.GlobalMaxPooling1D()(keras.layers.Dense(8)(inputs))
    path = _plain(tmp_path / "plain.keras", inputs, keras.layers.Dense(4)(pooled))
    assert cli.main(["predict", "--checkpoint", path, os.path.join(data, "ply_data_test0.h5:0")]) == 0
    assert "cls model, 4 classes" in capsys.readouterr().out


def test_evaluate_and_retrieve_accept_a_standalone_keras_with_data(data, run, tmp_path, capsys):
    alone = tmp_path / "alone" / "model.keras"
    alone.parent.mkdir()
    shutil.copy(run / "best.keras", alone)
    assert cli.main(["evaluate", "--checkpoint", str(alone)]) == 1
    assert "pass --data" in error_line(capsys)
    output = tmp_path / "results.json"
    assert cli.main(["evaluate", "--checkpoint", str(alone), "--data", data, "--num_point", "64",
                     "--output", str(output)]) == 0  # fmt: skip
    assert json.loads(output.read_text())["num_samples"] == 16
    assert cli.main(["retrieve", "--checkpoint", str(alone), "--data", data, "--num_queries", "0",
                     "--output_dir", str(tmp_path / "ret")]) == 0  # fmt: skip
    assert (tmp_path / "ret" / "retrieval.json").is_file()


@pytest.mark.parametrize("content, problem", [
    (b"", "empty file"),
    (b"hello, I am text\n", "a text file"),
    (np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes(), "not a zip archive"),
    (b"\x89HDF\r\n\x1a\n" + bytes(100), "an HDF5 file"),
    ("truncated", "truncated or damaged"),
], ids=["empty", "text", "random", "hdf5", "truncated"])  # fmt: skip
def test_damaged_keras_files_say_what_is_wrong(run, tmp_path, capsys, content, problem):
    path = tmp_path / "model.keras"
    if content == "truncated":
        content = (run / "best.keras").read_bytes()[:3000]
    path.write_bytes(content)
    for command in (["predict", "--checkpoint", str(path), "x.off"], ["evaluate", "--checkpoint", str(path)],
                    ["export", "--checkpoint", str(path), "--output", str(tmp_path / "out")]):  # fmt: skip
        assert cli.main(command) == 1
        line = error_line(capsys)
        assert f"{path}: {problem}" in line and "not found" not in line.lower()
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]


def test_a_zip_that_is_not_a_keras_model(tmp_path, capsys):
    import zipfile

    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert cli.main(["predict", "--checkpoint", str(path), "x.off"]) == 1
    assert "a zip archive without config.json and model.weights.h5" in error_line(capsys)


# --- 10: damaged compressed blocks -----------------------------------------------------


@pytest.fixture
def damaged(data, tmp_path):
    folder = tmp_path / "damaged"
    shutil.copytree(data, folder)
    path = folder / "ply_data_train0.h5"
    with h5py.File(path, "r") as f:
        info = f["data"].id.get_chunk_info(0)
    with open(path, "r+b") as f:
        f.seek(info.byte_offset + info.size // 2)
        f.write(b"\xff" * min(200, info.size // 4))
    return folder


def test_a_damaged_block_is_named_when_the_dataset_is_opened(damaged, tmp_path, capsys):
    assert train_main("cls", ["--data", str(damaged), "--log_dir", str(tmp_path / "log"), *FAST]) == 1
    line = error_line(capsys)
    assert f"{damaged / 'ply_data_train0.h5'}: cannot read 'data' rows" in line and "damaged" in line
    assert not (tmp_path / "log").exists()


def test_a_damaged_block_is_named_when_read_for_a_batch(damaged):
    from pointnet_tf2.data import PointCloudSequence
    from pointnet_tf2.data.h5read import DataReadError

    description = open_dataset(str(damaged), check_values=False)
    with pytest.raises(DataReadError, match=r"ply_data_train0.h5: cannot read 'data' rows \d+\.\.\d+"):
        PointCloudSequence(description, batch_size=8, mode="stream")[0]


def test_show_names_a_damaged_block(damaged, tmp_path, capsys):
    assert cli.main(["show", f"{damaged / 'ply_data_train0.h5'}:0", "--output", str(tmp_path / "x.png")]) == 1
    assert "ply_data_train0.h5: cannot read 'data' row 0" in error_line(capsys)
    assert not (tmp_path / "x.png").exists()


# --- 13: no shape_names.txt ------------------------------------------------------------


@pytest.fixture
def nameless(data, tmp_path):
    folder = tmp_path / "nameless"
    shutil.copytree(data, folder)
    (folder / "shape_names.txt").unlink()
    return folder


def test_data_without_class_names_needs_num_classes(nameless, tmp_path, capsys):
    assert train_main("cls", ["--data", str(nameless), "--log_dir", str(tmp_path / "log"), *FAST]) == 1
    line = error_line(capsys)
    assert "no shape_names.txt" in line and "--num_classes" in line
    assert not (tmp_path / "log").exists()
    log_dir = tmp_path / "log2"
    assert train_main("cls", ["--data", str(nameless), "--log_dir", str(log_dir), *FAST, "--num_classes", "20"]) == 0
    assert "warning:" in capsys.readouterr().err
    assert json.loads((log_dir / "config.json").read_text())["dataset"]["num_classes"] == 20
    # Evaluation takes the count from the model, not from the largest label.
    output = tmp_path / "r.json"
    assert cli.main(["evaluate", "--checkpoint", str(log_dir / "best.keras"), "--output", str(output)]) == 0
    assert len(json.loads(output.read_text())["confusion_matrix"]) == 20


def test_num_classes_below_the_labels_is_refused(nameless, tmp_path, capsys):
    assert train_main("cls", ["--data", str(nameless), "--log_dir", str(tmp_path / "log"), *FAST,
                              "--num_classes", "3"]) == 1  # fmt: skip
    assert "out of range for the 3 classes" in error_line(capsys)


# --- outputs are checked before the work -------------------------------------------------


def test_evaluate_and_predict_check_the_output_first(run, data, tmp_path, capsys, monkeypatch):
    import pointnet_tf2.evaluation
    import pointnet_tf2.inference

    def never(*args, **kwargs):
        raise AssertionError("computed before the output was checked")

    monkeypatch.setattr(pointnet_tf2.evaluation, "evaluate", never)
    monkeypatch.setattr(pointnet_tf2.inference, "predict", never)
    blocker = tmp_path / "file"
    blocker.write_text("")
    target = str(blocker / "out.json")
    assert cli.main(["evaluate", "--checkpoint", str(run / "best.keras"), "--output", target]) == 1
    assert "is a file, not a folder" in error_line(capsys)
    assert cli.main(["predict", "--checkpoint", str(run / "best.keras"), "--output", target,
                     os.path.join(data, "ply_data_test0.h5:0")]) == 1  # fmt: skip
    assert target in error_line(capsys)
    assert cli.main(["evaluate", "--checkpoint", str(run / "best.keras"), "--output", str(tmp_path)]) == 1
    assert "is a folder" in error_line(capsys)
