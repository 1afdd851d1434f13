"""The one checkpoint loader: a run folder, its `best.keras` / `last.keras`, or a standalone `.keras` file.

`open_checkpoint(path)` loads the model and returns it with everything that
is known about it (`Checkpoint`): its task, what it takes and gives, the
names of its classes, parts and categories, the up axis of its training
data, and the run configuration (`config.json`) of the run folder it lies
in. Evaluation, retrieval, the rotation protocols, predict and export all
load checkpoints through it, and so can a resume (`open_checkpoint(log_dir,
names=("last.keras",))`).

- A run folder (written by `pointnet_tf2.training.train`) gives its
  `best.keras` (else `last.keras`) with its `config.json`: the class names
  and the dataset description come with it, and the data itself need not be
  present.
- A standalone `.keras` file (a `convert-tf1` output, a model saved by hand:
  no `config.json` beside it) gives the model alone: its classes are called
  `class_0`, `class_1`, ..., unless a dataset is opened with it (`data=`).
- A preset folder (written by `pointnet_tf2.save_to_preset` or
  `pointnet-tf2 save-preset`; told apart from a run folder by its
  `metadata.json` carrying the key `pointnet_tf2_preset`, which a run folder
  never has) gives its model, rebuilt from `config.json` and
  `model.weights.h5`, with the class names, task and preprocessing of its
  `metadata.json` and the run configuration of its `run.json` (absent for a
  model saved without its run). A preset of an incompatible version is
  refused (`check_preset_version`).
- Any other Keras model must take points (B, N, C) and give logits
  (`check_point_model`).

With `data` (or `need_data=True`, the run's recorded dataset) the dataset is
opened and checked against the model: its task and class count.
"""

import dataclasses
import json
import os
import re
from typing import Optional

from pointnet_tf2.data.description import DatasetDescription
from pointnet_tf2.data.datasets import open_dataset
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.models.registry import model_entry
from pointnet_tf2.tasks import get_task
from pointnet_tf2.task_names import CLS
from pointnet_tf2.task_names import PART_SEG
from pointnet_tf2.task_names import SEM_SEG
from pointnet_tf2.utils.errors import first_line
from pointnet_tf2.utils.keras_utils import check_keras_file
from pointnet_tf2.utils.keras_utils import load_keras_model
from pointnet_tf2.version import __version__

# The run configuration file of a run folder.
CONFIG_FILE = "config.json"
# The checkpoints of a run folder, in the order a folder is resolved to one.
CHECKPOINT_NAMES = ("best.keras", "last.keras")


def load_run_config(directory):
    """Reads the `config.json` of a run folder.

    Raises:
        FileNotFoundError: If the folder has no `config.json`.
        ValueError: If it is not valid.
    """
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no run configuration (is this a pointnet-tf2 log folder?)")
    return _read_run_config(path)


def _read_run_config(path):
    try:
        with open(path) as f:
            payload = json.load(f)
        payload["train_config"]["task"], payload["dataset"]["task"], payload["model"]["builder"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a valid run configuration ({error})") from None
    return payload


# --- presets: reading the folder format of pointnet_tf2.presets -------------------------------

# keras-hub's file names (keras_hub/src/utils/preset_utils.py), and ours beside them.
PRESET_CONFIG_FILE = "config.json"  # the serialized Keras model (keras.saving.serialize_keras_object)
PRESET_WEIGHTS_FILE = "model.weights.h5"  # model.save_weights
PRESET_METADATA_FILE = "metadata.json"  # versions, parameter count, date, task, classes, preprocessing, results
PRESET_RUN_FILE = "run.json"  # the run's config.json (absent for a model saved without its run)
PRESET_CARD_FILE = "README.md"  # the model card
# The key of metadata.json that makes a folder a pointnet-tf2 preset; its value is the format version.
PRESET_MARKER = "pointnet_tf2_preset"
PRESET_FORMAT_VERSION = 1
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def is_preset(path):
    """Whether `path` is a preset folder: a folder with a `metadata.json` (a run folder has none).

    A folder with a `metadata.json` that is not a pointnet-tf2 preset (a
    keras-hub preset, a damaged file) counts too, so that loading it is
    refused with a message instead of being taken for a run folder.
    """
    path = os.fspath(path)
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, PRESET_METADATA_FILE))


