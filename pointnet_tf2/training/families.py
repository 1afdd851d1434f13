"""What the trainer does differently for model families beyond PointNet.

The registry tells what a model takes and gives (`ModelEntry.input_kind`,
`output_kind`); the trainer asks this module, through a few calls, for:

- the Sequence options of a run: the training augmentation (the resolved
  `TrainConfig.augmentation`: the model's recipe or the task's, with the
  rotation of `--train_rotation`, see `pointnet_tf2.training.recipes`),
  occupancy grids for voxel models (`inputs="voxels"`: the dataset's stored
  grids when it has them, else the points voxelised on the fly with the
  model's `Voxelize`), and class-balanced P x K batches for embedding models;
- whether the point-cloud TensorBoard visuals apply.

The compile arguments and the checkpoint monitor of a model's output kind are
its task's (`pointnet_tf2.tasks`).
"""

from pointnet_tf2.data.augment import augmentation_from_steps
from pointnet_tf2.data.augment import check_rotation
from pointnet_tf2.data.samplers import ClassBalancedSampler
from pointnet_tf2.data.voxels import Voxelize
from pointnet_tf2.models.kinds import model_kinds
from pointnet_tf2.models.registry import model_entry
from pointnet_tf2.tasks import get_task
from pointnet_tf2.losses.triplet import TripletLoss


def _entry(config):
    return model_entry(config.model)


def _voxel_inputs(config):
    """Sequence options feeding a voxel model: grids of the size the run builds it with.

    The grid size is the builder's `resolution` and `inner` as the run sets
    them (`--model_arg resolution=24`), else the builder's defaults. The
    Sequence reads the dataset's stored grids when it has them (and raises
    if their size is not the model's), else voxelises the points.
    """
    preprocessing = _entry(config).preprocessing_for(getattr(config, "model_args", None) or {})
    return {"inputs": "voxels", "voxelize": Voxelize(preprocessing.resolution, preprocessing.inner)}


def check_options(config):
    """Raises ValueError for family options that do not fit the run."""
    train_rotation = getattr(config, "train_rotation", None)
    if train_rotation is not None:
        check_rotation(train_rotation, "--train_rotation")
        task = get_task(config.task)
        if not task.train_rotations:
            raise ValueError(f"--train_rotation is for classification, not {task.title}")
    check_rotation(getattr(config, "test_rotation", "none"), "--test_rotation")
    if _entry(config).output_kind == "embedding":
        TripletLoss(margin=config.triplet_margin, distance=config.triplet_distance, mining=config.triplet_mining)


def classes_per_batch(config, description):
    """P of the P x K batches of an embedding run: `--classes_per_batch`, else
    batch_size // 4 (K = 4 shapes per class), at least 2 and at most the class count."""
    p = getattr(config, "classes_per_batch", None)
    if p is None:
        p = max(2, min(description.num_classes, config.batch_size // 4))
    if isinstance(p, bool) or not isinstance(p, int) or p < 2:
        raise ValueError(f"--classes_per_batch must be an integer >= 2, got {p!r}")
    if config.batch_size // p < 2:
        raise ValueError(f"--batch_size {config.batch_size} with --classes_per_batch {p} leaves fewer than 2 shapes per class")
    return p


def train_sequence_options(config, description):
    """Extra `PointCloudSequence` arguments of the training data of a run.

    Args:
        config: A resolved `TrainConfig` (its `augmentation` and, for
            classifiers, `train_rotation` set).
        description: The `DatasetDescription` trained on.

    Returns:
        A dict, possibly with `augment` (the run's augmentation; rotations
        about the data's up axis), `inputs` and `voxelize` (voxel models)
        and `sampler` (embedding models).

    Raises:
        ValueError: On options that do not fit the run.
    """
    check_options(config)
    entry = _entry(config)
    options = {}
    stored_grids = entry.input_kind == "voxels" and description.voxel_resolution is not None
    if stored_grids:  # the grids get the Sequence's grid augmentation instead
        if config.train_rotation not in (None, "none"):
            raise ValueError(f"{description.root}: --train_rotation turns points, but {config.model} reads the "
                             "dataset's stored voxel grids")  # fmt: skip
    else:
        pipeline = augmentation_from_steps(config.augmentation, up_axis=description.up_axis, seed=config.seed)
        options["augment"] = pipeline if len(pipeline) else False
    if entry.input_kind == "voxels":
        options.update(_voxel_inputs(config))
    if entry.output_kind == "embedding":
        p = classes_per_batch(config, description)
        options["sampler"] = ClassBalancedSampler(p, config.batch_size // p, seed=config.seed)
        options["mode"] = "memory"
    return options


def eval_sequence_options(config):
    """Extra `PointCloudSequence` arguments of the validation data of a run."""
    entry = _entry(config)
    return _voxel_inputs(config) if entry.input_kind == "voxels" else {}


def wants_visuals(model):
    """Whether the point-cloud/confusion TensorBoard visuals apply (point classifiers and segmenters)."""
    return model_kinds(model) == ("points", "logits")


__all__ = ["check_options", "classes_per_batch", "eval_sequence_options", "input_transform", "train_sequence_options",
           "wants_visuals"]


def input_transform(model):
    """The batch transform that turns point batches into the model's inputs, or None.

    Args:
        model: A model of the zoo.

    Returns:
        A `pointnet_tf2.data.voxels.Voxelize` for voxel models (with the
        builder's `resolution` and `inner`), None for point models.
    """
    if model_kinds(model)[0] != "voxels":
        return None
    config = model.builder_config
    return Voxelize(config["resolution"], config["inner"])
