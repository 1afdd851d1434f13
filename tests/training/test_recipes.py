"""Each model trains with its original's defaults: flag > model recipe > task default (pointnet_tf2.training.recipes)."""

import dataclasses
import json

import keras
import pytest

from pointnet_tf2.data import augment
from pointnet_tf2.models import list_models
from pointnet_tf2.models import model_entry
from pointnet_tf2.models import training_recipe
from pointnet_tf2.models.recipes import RECIPE_FIELDS
from pointnet_tf2.models.recipes import TrainingRecipe
from pointnet_tf2.tasks import get_task
from pointnet_tf2.training.cli import build_parser
from pointnet_tf2.training.cli import main
from pointnet_tf2.training.run_setup import TrainConfig
from pointnet_tf2.training.run_setup import resume_mismatch

RECIPE_MODELS = [name for name in list_models() if training_recipe(name) is not None]
JITTER = ["Jitter", {"sigma": 0.01, "clip": 0.05}]


def _names(config):
    return [name for name, _ in config.augmentation]


def _parsed(task, *argv):
    values = vars(build_parser(task).parse_args(list(argv)))
    values.pop("model_arg")
    return TrainConfig.from_values(values, task=task)


def test_every_family_model_but_pointnet_and_voxel_has_a_recipe():
    assert sorted(RECIPE_MODELS) == sorted(list_models(family="dgcnn") + list_models(family="pointnet2"))
    assert all(training_recipe(name) is None for name in list_models(family="pointnet"))


def test_recipe_fields_are_train_config_flags_defaulting_to_none():
    defaults = {field.name: field.default for field in dataclasses.fields(TrainConfig)}
    assert all(defaults[field] is None for field in RECIPE_FIELDS)


@pytest.mark.parametrize("name", RECIPE_MODELS)
@pytest.mark.parametrize("original", [False, True])
def test_every_recipe_resolves_to_a_valid_config(name, original):
    recipe = training_recipe(name)
    assert set(recipe.config) <= set(RECIPE_FIELDS)
    config = TrainConfig(task=model_entry(name).task, model=name, original_settings=original).resolved()
    for field, value in recipe.config.items():
        if field != "lr_schedule" or original:
            assert getattr(config, field) == value, field
    assert config.lr_schedule == (recipe.config["lr_schedule"] if original else "cosine")
    assert config.precise_bn_batches == (0 if original else 16)
    assert len(augment.augmentation_from_steps(config.augmentation)) == len(config.augmentation)
    assert json.loads(json.dumps(config.augmentation)) == config.augmentation  # recorded as is in config.json


def test_pointnet2_cls_takes_its_recipe_with_the_stability_defaults():
    config = TrainConfig(task="cls", model="pointnet2_cls_ssg").resolved()
    assert (config.num_point, config.batch_size, config.max_epoch, config.learning_rate, config.optimizer) == (
        1024, 16, 251, 0.001, "adam")
    assert (config.decay_step, config.decay_rate, config.bn_decay_decay_step, config.bn_init_decay,
            config.bn_decay_clip) == (200_000, 0.7, 200_000, 0.5, 0.99)
    assert (config.lr_schedule, config.precise_bn_batches, config.train_rotation) == ("cosine", 16, "none")
    # no rotation about the up axis by default; the small perturbation, scale, shift and jitter stay
    assert config.augmentation == [["RotatePerturbation", {"sigma": 0.06, "clip": 0.18}],
                                   ["Scale", {"low": 0.8, "high": 1.25, "anisotropic": False}],
                                   ["Translate", {"shift": 0.1}], JITTER]
    original = TrainConfig(task="cls", model="pointnet2_cls_ssg", original_settings=True).resolved()
    assert (original.lr_schedule, original.precise_bn_batches, original.train_rotation) == ("staircase", 0, "z")
    assert _names(original) == ["RotateUp", "RotatePerturbation", "Scale", "Translate", "Jitter"]
    so3 = TrainConfig(task="cls", model="pointnet2_cls_msg", train_rotation="so3").resolved()
    assert _names(so3) == ["RotateSO3", "RotatePerturbation", "Scale", "Translate", "Jitter"]


