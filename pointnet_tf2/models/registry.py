"""The model zoo's registry: every builder under a name and a task."""

import dataclasses
import functools
import inspect

TASKS = ("cls", "part_seg", "sem_seg")
INPUT_KINDS = ("points", "voxels")
OUTPUT_KINDS = ("logits", "embedding")

_REGISTRY = {}


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
    """

    name: str
    task: str
    builder: callable
    description: str
    input_kind: str = "points"
    output_kind: str = "logits"

    def defaults(self):
        """Returns the builder's keyword arguments and their defaults."""
        return {
            p.name: p.default
            for p in inspect.signature(self.builder).parameters.values()
            if p.default is not inspect.Parameter.empty
        }


def register_model(name, *, task, description="", input_kind="points", output_kind="logits"):
    """Decorator registering a model builder under `name`.

    Args:
        name: Registry name.
        task: The task the model solves, one of `TASKS`.
        description: One line saying what the model is.
        input_kind: One of `INPUT_KINDS` (see `ModelEntry`).
        output_kind: One of `OUTPUT_KINDS` (see `ModelEntry`).

    Returns:
        The decorator. The builder it returns records its name, task and
        complete keyword arguments on the model it builds (see
        `PointCloudModel`), so the model can be rebuilt from its config.

    Raises:
        ValueError: If the name is taken or the task unknown.
    """
    if task not in TASKS:
        raise ValueError(f"register_model: task must be one of {TASKS}, got {task!r}")
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"register_model: input_kind must be one of {INPUT_KINDS}, got {input_kind!r}")
    if output_kind not in OUTPUT_KINDS:
        raise ValueError(f"register_model: output_kind must be one of {OUTPUT_KINDS}, got {output_kind!r}")

    def decorator(builder):
        if name in _REGISTRY:
            raise ValueError(f"register_model: a model named {name!r} is already registered")
        signature = inspect.signature(builder)

        @functools.wraps(builder)
        def build(**config):
            model = builder(**config)
            if hasattr(model, "set_builder"):
                arguments = signature.bind(**config)
                arguments.apply_defaults()
                model.set_builder(name, task, {k: _as_json(v) for k, v in arguments.arguments.items()})
            return model

        _REGISTRY[name] = ModelEntry(name, task, build, description, input_kind, output_kind)
        return build

    return decorator


def _as_json(value):
    # Tuples become lists, so a config equals itself after a JSON round trip.
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    return value


def list_models(task=None):
    """Returns the registered model names, sorted.

    Args:
        task: If given, only the models of that task.

    Returns:
        A list of names.

    Raises:
        ValueError: If `task` is unknown.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"list_models: task must be one of {TASKS}, got {task!r}")
    return sorted(name for name, entry in _REGISTRY.items() if task is None or entry.task == task)


def model_entry(name):
    """Returns the `ModelEntry` registered under `name`.

    Raises:
        ValueError: If no model has that name (the message lists the known ones).
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}") from None


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
    accepted = entry.defaults()
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        raise ValueError(
            f"{name}: unknown argument(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(sorted(accepted))}"
        )
    return entry.builder(**config)
