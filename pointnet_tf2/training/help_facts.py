"""What the command line's help shows of the zoo, computed from the tasks and the registry.

`pointnet-tf2 --help`, `pointnet-tf2 COMMAND --help` and `train_*.py --help`
answer without importing TensorFlow: they read a snapshot of these facts,
`pointnet_tf2/cli_facts.py`. `tests/test_cli.py` checks that the snapshot
equals `compute_facts()`; after changing a task's defaults or flags, a
model's recipe or the families of the zoo, rewrite it with

    python -m pointnet_tf2.training.help_facts
"""

import os
import pprint
import sys

from pointnet_tf2.models import list_models
from pointnet_tf2.models import registry
from pointnet_tf2.models import training_recipe
from pointnet_tf2.task_names import TASK_NAMES
from pointnet_tf2.tasks import get_task
from pointnet_tf2.training.recipes import PROJECT_DEFAULTS
from pointnet_tf2.training.run_setup import LR_SCHEDULES

SNAPSHOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli_facts.py")
# Flags whose default is the model's recipe: flag destination -> the task attribute or project default used without one.
RECIPE_FIELDS = {
    "num_point": "task:num_point",
    "max_epoch": "task:max_epoch",
    "batch_size": "task:batch_size",
    "learning_rate": "task:learning_rate",
    "momentum": "project:momentum",
    "optimizer": "project:optimizer",
    "decay_step": "task:decay_step",
    "decay_rate": "task:decay_rate",
    "bn_init_decay": "project:bn_init_decay",
    "bn_decay_decay_step": "task:bn_decay_step",
    "bn_decay_clip": "project:bn_decay_clip",
    "label_smoothing": "project:label_smoothing",
    "weight_decay": "project:weight_decay",
}
TYPES = {int: "int", float: "float", str: "str"}


def recipe_default(task_name, field, fallback):
    """Help text of a flag defaulting to the model's recipe, with an example model of the task."""
    examples = [(name, training_recipe(name).config[field]) for name in list_models(task=task_name)
                if training_recipe(name) is not None and field in training_recipe(name).config]
    example = next(((name, value) for name, value in examples if value != fallback), None)
    show = lambda value: f"{value:g}" if isinstance(value, float) else str(value)  # noqa: E731
    text = "default: the model's original" + (f" (e.g. {example[0]}: {show(example[1])})" if example else "")
    return f"{text}, else {show(fallback)}"


def task_flags(task):
    """The task's own train flags (`Task.add_train_arguments`) as `(names, options)` with types by name."""
    flags = []

    def add(*names, **options):
        if "type" in options:
            options["type"] = TYPES[options["type"]]
        flags.append((names, options))

    task.add_train_arguments(add)
    return flags


def compute_facts():
    """The facts the help texts need.

    Returns:
        A dict of plain Python values: "tasks" (per task: script, default
        model, log folder, the recipe defaults' help texts, its own flags),
        "lr_schedules", "precise_bn_batches" and "families".
    """
    tasks = {}
    for name in TASK_NAMES:
        task = get_task(name)
        recipe_help = {}
        for field, source in RECIPE_FIELDS.items():
            kind, key = source.split(":")
            fallback = getattr(task, key) if kind == "task" else PROJECT_DEFAULTS[key]
            recipe_help[field] = recipe_default(name, field, fallback)
        tasks[name] = {"script": task.script, "default_model": task.default_model, "log_dir": task.log_dir,
                       "recipe_help": recipe_help, "flags": task_flags(task)}
    return {"tasks": tasks, "lr_schedules": tuple(LR_SCHEDULES),
            "precise_bn_batches": PROJECT_DEFAULTS["precise_bn_batches"], "families": registry.families()}


def snapshot_text(facts):
    """The source of `pointnet_tf2/cli_facts.py` holding `facts`."""
    return ('"""A snapshot of `pointnet_tf2.training.help_facts.compute_facts()`: what the help texts show of the '
            'zoo.\n\n'
            "Written by `python -m pointnet_tf2.training.help_facts`; do not edit. It lets `--help` answer\n"
            'without importing TensorFlow; tests/test_cli.py checks it is current.\n"""\n\n'
            f"FACTS = {pprint.pformat(facts, width=110, sort_dicts=False)}\n")


def main():
    """Rewrites the snapshot."""
    with open(SNAPSHOT, "w", encoding="utf-8") as f:
        f.write(snapshot_text(compute_facts()))
    print(f"wrote {SNAPSHOT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