def test_dgcnn_cls_takes_sgd_label_smoothing_and_its_augmentation():
    config = TrainConfig(task="cls", model="dgcnn_cls").resolved()
    assert (config.optimizer, config.momentum, config.learning_rate, config.max_epoch, config.batch_size) == (
        "momentum", 0.9, 0.1, 250, 32)
    assert config.label_smoothing == pytest.approx(0.2 * 40 / 39) and 0.2051 < config.label_smoothing < 0.2052
    assert (config.bn_init_decay, config.bn_decay_clip) == (0.9, 0.9)  # PyTorch's fixed momentum 0.1
    assert config.weight_decay == 1e-4  # coupled, as torch.optim.SGD's
    assert TrainConfig(task="cls", model="dgcnn_cls", weight_decay=0.0).resolved().weight_decay == 0.0
    assert TrainConfig(task="cls", model="pointnet_cls").resolved().weight_decay == 0.0
    assert config.augmentation == [["Scale", {"low": 2.0 / 3.0, "high": 1.5, "anisotropic": True}],
                                   ["Translate", {"shift": 0.2}], ["ShufflePoints", {}]]
    original = TrainConfig(task="cls", model="dgcnn_cls", original_settings=True).resolved()
    assert (original.lr_schedule, original.precise_bn_batches, original.train_rotation) == ("cosine", 0, "none")
    assert original.augmentation == config.augmentation
    rotated = TrainConfig(task="cls", model="dgcnn_cls", train_rotation="z").resolved()
    assert _names(rotated) == ["RotateUp", "Scale", "Translate", "ShufflePoints"]


def test_segmentation_recipes_keep_their_rotation_and_schedules():
    sem = TrainConfig(task="sem_seg", model="pointnet2_sem_seg").resolved()
    assert (sem.num_point, sem.batch_size, sem.max_epoch, sem.decay_rate) == (8192, 32, 201, 0.7)
    assert _names(sem) == ["PointDropout", "RotateUp"] and sem.train_rotation is None
    part = TrainConfig(task="part_seg", model="dgcnn_part_seg").resolved()
    assert (part.learning_rate, part.decay_step, part.bn_decay_decay_step, part.augmentation) == (
        0.003, 675_240, 1_350_480, [])
    msg = TrainConfig(task="part_seg", model="pointnet2_part_seg_msg").resolved()
    assert (msg.batch_size, msg.decay_step, msg.decay_rate, msg.augmentation) == (8, 337_620, 0.5, [JITTER])


def test_a_flag_the_user_gives_beats_the_recipe():
    config = _parsed("cls", "--model", "dgcnn_cls", "--batch_size", "8", "--learning_rate", "0.01",
                     "--optimizer", "adam", "--label_smoothing", "0", "--bn_init_decay", "0.5",
                     "--lr_schedule", "staircase", "--train_rotation", "z", "--original_settings").resolved()
    assert (config.batch_size, config.learning_rate, config.optimizer, config.label_smoothing,
            config.bn_init_decay, config.lr_schedule) == (8, 0.01, "adam", 0.0, 0.5, "staircase")
    assert config.max_epoch == 250 and config.bn_decay_clip == 0.9  # the rest from the recipe
    assert _names(config) == ["RotateUp", "Scale", "Translate", "ShufflePoints"]
    given = TrainConfig(task="cls", model="pointnet2_cls_ssg", augmentation=[JITTER]).resolved()
    assert given.augmentation == [JITTER]


# The defaults of every run before recipes existed (TrainConfig's and the task's).
OLD_DEFAULTS = {"momentum": 0.9, "optimizer": "adam", "lr_schedule": "cosine", "bn_init_decay": 0.5,
                "precise_bn_batches": 16, "bn_decay_decay_rate": 0.5, "bn_decay_clip": 0.99, "label_smoothing": 0.0}


@pytest.mark.parametrize("name", [n for n in list_models() if n not in RECIPE_MODELS])
def test_models_without_recipe_resolve_as_before(name):
    task = get_task(model_entry(name).task)
    config = _parsed(task.name, "--model", name).resolved()
    expected = {**OLD_DEFAULTS, "num_point": task.num_point, "max_epoch": task.max_epoch,
                "batch_size": task.batch_size, "learning_rate": task.learning_rate, "decay_step": task.decay_step,
                "decay_rate": task.decay_rate, "bn_decay_decay_step": task.bn_decay_step, "log_dir": task.log_dir}
    for field, value in expected.items():
        assert getattr(config, field) == value, field
    if task.train_rotations:
        assert (config.train_rotation, config.augmentation) == ("none", [JITTER])  # jitter only, as before
        original = _parsed(task.name, "--model", name, "--original_settings").resolved()
        assert original.augmentation == [["RotateUp", {}], JITTER] and original.train_rotation == "z"
        assert (original.lr_schedule, original.precise_bn_batches) == ("staircase", 0)
    else:
        assert (config.train_rotation, config.augmentation) == (None, [])


