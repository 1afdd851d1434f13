"""The set-up of a training run, shared by `trainer.train` (Keras `fit`) and the multi-worker loop.

The run's configuration (`TrainConfig`), its data (built-in or a dataset,
validation rows, input channels), its model (built and compiled), its run
folder (`config.json`, resume checks) and the guards and visuals of its
callbacks. `prepare_run` puts them together into a `Run`, which both
training loops train (`Run.build`, `Run.make_callbacks`, ...), and
`finish_run` ends it (test evaluation, result, summary line).
`pointnet_tf2.training.trainer` re-exports the public names.
"""

import dataclasses
import json
import os
import sys
from typing import Optional

import numpy as np

from pointnet_tf2.checkpoints import CONFIG_FILE  # noqa: F401  (the run folder's file; re-exported)
from pointnet_tf2.checkpoints import load_run_config
from pointnet_tf2.checkpoints import open_checkpoint
from pointnet_tf2.data.datasets import open_dataset
from pointnet_tf2.data.description import holdout_indices
from pointnet_tf2.data.sequence import PointCloudSequence
from pointnet_tf2.data.synthetic import builtin_dataset
from pointnet_tf2.evaluation import evaluate
from pointnet_tf2.layers.fused import native_bf16
from pointnet_tf2.layers.fused import set_bf16_products
from pointnet_tf2.models import get_model
from pointnet_tf2.models import model_entry
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.models.kinds import output_names
from pointnet_tf2.presets import save_to_preset
from pointnet_tf2.tasks import get_task
from pointnet_tf2.tasks import orthogonal_weight_for
from pointnet_tf2.training import callbacks as cb
from pointnet_tf2.training import distribute as dist
from pointnet_tf2.training import families
from pointnet_tf2.training.callbacks import DivergenceGuard
from pointnet_tf2.training.callbacks import ValidationVisuals
from pointnet_tf2.training.callbacks import batch_norm_layers
from pointnet_tf2.training.callbacks import logged_losses
from pointnet_tf2.training.distribute import check_mode
from pointnet_tf2.training.optimizers import check_weight_decay
from pointnet_tf2.training.optimizers import make_optimizer
from pointnet_tf2.training.recipes import ORIGINAL_SETTINGS  # noqa: F401  (re-exported)
from pointnet_tf2.training.recipes import recipe_line
from pointnet_tf2.training.recipes import resolve_augmentation
from pointnet_tf2.training.recipes import run_defaults
from pointnet_tf2.training.schedules import StaircaseDecay
from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils.errors import first_line
from pointnet_tf2.utils.files import check_output_folder
from pointnet_tf2.utils.keras_utils import check_keras_file

