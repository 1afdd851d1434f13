"""`Task`: what the trainer, the evaluator and the predictor need to know about a task.

The trainer, the evaluation loop and the commands are written once; a task
object supplies what depends on the task: its original defaults, the builder
arguments that come from a dataset, the channels a model reads, the compile
arguments (losses, metrics), the checkpoint monitor, the evaluation protocol
and the names its TensorBoard visuals use. No other module compares task names.
"""

import dataclasses

from pointnet_tf2.layers import OrthogonalRegularizer
from pointnet_tf2.losses.cross_entropy import SparseCrossEntropy
from pointnet_tf2.losses.triplet import TripletLoss

OUTPUT_KINDS = ("logits", "embedding")


@dataclasses.dataclass(frozen=True)
class Task:
    """A task's defaults (the original's) and the pieces that depend on it.

    Subclasses implement `builder_args`, `logits_compile_args` and
    `evaluate_logits`; the rest has a default here.

    Attributes:
        name: "cls", "part_seg" or "sem_seg".
        title: Human name, e.g. "classification".
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
        per_point: Whether labels are per point (segmentation) or per cloud.
        sample_unit: What one sample of the task's data is called ("clouds", "blocks").
        predict_up_axis: The axis prediction votes rotate about by default.
        train_rotations: Whether `--train_rotation` applies (shape classification).
    """

    name: str
    title: str
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
    per_point: bool = True
    sample_unit: str = "clouds"
    predict_up_axis: int = 1
    train_rotations: bool = False

    # -- building a model -------------------------------------------------------------------

    def input_channels(self, description, use_normals=False):
        """How many channels of the stored points a model of this task reads.

        Shapes may store normals after XYZ (6 channels); they are read only
        with `use_normals`.

        Raises:
            ValueError: If `use_normals` is asked for data without normals.
        """
        dims = description.input_dims
        if use_normals:
            if dims < 6:
                raise ValueError(f"{description.root}: --use_normals, but the points have {dims} channels (no normals)")
            return 6
        return 3

    def builder_args(self, description, num_point, input_dims):
        """The builder keyword arguments that come from the dataset.

        Args:
            description: The `DatasetDescription`.
            num_point: Points per cloud fed to the model.
            input_dims: Channels per point fed to the model.

        Returns:
            A dict of builder keyword arguments.
        """
        return {"num_points": num_point, "input_dims": input_dims, "num_classes": description.num_classes}

    def model_config(self, description, num_point, input_dims, orthogonal_weight=None):
        """`builder_args`, plus the feature-transform regulariser weight when given."""
        config = self.builder_args(description, num_point, input_dims)
        if orthogonal_weight is not None:
            config["orthogonal_weight"] = orthogonal_weight
        return config

    # -- compiling --------------------------------------------------------------------------

    def compile_args(self, description, *, output_kind="logits", label_smoothing=0.0, class_weights=None,
                     seg_weight=1.0, triplet=None):
        """Returns the `loss`, `loss_weights` and `metrics` arguments of `compile`.

        Args:
            description: The `DatasetDescription`.
            output_kind: "logits" (cross-entropy) or "embedding" (metric learning).
            label_smoothing: Label smoothing of the main cross-entropy.
            class_weights: Optional per-class weights of the main cross-entropy.
            seg_weight: Part segmentation only: weight `w` of the segmentation
                loss; the category loss gets `1 - w` (the original trains with 1).
            triplet: Embedding models: a dict of `TripletLoss` arguments.

        Returns:
            A dict of keyword arguments for `model.compile`.

        Raises:
            ValueError: On an output kind the task has no loss for, or bad arguments.
        """
        if output_kind == "embedding":
            return self.embedding_compile_args(triplet or {})
        if output_kind != "logits":
            raise ValueError(f"output_kind must be one of {OUTPUT_KINDS}, got {output_kind!r}")
        main = SparseCrossEntropy(description.num_classes, label_smoothing=label_smoothing,
                                  class_weights=class_weights)
        return self.logits_compile_args(description, main, seg_weight=seg_weight)

    def logits_compile_args(self, description, main_loss, *, seg_weight=1.0):
        """The compile arguments of a model giving logits, around its main cross-entropy."""
        raise NotImplementedError

    def embedding_compile_args(self, triplet):
        """The compile arguments of an embedding model (only classification data has them)."""
        raise ValueError(f"embedding models are trained on classification data, not {self.title}")

    def monitor_key(self, output_kind="logits"):
        """The epoch-log key that picks the best checkpoint."""
        return self.monitor

    # -- evaluation and visuals -------------------------------------------------------------

    def label_names(self, description):
        """The names of the labels a model of the task predicts."""
        return description.class_names

    def evaluate_logits(self, predictions, description):
        """The task's metric protocol over predicted logits.

        Args:
            predictions: A dict with "logits" and "labels" (and, for part
                segmentation, "categories").
            description: The `DatasetDescription`.

        Returns:
            A dict of results whose "headline" lists the main figures' keys.
        """
        raise NotImplementedError


def orthogonal_weight_for(batch_size):
    """The regulariser weight reproducing the original's `0.001 * l2_loss` scale."""
    return OrthogonalRegularizer.original_scale(batch_size=batch_size).weight


def triplet_loss(triplet):
    """A `TripletLoss` from a dict of its arguments (margin, distance, mining)."""
    return TripletLoss(**triplet)
