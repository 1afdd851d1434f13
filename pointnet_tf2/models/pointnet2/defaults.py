"""The original training settings of each PointNet++ model, read from charlesq34/pointnet2 (HEAD 4292663).

`TRAINING_DEFAULTS[name]` is the model's `TrainingRecipe`
(`pointnet_tf2.models.recipes`), registered with the model: `config` holds
the values of `TrainConfig` fields, `augmentation` the `provider.py`
functions the script applies, in order, as the augment classes that do the
same, `not_applied` what the zoo cannot apply.

In every script the learning rate is `lr * decay_rate ^ floor(samples /
decay_step)` (staircase, counted in samples = steps x batch size; floor 1e-5,
the zoo's, unless `not_applied` says otherwise) and the batch-norm momentum
`min(clip, 1 - init * rate ^ floor(samples / step))`.

`DIFFERENCES_FROM_POINTNET` lists, per task, where these differ from the
original PointNet's settings (the zoo's task defaults).
"""

import math

from pointnet_tf2.models.recipes import TrainingRecipe

# Augmentations: `provider.py` function -> the augment step doing the same.
# rotate_point_cloud (about y) / rotate_point_cloud_z: one uniform angle in [0, 2 pi) per cloud about the up axis.
ROTATE_UP = ("RotateUp", {"max_angle": 2 * math.pi})
# rotate_perturbation_point_cloud: angles about x, y and z ~ N(0, 0.06) clipped to +-0.18 rad, R = Rz Ry Rx.
ROTATE_PERTURBATION = ("RotatePerturbation", {"sigma": 0.06, "clip": 0.18})
SCALE = ("Scale", {"low": 0.8, "high": 1.25, "anisotropic": False})  # random_scale_point_cloud: one factor per cloud
SHIFT = ("Translate", {"shift": 0.1})  # shift_point_cloud: uniform per cloud and axis
JITTER = ("Jitter", {"sigma": 0.01, "clip": 0.05})  # jitter_point_cloud: per point, XYZ only
# random_point_dropout (scannet get_batch_wdp): per block, ratio ~ U(0, 0.875); each point with u <= ratio becomes
# a copy of point 0 (label too); the original also gives it loss weight 0 (not applied).
POINT_DROPOUT = ("PointDropout", {"max_ratio": 0.875})


def _recipe(source, *, num_point, batch_size, max_epoch, decay_step, decay_rate, bn_decay_decay_step, augmentation,
            notes, not_applied=None):
    """A recipe with what every PointNet++ script shares: Adam at 0.001 (momentum 0.9 unused), staircase
    schedules, batch-norm momentum 0.5 -> 0.99 halving its complement every `bn_decay_decay_step` samples."""
    return TrainingRecipe(
        sources=(source,),
        config={"num_point": num_point, "batch_size": batch_size, "max_epoch": max_epoch, "learning_rate": 0.001,
                "optimizer": "adam", "momentum": 0.9, "lr_schedule": "staircase", "decay_step": decay_step,
                "decay_rate": decay_rate, "bn_init_decay": 0.5, "bn_decay_decay_rate": 0.5,
                "bn_decay_decay_step": bn_decay_decay_step, "bn_decay_clip": 0.99},
        augmentation=augmentation, not_applied=dict(not_applied or {}), notes=notes)


_CLS = _recipe(
    "train.py",
    num_point=1024,
    batch_size=16,
    max_epoch=251,
    decay_step=200_000,
    decay_rate=0.7,
    bn_decay_decay_step=200_000,  # BN_DECAY_DECAY_STEP = DECAY_STEP
    augmentation=(ROTATE_UP, ROTATE_PERTURBATION, SCALE, SHIFT, JITTER),
    notes=(
        "XYZ: modelnet_h5_dataset.py reads the first 1024 of the 2048 stored points (npoints is hard-coded "
        "to 1024) and shuffles the clouds of each file; the augmentation is its _augment_batch_data",
        "--normal: modelnet_dataset.py (modelnet40_normal_resampled, unit-sphere normalised), normals rotated "
        "with the points, point order shuffled after augmenting; the README's 91.9% used 5000 points, "
        "random_point_dropout (commented out in train.py) and nsample=128 in the first two levels",
        "the last partial batch of an epoch is fed at full batch size, its missing rows left over from the "
        "previous batch (batch norm sees a full batch)",
        "evaluate.py: --num_votes 1 by default; vote v rotates by 2 pi v / num_votes about y and shuffles "
        "the point order (another farthest point sampling)",
        "both classifiers use this script (--model pointnet2_cls_ssg is its default)",
    ),
)

