"""What differs between the three tasks: defaults, model arguments, losses, metrics.

The trainer and the evaluator are written once; a `Task` supplies the few
things that depend on the task.
"""

import dataclasses

import keras

from pointnet_tf2 import metrics
from pointnet_tf2.layers import OrthogonalRegularizer
from pointnet_tf2.training.losses import SparseCrossEntropy


@dataclasses.dataclass(frozen=True)
class Task:
    """A task's defaults (the original's) and the pieces that depend on it.

    Attributes:
        name: "cls", "part_seg" or "sem_seg".
        default_model: Registry name used without `--model`.
        num_point: Points per cloud used for training.
        max_epoch: Epochs.
        batch_size: Samples per step.
        learning_rate: Initial learning rate.
        decay_step: Samples between two learning-rate decays.
        decay_rate: Learning-rate decay factor.
        bn_decay_step: Samples between two BN-momentum steps.
        monitor: Epoch-log key that picks the best checkpoint (validation).
        log_dir: Default log folder.
    """

    name: str
    default_model: str
    num_point: int
    max_epoch: int
    batch_size: int
    learning_rate: float
    decay_step: int
    decay_rate: float
    bn_decay_step: int
    monitor: str
    log_dir: str

    def model_config(self, description, num_point, input_dims, orthogonal_weight=None):
        """Returns the model arguments that come from the dataset.

        Args:
            description: The `DatasetDescription`.
            num_point: Points per cloud fed to the model.
            input_dims: Channels per point fed to the model.
            orthogonal_weight: Weight of the feature-transform regulariser, or
                None for the model's default.

        Returns:
            A dict of builder keyword arguments.
        """
        config = {"num_points": num_point, "input_dims": input_dims}
        if self.name == "part_seg":
            config.update(num_parts=description.num_parts, num_categories=description.num_categories)
        else:
            config["num_classes"] = description.num_classes
        if orthogonal_weight is not None:
            config["orthogonal_weight"] = orthogonal_weight
        return config

    def compile_args(self, description, *, label_smoothing=0.0, class_weights=None, seg_weight=1.0):
        """Returns the `loss`, `loss_weights` and `metrics` arguments of `compile`.

        Args:
            description: The `DatasetDescription`.
            label_smoothing: Label smoothing of the main cross-entropy.
            class_weights: Optional per-class weights of the main cross-entropy.
            seg_weight: Part segmentation only: weight `w` of the segmentation
                loss; the category loss gets `1 - w` (the original trains with 1).

        Returns:
            A dict of keyword arguments for `model.compile`.
        """
        main = SparseCrossEntropy(description.num_classes, label_smoothing=label_smoothing,
                                  class_weights=class_weights)
        if self.name in ("cls", "sem_seg"):
            accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            if self.name == "cls":
                class_metric = metrics.MeanClassAccuracy(description.num_classes, name="mean_class_accuracy")
            else:
                class_metric = metrics.MeanIoU(description.num_classes, name="miou")
            return {"loss": main, "metrics": [accuracy, class_metric]}
        if not 0.0 <= seg_weight <= 1.0:
            raise ValueError(f"seg_weight must be in [0, 1], got {seg_weight!r}")
        return {
            "loss": {"parts": main, "category": SparseCrossEntropy(description.num_categories)},
            "loss_weights": {"parts": float(seg_weight), "category": 1.0 - float(seg_weight)},
            "metrics": {
                "parts": [
                    keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                    metrics.PartInstanceMIoU(description.category_parts, name="instance_miou"),
                    metrics.PartCategoryMIoU(description.category_parts, name="category_miou"),
                ],
                "category": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            },
        }


TASKS = {
    "cls": Task("cls", "pointnet_cls", 1024, 250, 32, 0.001, 200_000, 0.7, 200_000,
                "val_accuracy", "log"),
    "part_seg": Task("part_seg", "pointnet_part_seg", 2048, 200, 32, 0.001, 16881 * 20, 0.5, 16881 * 40,
                     "val_parts_instance_miou", "log_part_seg"),
    "sem_seg": Task("sem_seg", "pointnet_sem_seg", 4096, 50, 24, 0.001, 300_000, 0.5, 300_000,
                    "val_miou", "log_sem_seg"),
}


def get_task(name):
    """Returns the `Task` called `name`.

    Raises:
        ValueError: If the task is unknown.
    """
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


def original_orthogonal_weight(batch_size):
    """The regulariser weight reproducing the original's `0.001 * l2_loss` scale."""
    return OrthogonalRegularizer.original_scale(batch_size=batch_size).weight