def version_tuple(version):
    """The leading `MAJOR.MINOR.PATCH` numbers of a version string (missing ones are 0; suffixes ignored).

    Raises:
        ValueError: If `version` does not start with a number.
    """
    match = re.match(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(version))
    if match is None:
        raise ValueError(f"not a version number: {version!r}")
    return tuple(int(part or 0) for part in match.groups())


def check_preset_version(saved, where, installed=__version__):
    """Refuses a preset written by an incompatible pointnet-tf2.

    The rule: a preset loads when it was written by the same major version
    as the installed package and not by a newer one (`MAJOR.MINOR.PATCH`
    compared as numbers, pre-release suffixes ignored). A newer writer may
    use what this version does not know; another major version may have
    changed the models.

    Args:
        saved: The `pointnet_tf2_version` of the preset's `metadata.json`.
        where: The preset folder, for the message.
        installed: The installed version.

    Raises:
        ValueError: One line naming the folder, both versions and what to do.
    """
    try:
        written = version_tuple(saved)
    except ValueError:
        raise ValueError(f"{where}: damaged preset: {PRESET_METADATA_FILE} records the version {saved!r}") from None
    have = version_tuple(installed)
    if written[0] != have[0]:
        reason = "another major version than"
    elif written > have:
        reason = "newer than"
    else:
        return
    raise ValueError(f"{where}: a preset written by pointnet-tf2 {saved}, {reason} the installed {installed}; "
                     f"install a compatible version (pip install \"pointnet-tf2>={saved},<{written[0] + 1}\") or "
                     "save the preset again from its checkpoint with this one (pointnet-tf2 save-preset)")  # fmt: skip


def read_preset_metadata(directory):
    """Reads and checks a preset's `metadata.json`, and that its other files are there.

    Args:
        directory: The preset folder.

    Returns:
        The metadata dict.

    Raises:
        FileNotFoundError: If there is no such folder.
        ValueError: One line: not a pointnet-tf2 preset, a damaged or missing
            file, a newer format, or an incompatible version (`check_preset_version`).
    """
    directory = os.path.abspath(os.fspath(directory))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory}: no such preset folder")
    path = os.path.join(directory, PRESET_METADATA_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{directory}: not a preset (no {PRESET_METADATA_FILE})")
    try:
        with open(path, encoding="utf-8") as f:
            metadata = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"{directory}: damaged preset: {PRESET_METADATA_FILE} cannot be read ({first_line(error)})") from None
    if not isinstance(metadata, dict) or PRESET_MARKER not in metadata:
        raise ValueError(f"{directory}: not a pointnet-tf2 preset ({PRESET_METADATA_FILE} has no {PRESET_MARKER!r} "
                         "key; a keras-hub preset loads with keras_hub, not here)")  # fmt: skip
    version = metadata[PRESET_MARKER]
    if not isinstance(version, int) or isinstance(version, bool) or version > PRESET_FORMAT_VERSION:
        raise ValueError(f"{directory}: preset format {version!r}, this pointnet-tf2 {__version__} reads format "
                         f"{PRESET_FORMAT_VERSION} and older; install a newer pointnet-tf2")  # fmt: skip
    check_preset_version(metadata.get("pointnet_tf2_version"), directory)
    for key in ("task", "class_names", "preprocessing"):
        if key not in metadata:
            raise ValueError(f"{directory}: damaged preset: {PRESET_METADATA_FILE} has no {key!r}")
    for name in (PRESET_CONFIG_FILE, PRESET_WEIGHTS_FILE):
        if not os.path.isfile(os.path.join(directory, name)):
            raise ValueError(f"{directory}: damaged preset: {name} is missing; save the preset again")
    return metadata