def test_resume_compares_resolved_values_and_reads_older_records():
    config = TrainConfig(task="cls", model="pointnet2_cls_ssg").resolved()
    recorded = {"train_config": json.loads(json.dumps(dataclasses.asdict(config)))}
    assert resume_mismatch(recorded, TrainConfig(task="cls", model="pointnet2_cls_ssg").resolved()) is None
    assert resume_mismatch(recorded, TrainConfig(task="cls", model="pointnet2_cls_ssg", batch_size=16).resolved()) is None
    changed = TrainConfig(task="cls", model="pointnet2_cls_ssg", original_settings=True).resolved()
    assert resume_mismatch(recorded, changed) == "--train_rotation was 'none', now 'z'"
    jittered = TrainConfig(task="cls", model="pointnet2_cls_ssg", augmentation=[JITTER]).resolved()
    assert resume_mismatch(recorded, jittered).startswith("--augmentation was [['RotatePerturbation'")
    # a PointNet run recorded before recipes: no augmentation, train_rotation None
    old = TrainConfig(task="cls").resolved()
    older = {"train_config": {**dataclasses.asdict(old), "train_rotation": None}}
    del older["train_config"]["augmentation"]
    assert resume_mismatch(older, TrainConfig(task="cls").resolved()) is None
    older["train_config"]["original_settings"] = True
    assert resume_mismatch(older, TrainConfig(task="cls").resolved()) == "--train_rotation was 'z', now 'none'"


def test_recipe_checks_its_fields():
    with pytest.raises(ValueError, match="config sets seed, not training fields"):
        TrainingRecipe(sources=("x",), config={"seed": 1})
    with pytest.raises(ValueError, match=r"an augmentation step must be \(class name, kwargs\), got 'Jitter'"):
        TrainingRecipe(sources=("x",), config={}, augmentation=("Jitter",))


def test_one_epoch_of_dgcnn_cls_records_its_recipe(tiny_data, tmp_path, capsys):
    log_dir = tmp_path / "dgcnn"
    argv = ["--data", tiny_data("cls"), "--log_dir", str(log_dir), "--model", "dgcnn_cls", "--model_arg", "k=4",
            "--model_arg", "emb_dims=16", "--model_arg", "edge_widths=[8, 8]", "--model_arg", "head_widths=[16, 8]",
            "--num_point", "32", "--max_epoch", "1", "--verbose", "2", "--visuals_every", "0", "--no_test",
            "--precise_bn_batches", "1"]
    assert main("cls", argv) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "not applied:" in line]
    assert len(lines) == 1 and lines[0].startswith("dgcnn_cls: defaults from the original training (pytorch/main.py")
    assert "lr_floor=0.001" in lines[0] and "test_batch_size=16" in lines[0] and "weight_decay" not in lines[0]
    recorded = json.loads((log_dir / "config.json").read_text())["train_config"]
    assert recorded["weight_decay"] == 1e-4
    saved = keras.saving.load_model(log_dir / "last.keras", compile=True)
    assert type(saved.optimizer).__name__ == "SGDWithL2" and saved.optimizer.l2 == pytest.approx(1e-4)
    assert (recorded["optimizer"], recorded["learning_rate"], recorded["batch_size"], recorded["max_epoch"]) == (
        "momentum", 0.1, 32, 1)
    assert recorded["num_point"] == 32 and recorded["label_smoothing"] == pytest.approx(8 / 39)
    assert recorded["augmentation"] == [["Scale", {"low": 2 / 3, "high": 1.5, "anisotropic": True}],
                                        ["Translate", {"shift": 0.2}], ["ShufflePoints", {}]]
    assert (recorded["lr_schedule"], recorded["train_rotation"]) == ("cosine", "none")
    # a resume with the same flags finds nothing changed
    assert main("cls", argv[:-9] + ["--max_epoch", "2", "--verbose", "0", "--visuals_every", "0", "--no_test",
                                    "--precise_bn_batches", "1", "--resume"]) == 0
    assert json.loads((log_dir / "training_state.json").read_text())["epochs_done"] == 2


@pytest.mark.parametrize("task", ["cls", "part_seg", "sem_seg"])
def test_parser_help_names_the_recipe_defaults(task, capsys):
    with pytest.raises(SystemExit):
        build_parser(task).parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default: the model's original (e.g." in text and "(default: None)" not in text