TRAINING_DEFAULTS = {
    "pointnet2_cls_ssg": _CLS,
    "pointnet2_cls_msg": _CLS,
    "pointnet2_part_seg": _recipe(
        "part_seg/train.py (run by part_seg/command.sh: --max_epoch 201)",
        num_point=2048,
        batch_size=32,
        max_epoch=201,
        decay_step=200_000,
        decay_rate=0.7,
        bn_decay_decay_step=200_000,
        augmentation=(JITTER,),
        notes=(
            "data: shapenetcore_partanno_segmentation_benchmark_v0_normal (XYZ + normals + part label per point), "
            "XYZ unit-sphere normalised, 2048 points drawn with replacement at every read",
            "trains on train + val ('trainval'), evaluates on test every epoch; drops the last partial batch",
            "evaluation restricts each shape's predictions to its category's parts (argmax over them)",
        ),
    ),
    "pointnet2_part_seg_msg": _recipe(
        "part_seg/train_one_hot.py run by part_seg/command_one_hot.sh (--batch_size 8 --max_epoch 201)",
        num_point=2048,
        batch_size=8,  # the script's flag default is 32; the authors' command passes 8
        max_epoch=201,
        decay_step=16881 * 20,
        decay_rate=0.5,
        bn_decay_decay_step=16881 * 20,
        augmentation=(JITTER,),
        notes=(
            "as pointnet2_part_seg (data, trainval, resampling, evaluation), plus the object category of each "
            "shape fed as a one-hot input",
        ),
    ),
    "pointnet2_sem_seg": _recipe(
        "scannet/train.py",
        num_point=8192,
        batch_size=32,
        max_epoch=201,
        decay_step=200_000,
        decay_rate=0.7,
        bn_decay_decay_step=200_000,
        augmentation=(POINT_DROPOUT, ROTATE_UP),  # rotate_point_cloud_z: ScanNet's up axis
        not_applied={
            # the script assigns the clipped rate to a misspelt `learing_rate` and returns the unclipped one
            "lr_floor": None,
            "class_weights": "the dataset's label weights",  # cross-entropy weighted per point by its class
            "dropped_point_weight": 0.0,  # random_point_dropout's points get loss weight 0
        },
        notes=(
            "ScanNet (scannet_data_pointnet2), 21 classes (0 = unannotated, left out of the accuracies), "
            "XYZ only; blocks of 8192 points",
            "cross-entropy weighted per point by its class weight (the dataset's label weights); dropped "
            "points get weight 0",
            "evaluates every 5 epochs on randomly chopped test scenes (also at 2 cm voxels) and on whole scenes",
        ),
    ),
}

DIFFERENCES_FROM_POINTNET = {
    "cls": (
        "batch size 16 (PointNet 32) and 251 epochs (250)",
        "augmentation adds a small rotation about every axis (sigma 0.06, clip 0.18 rad), an isotropic scale "
        "in [0.8, 1.25] and a shift of up to 0.1 per axis to PointNet's rotation about y + jitter",
        "learning rate, its decay (x0.7 every 200,000 samples, floor 1e-5) and the batch-norm schedule: the same",
        "no feature-transform regulariser (PointNet++ has no T-Net)",
    ),
    "part_seg": (
        "pointnet2_part_seg: learning rate x0.7 every 200,000 samples and batch-norm step 200,000 "
        "(PointNet: x0.5 every 337,620, batch-norm step 675,240); 201 epochs (200)",
        "pointnet2_part_seg_msg: the same learning-rate decay as PointNet (x0.5 every 337,620 samples) but "
        "batch-norm step 337,620 (PointNet 675,240), batch size 8 (32), 201 epochs",
        "XYZ + normals input (PointNet: XYZ), jitter on XYZ (the zoo's PointNet default: no augmentation)",
        "no auxiliary category classifier and no feature-transform regulariser; MSG reads the category one-hot "
        "in its last feature propagation (PointNet: in the segmentation head)",
        "trains on train + val and evaluates on test every epoch",
    ),
    "sem_seg": (
        "ScanNet, not S3DIS: 8192 XYZ points per block (PointNet: 4096 points with 9 features), 21 classes (13)",
        "batch size 32 (24), 201 epochs (50), learning rate x0.7 every 200,000 samples with no floor "
        "(x0.5 every 300,000, floor 1e-5), batch-norm step 200,000 (300,000)",
        "augmentation: random rotation about z and point dropout per block (the zoo's PointNet default: none)",
        "class-weighted cross-entropy (PointNet: unweighted)",
    ),
}


def training_defaults(name):
    """Returns the `TrainingRecipe` of a PointNet++ model.

    Raises:
        ValueError: If `name` is not a PointNet++ model.
    """
    try:
        return TRAINING_DEFAULTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"no original training settings for {name!r}; known: {', '.join(sorted(TRAINING_DEFAULTS))}") from None
