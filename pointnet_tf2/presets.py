"""Presets: a trained model as one folder a colleague loads in one line.

The format follows keras-hub's (`keras_hub/src/utils/preset_utils.py`):

```
PRESET/
  config.json          the Keras model, serialized (`keras.saving.serialize_keras_object`)
  model.weights.h5     its weights (`model.save_weights`)
  metadata.json        keras-hub's keys (keras_version, parameter_count, date_saved) with
                       pointnet_tf2_version for keras_hub_version, plus ours: the format marker
                       `pointnet_tf2_preset`, tensorflow_version, task, model, family, class names,
                       preprocessing (points, channels, normalisation, up axis), the dataset,
                       the measured validation and test figures, the command of the run
  run.json             the run's config.json (flags, dataset description, builder call);
                       absent for a model saved without its run
  README.md            the model card, generated from the above
  .pointnet_tf2_output the marker of a folder pointnet-tf2 wrote (--overwrite replaces only those)
```

A run folder also has a `config.json` (the run's configuration); a preset is
told apart by its `metadata.json` carrying `pointnet_tf2_preset` (the format
version), which a run folder never has. Reading presets lives with the other
loaders in `pointnet_tf2.checkpoints` (`open_checkpoint` takes a preset
folder wherever it takes a checkpoint); this module writes them and gives
the one-line loader `from_preset`.

The folder is written under a temporary name beside its destination and
renamed when complete; an existing preset is replaced only with
`overwrite=True`, and only a folder pointnet-tf2 wrote.
"""

import csv
import datetime
import json
import os
import shlex

from pointnet_tf2.checkpoints import PRESET_CARD_FILE
from pointnet_tf2.checkpoints import PRESET_CONFIG_FILE
from pointnet_tf2.checkpoints import PRESET_FORMAT_VERSION
from pointnet_tf2.checkpoints import PRESET_MARKER
from pointnet_tf2.checkpoints import PRESET_METADATA_FILE
from pointnet_tf2.checkpoints import PRESET_RUN_FILE
from pointnet_tf2.checkpoints import PRESET_WEIGHTS_FILE
from pointnet_tf2.checkpoints import load_preset_model
from pointnet_tf2.checkpoints import read_preset_metadata
from pointnet_tf2.export import model_metadata
from pointnet_tf2.models.registry import model_entry
from pointnet_tf2.tasks import TASKS
from pointnet_tf2.tasks import get_task
from pointnet_tf2.utils.files import check_output_folder
from pointnet_tf2.utils.files import staged_folder
from pointnet_tf2.utils.keras_utils import count_trainable_params
from pointnet_tf2.version import __version__

# Files of a training run folder the card reads (written by pointnet_tf2.training).
RUN_STATE_FILE = "training_state.json"
RUN_LOG_FILE = "log.csv"
RUN_TEST_FILE = "test_results.json"
BEST_CHECKPOINT = "best.keras"
# keras-hub's date format of `date_saved` (here in UTC).
DATE_FORMAT = "%Y-%m-%d@%H:%M:%S"
# Fields of a run's train_config that no train-script flag sets (the run derives them), and renamed flags.
_NOT_FLAGS = ("task", "resume", "augmentation", "bn_decay_decay_rate", "model_args")
_FLAG_NAMES = {"bn_decay_decay_step": "bn_decay_step"}
NOT_MEASURED = "not measured"


def from_preset(preset_dir, *, compile=False):
    """Loads the Keras model of a preset folder: `model = pointnet_tf2.from_preset(DIR)`.

    The folder is checked first (`pointnet_tf2.checkpoints.read_preset_metadata`):
    a preset written by an incompatible pointnet-tf2 (another major version,
    or a newer one) or with a missing or damaged file is refused in one line.
    `preset_metadata(DIR)` gives its class names, task and preprocessing;
    `pointnet_tf2.checkpoints.open_checkpoint(DIR)` gives all of it together.

    Args:
        preset_dir: The preset folder.
        compile: Also compile the model with the training configuration
            saved with it (a model compiled when saved; presets written from
            checkpoints are not).

    Returns:
        The Keras model.

    Raises:
        FileNotFoundError: If there is no such folder.
        ValueError: One line naming the folder and the problem.
    """
    return load_preset_model(preset_dir, compile=compile)


def preset_metadata(preset_dir):
    """The checked `metadata.json` of a preset folder (see `from_preset` for the checks)."""
    return read_preset_metadata(preset_dir)