def preset_run_config(directory):
    """The run configuration saved in a preset (`run.json`), or None for a model saved without its run.

    Raises:
        ValueError: If `run.json` is there but not valid.
    """
    path = os.path.join(os.fspath(directory), PRESET_RUN_FILE)
    return _read_run_config(path) if os.path.exists(path) else None


def load_preset_model(directory, *, compile=False):
    """Rebuilds a preset's Keras model from `config.json` and loads `model.weights.h5`.

    The model is rebuilt with `keras.saving.deserialize_keras_object(...,
    safe_mode=True)` (only layers of Keras and of registered packages, as
    the `.keras` loader), as keras-hub's `KerasPresetLoader` does.

    Args:
        directory: The preset folder (checked with `read_preset_metadata`).
        compile: Also compile the model with the training configuration
            saved in `config.json` (only a model that was compiled when saved
            has one).

    Returns:
        The Keras model.

    Raises:
        ValueError: One line: a damaged file, weights that do not fit, or
            `compile` without a saved training configuration.
    """
    import keras

    directory = os.path.abspath(os.fspath(directory))
    read_preset_metadata(directory)
    config_path = os.path.join(directory, PRESET_CONFIG_FILE)
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        config["class_name"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{directory}: damaged preset: {PRESET_CONFIG_FILE} is not a serialized Keras model "
                         f"({first_line(error)})") from None  # fmt: skip
    compile_config = config.pop("compile_config", None)
    if compile and not compile_config:
        raise ValueError(f"{directory}: the preset was saved from an uncompiled model (no compile_config in "
                         f"{PRESET_CONFIG_FILE}); load it with compile=False and compile it yourself")  # fmt: skip
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as error:  # Keras raises many types for a config it cannot rebuild.
        raise ValueError(f"{directory}: damaged preset: {PRESET_CONFIG_FILE} cannot be rebuilt ({first_line(error)})") from None
    weights = os.path.join(directory, PRESET_WEIGHTS_FILE)
    with open(weights, "rb") as f:
        if f.read(len(_HDF5_MAGIC)) != _HDF5_MAGIC:
            raise ValueError(f"{directory}: damaged preset: {PRESET_WEIGHTS_FILE} is not an HDF5 file")
    try:
        model.load_weights(weights)
    except Exception as error:  # h5py and Keras raise many types for a truncated or foreign file.
        raise ValueError(f"{directory}: damaged preset: {PRESET_WEIGHTS_FILE} does not load into the model of "
                         f"{PRESET_CONFIG_FILE} ({first_line(error)})") from None  # fmt: skip
    if compile:
        model.compile_from_config(compile_config)
    return model


