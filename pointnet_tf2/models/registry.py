"""The model zoo's registry: every builder under a name, a family and a task.

A family (`pointnet`, `voxel`, ...) is one folder of `pointnet_tf2/models`; a
model is one builder of it registered with `register_model`, which states
what the model takes (points or voxel grids), what it gives (logits or
embeddings), how its inputs are prepared (`Preprocessing`) and a tiny
configuration the shared test suite builds it with.
"""

import dataclasses
import functools
import inspect
import re
from typing import Optional

from pointnet_tf2.models.recipes import TrainingRecipe
from pointnet_tf2.task_names import TASK_NAMES
from pointnet_tf2.utils import registration

TASKS = TASK_NAMES  # kept for `from pointnet_tf2.models import TASKS`
INPUT_KINDS = ("points", "voxels")
OUTPUT_KINDS = ("logits", "embedding")
# How the clouds a model sees are prepared: name -> what a serving program must do.
NORMALIZATIONS = {
    "unit_sphere": "centre on the centroid, scale the farthest point to 1 (unit sphere)",
    "s3dis_blocks": "S3DIS blocks of 9 features per point: x, y minus (the block's smallest x, y + half a block), "
                    "z; RGB / 255; x, y, z over the room's largest x, y, z",
    "occupancy_grid": "the cloud scaled so its longest side spans `inner` cells, centred in an R^3 occupancy grid",
}
UP_AXES = ("x", "y", "z")