LR_SCHEDULES = ("cosine", "staircase")
# Batch norm over fewer samples than this per replica is refused in training.
MIN_BATCH_NORM_BATCH = 2
# ... and below this a warning is printed.
SMALL_BATCH_NORM_BATCH = 8
MIN_LEARNING_RATE = 1e-5  # the original's floor
# Builder arguments a run sets itself, and what sets each: never a --model_arg.
# The preset folder --save_preset writes inside the run folder.
PRESET_DIR = "preset"
RUN_MODEL_ARGUMENTS = {
    "num_classes": "the dataset's class count (--num_classes for data that names no classes)",
    "num_parts": "the dataset's part count",
    "num_categories": "the dataset's category count",
    "num_points": "--num_point",
    "input_dims": "the dataset's channels per point (--use_normals)",
    "orthogonal_weight": "--orthogonal_weight",
    "bn_momentum": "--bn_init_decay",
}


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a training run (the train scripts' flags).

    Fields left at None take the model's original value (its
    `TrainingRecipe`), else the task's (PointNet's) or the project's default:
    see `pointnet_tf2.training.recipes.run_defaults`.
    """

    task: str
    model: Optional[str] = None
    data: Optional[str] = None
    # Classes of data without class names (no shape_names.txt): see open_training_data.
    num_classes: Optional[int] = None
    num_point: Optional[int] = None
    max_epoch: Optional[int] = None
    batch_size: Optional[int] = None
    learning_rate: Optional[float] = None
    momentum: Optional[float] = None
    optimizer: Optional[str] = None
    decay_step: Optional[int] = None
    decay_rate: Optional[float] = None
    lr_schedule: Optional[str] = None
    bn_init_decay: Optional[float] = None
    # Training batches whose statistics replace the BN moving averages before validation (0: keep the averages).
    precise_bn_batches: Optional[int] = None
    bn_decay_decay_rate: Optional[float] = None
    bn_decay_decay_step: Optional[int] = None
    bn_decay_clip: Optional[float] = None
    log_dir: Optional[str] = None
    seed: int = 0
    resume: bool = False
    val_split: float = 0.1
    validate_on: str = "auto"
    test_area: int = 6
    label_smoothing: Optional[float] = None
    # Coupled (PyTorch's) weight decay: + weight_decay * w in every gradient (pointnet_tf2.training.optimizers).
    weight_decay: Optional[float] = None
    class_weights: Optional[str] = None
    orthogonal_weight: Optional[float] = None
    seg_weight: float = 1.0
    use_normals: bool = False
    visuals_every: int = 10
    test: bool = True
    verbose: int = 1
    # Rotation protocols and other model families (see pointnet_tf2.training.families).
    train_rotation: Optional[str] = None
    # Training augmentation of the points, as [augment class name, kwargs] steps (see
    # pointnet_tf2.data.augment.augmentation_from_steps); None: the model's recipe, else the task's.
    augmentation: Optional[list] = None
    test_rotation: str = "none"
    triplet_margin: float = 0.2
    triplet_mining: str = "batch_hard"
    triplet_distance: str = "l2"
    classes_per_batch: Optional[int] = None
    # tf.distribute (see pointnet_tf2.training.distribute): None = mirrored with >1 GPU, else none.
    distribute: Optional[str] = None
    sync_batch_norm: bool = False
    # Keras compile options (see benchmarks/run.py: neither helped on a 2-core CPU).
    steps_per_execution: int = 1
    jit_compile: bool = False
    # bf16 products in the training step's per-point layers (pointnet_tf2.layers.set_bf16_products).
    bf16_products: bool = False
    # Stops a run whose epoch loss exceeds this multiple of its lowest (0: only non-finite losses).
    divergence_factor: float = 5.0
    # The original's exact settings (see pointnet_tf2.training.recipes) instead of the stability defaults.
    original_settings: bool = False
    # Further builder arguments of the model (--model_arg KEY=VALUE), e.g. {"resolution": 24}.
    model_args: dict = dataclasses.field(default_factory=dict)
    # Write the best checkpoint as a preset into log_dir/preset at the end (see pointnet_tf2.presets).
    save_preset: bool = False

    @classmethod
    def from_values(cls, values, **overrides):
        """A config from a mapping that may hold other keys too (parsed flags, a recorded config.json).

        Keys that are not fields are left out; `overrides` win.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in values.items() if k in fields}, **overrides})

    def resolved(self):
        """Returns a copy with the defaults filled in and values checked.

        A value given wins; else the model's recipe, else the task's or the
        project's default (`pointnet_tf2.training.recipes.run_defaults`).
        The training augmentation is resolved too (`augmentation`).

        Raises:
            ValueError: On an out-of-range value, quoting it.
        """
        task = get_task(self.task)
        config = dataclasses.replace(self)
        if config.model is None:
            config.model = task.default_model
        for field, value in run_defaults(task.name, config.model, config.original_settings).items():
            if getattr(config, field) is None:
                setattr(config, field, value)
        config.model_args = dict(config.model_args or {})
        config.augmentation = resolve_augmentation(config, self.augmentation)
        for field in ("num_point", "max_epoch", "batch_size", "decay_step", "bn_decay_decay_step", "steps_per_execution"):
            value = getattr(config, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{field} must be a positive integer, got {value!r}")
        if not config.learning_rate > 0:
            raise ValueError(f"--learning_rate must be > 0, got {config.learning_rate!r}")
        if not 0 < config.decay_rate <= 1:
            raise ValueError(f"--decay_rate must be in (0, 1], got {config.decay_rate!r}")
        if config.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"--lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {config.lr_schedule!r}")
        if not 0.0 < config.bn_init_decay <= config.bn_decay_clip < 1.0:
            raise ValueError(f"--bn_init_decay {config.bn_init_decay!r} and --bn_decay_clip {config.bn_decay_clip!r} "
                             "must satisfy 0 < bn_init_decay <= bn_decay_clip < 1")
        if isinstance(config.precise_bn_batches, bool) or not isinstance(config.precise_bn_batches, int) \
                or config.precise_bn_batches < 0:
            raise ValueError(f"--precise_bn_batches must be an integer >= 0, got {config.precise_bn_batches!r}")
        if not config.divergence_factor >= 0:
            raise ValueError(f"--divergence_factor must be >= 0, got {config.divergence_factor!r}")
        if not 0.0 <= config.label_smoothing < 1.0:
            raise ValueError(f"--label_smoothing must be in [0, 1), got {config.label_smoothing!r}")
        check_weight_decay(config.weight_decay, "--weight_decay")
        if config.optimizer not in ("adam", "momentum"):
            raise ValueError(f"--optimizer must be 'adam' or 'momentum', got {config.optimizer!r}")
        if not 0.0 <= config.val_split < 1.0:
            raise ValueError(f"--val_split must be in [0, 1), got {config.val_split!r}")
        if config.validate_on not in ("auto", "val", "test", "none"):
            raise ValueError(f"--validate_on must be auto, val, test or none, got {config.validate_on!r}")

        check_mode(config.distribute)
        check_model_arguments(config)
        return config


_FIELD_DEFAULTS = {field.name: field.default for field in dataclasses.fields(TrainConfig)}


def _log(config, message):
    if config.verbose:
        print(message, flush=True)


def resolve_data(task_name, data, *, verbose=1):
    """Returns the dataset path, generating the built-in dataset when `data` is None."""
    if data is not None:
        return data

    path = builtin_dataset(task_name)
    if verbose:
        print(f"no --data given: using the built-in synthetic {task_name} dataset at {path}", flush=True)
    return path


def validation_rows(description, config):
    """Chooses the training rows and the validation split and rows.

    The test split is used for validation only when asked for
    (`validate_on="test"`). Otherwise the dataset's own "val" split is used
    when it has one, else a seeded `val_split` fraction held out of "train".

    Args:
        description: The `DatasetDescription`.
        config: A resolved `TrainConfig`.

    Returns:
        `(train_indices, val_split, val_indices)`: indices into the train
        split (None = all of it), the split validation reads (None = no
        validation) and indices into that split (None = all).
    """
    choice = config.validate_on
    if choice == "auto":
        choice = "val" if "val" in description.splits else ("holdout" if config.val_split > 0 else "none")
    if choice == "none":
        return None, None, None
    if choice in ("val", "test"):
        if choice not in description.splits:
            raise ValueError(f"{description.root}: --validate_on {choice}: the dataset has no {choice!r} split")
        return None, choice, None

    kept, held = holdout_indices(description.splits["train"], config.val_split, seed=config.seed)
    if len(held) == 0 or len(kept) == 0:
        raise ValueError(f"{description.root}: --val_split {config.val_split} leaves no clouds to train or to validate on")
    return kept, "train", held