# --- what a model takes and gives ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What a model takes.

    Attributes:
        kind: "points" ((B, N, C) clouds) or "voxels" ((B, R, R, R, 1)
            occupancy grids, voxelised from clouds by the prediction loop).
        num_points: Points per cloud (None: any count; voxel models: any,
            the clouds are voxelised).
        input_dims: Channels per point (voxel models: 3, the xyz they are voxelised from).
        resolution: Voxel models: grid cells per side R.
        inner: Voxel models: cells per side of the cube a shape is scaled into.
        names: The model's input names.
    """

    kind: str
    num_points: Optional[int]
    input_dims: int
    resolution: Optional[int] = None
    inner: Optional[int] = None
    names: tuple = ()


def input_spec(model):
    """What a model takes (`InputSpec`): points, or occupancy grids voxelised from xyz points."""
    names = tuple(tensor.name for tensor in model.inputs)
    if model_kinds(model)[0] == "voxels":
        config = model.builder_config
        return InputSpec("voxels", None, 3, int(config["resolution"]), int(config["inner"]), names)
    shapes = {tensor.name: tuple(tensor.shape) for tensor in model.inputs}
    shape = shapes.get("points", tuple(model.inputs[0].shape))
    return InputSpec("points", shape[1], shape[2], names=names)


def model_input_spec(model):
    """Points per cloud (None = any) and channels per point a model takes.

    Voxel models take clouds of any size, voxelised from their xyz: `(None, 3)`.

    Returns:
        `(num_points, input_dims)`.
    """
    spec = input_spec(model)
    return spec.num_points, spec.input_dims


def _registered(model):
    """Whether a model was built by a registered builder of the zoo."""
    try:
        model_entry(getattr(model, "builder", None))
    except ValueError:
        return False
    return True


def _known_task(name):
    try:
        return get_task(name).name
    except ValueError:
        return None


def check_point_model(model, path):
    """Checks that a model takes point clouds (or voxelised ones) and gives logits or embeddings.

    Models of the zoo say what they are; any other Keras model is accepted
    when it has one input of points (B, N, C) (N may be None) and one output
    of logits: (B, classes) for classification, (B, N, classes) for per-point
    labels (treated as semantic segmentation).

    Args:
        model: A loaded Keras model.
        path: Its file, for the message.

    Raises:
        ValueError: One line naming the file and the shapes it has.
    """
    if _registered(model) and _known_task(getattr(model, "task", None)):
        return
    shapes = {tensor.name: tuple(tensor.shape) for tensor in model.inputs}
    points = shapes.get("points", tuple(model.inputs[0].shape) if model.inputs else ())
    if len(points) != 3 or points[2] is None:
        raise ValueError(f"{path}: not a point-cloud model: its input has shape {_shape_text(points)}, "
                         "not (B, N, C) points")  # fmt: skip
    if _known_task(getattr(model, "task", None)):
        return
    outputs = [tuple(tensor.shape) for tensor in model.outputs]
    if len(model.inputs) != 1 or len(outputs) != 1 or len(outputs[0]) not in (2, 3) or outputs[0][-1] is None:
        raise ValueError(f"{path}: not a point-cloud model of logits: a plain Keras model must take (B, N, C) points "
                         f"and give (B, classes) or (B, N, classes); this one gives "
                         f"{', '.join(_shape_text(s) for s in outputs) or 'nothing'}")  # fmt: skip


def _shape_text(shape):
    return "(" + ", ".join("B" if i == 0 and d is None else ("None" if d is None else str(d))
                           for i, d in enumerate(shape)) + ")"  # fmt: skip


def model_task(model):
    """The task name of a model: its own for models of the zoo, else told by its inputs and outputs.

    A plain model with a `category` input is a part segmentation model, one
    giving (B, classes) a classifier, one giving (B, N, classes) a semantic
    segmentation model.

    Raises:
        ValueError: If the model does not say and its outputs do not tell.
    """
    task = _known_task(getattr(model, "task", None))
    if task is not None:
        return task
    names = [tensor.name for tensor in model.inputs]
    if "category" in names:
        return PART_SEG
    output = model.outputs[0]
    if len(output.shape) == 2:
        return CLS
    if len(output.shape) == 3:
        return SEM_SEG
    raise ValueError(f"{model.name}: cannot tell the task of this model (output shape {tuple(output.shape)})")


def output_width(model, task):
    """Classes a model predicts (parts for part segmentation; see `Task.model_classes`)."""
    return get_task(task).model_classes(model)


# --- loading -------------------------------------------------------------------------------


def resolve_checkpoint(checkpoint, names=CHECKPOINT_NAMES):
    """A `.keras` file, a preset folder (itself), or the first of `names` (`best.keras`, else `last.keras`) in a run folder.

    Raises:
        FileNotFoundError: If there is no such file.
    """
    checkpoint = os.fspath(checkpoint)
    if is_preset(checkpoint):
        return checkpoint
    if os.path.isdir(checkpoint):
        for name in names:
            path = os.path.join(checkpoint, name)
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(f"{checkpoint}: a folder without {' or '.join(names)}")
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint")
    return checkpoint


@dataclasses.dataclass
class Checkpoint:
    """A loaded checkpoint and what is known about it.

    Attributes:
        model: The Keras model.
        task: The task name ("cls", "part_seg" or "sem_seg"; `task_object` is the `Task`).
        checkpoint: Path of the `.keras` file.
        class_names: Names of the model's outputs (classes, or parts for
            part segmentation); `class_<i>` when no dataset is known.
        category_names: Part segmentation: object category names.
        category_parts: Part segmentation: part ids of each category.
        up_axis: Up axis of the training data (1 = y, 2 = z).
        num_points: Points per cloud the model is fed (None = any): the
            model's own count; for voxel models, the points of a cloud the run
            voxelised (its `--num_point`).
        input_dims: Channels per point.
        description: The dataset: the one opened (`data=`, `need_data=True`),
            else the description saved in `config.json`, else None.
        run_config: The run's `config.json`; for a standalone file, one made
            from the model (`standalone` True, `dataset` None).
        input_kind: "points" or "voxels".
        output_kind: "logits" or "embedding".
        preset: The `metadata.json` of a preset folder (`checkpoint` is
            then the folder), else None.
    """

    model: object
    task: str
    checkpoint: str
    class_names: list
    category_names: Optional[list] = None
    category_parts: Optional[list] = None
    up_axis: int = 1
    num_points: Optional[int] = None
    input_dims: int = 3
    description: object = None
    run_config: Optional[dict] = None
    input_kind: str = "points"
    output_kind: str = "logits"
    preset: Optional[dict] = None

    @property
    def up_axis_name(self):
        """The up axis as "x", "y" or "z"."""
        return "xyz"[self.up_axis]

    @property
    def task_object(self):
        """The `pointnet_tf2.tasks.Task` of the model."""
        return get_task(self.task)

    @property
    def standalone(self):
        """Whether the checkpoint came without a run folder's `config.json`."""
        return bool(self.run_config.get("standalone")) if self.run_config else True


