"""The defaults of a training run: a flag the user gives, else the model's original recipe, else the task's.

A model registered with a `TrainingRecipe` (PointNet++, DGCNN: see
`pointnet_tf2.models.recipes`) trains by default with its original's points,
batch size, epochs, optimizer, learning rate and decay, batch-norm schedule,
label smoothing and augmentation; a PointNet model (no recipe) with the
task's defaults, which are the original PointNet's.

The project's stability defaults (README, "Training on real data") stay the
defaults of every model, whatever its recipe says:

- the cosine learning-rate schedule (`--lr_schedule cosine`, floor 1e-5);
- precise batch-norm statistics before validation (`--precise_bn_batches 16`);
- classifiers train without rotation about the up axis (`--train_rotation
  none`): the recipe's `RotateUp` step is left out, its other steps (a small
  rotation perturbation, scale, shift, jitter) are kept. Segmentation
  recipes keep their rotations (scenes and parts are not aligned shapes).

`--original_settings` gives the recipe's exact settings instead: its own
schedule (staircase, or DGCNN's cosine), no precise batch norm, its
rotation. Settings the zoo cannot apply (`TrainingRecipe.not_applied`) are
printed once at the start of a run (`recipe_line`).
"""

from pointnet_tf2.data.augment import POINTNET_CLS_STEPS
from pointnet_tf2.data.augment import augmentation_from_steps
from pointnet_tf2.data.augment import check_rotation
from pointnet_tf2.data.augment import steps_rotation
from pointnet_tf2.data.augment import with_train_rotation
from pointnet_tf2.models.registry import model_entry
from pointnet_tf2.tasks import get_task

# Defaults of the flags no task sets: the original PointNet's, and the stability defaults.
PROJECT_DEFAULTS = {"optimizer": "adam", "momentum": 0.9, "lr_schedule": "cosine", "bn_init_decay": 0.5,
                    "bn_decay_decay_rate": 0.5, "bn_decay_clip": 0.99, "label_smoothing": 0.0,
                    "weight_decay": 0.0, "precise_bn_batches": 16}
# What --original_settings changes: the original's learning-rate staircase (or the
# recipe's own schedule) and batch-norm moving averages (see README, "Training on real data").
ORIGINAL_SETTINGS = {"lr_schedule": "staircase", "precise_bn_batches": 0}
# Recipe values that apply only with --original_settings (the stability defaults win otherwise).
ORIGINAL_ONLY = ("lr_schedule",)
# Fields a run takes from its task (the original PointNet's values) when neither flag nor recipe sets them.
TASK_FIELDS = {"num_point": "num_point", "max_epoch": "max_epoch", "batch_size": "batch_size",
               "learning_rate": "learning_rate", "decay_step": "decay_step", "decay_rate": "decay_rate",
               "bn_decay_decay_step": "bn_decay_step", "log_dir": "log_dir"}


def recipe_steps(task_name, model):
    """The training augmentation of a model before `--train_rotation`: its recipe's, else the task's.

    Returns:
        A list of `[name, kwargs]` steps (`pointnet_tf2.data.augment.STEP_CLASSES`).
    """
    recipe = model_entry(model).recipe
    if recipe is not None:
        steps = recipe.augmentation
    else:
        steps = () if get_task(task_name).per_point else POINTNET_CLS_STEPS
    return [[name, dict(kwargs)] for name, kwargs in steps]


def run_defaults(task_name, model, original_settings=False):
    """The value each setting of a run takes when its flag is not given.

    Args:
        task_name: "cls", "part_seg" or "sem_seg".
        model: A registered model name.
        original_settings: Whether `--original_settings` is given.

    Returns:
        A dict `TrainConfig` field -> value (`train_rotation` for classifiers only).
    """
    task = get_task(task_name)
    recipe = model_entry(model).recipe
    values = {field: getattr(task, name) for field, name in TASK_FIELDS.items()}
    values.update(PROJECT_DEFAULTS)
    if recipe is not None:
        values.update({k: v for k, v in recipe.config.items() if k not in ORIGINAL_ONLY})
    if original_settings:
        values.update(ORIGINAL_SETTINGS)
        if recipe is not None:
            values.update({k: recipe.config[k] for k in ORIGINAL_ONLY if k in recipe.config})
    if task.train_rotations:
        values["train_rotation"] = steps_rotation(recipe_steps(task_name, model)) if original_settings else "none"
    return values


def resolve_augmentation(config, given):
    """The training augmentation steps of a run (`TrainConfig.augmentation`).

    Args:
        config: The `TrainConfig` being resolved, its model and (for
            classifiers) `train_rotation` set.
        given: The steps the user gave (`TrainConfig.augmentation`), or None.

    Returns:
        A list of `[name, kwargs]` steps, checked by building them.

    Raises:
        ValueError: On a malformed step or a bad argument.
    """
    task = get_task(config.task)
    steps = recipe_steps(config.task, config.model) if given is None else given
    if not isinstance(steps, (list, tuple)):
        raise ValueError(f"augmentation must be a list of (name, kwargs) steps, got {steps!r}")
    augmentation_from_steps(steps)  # checks names and arguments
    steps = [[name, dict(kwargs)] for name, kwargs in steps]
    if task.train_rotations and config.train_rotation is not None:
        steps = with_train_rotation(steps, check_rotation(config.train_rotation, "--train_rotation"))
    return steps


def recipe_line(config):
    """The line a run with a recipe prints at its start, or None (no recipe).

    It names the sources and the settings the zoo cannot apply, e.g.
    `dgcnn_cls: defaults from the original (pytorch/main.py, ...); not applied: weight_decay=0.0001, ...`.
    """
    recipe = model_entry(config.model).recipe
    if recipe is None:
        return None
    line = f"{config.model}: defaults from the original training ({', '.join(recipe.sources)})"
    if not config.original_settings:
        line += " with the stability defaults (--original_settings for its exact schedule)"
    text = recipe.not_applied_text()
    return line + (f"; not applied: {text}" if text else "")