_REGISTRY = {}
_FAMILY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How the clouds a model is trained and served on are prepared.

    A builder argument named in `BUILDER_ARGUMENTS` overrides its field: the
    registered entry holds the values of the builder's defaults, and
    `for_config` gives those of a built model (`builder_config`).

    Attributes:
        num_points: Points sampled per cloud (voxel models: before voxelising).
        channels: Channels per point (3 XYZ, 6 with normals, 9 S3DIS features).
        normalization: A key of `NORMALIZATIONS`.
        up_axis: The vertical axis of the clouds, "x", "y" or "z".
        resolution: Voxel models: grid cells per side, else None.
        inner: Voxel models: cells per side of the cube a shape is scaled into.
    """

    num_points: Optional[int] = 1024
    channels: int = 3
    normalization: str = "unit_sphere"
    up_axis: str = "y"
    resolution: Optional[int] = None
    inner: Optional[int] = None

    # Field -> the builder argument that sets it.
    BUILDER_ARGUMENTS = {"num_points": "num_points", "channels": "input_dims", "resolution": "resolution",
                         "inner": "inner"}

    def __post_init__(self):
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"Preprocessing: normalization must be one of {tuple(NORMALIZATIONS)}, "
                             f"got {self.normalization!r}")
        if self.up_axis not in UP_AXES:
            raise ValueError(f"Preprocessing: up_axis must be one of {UP_AXES}, got {self.up_axis!r}")

    def for_config(self, config):
        """Returns this preprocessing with the values a builder configuration sets.

        Args:
            config: Builder keyword arguments (e.g. a model's `builder_config`).
                `num_points=None` (clouds of any size) keeps the default count.
        """
        values = {field: config[argument] for field, argument in self.BUILDER_ARGUMENTS.items()
                  if config.get(argument) is not None}
        return dataclasses.replace(self, **values)

    def to_dict(self):
        """A JSON-serialisable dict of the fields, with the normalisation described."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values["normalization_description"] = NORMALIZATIONS[self.normalization]
        return values


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes:
        name: Registry name, e.g. "pointnet_cls".
        task: One of `TASKS`.
        builder: The function building the `keras.Model` from keyword arguments.
        description: One line saying what the model is.
        input_kind: "points" (`(B, N, C)` clouds) or "voxels" (`(B, R, R, R, 1)`
            occupancy grids, voxelised from the clouds by the data pipeline
            with the builder's `resolution` and `inner`).
        output_kind: "logits" (trained with cross-entropy) or "embedding"
            (L2-normalised vectors, trained with a metric-learning loss).
        family: The model family, the folder of `pointnet_tf2/models` it
            lives in (e.g. "pointnet", "voxel").
        preprocessing: The `Preprocessing` of the builder's defaults.
        test_config: Builder keyword arguments of a tiny model, fast to build,
            call, save and export (the shared model test suite uses them).
        feature_layer: The layer whose output is the model's global shape
            feature (retrieval), when the last global pooling is not it
            (e.g. DGCNN's max and mean pooling concatenated); None: found by
            `pointnet_tf2.retrieval.global_feature_layer`.
        recipe: The `TrainingRecipe` of the original's training, the train
            scripts' defaults for this model; None: the task's (PointNet's).
    """

    name: str
    task: str
    builder: callable
    description: str
    input_kind: str = "points"
    output_kind: str = "logits"
    family: str = ""
    preprocessing: Preprocessing = Preprocessing()
    test_config: dict = dataclasses.field(default_factory=dict)
    feature_layer: Optional[str] = None
    recipe: Optional[TrainingRecipe] = None

    def defaults(self):
        """Returns the builder's keyword arguments and their defaults."""
        return _defaults(self.builder)

    def preprocessing_for(self, config):
        """The `Preprocessing` of a model built with `config` (missing arguments: the defaults)."""
        return self.preprocessing.for_config({**self.defaults(), **config})


def _defaults(builder):
    return {
        p.name: p.default
        for p in inspect.signature(builder).parameters.values()
        if p.default is not inspect.Parameter.empty
    }


def register_model(name, *, family, task, input_kind="points", output_kind="logits", description="",
                   preprocessing=None, test_config=None, feature_layer=None, recipe=None):
    """Decorator registering a model builder under `name`.

    Example:

    ```python
    @register_model("pointnet_cls", family="pointnet", task="cls",
                    preprocessing=Preprocessing(normalization="unit_sphere", up_axis="y"),
                    test_config=dict(num_classes=3, mlp1=(8,), mlp2=(16,)))
    def pointnet_cls(*, num_classes=40, num_points=1024, input_dims=3, ...):
        ...
    ```

    Args:
        name: Registry name.
        family: The model family (the folder under `pointnet_tf2/models`):
            lower-case letters, digits and underscores.
        task: The task the model solves, one of `TASKS`.
        input_kind: One of `INPUT_KINDS` (see `ModelEntry`).
        output_kind: One of `OUTPUT_KINDS` (see `ModelEntry`).
        description: One line saying what the model is.
        preprocessing: A `Preprocessing` (default: unit-sphere clouds, y up);
            fields a builder argument sets (`Preprocessing.BUILDER_ARGUMENTS`)
            are taken from the builder's defaults.
        test_config: Builder keyword arguments of a tiny model for the tests.
        feature_layer: See `ModelEntry.feature_layer`.
        recipe: A `TrainingRecipe` (see `ModelEntry.recipe`), or None.

    Returns:
        The decorator. The builder it returns records its name, task and
        complete keyword arguments on the model it builds (see
        `PointCloudModel`), so the model can be rebuilt from its config.

    Raises:
        ValueError: If the name is taken, or the family, task, kinds or test
            configuration are invalid.
    """
    if not isinstance(family, str) or not _FAMILY_NAME.match(family):
        raise ValueError(f"register_model: family must be lower-case letters, digits and underscores, got {family!r}")
    if task not in TASKS:
        raise ValueError(f"register_model: task must be one of {TASKS}, got {task!r}")
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"register_model: input_kind must be one of {INPUT_KINDS}, got {input_kind!r}")
    if output_kind not in OUTPUT_KINDS:
        raise ValueError(f"register_model: output_kind must be one of {OUTPUT_KINDS}, got {output_kind!r}")
    if preprocessing is None:
        preprocessing = Preprocessing()
    if not isinstance(preprocessing, Preprocessing):
        raise ValueError(f"register_model: preprocessing must be a Preprocessing, got {preprocessing!r}")
    if recipe is not None and not isinstance(recipe, TrainingRecipe):
        raise ValueError(f"register_model: recipe must be a TrainingRecipe or None, got {recipe!r}")

    def decorator(builder):
        if name in _REGISTRY:
            raise ValueError(f"register_model: a model named {name!r} is already registered")
        signature = inspect.signature(builder)
        defaults = _defaults(builder)
        unknown = sorted(set(test_config or {}) - set(defaults))
        if unknown:
            raise ValueError(f"register_model: {name}: test_config has unknown argument(s) {', '.join(map(repr, unknown))}")

        @functools.wraps(builder)
        def build(**config):
            model = builder(**config)
            if hasattr(model, "set_builder"):
                arguments = signature.bind(**config)
                arguments.apply_defaults()
                model.set_builder(name, task, {k: _as_json(v) for k, v in arguments.arguments.items()})
            return model

        _REGISTRY[name] = ModelEntry(name, task, build, description, input_kind, output_kind, family,
                                     preprocessing.for_config(defaults), dict(test_config or {}), feature_layer,
                                     recipe)
        return build

    return decorator


def _as_json(value):
    # Tuples become lists, so a config equals itself after a JSON round trip.
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    return value


def families():
    """Returns the families of the registered models, sorted."""
    return sorted({entry.family for entry in _REGISTRY.values()})


def list_models(task=None, family=None):
    """Returns the registered model names, sorted.

    Args:
        task: If given, only the models of that task.
        family: If given, only the models of that family (e.g. "voxel").

    Returns:
        A list of names.

    Raises:
        ValueError: If `task` or `family` is unknown.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"list_models: task must be one of {TASKS}, got {task!r}")
    if family is not None and family not in families():
        raise ValueError(f"list_models: family must be one of {tuple(families())}, got {family!r}")
    return sorted(name for name, entry in _REGISTRY.items()
                  if (task is None or entry.task == task) and (family is None or entry.family == family))


def model_entry(name):
    """Returns the `ModelEntry` registered under `name`.

    Raises:
        ValueError: If no model has that name (the message lists the known ones).
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}") from None


def training_recipe(name):
    """Returns the `TrainingRecipe` of a registered model, or None (PointNet: the task's defaults).

    Raises:
        ValueError: If no model has that name.
    """
    return model_entry(name).recipe


def check_arguments(name, config):
    """Raises `ValueError` naming the model and its accepted arguments if `config` has others.

    Args:
        name: Registry name.
        config: Keyword arguments meant for the model's builder.
    """
    accepted = model_entry(name).defaults()
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        raise ValueError(
            f"{name}: unknown argument(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(sorted(accepted))}"
        )


def get_model(name, /, **config):
    """Builds a model of the zoo.

    Example:

    ```python
    model = get_model("pointnet_cls", num_classes=10, num_points=None)
    ```

    Args:
        name: Registry name (see `list_models()`).
        **config: Keyword arguments of the model's builder.

    Returns:
        An un-compiled `keras.Model`.

    Raises:
        ValueError: If the name is unknown, an argument is not accepted by the
            builder, or the builder rejects a value.
    """
    entry = model_entry(name)
    check_arguments(name, config)
    registration.register_keras_objects()  # a model built here may be saved, then loaded
    return entry.builder(**config)