def open_checkpoint(checkpoint, *, data=None, test_area=None, need_data=False, names=CHECKPOINT_NAMES):
    """Loads a checkpoint with what is known about it.

    Args:
        checkpoint: A `.keras` file, a run folder (its `best.keras`, else
            `last.keras`; see `names`) or a preset folder.
        data: A dataset to open and check against the model, instead of the
            run's recorded one (a preset whose recorded dataset is not on
            this machine, or that records none, needs it when data is needed).
        test_area: S3DIS test area of the opened dataset (default: the run's, else 6).
        need_data: Open the run's recorded dataset (a standalone file then needs `data`).
        names: The checkpoints a run folder is resolved to, in order.

    Returns:
        A `Checkpoint`.

    Raises:
        FileNotFoundError: If the checkpoint (or the recorded dataset) is missing.
        ValueError: One line: a damaged or foreign file, a standalone file
            without `data` when data is needed, or a model that does not fit
            its run configuration or dataset (task, class count).
    """
    path = resolve_checkpoint(checkpoint, names)
    preset = None
    if is_preset(path):
        preset = read_preset_metadata(path)
        config_path = os.path.join(path, PRESET_RUN_FILE)
        run_config = preset_run_config(path)
        if need_data and data is None:
            recorded = (run_config or {}).get("dataset") or {}
            if not recorded:
                raise ValueError(f"{path}: a preset saved without its training run, so its dataset is unknown: "
                                 "pass --data")  # fmt: skip
            if not os.path.exists(recorded.get("root", "")):
                raise ValueError(f"{path}: the preset's dataset {recorded.get('root')} is not on this machine: "
                                 "pass --data")  # fmt: skip
        model = load_preset_model(path)
    else:
        check_keras_file(path)
        folder = os.path.dirname(os.path.abspath(path))
        config_path = os.path.join(folder, CONFIG_FILE)
        run_config = load_run_config(folder) if os.path.exists(config_path) else None
        if run_config is None and need_data and data is None:
            raise ValueError(f"{path}: no {CONFIG_FILE} beside it (not in a training run folder), so its dataset "
                             "is unknown: pass --data")  # fmt: skip
        model = load_keras_model(path)
    check_point_model(model, path)
    task = get_task(model_task(model))
    spec = input_spec(model)
    input_kind, output_kind = model_kinds(model)
    classes = task.model_classes(model)
    if run_config is None:
        config = getattr(model, "builder_config", None) or {}
        run_config = {"train_config": {"task": task.name, "model": getattr(model, "builder", None) or model.name,
                                       "num_point": config.get("num_points", spec.num_points)},
                      "dataset": None, "standalone": True,
                      "model": {"builder": getattr(model, "builder", None), "builder_config": config}}  # fmt: skip
    elif task.name != run_config["train_config"]["task"]:
        raise ValueError(f"{path}: a {task.name} model, but config.json describes a {run_config['train_config']['task']} run")
    description = None
    if run_config["dataset"] is not None:
        try:
            description = DatasetDescription.from_dict(run_config["dataset"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{config_path}: no valid dataset description ({error})") from None
    if data is not None or need_data:
        recorded = run_config["dataset"] or {}
        if test_area is None:
            test_area = recorded.get("test_area") or 6
        description = open_dataset(data or recorded["root"], task=task.name, test_area=test_area, num_classes=classes)
        if classes != description.num_classes:
            raise ValueError(f"{description.root}: has {description.num_classes} classes, the model {path} predicts {classes}")
    elif description is not None:
        if get_task(description.task) is not task:
            raise ValueError(f"{config_path}: describes a {description.task} dataset, but {path} is a {task.name} model")
        if len(task.label_names(description)) != classes:
            raise ValueError(f"{path}: the model predicts {classes} classes, its saved dataset has "
                             f"{len(task.label_names(description))}")  # fmt: skip
    if description is None and preset is not None:  # a preset of a model saved without its run
        names_ = preset["class_names"] or [f"class_{i}" for i in range(classes)]
        if len(names_) != classes:
            raise ValueError(f"{path}: damaged preset: {PRESET_METADATA_FILE} names {len(names_)} classes, "
                             f"the model predicts {classes}")  # fmt: skip
        categories, parts = preset.get("category_names"), preset.get("category_parts")
        up_axis = "xyz".index(preset.get("up_axis") or "xyz"[task.predict_up_axis])
    elif description is None:
        names_, categories, parts, up_axis = [f"class_{i}" for i in range(classes)], None, None, task.predict_up_axis
    else:
        names_ = list(task.label_names(description))
        categories, parts, up_axis = description.category_names, description.category_parts, int(description.up_axis)
    num_points = spec.num_points if spec.kind == "points" else run_config["train_config"].get("num_point")
    return Checkpoint(model, task.name, path, names_, category_names=categories, category_parts=parts,
                      up_axis=up_axis, num_points=num_points, input_dims=spec.input_dims, description=description,
                      run_config=run_config, input_kind=input_kind, output_kind=output_kind,
                      preset=preset)  # fmt: skip


def load_checkpoint(checkpoint, *, data=None, test_area=None):
    """Loads a checkpoint with the dataset it was trained on (or `data`): `open_checkpoint(..., need_data=True)`.

    Args:
        checkpoint: A `.keras` file or a run folder.
        data: Dataset to use instead of the recorded one (needed for a
            standalone `.keras` file).
        test_area: S3DIS test area instead of the recorded one.

    Returns:
        `(model, description, run_config)`.

    Raises:
        FileNotFoundError: If the checkpoint is missing.
        ValueError: See `open_checkpoint`.
    """
    loaded = open_checkpoint(checkpoint, data=data, test_area=test_area, need_data=True)
    return loaded.model, loaded.description, loaded.run_config