def run_validation_rows(run_config, description, where):
    """The split and rows a finished run validated on, from its `config.json`.

    Args:
        run_config: The run's `config.json` contents (`load_run_config`).
        description: The dataset, as opened for evaluation.
        where: The checkpoint, named in errors.

    Returns:
        `(split, indices)`: indices None means the whole split.

    Raises:
        ValueError: If the run validated on nothing.
    """
    if run_config.get("standalone"):
        raise ValueError(f"{where}: a .keras file outside a run folder has no recorded validation; choose a --split")
    config = TrainConfig.from_values(run_config["train_config"])
    _, split, indices = validation_rows(description, config)
    if split is None:
        raise ValueError(f"{where}: its run validated on nothing (--validate_on none); choose a --split")
    return split, indices


def input_channels(config, description):
    """Returns how many channels of the stored points the model sees (the task decides).

    Raises:
        ValueError: If `--use_normals` is given for data without normals.
    """
    return get_task(config.task).input_channels(description, config.use_normals)


def check_model_arguments(config):
    """Checks `--model_arg` and the run flags that feed the model's builder.

    A `--model_arg` must be an argument of the builder that the run does not
    set itself (`RUN_MODEL_ARGUMENTS`); a run flag feeding the builder
    (`--orthogonal_weight`, `--bn_init_decay`, `--use_normals`) must apply to
    the model unless it is at its default. Values are checked by the builder.

    Args:
        config: A `TrainConfig` with its model resolved.

    Raises:
        ValueError: One line naming the argument or flag, the model and what
            it accepts.
    """
    entry = model_entry(config.model)
    accepted = entry.defaults()
    if not isinstance(config.model_args, dict):
        raise ValueError(f"--model_arg: expected KEY=VALUE arguments, got {config.model_args!r}")
    for key in config.model_args:
        if key in RUN_MODEL_ARGUMENTS:
            raise ValueError(f"--model_arg {key}: the run sets it from {RUN_MODEL_ARGUMENTS[key]}, not --model_arg")
        if key not in accepted:
            settable = sorted(set(accepted) - set(RUN_MODEL_ARGUMENTS))
            raise ValueError(f"--model_arg {key}: {config.model} has no argument {key!r}; it accepts "
                             f"{', '.join(settable)}")
    defaults = run_defaults(config.task, config.model, config.original_settings)
    for argument, flag, value in (("orthogonal_weight", "orthogonal_weight", config.orthogonal_weight),
                                  ("bn_momentum", "bn_init_decay", config.bn_init_decay),
                                  ("input_dims", "use_normals", config.use_normals)):
        if argument not in accepted and value is not None and value != defaults.get(flag, _FIELD_DEFAULTS[flag]):
            raise ValueError(f"--{flag} does not apply to {config.model} (its builder takes no {argument}); "
                             "leave it at its default")


def build_model(config, description):
    """Builds the (un-compiled) model of a run from the registry.

    The builder gets what the run sets from the dataset and its flags (see
    `RUN_MODEL_ARGUMENTS`) and the run's `--model_arg`s, exactly: a flag at
    its default is left out for a builder without that argument (voxel
    models: no points, no regulariser; the data pipeline still samples
    `--num_point` points per cloud before voxelising), anything else that
    does not fit is an error, never dropped.

    Raises:
        ValueError: On a model of another task, an argument or flag that does
            not fit the model (see `check_model_arguments`), or a value the
            builder rejects.
    """
    task = get_task(config.task)
    entry = model_entry(config.model)
    if entry.task != task.name:
        raise ValueError(f"--model {config.model} is a {entry.task} model, not a {task.name} model")
    check_model_arguments(config)
    accepted = entry.defaults()
    orthogonal_weight = config.orthogonal_weight
    if orthogonal_weight is None and "orthogonal_weight" in accepted:
        orthogonal_weight = orthogonal_weight_for(config.batch_size)
    kwargs = task.model_config(description, config.num_point, input_channels(config, description), orthogonal_weight)
    kwargs["bn_momentum"] = config.bn_init_decay
    dataset_arguments = {"num_classes", "num_parts", "num_categories"}
    missing = sorted(dataset_arguments & (set(kwargs) - set(accepted)))
    if missing:
        raise ValueError(f"--model {config.model}: its builder takes no {', '.join(missing)}, which a "
                         f"{task.name} run sets from the dataset")
    # Flags at their default that the builder has no argument for (checked above).
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    return get_model(config.model, **kwargs, **config.model_args)


