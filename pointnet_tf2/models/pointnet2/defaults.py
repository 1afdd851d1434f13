"""The original training settings of each PointNet++ model, read from charlesq34/pointnet2 (HEAD 4292663).

`TRAINING_DEFAULTS[name]` is an `OriginalTraining` whose fields use the names
of `pointnet_tf2.training.TrainConfig` where one exists (`num_point`,
`batch_size`, `max_epoch`, `learning_rate`, `optimizer`, `momentum`,
`decay_step`, `decay_rate`, `bn_init_decay`, `bn_decay_decay_rate`,
`bn_decay_decay_step`, `bn_decay_clip`), plus what TrainConfig has no field
for: the learning-rate floor, the augmentation (the `provider.py` functions
the script applies, in order, with their arguments) and notes. Plain data:
the training layer turns them into its own objects.

In every script the learning rate is `lr * decay_rate ^ floor(samples /
decay_step)` (staircase, counted in samples = steps x batch size) and the
batch-norm momentum `min(clip, 1 - init * rate ^ floor(samples / step))`.

`DIFFERENCES_FROM_POINTNET` lists, per task, where these differ from the
original PointNet's settings (the zoo's task defaults).
"""

import dataclasses
import math
from typing import Optional

# Augmentations, as `(provider.py function, arguments)`:
ROTATE_UP_Y = ("rotate_point_cloud", {"axis": "y", "max_angle": 2 * math.pi})  # one uniform angle per cloud
ROTATE_UP_Z = ("rotate_point_cloud_z", {"axis": "z", "max_angle": 2 * math.pi})
# Small rotation about x, y and z: angles N(0, 0.06) clipped to +-0.18 rad, R = Rz Ry Rx.
ROTATE_PERTURBATION = ("rotate_perturbation_point_cloud", {"sigma": 0.06, "clip": 0.18})
SCALE = ("random_scale_point_cloud", {"low": 0.8, "high": 1.25, "anisotropic": False})  # one factor per cloud
SHIFT = ("shift_point_cloud", {"shift_range": 0.1})  # uniform per cloud and axis
JITTER = ("jitter_point_cloud", {"sigma": 0.01, "clip": 0.05})  # per point, XYZ only
# Per block: ratio ~ U(0, 0.875); each point with u <= ratio becomes a copy of point 0 (label too) with weight 0.
POINT_DROPOUT = ("random_point_dropout", {"max_dropout_ratio": 0.875})


@dataclasses.dataclass(frozen=True)
class OriginalTraining:
    """How the original trains one PointNet++ network.

    Attributes:
        source: The file of charlesq34/pointnet2 the values come from.
        num_point: Points per cloud.
        batch_size: Clouds per step.
        max_epoch: Epochs.
        learning_rate: Initial learning rate.
        optimizer: "adam" (the default of every script) or "momentum".
        momentum: Momentum of the "momentum" optimizer.
        decay_step: Samples between two learning-rate decays (staircase).
        decay_rate: Learning-rate decay factor.
        lr_floor: Learning-rate floor, or None when the script applies none.
        bn_init_decay: Initial `1 - momentum` of batch norm (momentum 0.5).
        bn_decay_decay_rate: Its decay factor.
        bn_decay_decay_step: Samples between two batch-norm momentum steps.
        bn_decay_clip: The momentum's ceiling.
        augmentation: The training augmentation, in order (see the constants above).
        notes: What else the script does that a port must know.
    """

    source: str
    num_point: int
    batch_size: int
    max_epoch: int
    learning_rate: float
    optimizer: str
    momentum: float
    decay_step: int
    decay_rate: float
    lr_floor: Optional[float]
    bn_init_decay: float
    bn_decay_decay_rate: float
    bn_decay_decay_step: int
    bn_decay_clip: float
    augmentation: tuple
    notes: tuple = ()

    def train_config_values(self):
        """The values of the fields `TrainConfig` has, as a dict."""
        names = ("num_point", "batch_size", "max_epoch", "learning_rate", "optimizer", "momentum", "decay_step",
                 "decay_rate", "bn_init_decay", "bn_decay_decay_rate", "bn_decay_decay_step", "bn_decay_clip")
        return {name: getattr(self, name) for name in names}


_CLS = OriginalTraining(
    source="train.py",
    num_point=1024,
    batch_size=16,
    max_epoch=251,
    learning_rate=0.001,
    optimizer="adam",
    momentum=0.9,
    decay_step=200_000,
    decay_rate=0.7,
    lr_floor=1e-5,
    bn_init_decay=0.5,
    bn_decay_decay_rate=0.5,
    bn_decay_decay_step=200_000,  # BN_DECAY_DECAY_STEP = DECAY_STEP
    bn_decay_clip=0.99,
    augmentation=(ROTATE_UP_Y, ROTATE_PERTURBATION, SCALE, SHIFT, JITTER),
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
    "pointnet2_part_seg": OriginalTraining(
        source="part_seg/train.py (run by part_seg/command.sh: --max_epoch 201)",
        num_point=2048,
        batch_size=32,
        max_epoch=201,
        learning_rate=0.001,
        optimizer="adam",
        momentum=0.9,
        decay_step=200_000,
        decay_rate=0.7,
        lr_floor=1e-5,
        bn_init_decay=0.5,
        bn_decay_decay_rate=0.5,
        bn_decay_decay_step=200_000,
        bn_decay_clip=0.99,
        augmentation=(JITTER,),
        notes=(
            "data: shapenetcore_partanno_segmentation_benchmark_v0_normal (XYZ + normals + part label per point), "
            "XYZ unit-sphere normalised, 2048 points drawn with replacement at every read",
            "trains on train + val ('trainval'), evaluates on test every epoch; drops the last partial batch",
            "evaluation restricts each shape's predictions to its category's parts (argmax over them)",
        ),
    ),
    "pointnet2_part_seg_msg": OriginalTraining(
        source="part_seg/train_one_hot.py run by part_seg/command_one_hot.sh (--batch_size 8 --max_epoch 201)",
        num_point=2048,
        batch_size=8,  # the script's flag default is 32; the authors' command passes 8
        max_epoch=201,
        learning_rate=0.001,
        optimizer="adam",
        momentum=0.9,
        decay_step=16881 * 20,
        decay_rate=0.5,
        lr_floor=1e-5,
        bn_init_decay=0.5,
        bn_decay_decay_rate=0.5,
        bn_decay_decay_step=16881 * 20,
        bn_decay_clip=0.99,
        augmentation=(JITTER,),
        notes=(
            "as pointnet2_part_seg (data, trainval, resampling, evaluation), plus the object category of each "
            "shape fed as a one-hot input",
        ),
    ),
    "pointnet2_sem_seg": OriginalTraining(
        source="scannet/train.py",
        num_point=8192,
        batch_size=32,
        max_epoch=201,
        learning_rate=0.001,
        optimizer="adam",
        momentum=0.9,
        decay_step=200_000,
        decay_rate=0.7,
        lr_floor=None,  # the script assigns the clipped rate to a misspelt `learing_rate` and returns the unclipped one
        bn_init_decay=0.5,
        bn_decay_decay_rate=0.5,
        bn_decay_decay_step=200_000,
        bn_decay_clip=0.99,
        augmentation=(POINT_DROPOUT, ROTATE_UP_Z),
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
    """Returns the `OriginalTraining` of a PointNet++ model.

    Raises:
        ValueError: If `name` is not a PointNet++ model.
    """
    try:
        return TRAINING_DEFAULTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"no original training settings for {name!r}; known: {', '.join(sorted(TRAINING_DEFAULTS))}") from None
