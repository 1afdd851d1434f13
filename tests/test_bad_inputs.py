"""A corpus of bad files through every command that reads user files.

Each bad file (empty, truncated, random bytes, text under a binary name, a
wrong extension, wrong shapes) must give exit status 1, exactly one `error:`
line on stderr naming the file, no traceback, and no output left behind (not
even a temporary file). The full matrix is `@pytest.mark.slow`; one bad file
per command runs by default. The mesh and point-file readers are also fuzzed
with random and truncated bytes (`hypothesis`, bounded examples).
"""

import os
import shutil

import h5py
import numpy as np
import pytest

from pointnet_tf2 import cli
from pointnet_tf2 import get_model
from pointnet_tf2.data import generate_synthetic
from pointnet_tf2.data import meshes
from pointnet_tf2.data import open_dataset
from pointnet_tf2.training.cli import main as train_main
from pointnet_tf2.training.trainer import TrainConfig
from pointnet_tf2.training.trainer import save_run_config

TF_LOG_PREFIXES = ("WARNING:tensorflow:", "I0000", "W0000", "E0000", "WARNING: All log messages")
RANDOM = np.random.default_rng(17).integers(0, 256, 4096, dtype=np.uint8).tobytes()
TEXT = b"this is a note, not data\n"

OFF = b"OFF\n4 4 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n3 0 1 3\n3 0 2 3\n3 1 2 3\n"
XYZ = b"".join(b"%f %f %f\n" % tuple(p) for p in np.random.default_rng(0).normal(size=(64, 3)))


# --- good inputs the bad ones are made from -------------------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A tiny dataset, a zoo checkpoint in a run folder, and good mesh / point files."""
    import io

    import trimesh

    base = tmp_path_factory.mktemp("good")
    data = generate_synthetic("cls", str(base / "data"), num_train=16, num_test=8, num_points=64)
    description = open_dataset(data)
    model = get_model("pointnet_cls_basic", num_classes=description.num_classes, num_points=32,
                      mlp=(8, 16), head_widths=(8,))  # fmt: skip
    run = base / "run"
    run.mkdir()
    config = TrainConfig(task="cls", model="pointnet_cls_basic", data=data, num_point=32, log_dir=str(run)).resolved()
    save_run_config(config, description, model, str(run / "config.json"))
    model.save(str(run / "best.keras"))
    files = {".off": OFF, ".xyz": XYZ}
    mesh = trimesh.Trimesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]],
                           faces=[[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])  # fmt: skip
    for suffix in (".ply", ".stl", ".obj"):
        stream = io.BytesIO()
        mesh.export(stream, file_type=suffix[1:])
        files[suffix] = stream.getvalue()
    stream = io.BytesIO()
    np.save(stream, np.random.default_rng(0).normal(size=(64, 3)).astype("float32"))
    files[".npy"] = stream.getvalue()
    return {"data": data, "checkpoint": str(run / "best.keras"), "keras": (run / "best.keras").read_bytes(),
            "h5": open(os.path.join(data, "ply_data_train0.h5"), "rb").read(), "files": files,
            "input": os.path.join(data, "ply_data_test0.h5:0")}  # fmt: skip


def _write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(path)


def _h5(path, **arrays):
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f[key] = value
    return str(path)


# --- bad files -------------------------------------------------------------------------------

KERAS_BAD = ["empty", "truncated", "random", "text", "hdf5", "wrong_extension"]
H5_BAD = ["empty", "truncated", "random", "text", "wrong_shape", "no_label"]
GEOMETRY_BAD = [(suffix, kind) for suffix in (".off", ".ply", ".stl", ".obj", ".xyz", ".npy")
                for kind in ("empty", "truncated", "random", "text")  # fmt: skip
                if not (kind == "text" and suffix in (".xyz", ".obj", ".off"))]  # text is their format


