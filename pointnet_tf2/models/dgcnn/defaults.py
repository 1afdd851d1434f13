"""The original training settings of each DGCNN network, read from the official code (WangYueFt/dgcnn).

Each is a `TrainingRecipe` (`pointnet_tf2.models.recipes`), registered
with its model: `config` holds `TrainConfig` field values in the zoo's units
(`decay_step` counts samples = optimizer steps x `batch_size`),
`augmentation` the steps as `(class name in pointnet_tf2.data.augment,
kwargs)`, `not_applied` what the zoo cannot apply, `notes` the quirks of the
original runs, `differences_from_pointnet` where the settings differ from the
PointNet model of the same task (`pointnet_tf2.tasks`).

A batch-norm "momentum" here is Keras' (the weight of the old moving
average): PyTorch's `momentum=0.1` is 0.9; TF1's `bn_decay` is already it.
"""

from pointnet_tf2.models.recipes import TrainingRecipe
from pointnet_tf2.models.recipes import torch_label_smoothing

# The number of classes the label smoothing below is exact for (ModelNet40).
MODELNET40_CLASSES = 40

# Kept for `from pointnet_tf2.models.dgcnn.defaults import TrainingDefaults`.
TrainingDefaults = TrainingRecipe


DGCNN_CLS = TrainingRecipe(
    sources=("pytorch/main.py", "pytorch/data.py", "pytorch/util.py", "pytorch/model.py"),
    config={
        "num_point": 1024,  # the first 1024 of the 2048 stored points, train and test
        "max_epoch": 250,
        "batch_size": 32,  # DataLoader drop_last=True
        "optimizer": "momentum",  # SGD, momentum 0.9
        "momentum": 0.9,
        "learning_rate": 0.1,  # --lr 0.001 x 100 with --use_sgd (the default)
        "lr_schedule": "cosine",  # CosineAnnealingLR(T_max=250 epochs, eta_min=0.001), see not_applied
        "label_smoothing": torch_label_smoothing(0.2, MODELNET40_CLASSES),
        "weight_decay": 1e-4,  # SGD weight_decay: + 1e-4 * w in every gradient (all parameters, BN and biases too)
        # PyTorch BatchNorm momentum 0.1, fixed: a schedule that stays at 0.9.
        "bn_init_decay": 0.9,
        "bn_decay_clip": 0.9,
    },
    augmentation=(
        # translate_pointcloud: x U(2/3, 3/2) per axis, then + U(-0.2, 0.2) per axis
        ("Scale", {"low": 2.0 / 3.0, "high": 3.0 / 2.0, "anisotropic": True}),
        ("Translate", {"shift": 0.2}),
        ("ShufflePoints", {}),  # np.random.shuffle of the cloud's points
    ),
    not_applied={
        "lr_floor": 0.001,  # cosine floor (eta_min); the zoo's cosine ends at 1e-5
        "lr_schedule_per": "epoch",  # the rate changes once per epoch, not per step
        "test_batch_size": 16,
    },
    notes=(
        "torch.manual_seed(1) (--seed 1): the zoo's random streams differ anyway, its --seed default 0 is kept.",
        "scheduler.step() runs at the start of each epoch (pre-1.1 PyTorch order): epoch e trains at the "
        "cosine value of e + 1, so the first epoch already runs below 0.1.",
        "Label smoothing is cal_loss's: 0.8 on the true class and 0.2 / 39 on each other (not Keras' 0.8 + 0.2 / 40); "
        "torch_label_smoothing converts it.",
        "jitter_pointcloud exists in data.py but is not used; no rotation.",
        "The checkpoint kept is the one with the best test accuracy (no validation split); no voting.",
    ),
    differences_from_pointnet=(
        "SGD with momentum 0.9 at lr 0.1, cosine to 0.001 (PointNet: Adam at 0.001, staircase x0.7 per 200k samples; "
        "the zoo: cosine to 1e-5)",
        "weight decay 1e-4 (PointNet: none)",
        "label smoothing 0.2 (PointNet: none)",
        "fixed BN momentum 0.9 and epsilon 1e-5 (PointNet: 0.5 rising to 0.99, epsilon 1e-3)",
        "augmentation: anisotropic scale 2/3..3/2, shift 0.2, point shuffle "
        "(PointNet: rotation about y, jitter 0.01/0.05)",
        "test batch 16 (PointNet: 32)",
    ),
)