def compile_model(model, config, description, *, steps_per_epoch=None):
    """Compiles a model with the run's optimizer, schedule, losses and metrics.

    Args:
        model: The model.
        config: A resolved `TrainConfig`.
        description: The `DatasetDescription`.
        steps_per_epoch: Optimizer steps per epoch; the cosine schedule needs it.
    """
    import keras

    task = get_task(config.task)
    if config.lr_schedule == "cosine":
        if not steps_per_epoch:
            raise ValueError("--lr_schedule cosine needs the number of steps per epoch")
        schedule = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=steps_per_epoch * config.max_epoch,
            alpha=min(1.0, MIN_LEARNING_RATE / config.learning_rate))
    else:
        schedule = StaircaseDecay(config.learning_rate, config.decay_step, config.decay_rate, config.batch_size,
                                  minimum=MIN_LEARNING_RATE)
    optimizer = make_optimizer(config.optimizer, schedule, momentum=config.momentum, weight_decay=config.weight_decay)

    class_weights = _class_weights(config, description)
    model.compile(
        optimizer=optimizer,
        steps_per_execution=config.steps_per_execution,
        jit_compile=config.jit_compile,
        **task.compile_args(description, output_kind=model_kinds(model)[1], label_smoothing=config.label_smoothing,
                            class_weights=class_weights, seg_weight=config.seg_weight,
                            triplet={"margin": config.triplet_margin, "distance": config.triplet_distance,
                                     "mining": config.triplet_mining},
                            outputs=output_names(model)),
    )
    return model


def _class_weights(config, description):
    if config.class_weights in (None, "", "none"):
        return None
    if config.class_weights == "balanced":
        labels = PointCloudSequence(description, split="train", batch_size=1).read_labels()
        counts = np.bincount(np.asarray(labels).ravel(), minlength=description.num_classes).astype(np.float64)
        weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / description.num_classes, 0.0)
        return weights.tolist()
    try:
        return [float(w) for w in config.class_weights.split(",")]
    except ValueError:
        raise ValueError(f"--class_weights must be 'balanced' or comma-separated numbers, got {config.class_weights!r}") from None


def save_run_config(config, description, model, path):
    """Writes `config.json`: every argument, the dataset and the model config."""
    payload = {
        "train_config": dataclasses.asdict(config),
        "dataset": description.to_dict(),
        "model": {"builder": model.builder, "builder_config": model.builder_config},
    }
    with atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=2)


# Settings a resumed run must keep: they shape the model (its inputs, outputs
# and regulariser), the data it sees (the hold-out rows, the batches, the
# augmentation) or the optimizer state in last.keras. Others (--max_epoch,
# --learning_rate and the schedule, --verbose, --visuals_every, --no_test, ...)
# may change.
RESUME_SETTINGS = ("num_point", "use_normals", "batch_size", "orthogonal_weight", "bn_init_decay", "optimizer", "seed",
                   "val_split", "validate_on", "test_area", "train_rotation", "classes_per_batch", "model_args",
                   "augmentation", "weight_decay")
# Dataset properties a resumed run must keep (dataset root, class count, channels).
RESUME_DATASET = ("num_classes", "input_dims", "root")


def resume_mismatch(previous, config, description=None):
    """The first setting of a resume that differs from the recorded run, or None.

    Args:
        previous: The run's `config.json` (`load_run_config`).
        config: The resolved `TrainConfig` of the resume.
        description: The `DatasetDescription` opened for the resume, or None.

    Returns:
        `"--SETTING was OLD, now NEW"` (or `"the dataset's PROPERTY ..."`), or None.
    """
    recorded = dict(previous["train_config"])
    recorded.setdefault("model_args", {})  # runs recorded before --model_arg had none
    if recorded.get("train_rotation") is None and config.train_rotation is not None:
        # Runs recorded before the rotation was resolved: none by default, z with --original_settings
        # (or before that flag existed), as pointnet_tf2.rotations reads them.
        recorded["train_rotation"] = "z" if recorded.get("original_settings", True) else "none"
    for key in RESUME_SETTINGS:
        if key in recorded and recorded[key] != getattr(config, key):
            flag = "model_arg" if key == "model_args" else key
            return f"--{flag} was {recorded[key]!r}, now {getattr(config, key)!r}"
    if description is None:
        return None
    dataset = previous.get("dataset") or {}
    for key in RESUME_DATASET:
        old, new = dataset.get(key), getattr(description, key)
        if key == "root" and old is not None:
            old, new = os.path.realpath(old), os.path.realpath(new)
        if old is not None and old != new:
            what = {"root": "dataset (--data)", "num_classes": "class count", "input_dims": "channels per point"}[key]
            return f"the {what} was {old!r}, now {new!r}"
    return None


