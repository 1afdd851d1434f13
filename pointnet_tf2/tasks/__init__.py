"""Tasks as objects: classification, part segmentation, semantic segmentation.

`get_task(name)` returns the task object the trainer, the evaluator and the
commands ask for everything that depends on the task (see `Task`). This
package is the only place that knows what "part_seg" means.
"""

from pointnet_tf2.tasks.base import Task
from pointnet_tf2.tasks.base import orthogonal_weight_for
from pointnet_tf2.tasks.classification import CLASSIFICATION
from pointnet_tf2.tasks.classification import NearestNeighbourAccuracy
from pointnet_tf2.task_names import TASK_NAMES
from pointnet_tf2.task_names import check_task_name
from pointnet_tf2.tasks.part_segmentation import PART_SEGMENTATION
from pointnet_tf2.tasks.semantic_segmentation import SEMANTIC_SEGMENTATION

TASKS = {task.name: task for task in (CLASSIFICATION, PART_SEGMENTATION, SEMANTIC_SEGMENTATION)}


def get_task(name):
    """Returns the `Task` called `name` (a task object is returned as it is).

    Raises:
        ValueError: If the task is unknown.
    """
    if isinstance(name, Task):
        return name
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


__all__ = ["TASKS", "TASK_NAMES", "NearestNeighbourAccuracy", "Task", "check_task_name", "get_task",
           "orthogonal_weight_for"]