DGCNN_CLS_TF = TrainingRecipe(
    sources=("tensorflow/train.py", "tensorflow/models/dgcnn.py", "tensorflow/provider.py"),
    config={
        "num_point": 1024,  # the first 1024 stored points
        "max_epoch": 250,
        "batch_size": 32,
        "optimizer": "adam",
        "learning_rate": 0.001,
        "lr_schedule": "staircase",
        "decay_step": 200_000,
        "decay_rate": 0.7,  # floor 1e-5
        "bn_init_decay": 0.5,
        "bn_decay_decay_rate": 0.5,
        "bn_decay_decay_step": 200_000,
        "bn_decay_clip": 0.99,
        "label_smoothing": 0.2,  # tf.losses.softmax_cross_entropy: Keras' definition
    },
    augmentation=(
        ("RotateUp", {}),  # rotate_point_cloud: random angle about y, the up axis of ModelNet40
        ("Jitter", {"sigma": 0.01, "clip": 0.05}),
        ("Scale", {"low": 0.8, "high": 1.25, "anisotropic": False}),  # random_scale_point_cloud: one factor per cloud
        ("RotatePerturbation", {"sigma": 0.06, "clip": 0.18}),  # angles about x, y, z; R = Rz Ry Rx
        ("Translate", {"shift": 0.1}),  # shift_point_cloud
    ),
    notes=(
        "The clouds' order is shuffled within each training file; points are not shuffled.",
        "Evaluation on the test files every epoch, batches of 32 without the remainder; checkpoint every 10 epochs.",
    ),
    differences_from_pointnet=(
        "label smoothing 0.2 (PointNet: none)",
        "augmentation adds an isotropic scale 0.8..1.25, a small rotation perturbation (0.06 rad, clip 0.18) "
        "and a shift of 0.1 after PointNet's rotation and jitter",
        "optimizer, learning rate, schedules, epochs and batch are PointNet's",
    ),
)

DGCNN_PART_SEG = TrainingRecipe(
    # (read in their copies under part_seg/, before the move into tensorflow/)
    sources=("tensorflow/part_seg/train_multi_gpu.py", "tensorflow/part_seg/part_seg_model.py"),
    config={
        "num_point": 2048,  # every stored point
        "max_epoch": 201,
        "batch_size": 32,  # 2 GPUs x 16 (overlapping, see notes)
        "optimizer": "adam",
        "learning_rate": 0.003,
        "lr_schedule": "staircase",
        # x0.5 every 16881 * 20 "samples" counted as steps x 16 (the per-GPU batch): 21,101.25 steps,
        # which is 675,240 samples at 32 per step.
        "decay_step": 16881 * 40,
        "decay_rate": 0.5,  # floor 1e-5
        "bn_init_decay": 0.5,
        "bn_decay_decay_rate": 0.5,
        "bn_decay_decay_step": 16881 * 80,  # the original's 16881 * 40, counted the same way
        "bn_decay_clip": 0.99,
    },
    augmentation=(),
    notes=(
        "No category classifier: the segmentation loss only (the zoo's --seg_weight 1.0).",
        "No weight decay (--wd 0; even when set, the L2 terms are never added to the loss).",
        "Two GPU towers read overlapping batches: step j feeds samples [16j, 16j+16) and [16j+16, 16j+32) of the "
        "shuffled file, for n // 32 steps, so an epoch sees about the first half of each file, most samples twice.",
        "The learning-rate and BN schedules count 16 samples per step (the per-GPU batch); the config above "
        "converts them to the zoo's samples at 32 per step.",
        "Validation set (val files) evaluated before each epoch's training; checkpoint every 5 or 10 epochs.",
        "No augmentation.",
    ),
    differences_from_pointnet=(
        "learning rate 0.003 (PointNet: 0.001)",
        "201 epochs (PointNet: 200)",
        "decay steps of 675,240 / 1,350,480 samples (PointNet: 337,620 / 675,240), from the per-GPU counting",
        "no auxiliary category loss (PointNet's weight is 0 by default too)",
    ),
)

DGCNN_SEM_SEG = TrainingRecipe(
    sources=("tensorflow/sem_seg/train.py", "tensorflow/sem_seg/model.py"),
    config={
        "num_point": 4096,
        "max_epoch": 101,  # the flag's help says 50
        "batch_size": 24,  # 2 GPUs x 12 (overlapping, see notes)
        "optimizer": "adam",
        "learning_rate": 0.001,
        "lr_schedule": "staircase",
        # x0.5 every 300,000 "samples" counted as steps x 12: 25,000 steps = 600,000 samples at 24 per step.
        "decay_step": 600_000,
        "decay_rate": 0.5,  # floor 1e-5
        "bn_init_decay": 0.5,
        "bn_decay_decay_rate": 0.5,
        "bn_decay_decay_step": 600_000,
        "bn_decay_clip": 0.99,
    },
    augmentation=(),
    not_applied={
        "fixed_bn_momentum": {"seg_conv1_bn": 0.9, "seg_conv2_bn": 0.9},  # built without bn_decay: 0.9 throughout
    },
    notes=(
        "Area 6 held out for testing (the zoo's --test_area 6).",
        "No weight decay: model.py reads an undefined global weight_decay (upstream issue #62); tf_util's default 0.",
        "Two GPU towers read overlapping batches: step j feeds blocks [12j, 12j+12) and [12j+12, 12j+24) of the "
        "shuffled training blocks, for n // 24 steps, so an epoch sees about the first half, most blocks twice.",
        "The schedules count 12 samples per step (the per-GPU batch); the config converts them to 24 per step.",
        "No evaluation during training; checkpoint every 10 epochs. No augmentation.",
    ),
    differences_from_pointnet=(
        "101 epochs (PointNet: 50)",
        "decay steps of 600,000 samples (PointNet: 300,000), from the per-GPU counting",
        "the two segmentation layers' batch norms keep momentum 0.9 (PointNet: every layer scheduled)",
    ),
)

TRAINING_DEFAULTS = {"dgcnn_cls": DGCNN_CLS, "dgcnn_cls_tf": DGCNN_CLS_TF, "dgcnn_part_seg": DGCNN_PART_SEG,
                     "dgcnn_sem_seg": DGCNN_SEM_SEG}
