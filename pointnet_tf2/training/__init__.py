"""Training: the shared trainer, the original's schedules, callbacks and losses.

Names are imported on first use (PEP 562), so `pointnet_tf2.training.cli`
(the train scripts' flags) loads without TensorFlow.
"""

from pointnet_tf2.utils.lazy import lazy_exports

_EXPORTS = {
    "StaircaseDecay": "pointnet_tf2.training.schedules",
    "bn_momentum": "pointnet_tf2.training.schedules",
    "TASKS": "pointnet_tf2.tasks",
    "get_task": "pointnet_tf2.tasks",
    "TrainConfig": "pointnet_tf2.training.trainer",
    "train": "pointnet_tf2.training.trainer",
}

__getattr__, __dir__, __all__ = lazy_exports(globals(), _EXPORTS)
