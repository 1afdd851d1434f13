import json
import os
import subprocess
import sys

import pytest

from pointnet_tf2 import cli
from pointnet_tf2.commands import retrieve as retrieve_command
from pointnet_tf2.commands import train as train_command
from pointnet_tf2.commands.common import output_of
from pointnet_tf2.training import cli as training_cli
from pointnet_tf2.training.cli import build_parser


def test_models_command_prints_parameter_counts(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    for name, count in [("pointnet_cls", "3,480,049"), ("pointnet_cls_basic", "819,624"),
                        ("pointnet_sem_seg", "1,174,669"), ("pointnet_part_seg", "8,574,923"),
                        ("dgcnn_cls", "1,809,576"), ("dgcnn_sem_seg", "985,677"),
                        ("pointnet2_cls_ssg", "1,475,688"), ("pointnet2_sem_seg", "967,981")]:
        line = next(line for line in out.splitlines() if line.split()[0] == name)
        assert count in line


def test_models_command_filters_by_task(capsys):
    assert cli.main(["models", "--task", "sem_seg"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["dgcnn_sem_seg", "pointnet2_sem_seg", "pointnet_sem_seg"]
    assert cli.main(["models", "--family", "voxel"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[:3] for row in rows] == [["voxel_cnn", "cls", "646,200"], ["voxel_resnet", "cls", "901,960"]]


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "pointnet_tf2", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "models" in out.stdout


# --- help without TensorFlow ------------------------------------------------------------------

HELP_SCRIPT = """
import contextlib, io, json, sys
from pointnet_tf2 import cli
texts = {}
for argv in [["--help"]] + [[name, "--help"] for name in cli.COMMANDS] + [
        ["train", "--task", task, "--help"] for task in ("cls", "part_seg", "sem_seg")]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            cli.main(argv)
        except SystemExit as exit:
            assert exit.code == 0, (argv, exit.code)
    texts[" ".join(argv)] = out.getvalue()
import pointnet_tf2
loaded = sorted(name for name in ("tensorflow", "keras", "h5py", "matplotlib") if name in sys.modules)
print(json.dumps({"loaded": loaded, "texts": texts}))
"""


def test_help_imports_no_tensorflow():
    out = subprocess.run([sys.executable, "-c", HELP_SCRIPT], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "100"})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["loaded"] == []
    texts = result["texts"]
    assert set(texts) >= {f"{name} --help" for name in cli.COMMANDS}
    assert all(f"usage: pointnet-tf2 {name}" in texts[f"{name} --help"] for name in cli.COMMANDS)
    assert "--seg_weight" in texts["train --task part_seg --help"]
    assert "--test_area" in texts["train --task sem_seg --help"]
    assert "(e.g. dgcnn_cls: 0.1), else 0.001" in " ".join(texts["train --task cls --help"].split())


def test_help_facts_snapshot_is_current():
    # If this fails: python -m pointnet_tf2.training.help_facts (rewrites pointnet_tf2/cli_facts.py).
    from pointnet_tf2.cli_facts import FACTS
    from pointnet_tf2.training.help_facts import compute_facts

    live = compute_facts()
    assert FACTS == live
    for task in ("cls", "part_seg", "sem_seg"):
        assert build_parser(task, facts=live).format_help() == build_parser(task).format_help()


# --- train -------------------------------------------------------------------------------------


def _actions(parser):
    return [(a.option_strings, a.dest, a.default, a.type, a.choices, a.nargs, a.required, a.help, type(a).__name__)
            for a in parser._actions]


@pytest.mark.parametrize("task, script", [("cls", "train_cls.py"), ("part_seg", "train_part_seg.py"),
                                          ("sem_seg", "train_sem_seg.py")])
def test_train_command_has_exactly_the_flags_of_the_script(task, script, monkeypatch):
    assert build_parser(task).prog == script
    command = train_command.task_parser(task)
    assert command.prog == f"pointnet-tf2 train --task {task}"
    assert _actions(command) == _actions(build_parser(task))
    calls = []
    monkeypatch.setattr(training_cli, "run", lambda task_name, args: calls.append((task_name, args)) or 7)
    argv = ["--num_point", "64", "--model_arg", "dropout_rate=0.5", "--seed", "3"]
    assert cli.main(["train", "--task", task, *argv]) == 7
    assert calls[0][0] == task and vars(calls[0][1]) == vars(build_parser(task).parse_args(argv))
    assert training_cli.main.__module__ == "pointnet_tf2.training.cli"  # train_*.py call main(task)


def test_train_command_errors(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["train", "--num_point", "64"])
    assert exit.value.code == 2 and "the following arguments are required: --task" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        cli.main(["train", "--task", "cls", "--seg_weight", "0.5"])  # a part_seg flag
    assert exit.value.code == 2
    assert "pointnet-tf2 train --task cls: error: unrecognized arguments: --seg_weight" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["models", "--bogus"])  # other commands still refuse unknown flags
    assert "pointnet-tf2: error: unrecognized arguments: --bogus" in capsys.readouterr().err


def test_train_command_help_without_a_task(capsys):
    assert cli.main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: pointnet-tf2 train [-h] [--task {cls,part_seg,sem_seg}]")
    assert "see pointnet-tf2 train --task TASK --help" in " ".join(text.split())


# --- --output ----------------------------------------------------------------------------------

# Every command that writes something, and what --output names there.
WRITERS = {
    "prepare": ["ROOT"], "prepare-s3dis": ["ROOT"], "prepare-shapenet-part": ["ROOT"],
    "prepare-modelnet-normals": ["ROOT"], "convert-tf1": ["--model", "m", "--checkpoint", "c"],
    "synthetic": ["--task", "cls"], "build-vds": ["DIR"], "export": ["--checkpoint", "c"],
    "evaluate": ["--checkpoint", "c"], "retrieve": ["--checkpoint", "c"], "predict": ["--checkpoint", "c", "f.off"],
    "show": ["f.off"], "upgrade-report": [],
}


def test_every_writing_command_takes_output():
    parser = cli.build_parser()
    for command, argv in WRITERS.items():
        args = parser.parse_args([command, *argv, "--output", "OUT"])
        value = args.output_option if command.startswith("prepare") else args.output
        assert value == "OUT", command


@pytest.mark.parametrize("command", ["prepare", "prepare-s3dis", "prepare-shapenet-part", "prepare-modelnet-normals"])
def test_prepare_commands_take_the_output_as_positional_or_flag(command, tmp_path, capsys):
    parser = cli.build_parser()
    assert output_of(parser.parse_args([command, "ROOT", "OUT"])) == "OUT"
    assert output_of(parser.parse_args([command, "ROOT", "--output", "OUT"])) == "OUT"
    assert output_of(parser.parse_args([command, "ROOT", "OUT", "--output", "OUT"])) == "OUT"
    assert cli.main([command, str(tmp_path), "a", "--output", "b"]) == 1
    assert capsys.readouterr().err == f"pointnet-tf2 {command}: error: two output folders given: a and --output b\n"
    assert cli.main([command, str(tmp_path)]) == 1
    assert "no output folder: pass it after ROOT or as --output OUTPUT" in capsys.readouterr().err


def test_retrieve_output_file_or_folder(tmp_path, capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["retrieve", "--checkpoint", "c", "--output", str(tmp_path / "r.json")])
    assert retrieve_command._outputs(args, "run/best.keras") == (str(tmp_path / "r.json"), str(tmp_path / "r.png"))
    args = parser.parse_args(["retrieve", "--checkpoint", "run/best.keras"])
    folder = os.path.abspath("run")
    assert retrieve_command._outputs(args, "run/best.keras") == (os.path.join(folder, "retrieval.json"),
                                                                 os.path.join(folder, "retrieval.png"))
    for argv, message in [(["--output", "r.json", "--output_dir", "d"], "--output r.json and --output_dir d: give one"),
                          (["--output", "r.txt"], "--output r.txt: must end with .json")]:
        with pytest.raises(ValueError, match=message):
            retrieve_command._outputs(parser.parse_args(["retrieve", "--checkpoint", "c", *argv]), "c")


# --- Keras registration after a bare `import pointnet_tf2` ---------------------------------------

LOAD_SCRIPT = """
import sys
path, order = sys.argv[1], sys.argv[2]
if order == "package_first":
    import pointnet_tf2
    assert "keras" not in sys.modules and "tensorflow" not in sys.modules
    import keras
else:
    import keras
    try:
        keras.saving.load_model(path)
    except Exception as error:
        print("without pointnet_tf2:", type(error).__name__)
    import pointnet_tf2
model = keras.saving.load_model(path)
print(type(model).__name__, type(model.get_layer("conv1")).__name__, model.count_params())
"""


@pytest.fixture(scope="module")
def saved_zoo_model(tmp_path_factory):
    from pointnet_tf2 import get_model

    model = get_model("pointnet_cls_basic", num_classes=4, num_points=32)
    path = tmp_path_factory.mktemp("saved") / "basic.keras"
    model.save(path)
    return str(path), model.count_params()


@pytest.mark.parametrize("order", ["package_first", "keras_first"])
def test_keras_files_load_after_a_bare_import(saved_zoo_model, order):
    path, params = saved_zoo_model
    out = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, path, order], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[-1] == f"PointCloudModel PointwiseDense {params}"
    if order == "keras_first":  # the control: the file needs the zoo's registered classes
        assert lines[0].startswith("without pointnet_tf2:")