def save_to_preset(model, preset_dir, *, checkpoint=None, overwrite=False):
    """Writes a model as a preset folder, with its metadata and model card.

    Args:
        model: The Keras model.
        preset_dir: The folder to write (created; see the module docstring).
        checkpoint: The `pointnet_tf2.checkpoints.Checkpoint` the model was
            opened from (`open_checkpoint`), giving the class names, the up
            axis, the run configuration and, for a checkpoint of a run
            folder, the measured validation and test figures; None for a
            model alone (its card says what is unknown).
        overwrite: Replace an existing non-empty folder (only one written by
            pointnet-tf2).

    Returns:
        The absolute path of the preset folder.

    Raises:
        ValueError: If the folder exists and may not be replaced, or lies
            inside the checkpoint it is made from.
    """
    import keras

    preset_dir = os.path.abspath(os.fspath(preset_dir))
    source = checkpoint.checkpoint if checkpoint is not None else None
    check_output_folder(preset_dir, [source] if source else (), overwrite=overwrite)
    metadata, run_config = preset_contents(model, checkpoint)

    with staged_folder(preset_dir, overwrite=overwrite, kind="preset") as folder:
        config = keras.saving.serialize_keras_object(model)
        config.pop("build_config", None)  # as keras-hub: the model is built from its config
        with open(os.path.join(folder, PRESET_CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=1)
        model.save_weights(os.path.join(folder, PRESET_WEIGHTS_FILE))
        with open(os.path.join(folder, PRESET_METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=1)
        if run_config is not None:
            with open(os.path.join(folder, PRESET_RUN_FILE), "w", encoding="utf-8") as f:
                json.dump(run_config, f, indent=1)
        with open(os.path.join(folder, PRESET_CARD_FILE), "w", encoding="utf-8") as f:
            f.write(model_card(metadata, run_config))
    return preset_dir


def preset_contents(model, checkpoint=None):
    """The `metadata.json` and `run.json` contents of a preset of `model`.

    Args:
        model: The Keras model.
        checkpoint: Its `Checkpoint`, or None.

    Returns:
        `(metadata, run_config)`; `run_config` is None without a run.
    """
    import keras
    import tensorflow as tf

    known = checkpoint is not None
    metadata = model_metadata(model, class_names=checkpoint.class_names if known else None,
                              category_names=checkpoint.category_names if known else None,
                              up_axis=checkpoint.up_axis_name if known else None,
                              checkpoint=checkpoint.checkpoint if known else None, format="preset",
                              num_points=checkpoint.num_points if known else None)  # fmt: skip
    if metadata["class_names"] is None:  # a model alone: its outputs get numbered names
        classes = get_task(metadata["task"]).model_classes(model)
        metadata["class_names"] = [f"class_{i}" for i in range(classes)]
    run_config = None
    if known and not checkpoint.standalone:
        run_config = checkpoint.run_config
    recorded = checkpoint.preset if known else None  # re-saving a preset keeps what it measured
    results = None
    if recorded is not None:
        results = recorded.get("results")
    elif run_config is not None:
        results = run_results(checkpoint.checkpoint)
    try:
        entry = model_entry(getattr(model, "builder", None))
    except ValueError:
        entry = None
    dataset = (run_config or {}).get("dataset")
    return {
        PRESET_MARKER: PRESET_FORMAT_VERSION,
        # keras-hub's keys (KerasPresetSaver._save_metadata), with pointnet_tf2_version for keras_hub_version.
        "keras_version": keras.version(),
        "pointnet_tf2_version": __version__,
        "parameter_count": int(model.count_params()),
        "date_saved": datetime.datetime.now(datetime.timezone.utc).strftime(DATE_FORMAT),
        "tensorflow_version": tf.__version__,
        "trainable_parameter_count": count_trainable_params(model),
        **metadata,
        "category_parts": checkpoint.category_parts if known else None,
        "description": entry.description if entry is not None else None,
        "builder_config": getattr(model, "builder_config", None),
        "dataset": dataset_summary(dataset) if dataset else (recorded or {}).get("dataset"),
        "results": results,
        "command": train_command(run_config["train_config"]) if run_config else (recorded or {}).get("command"),
    }, run_config


def dataset_summary(dataset):
    """The dataset of a run in a few keys (its `DatasetDescription.to_dict()` is in `run.json`)."""
    keys = ("task", "layout", "source_layout", "root", "num_classes", "num_points", "input_dims", "splits",
            "up_axis", "num_categories", "test_area", "voxel_resolution")
    return {key: dataset.get(key) for key in keys if dataset.get(key) is not None}


def run_results(checkpoint):
    """The measured figures of the run a `.keras` checkpoint belongs to.

    Validation: the monitored value and every `val_` metric of the epoch the
    checkpoint holds (`best.keras`: the best epoch; `last.keras`: the last),
    from `training_state.json` and `log.csv`. Test: the headline figures of
    `test_results.json` (evaluated with `best.keras`, so for it only).

    Returns:
        `{"validation": dict or None, "test": dict or None}`.
    """
    folder = os.path.dirname(os.path.abspath(checkpoint))
    best = os.path.basename(checkpoint) == BEST_CHECKPOINT
    state = _read_json(os.path.join(folder, RUN_STATE_FILE))
    validation = None
    if state and state.get("epochs_done"):
        epoch = state.get("best_epoch") if best else state["epochs_done"]
        row = _log_row(os.path.join(folder, RUN_LOG_FILE), epoch) if epoch else None
        if row is None and not best:
            row = state.get("logs") or {}
        if row is not None:
            metrics = {key: value for key, value in row.items() if key.startswith("val_")}
            validation = {"monitor": state.get("monitor"), "value": row.get(state.get("monitor")), "epoch": epoch,
                          "epochs_done": state["epochs_done"], "metrics": metrics}  # fmt: skip
    test = _read_json(os.path.join(folder, RUN_TEST_FILE)) if best else None
    if test:
        keys = [key for key in test.get("headline", []) if key in test]
        test = {"split": "test", "num_samples": test.get("num_samples"), "headline": keys,
                **{key: test[key] for key in keys}}  # fmt: skip
    return {"validation": validation, "test": test or None}


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _log_row(path, epoch):
    """The `log.csv` row of a 1-based epoch as floats (Keras's CSVLogger numbers epochs from 0)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [row for row in csv.DictReader(f) if row.get("epoch") == str(int(epoch) - 1)]
    except OSError:
        return None
    if not rows:
        return None
    values = {}
    for key, value in rows[-1].items():
        try:
            values[key] = float(value)
        except (TypeError, ValueError):
            continue
    return values


def train_command(train_config):
    """The train-script command reproducing a run, from its recorded `train_config`.

    Every recorded value is written as its flag (the resolved values, so the
    command does not depend on the defaults of a later version), except the
    ones the run derives (the augmentation, from the model's recipe) and
    `--resume`. A flag of another task's script is left out.

    Args:
        train_config: The `train_config` of a run's `config.json`.

    Returns:
        The command line, e.g. `python train_cls.py --model pointnet_cls ...`.
    """
    task = get_task(train_config["task"])
    own, others = set(), set()
    for name, other in TASKS.items():
        flags = _task_flags(other)
        (own if name == task.name else others).update(flags)
    words = ["python", task.script]
    for field, value in train_config.items():
        if field in _NOT_FLAGS or value is None or (field in others and field not in own):
            continue
        flag = "--" + _FLAG_NAMES.get(field, field)
        if field == "test":
            words += [] if value else ["--no_test"]
        elif isinstance(value, bool):
            words += [flag] if value else []
        else:
            words += [flag, str(value)]
    for key, value in (train_config.get("model_args") or {}).items():
        words += ["--model_arg", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    return " ".join(shlex.quote(word) for word in words)


def _task_flags(task):
    """The train-config fields set by a task's own flags (`Task.add_train_arguments`)."""
    fields = []

    def add(*names, **options):
        fields.append(options.get("dest") or names[0].lstrip("-"))

    task.add_train_arguments(add)
    return fields


# --- the model card -------------------------------------------------------------------------


def model_card(metadata, run_config=None):
    """The `README.md` of a preset: what the model is, what it was trained on and how well it did.

    Args:
        metadata: The preset's `metadata.json` contents (`preset_contents`).
        run_config: Its `run.json` contents, or None for a model saved
            without its run (the card then says what is unknown).

    Returns:
        Markdown text.
    """
    meta = metadata
    task = get_task(meta["task"])
    lines = [f"# {meta['model']}: {task.name} preset", ""]
    lines += [f"A pointnet-tf2 preset: {meta['description']}." if meta.get("description")
              else "A pointnet-tf2 preset.", "", "Load it in one line:", "", "```python", "import pointnet_tf2", "",
              'model = pointnet_tf2.from_preset("PRESET_DIR")  # this folder', "```", "",
              "or use the folder as a checkpoint: `pointnet-tf2 predict --checkpoint PRESET_DIR cloud.ply` "
              "(also evaluate, export, retrieve).", ""]  # fmt: skip
    inputs = ", ".join(f"`{name}` {_shape_text(shape)}" for name, shape in meta["inputs"].items())
    lines += ["## Model", "", "| | |", "|---|---|", f"| model | `{meta['model']}` |",
              f"| family | {meta.get('family') or 'not of the zoo'} |", f"| task | {task.name} |",
              f"| inputs | {inputs} |", f"| outputs | {meta['outputs']} |",
              f"| parameters | {meta['parameter_count']:,} ({meta['trainable_parameter_count']:,} trainable) |"]
    if meta.get("builder_config"):
        lines.append(f"| builder arguments | `{json.dumps(meta['builder_config'], sort_keys=True)}` |")
    lines += ["", f"## Classes ({len(meta['class_names'])})", "", ", ".join(meta["class_names"]), ""]
    if meta.get("category_names"):
        lines += [f"Object categories ({len(meta['category_names'])}): {', '.join(meta['category_names'])}", ""]
    pre = meta["preprocessing"]
    lines += ["## Preprocessing", "", f"- points per cloud: {pre.get('num_points') or 'any'}",
              f"- channels per point: {pre.get('channels')}",
              f"- normalisation: {pre.get('normalization')} ({pre.get('normalization_description')})",
              f"- up axis: {pre.get('up_axis') or 'unknown'}"]  # fmt: skip
    if pre.get("resolution"):
        lines.append(f"- occupancy grid: {pre['resolution']}^3 cells, shapes scaled into {pre.get('inner')}^3")
    lines.append("")
    dataset = meta.get("dataset")
    lines += ["## Data", ""]
    if dataset:
        splits = ", ".join(f"{name} {size}" for name, size in (dataset.get("splits") or {}).items())
        lines += [f"- dataset: `{dataset.get('root')}` ({dataset.get('source_layout') or dataset.get('layout')} "
                  f"layout, task {dataset.get('task')})",
                  f"- {dataset.get('num_classes')} classes, {dataset.get('num_points')} points x "
                  f"{dataset.get('input_dims')} channels stored per cloud",
                  f"- splits: {splits or 'none recorded'}"]  # fmt: skip
    else:
        lines.append("- unknown: the model was saved without its training run (no dataset recorded)")
    lines += ["", "## Training", ""]
    if run_config:
        lines += ["The flags of the run (its `config.json`, also in `run.json`):", "", "| flag | value |",
                  "|---|---|"]  # fmt: skip
        for field, value in run_config["train_config"].items():
            if value is not None and field != "augmentation":
                lines.append(f"| {field} | `{json.dumps(value)}` |")
        if run_config["train_config"].get("augmentation"):
            lines += ["", f"Augmentation: `{json.dumps(run_config['train_config']['augmentation'])}`"]
    else:
        lines.append("Unknown: the model was saved without its training run (no flags recorded).")
    lines += ["", "## Results", ""]
    results = meta.get("results") or {}
    validation, test = results.get("validation"), results.get("test")
    if validation:
        value = validation.get("value")
        lines.append(f"- validation: {validation.get('monitor')} "
                     f"{'%.4f' % value if value is not None else NOT_MEASURED} at epoch {validation.get('epoch')} "
                     f"of {validation.get('epochs_done')}")  # fmt: skip
        for key, value in sorted(validation.get("metrics", {}).items()):
            if key != validation.get("monitor"):
                lines.append(f"  - {key}: {value:.4f}")
    else:
        lines.append(f"- validation: {NOT_MEASURED}")
    if test:
        figures = ", ".join(f"{key} {test[key]:.4f}" for key in test.get("headline", []))
        lines.append(f"- test ({test.get('num_samples')} clouds): {figures}")
    else:
        lines.append(f"- test: {NOT_MEASURED}")
    lines += ["", "## Reproduce", ""]
    if meta.get("command"):
        lines += [f"With pointnet-tf2 {meta['pointnet_tf2_version']}, from the repository root:", "", "```bash",
                  meta["command"], "```"]  # fmt: skip
    else:
        lines.append("Unknown: no training run was recorded with this model.")
    lines += ["", "## Versions", "",
              f"pointnet-tf2 {meta['pointnet_tf2_version']}, Keras {meta['keras_version']}, TensorFlow "
              f"{meta['tensorflow_version']}; saved {meta['date_saved']} UTC"
              + (f" from `{meta['checkpoint']}`" if meta.get("checkpoint") else "") + ".", "",
              "A preset loads with the same major version of pointnet-tf2, not older than the one that wrote it.",
              ""]  # fmt: skip
    return "\n".join(lines)


def _shape_text(shape):
    """An input shape of the metadata (-1: any) as `(B, N, 3)`."""
    return "(" + ", ".join("B" if i == 0 else ("N" if d == -1 else str(d)) for i, d in enumerate(shape)) + ")"
