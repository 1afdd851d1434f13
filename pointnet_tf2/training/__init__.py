"""Training: the shared trainer, the original's schedules, callbacks and losses."""

from pointnet_tf2.training.schedules import StaircaseDecay
from pointnet_tf2.training.schedules import bn_momentum
from pointnet_tf2.tasks import TASKS
from pointnet_tf2.tasks import get_task
from pointnet_tf2.training.trainer import TrainConfig
from pointnet_tf2.training.trainer import train

__all__ = ["TASKS", "StaircaseDecay", "TrainConfig", "bn_momentum", "get_task", "train"]
