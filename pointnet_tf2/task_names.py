"""The task names, for the layers below the tasks package (registry, datasets).

Everything else a task means lives in its class (`pointnet_tf2.tasks`); this
module only lets the model registry and the dataset readers, which sit below
the tasks layer, check a name.
"""

CLS = "cls"
PART_SEG = "part_seg"
SEM_SEG = "sem_seg"
TASK_NAMES = (CLS, PART_SEG, SEM_SEG)


def check_task_name(name, where="task"):
    """Returns `name` if it is a task name, else raises ValueError naming `where`."""
    if name not in TASK_NAMES:
        raise ValueError(f"{where} must be one of {', '.join(TASK_NAMES)}, got {name!r}")
    return name