def bad_keras(folder, good, kind):
    if kind == "wrong_extension":
        return _write(folder / "model.h5", good["keras"])
    content = {"empty": b"", "truncated": good["keras"][: len(good["keras"]) // 2], "random": RANDOM,
               "text": TEXT, "hdf5": good["h5"]}[kind]  # fmt: skip
    return _write(folder / "model.keras", content)


def bad_h5(folder, good, kind):
    path = folder / "ply_data_train0.h5"
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "wrong_shape":
        return _h5(path, data=np.zeros((4, 64, 2), "float32"), label=np.zeros((4, 1), "int64"))
    if kind == "no_label":
        return _h5(path, data=np.zeros((4, 64, 3), "float32"))
    content = {"empty": b"", "truncated": good["h5"][: len(good["h5"]) // 2], "random": RANDOM, "text": TEXT}[kind]
    return _write(path, content)


def bad_geometry(folder, good, suffix, kind):
    content = {"empty": b"", "truncated": good["files"][suffix][: len(good["files"][suffix]) // 2],
               "random": RANDOM, "text": TEXT}[kind]  # fmt: skip
    return _write(folder / f"cloud{suffix}", content)


def bad_dataset(folder, good, kind):
    """A copy of the good dataset with one bad shard."""
    shutil.copytree(good["data"], folder)
    os.unlink(folder / "ply_data_train0.h5")
    return bad_h5(folder, good, kind)


# --- the commands --------------------------------------------------------------------------


def run_command(name, bad, good, out):
    """Runs command `name` on the bad file `bad`, writing only under `out`."""
    if name == "train":
        return train_main("cls", ["--data", bad, "--log_dir", str(out / "log"), "--num_point", "32", "--batch_size",
                                  "8", "--max_epoch", "1", "--verbose", "0", "--visuals_every", "0"])  # fmt: skip
    commands = {
        "evaluate_checkpoint": ["evaluate", "--checkpoint", bad, "--data", good["data"], "--output", str(out / "r.json")],
        "evaluate_data": ["evaluate", "--checkpoint", good["checkpoint"], "--data", bad, "--output", str(out / "r.json")],
        "predict_checkpoint": ["predict", "--checkpoint", bad, good["input"], "--output", str(out / "p.json")],
        "predict_input": ["predict", "--checkpoint", good["checkpoint"], bad, "--output", str(out / "p.json")],
        "export": ["export", "--checkpoint", bad, "--output", str(out / "export")],
        "show": ["show", bad, "--output", str(out / "x.png")],
        "build_vds": ["build-vds", os.path.dirname(bad), "--output", str(out / "v.vds.h5")],
        "prepare": ["prepare", str(out.parent / "root"), str(out / "prepared"), "--strict", "--workers", "1",
                    "--no_progress", "--num_point", "16"],
        "convert_tf1": ["convert-tf1", "--model", "pointnet_cls_basic", "--checkpoint", bad,
                        "--output", str(out / "m.keras")],
    }  # fmt: skip
    return cli.main(commands[name])


def check_refused(status, capsys, path, out):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(TF_LOG_PREFIXES)]
    assert status == 1, err
    assert "Traceback" not in err
    assert len(lines) == 1, lines
    assert "error:" in lines[0] and os.path.basename(path) in lines[0], lines[0]
    # prepare keeps its hidden work folder (.OUTPUT.prepare-work/) for --resume, by design.
    left = [os.path.join(root, name) for root, dirs, files in os.walk(out) for name in dirs + files
            if ".prepare-work" not in os.path.relpath(os.path.join(root, name), out)]  # fmt: skip
    assert left == [], left


def _out(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    return out


KERAS_COMMANDS = ["evaluate_checkpoint", "predict_checkpoint", "export"]
H5_COMMANDS = ["train", "evaluate_data", "predict_input", "show"]
GEOMETRY_COMMANDS = ["predict_input", "show", "prepare"]


def _slow_unless(fast):
    return [] if fast else [pytest.mark.slow]


@pytest.mark.parametrize("command, kind", [
    pytest.param(c, k, marks=_slow_unless((c, k) in {("evaluate_checkpoint", "truncated"), ("export", "text"),
                                                     ("predict_checkpoint", "random")}))
    for c in KERAS_COMMANDS for k in KERAS_BAD])  # fmt: skip
def test_bad_keras_files(good, tmp_path, capsys, command, kind):
    bad = bad_keras(tmp_path / "in", good, kind)
    out = _out(tmp_path)
    check_refused(run_command(command, bad, good, out), capsys, bad, out)


@pytest.mark.parametrize("command, kind", [
    pytest.param(c, k, marks=_slow_unless((c, k) in {("train", "truncated"), ("evaluate_data", "wrong_shape"),
                                                     ("show", "text"), ("predict_input", "random")}))
    for c in H5_COMMANDS for k in H5_BAD
    if not (c in ("predict_input", "show") and k == "no_label")])  # a cloud needs no label there  # fmt: skip
def test_bad_h5_files(good, tmp_path, capsys, command, kind):
    bad = bad_h5(tmp_path / "in", good, kind)
    if command == "predict_input" or command == "show":
        bad += ":0" if kind in ("wrong_shape", "no_label") else ""
    out = _out(tmp_path)
    check_refused(run_command(command, bad, good, out), capsys, bad.split(":")[0], out)


@pytest.mark.parametrize("kind", [pytest.param(k, marks=_slow_unless(k == "truncated")) for k in H5_BAD])
def test_bad_shards_in_a_dataset_folder(good, tmp_path, capsys, kind):
    bad = bad_dataset(tmp_path / "in", good, kind)
    for command in ("build_vds", "train"):
        out = tmp_path / f"out_{command}"
        out.mkdir()
        check_refused(run_command(command, bad, good, out), capsys, bad, out)


@pytest.mark.parametrize("command, suffix, kind", [
    pytest.param(c, s, k, marks=_slow_unless((c, s, k) in {("show", ".ply", "truncated"), ("predict_input", ".npy", "text"),
                                                           ("prepare", ".off", "random")}))
    for c in GEOMETRY_COMMANDS for s, k in GEOMETRY_BAD])  # fmt: skip
def test_bad_mesh_and_point_files(good, tmp_path, capsys, command, suffix, kind):
    folder = tmp_path / "root" / "chair" if command == "prepare" else tmp_path / "in"
    bad = bad_geometry(folder, good, suffix, kind)
    out = _out(tmp_path)
    check_refused(run_command(command, bad, good, out), capsys, bad, out)


@pytest.mark.parametrize("kind", [pytest.param(k, marks=_slow_unless(k == "random"))
                                  for k in ("empty", "truncated", "random", "text")])  # fmt: skip
def test_bad_tf1_checkpoints(good, tmp_path, capsys, kind):
    folder = tmp_path / "in"
    content = {"empty": b"", "truncated": good["h5"][:100], "random": RANDOM, "text": TEXT}[kind]
    _write(folder / "model.ckpt.index", content)
    _write(folder / "model.ckpt.data-00000-of-00001", RANDOM)
    out = _out(tmp_path)
    prefix = str(folder / "model.ckpt")
    check_refused(run_command("convert_tf1", prefix, good, out), capsys, prefix, out)


# --- fuzzing the mesh and point-file readers ----------------------------------------------


def _read_or_refuse(path):
    """Reads a file; only the package's one-line errors may come out."""
    try:
        meshes.read_geometry(path)
    except meshes.BadFileError as error:
        assert "\n" not in str(error) and str(error).startswith(path), str(error)
    except ValueError as error:  # the package's other one-line errors
        raise AssertionError(f"{path}: a plain ValueError instead of a BadFileError: {error}") from None


def test_readers_fuzzed_with_random_and_truncated_bytes(good, tmp_path):
    from hypothesis import HealthCheck
    from hypothesis import given
    from hypothesis import settings
    from hypothesis import strategies as st

    suffixes = sorted(good["files"])

    # FUZZ_EXAMPLES=N: a longer, random (not derandomized) search.
    longer = os.environ.get("FUZZ_EXAMPLES")
    @settings(max_examples=int(longer or 150), deadline=None, derandomize=not longer, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
    @given(suffix=st.sampled_from(suffixes), data=st.binary(min_size=1, max_size=600),
           cut=st.floats(0.0, 1.0), mode=st.sampled_from(["random", "truncated", "prefixed"]))  # fmt: skip
    def fuzz(suffix, data, cut, mode):
        valid = good["files"][suffix]
        if mode == "truncated":
            content = valid[: max(1, int(len(valid) * cut))]
        elif mode == "prefixed":  # a valid header followed by garbage
            content = valid[: max(1, int(len(valid) * cut))] + data
        else:
            content = data
        path = str(tmp_path / f"fuzz{suffix}")
        with open(path, "wb") as f:
            f.write(content)
        _read_or_refuse(path)

    fuzz()


def test_readers_on_every_truncation_of_good_files(good, tmp_path):
    for suffix, valid in sorted(good["files"].items()):
        step = max(1, len(valid) // 300)
        for length in range(1, len(valid), step):
            path = str(tmp_path / f"cut{suffix}")
            with open(path, "wb") as f:
                f.write(valid[:length])
            _read_or_refuse(path)