def open_training_data(config, data):
    """Opens the dataset of a run, as the trainer reads it.

    - Data without class names (no `shape_names.txt`) needs its class count:
      `--num_classes` for a new run, the recorded run's count on `--resume`;
      it is never taken from the largest label alone (a class above it
      would be silently missing). A warning line says the names are made up.
    - A single HDF5 file (e.g. one shard `ply_data_train0.h5`) is all
      training data: validation is the `--val_split` hold-out and there is
      no test split.

    Args:
        config: A resolved `TrainConfig`.
        data: The dataset path (see `resolve_data`).

    Returns:
        A `DatasetDescription` with a "train" split.

    Raises:
        ValueError: On a bad dataset, or data without class names and no count.
        FileNotFoundError: If the data is missing.
    """
    num_classes = config.num_classes
    if num_classes is None and config.resume:
        try:
            num_classes = load_run_config(os.path.abspath(config.log_dir))["dataset"]["num_classes"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # check_run_folder reports a missing or bad run
    description = open_dataset(data, task=config.task, test_area=config.test_area, num_classes=num_classes)
    if description.class_count_from == "labels":
        raise ValueError(f"{description.root}: the data names no classes (no shape_names.txt) and the class count "
                         f"cannot be told from the labels alone (the largest is {description.num_classes - 1}): "
                         "pass --num_classes or write shape_names.txt, one class name per line")  # fmt: skip
    if description.class_count_from == "num_classes":
        print(f"warning: {description.root}: the data names no classes (no shape_names.txt); "
              f"{description.num_classes} classes named class_0 .. class_{description.num_classes - 1}",
              file=sys.stderr, flush=True)  # fmt: skip
    if config.num_classes is not None and description.num_classes != config.num_classes:
        raise ValueError(f"{description.root}: --num_classes {config.num_classes}, but the data names "
                         f"{description.num_classes} classes")  # fmt: skip
    if "train" not in description.splits and list(description.splits) == ["all"]:
        description = dataclasses.replace(description, splits={"train": description.splits["all"]},
                                          split_ranges={"train": description.split_ranges["all"]})  # fmt: skip
        _log(config, f"{description.root}: one file: all {description.splits['train']} clouds are training data "
                     f"(validation: --val_split {config.val_split} of them), no test split")  # fmt: skip
    if "train" not in description.splits:
        raise ValueError(f"{description.root}: has no 'train' split (it has {', '.join(description.splits)})")
    return description


def check_run_folder(config, log_dir, description=None):
    """Checks `--log_dir` before a run starts and returns its saved state.

    A new run needs a folder without a run in it (a good checkpoint is never
    overwritten); `--resume` needs an intact `last.keras` and the training
    state of a run of the same task and model, and refuses any change of a
    setting that shapes the model or the data (see `RESUME_SETTINGS`).

    Args:
        config: A resolved `TrainConfig`.
        log_dir: The absolute log folder. It is not created here: the first
            file the run writes (`config.json`) creates it, so a run refused
            before training leaves no empty folder.
        description: The run's `DatasetDescription`; when given, a resume
            also checks the dataset against the recorded one.

    Returns:
        The training state dict, or None for a new run.

    Raises:
        FileNotFoundError: On `--resume` without a run to resume.
        ValueError: On a run of another task/model, a changed setting or
            dataset, a damaged `last.keras`, or an occupied folder without
            `--resume`; one line naming the setting, the old and new value.
    """
    last_path = os.path.join(log_dir, "last.keras")
    state = cb.read_state(log_dir)
    if config.resume:
        if state is None or not os.path.exists(last_path):
            raise FileNotFoundError(f"{log_dir}: nothing to resume (no last.keras and {cb.STATE_FILE})")
        previous = load_run_config(log_dir)["train_config"]
        for key in ("task", "model"):
            if previous[key] != getattr(config, key):
                raise ValueError(f"{log_dir}: --resume of a {previous['task']}/{previous['model']} run with "
                                 f"--{key} {getattr(config, key)}")
        check_keras_file(last_path, hint=f"resume from the best checkpoint instead (cp {os.path.join(log_dir, 'best.keras')} "
                                         f"{last_path}) or start anew with another --log_dir")
        mismatch = resume_mismatch(load_run_config(log_dir), config, description)
        if mismatch:
            raise ValueError(f"{log_dir}: cannot resume: {mismatch}; resume with the run's settings or start anew "
                             "with another --log_dir")
    elif state is not None or os.path.exists(last_path):
        raise ValueError(f"{log_dir}: already holds a training run; pass --resume to continue it or choose another --log_dir")
    if config.save_preset:  # replaced at the end only if pointnet-tf2 wrote it
        check_output_folder(os.path.join(log_dir, PRESET_DIR), overwrite=True, option="--save_preset")
    return state


def check_batch_norm_batch(model, per_replica, config):
    """Refuses (or warns about) batches too small for batch norm in training.

    Training batches are always full (the partial last batch of an epoch is
    dropped), so `per_replica` is the smallest batch any batch-norm layer sees.

    Raises:
        ValueError: If the model has batch norm and `per_replica` is below
            `MIN_BATCH_NORM_BATCH`.
    """
    if not batch_norm_layers(model):
        return
    if per_replica < MIN_BATCH_NORM_BATCH:
        raise ValueError(f"--batch_size {config.batch_size}: {per_replica} cloud(s) per replica is too few for the "
                         f"batch norm of {config.model} (at least {MIN_BATCH_NORM_BATCH})")
    if per_replica < SMALL_BATCH_NORM_BATCH:
        print(f"warning: --batch_size {config.batch_size}: batch norm over {per_replica} clouds per replica "
              "is noisy and may destabilise training", flush=True)


def divergence_guard(config, checkpoint, *, resumed_history=True):
    """The run's `DivergenceGuard`, naming the checkpoint that stays intact.

    Args:
        config: The resolved `TrainConfig`.
        checkpoint: The run's `AtomicCheckpoint`.
        resumed_history: On `--resume`, seed the guard with the losses of
            `log.csv` (the multi-worker loop passes False: only the chief has
            the file, and every worker must judge alike).
    """
    history = logged_losses(checkpoint.directory) if config.resume and resumed_history else ()
    return DivergenceGuard(config.divergence_factor, history=history,
                           checkpoint_hint=f"{checkpoint.best_path} and {checkpoint.last_path} keep the last good epochs")


def summary_line(result):
    """The one-line summary printed at the end of training."""
    best = "n/a" if result["best_value"] is None else f"{result['best_value']:.4f}"
    line = f"done: best {result['monitor']} {best} at epoch {result['best_epoch']}; checkpoint {result['best_checkpoint']}"
    test = result.get("test")
    if test:
        line += "; test " + ", ".join(f"{k} {test[k]:.4f}" for k in test.get("headline", []))
    return line


def _visuals(log_dir, val_seq, description, config):
    task = get_task(description.task)
    return ValidationVisuals(log_dir, val_seq, task.label_names(description), task=task, every=config.visuals_every,
                             category_parts=description.category_parts)


# -- one run, shared by the fit path and the multi-worker loop ----------------------------------


@dataclasses.dataclass
class RunCallbacks:
    """The callbacks of a run, by role (a training loop never looks one up by position).

    Attributes:
        momentum: The `BatchNormMomentumScheduler` (the original's BN-momentum staircase).
        statistics: `EpochStatistics`: learning rate, BN momentum and steps/s in the epoch logs.
        precise: `PreciseBatchNorm`, or None (`--precise_bn_batches 0`, or a distributed run).
        guard: The `DivergenceGuard`.
        checkpoint: The `AtomicCheckpoint` (`last.keras`, `best.keras`, `training_state.json`).
        csv_log: The `CSVLogger` of `log.csv` (None on a multi-worker run's other workers).
        tensorboard: The `TensorBoard` callback (None on a multi-worker run's other workers).
        visuals: `ValidationVisuals`, or None when they do not apply.
    """

    momentum: cb.BatchNormMomentumScheduler
    statistics: cb.EpochStatistics
    precise: Optional[cb.PreciseBatchNorm]
    guard: DivergenceGuard
    checkpoint: cb.AtomicCheckpoint
    csv_log: object = None
    tensorboard: object = None
    visuals: Optional[ValidationVisuals] = None

    def for_fit(self):
        """Every callback, in the order Keras `fit` must call them.

        The momentum first (it sets the step's momentum); the statistics
        before precise batch norm (its passes are not training time) and
        before the CSV and TensorBoard loggers (they record its values); the
        guard before the checkpoint (a diverged epoch is never saved).
        """
        return [callback for callback in (self.momentum, self.statistics, self.precise, self.guard, self.checkpoint,
                                          self.csv_log, self.tensorboard, self.visuals) if callback is not None]

    def epoch_writers(self):
        """The callbacks that record an epoch (statistics, checkpoint, CSV, TensorBoard), in order.

        A custom loop calls these with the epoch logs; it applies the
        momentum, the guard and the visuals itself.
        """
        return [callback for callback in (self.statistics, self.checkpoint, self.csv_log, self.tensorboard)
                if callback is not None]


@dataclasses.dataclass
class Run:
    """One training run: what `trainer.train` (Keras `fit`) and the multi-worker loop share.

    `prepare_run` makes it (configuration, data, run folder, validation
    rows); the training loop then builds its sequences
    (`training_sequence`, `validation_sequence`) and its model (`build`),
    resumes (`load_last_checkpoint`, `start_after`), writes `config.json`
    (`save_config`), makes the callbacks (`make_callbacks`), trains, and
    hands the run to `finish_run`.

    Attributes:
        config: The resolved `TrainConfig` (`distribute` resolved too).
        task: The run's `Task`.
        description: The `DatasetDescription` trained on.
        log_dir: The absolute run folder.
        strategy: The `tf.distribute` strategy, None on one device.
        cluster: The `ClusterInfo` of a multi-worker run, None otherwise.
        per_replica: Clouds per replica and step.
        state: The recorded training state of the run resumed (read by the
            chief), else None.
        refusal: A multi-worker chief's reason not to start (its run folder
            check failed); raised once every worker knows (see `multi_worker`).
        train_indices: Rows of the train split trained on (None: all).
        val_split: The split validated on (None: no validation).
        val_indices: Rows of `val_split` validated on (None: all).
        channels: Channels per point the model reads.
        train_options: Extra `PointCloudSequence` arguments of the training
            data (`families.train_sequence_options`).
        model: The compiled model, after `build`.
        monitor: The epoch-log key picking the best checkpoint, after `build`.
        initial_epoch: Epochs already done (a resumed run).
        best_value: Best monitored value so far (a resumed run).
        best_epoch: Its epoch (1-based).
        callbacks: The `RunCallbacks`, after `make_callbacks`.
    """

    config: TrainConfig
    task: object
    log_dir: str
    strategy: object = None
    cluster: object = None
    per_replica: Optional[int] = None
    description: object = None
    state: Optional[dict] = None
    refusal: Optional[BaseException] = None
    train_indices: object = None
    val_split: Optional[str] = None
    val_indices: object = None
    channels: Optional[int] = None
    train_options: dict = dataclasses.field(default_factory=dict)
    model: object = None
    monitor: Optional[str] = None
    initial_epoch: int = 0
    best_value: Optional[float] = None
    best_epoch: Optional[int] = None
    callbacks: Optional[RunCallbacks] = None

    @property
    def is_chief(self):
        """Whether this process writes the run folder (always, outside a multi-worker run)."""
        return self.cluster is None or self.cluster.is_chief

    @property
    def last_path(self):
        return os.path.join(self.log_dir, cb.LAST_CHECKPOINT)

    def log(self, message, *, everyone=False):
        """Prints a line of the run's log (with `--verbose`; in a multi-worker run the chief's, or every worker's)."""
        if not self.config.verbose or not (self.is_chief or everyone):
            return
        if self.cluster is not None and self.cluster.num_workers > 1:
            message = f"[worker {self.cluster.worker_index}/{self.cluster.num_workers}] {message}"
        print(message, flush=True)

    def training_sequence(self, indices, *, batch_size, seed):
        """The training `PointCloudSequence` of rows `indices` of the train split.

        Batches are always full (batch norm never sees a runt batch; the
        original drops it too).
        """
        return PointCloudSequence(self.description, batch_size=batch_size, num_points=self.config.num_point,
                                  split="train", indices=indices, seed=seed, channels=self.channels,
                                  drop_remainder=True, **self.train_options)

    def validation_sequence(self, indices, *, sampling):
        """The validation `PointCloudSequence` of rows `indices` of `val_split` (not augmented, in order).

        Args:
            indices: Rows of the split (None: all).
            sampling: The point sampling (see `PointCloudSequence`); "fixed"
                reads the same seeded points of a cloud every epoch.
        """
        return PointCloudSequence(self.description, batch_size=self.config.batch_size,
                                  num_points=self.config.num_point, split=self.val_split, indices=indices,
                                  augment=False, shuffle=False, sampling=sampling, channels=self.channels,
                                  **families.eval_sequence_options(self.config))

    def build(self, steps_per_epoch):
        """Builds and compiles the run's model under its strategy; sets `model` and `monitor`.

        Raises:
            ValueError: On a bad model for the task, or batches too small
                for its batch norm (`check_batch_norm_batch`).
        """
        with dist.scope(self.strategy):
            model = compile_model(build_model(self.config, self.description), self.config, self.description,
                                  steps_per_epoch=steps_per_epoch)
            model.optimizer.build(model.trainable_variables)
        check_batch_norm_batch(model, self.per_replica, self.config)
        monitor = self.task.monitor_key(model_kinds(model)[1], output_names(model))
        self.model = model
        self.monitor = monitor if self.val_split is not None else monitor.removeprefix("val_")
        return model

    def load_last_checkpoint(self):
        """Loads `last.keras` (weights and optimizer state) into the model, for `--resume`.

        Raises:
            ValueError: If it does not fit the model; one line.
        """
        try:
            self.model.load_weights(self.last_path)
        except ValueError as error:
            raise ValueError(f"{self.last_path}: does not fit the model {self.config.model} for this dataset "
                             f"({first_line(error)})") from None

    def recorded_start(self):
        """`(epochs_done, best_value, best_epoch)` of the recorded training state (`state`)."""
        return int(self.state["epochs_done"]), self.state.get("best_value"), self.state.get("best_epoch")

    def start_after(self, epochs_done, best_value=None, best_epoch=None):
        """Sets where a resumed run starts and says so."""
        self.initial_epoch, self.best_value, self.best_epoch = int(epochs_done), best_value, best_epoch
        self.log(f"resuming {self.log_dir} after epoch {self.initial_epoch} "
                 f"(optimizer step {int(self.model.optimizer.iterations.numpy())})")

    def save_config(self):
        """Writes the run's `config.json` (see `save_run_config`)."""
        save_run_config(self.config, self.description, self.model, os.path.join(self.log_dir, CONFIG_FILE))

    def wants_visuals(self):
        """Whether the TensorBoard validation visuals apply: validation, `--visuals_every`, a point model giving logits."""
        return self.val_split is not None and self.config.visuals_every > 0 and families.wants_visuals(self.model)

    def make_callbacks(self, *, precise_sequence=None, visuals_sequence=None, resumed_history=True):
        """Makes the run's callbacks (`RunCallbacks`); sets `callbacks`.

        Args:
            precise_sequence: The training sequence precise batch norm reads
                (one device only; distributed runs keep the moving averages).
            visuals_sequence: The validation sequence the visuals predict, or
                None for no visuals.
            resumed_history: On `--resume`, seed the divergence guard with the
                losses of `log.csv` (see `divergence_guard`).
        """
        import keras

        config = self.config
        momentum = cb.BatchNormMomentumScheduler(config.batch_size, initial=config.bn_init_decay,
                                                 decay_step=config.bn_decay_decay_step,
                                                 decay_rate=config.bn_decay_decay_rate, maximum=config.bn_decay_clip)
        checkpoint = cb.AtomicCheckpoint(self.log_dir, self.monitor, "max", best_value=self.best_value,
                                         best_epoch=self.best_epoch)
        precise = None
        if config.precise_bn_batches and self.strategy is None:
            precise = cb.PreciseBatchNorm(precise_sequence, config.precise_bn_batches)
        elif config.precise_bn_batches:
            self.log("precise batch norm: off for distributed runs (the moving averages are kept)")
        callbacks = RunCallbacks(momentum, cb.EpochStatistics(momentum), precise,
                                 divergence_guard(config, checkpoint, resumed_history=resumed_history), checkpoint)
        if self.is_chief:
            callbacks.csv_log = keras.callbacks.CSVLogger(os.path.join(self.log_dir, cb.LOG_FILE), append=config.resume)
            callbacks.tensorboard = keras.callbacks.TensorBoard(log_dir=self.log_dir, write_graph=False,
                                                                update_freq="epoch")
        if visuals_sequence is not None and self.wants_visuals():
            callbacks.visuals = _visuals(self.log_dir, visuals_sequence, self.description, config)
        self.callbacks = callbacks
        return callbacks


def prepare_run(config, held, *, strategy=None, cluster=None):
    """Sets a training run up to its data: configuration, run folder, dataset, validation rows.

    In this order: the configuration is resolved (and, outside a
    multi-worker run, `--distribute` and its strategy), the run folder is
    locked (`callbacks.locked_run_folder`: a second run into it is refused,
    a folder left by a killed run is recovered), the dataset is opened and
    checked, the folder is checked for a new run or a resume
    (`check_run_folder`), the random seed is set and the validation rows,
    input channels and training-data options are chosen.

    Args:
        config: A `TrainConfig`.
        held: A `contextlib.ExitStack` that holds the run lock and the run's
            `--bf16_products` setting until the run ends.
        strategy: The strategy of a multi-worker run (created by the caller,
            before TensorFlow runs anything else).
        cluster: The `ClusterInfo` of a multi-worker run. Then only the chief
            locks and checks the run folder, and a refusal is kept in
            `Run.refusal` instead of raised, for every worker to learn first.

    Returns:
        A `Run`.

    Raises:
        ValueError: On bad arguments or data, or a run folder that does not
            fit (a multi-worker chief keeps this one in `Run.refusal`).
        FileNotFoundError: If the data or the run to resume is missing.
    """
    import keras

    config = config.resolved()
    if cluster is None:
        config = dataclasses.replace(config, distribute=dist.resolve_mode(config.distribute))
        strategy = dist.create_strategy(config.distribute)
    run = Run(config, get_task(config.task), os.path.abspath(config.log_dir), strategy, cluster)
    if run.is_chief:
        try:
            held.enter_context(cb.locked_run_folder(run.log_dir, log=run.log))
        except (ValueError, OSError) as error:
            if cluster is None:
                raise
            run.refusal = error
    run.per_replica = dist.replica_batch_size(config.batch_size, dist.num_replicas(strategy))
    data = resolve_data(run.task.name, config.data, verbose=config.verbose if run.is_chief else 0)
    run.description = description = open_training_data(config, data)
    if recipe_line(config):  # the model's original settings, and what of them the zoo cannot apply
        run.log(recipe_line(config))
    if config.num_point > description.num_points:
        raise ValueError(f"{description.root}: --num_point {config.num_point} is more than the "
                         f"{description.num_points} points stored per cloud")
    if run.is_chief and run.refusal is None:
        try:
            run.state = check_run_folder(config, run.log_dir, description)
        except (ValueError, OSError) as error:
            if cluster is None:
                raise
            run.refusal = error

    keras.utils.set_random_seed(config.seed)
    held.callback(set_bf16_products, set_bf16_products(config.bf16_products))
    if config.bf16_products and not native_bf16():
        run.log("--bf16_products: no GPU, and this CPU has no native bf16 dot products (avx512_bf16 or amx_bf16); "
                "TensorFlow emulates them, slower than float32")
    run.train_indices, run.val_split, run.val_indices = validation_rows(description, config)
    run.channels = input_channels(config, description)
    run.train_options = families.train_sequence_options(config, description)
    return run


def finish_run(run, train_seconds, *, wait=None, **extra):
    """Ends a trained run: its result, the test evaluation of `best.keras` and the summary line.

    The test split (if the dataset has one and `config.test`) is evaluated
    with the best checkpoint by the chief, which writes `test_results.json`.

    Args:
        run: The `Run`, trained.
        train_seconds: Seconds the training took.
        wait: Called after the test evaluation, before the summary line (the
            multi-worker loop keeps every worker up until the chief is done).
        **extra: More entries of the result.

    With `config.save_preset`, the chief then writes `best.keras` as a
    preset into `log_dir/preset` (`pointnet_tf2.presets.save_to_preset`;
    replacing the preset of an earlier leg of a resumed run), with the
    measured validation and test figures in its card.

    Returns:
        A dict: `log_dir`, `best_checkpoint`, `last_checkpoint`, `monitor`,
        `best_value` and `best_epoch` (None on a multi-worker run's other
        workers), `train_seconds`, the `extra` entries, `test` (the test
        results, if evaluated) and `preset` (its folder, with `save_preset`).
    """
    import keras

    config, checkpoint = run.config, run.callbacks.checkpoint
    result = {
        "log_dir": run.log_dir,
        "best_checkpoint": checkpoint.best_path,
        "last_checkpoint": checkpoint.last_path,
        "monitor": run.monitor,
        "best_value": checkpoint.best_value if run.is_chief else None,
        "best_epoch": checkpoint.best_epoch if run.is_chief else None,
        "train_seconds": train_seconds,
        **extra,
    }
    if run.is_chief and config.test and "test" in run.description.splits:
        best = keras.saving.load_model(checkpoint.best_path, compile=False)
        results = evaluate(best, run.description, split="test", num_points=config.num_point,
                           batch_size=config.batch_size, rotation=config.test_rotation, seed=config.seed)
        result["test"] = results
        with atomic_output(os.path.join(run.log_dir, "test_results.json")) as tmp:
            with open(tmp, "w") as f:
                json.dump(results, f, indent=2)
    if run.is_chief and config.save_preset:
        loaded = open_checkpoint(checkpoint.best_path)
        result["preset"] = save_to_preset(loaded.model, os.path.join(run.log_dir, PRESET_DIR), checkpoint=loaded,
                                          overwrite=True)  # fmt: skip
        run.log(f"preset: {result['preset']}")
    if wait is not None:
        wait()
    if run.is_chief:
        run.log(summary_line(result))
    return result
