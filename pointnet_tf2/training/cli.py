"""Argument parsing of `train_cls.py`, `train_sem_seg.py` and `train_part_seg.py`.

Flag names and defaults are the original scripts'; the extra flags
(`--data`, `--seed`, `--resume`, ...) are the project's.
"""

import argparse
import json
import sys

from pointnet_tf2.tasks import get_task
from pointnet_tf2.training.trainer import LR_SCHEDULES
from pointnet_tf2.training.trainer import TrainConfig
from pointnet_tf2.training.trainer import train



def parse_model_arg(text):
    """Parses one `--model_arg KEY=VALUE` into `(key, value)`.

    The value is read as a JSON literal when it is one (`24`, `0.5`, `true`,
    `[64, 128]`, `"same"`), else kept as the string (`same`).

    Raises:
        argparse.ArgumentTypeError: If `text` is not `KEY=VALUE` with a
            Python identifier as the key.
    """
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. resolution=24), got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def model_args(pairs):
    """The dict of repeated `--model_arg`s (`(key, value)` pairs from `parse_model_arg`).

    Raises:
        ValueError: If a key is given twice.
    """
    args = {}
    for key, value in pairs or ():
        if key in args:
            raise ValueError(f"--model_arg {key} given twice ({args[key]!r} and {value!r})")
        args[key] = value
    return args


def build_parser(task_name):
    """Returns the argument parser of the train script of a task."""
    task = get_task(task_name)
    parser = argparse.ArgumentParser(
        prog=task.script,
        description=f"Train a {task_name} model of pointnet-tf2 (defaults: the original PointNet's).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--data", default=None, help="dataset directory in an original layout, or a VDS/HDF5 file; "
        "default: the built-in synthetic dataset, generated once into the cache")
    add("--num_classes", type=int, default=None,
        help="class count of data that names no classes (no shape_names.txt); never guessed from the labels")
    add("--model", default=task.default_model, help="registry name of a model for this task (pointnet-tf2 models)")
    add("--model_arg", action="append", type=parse_model_arg, default=None, metavar="KEY=VALUE",
        help="an argument of the model's builder, repeatable, e.g. --model_arg resolution=24 --model_arg "
        "dropout_rate=0.5; VALUE is read as JSON when it parses (numbers, true/false, lists), else as a string. "
        "Arguments the run sets (num_classes, num_points, input_dims, ...) come from the data and their flags")
    add("--log_dir", default=task.log_dir, help="checkpoints, config.json, log.csv and TensorBoard events")
    add("--num_point", type=int, default=task.num_point, help="points per cloud")
    add("--max_epoch", type=int, default=task.max_epoch, help="epochs to run")
    add("--batch_size", type=int, default=task.batch_size, help="batch size during training")
    add("--learning_rate", type=float, default=task.learning_rate, help="initial learning rate")
    add("--momentum", type=float, default=0.9, help="momentum of --optimizer momentum")
    add("--optimizer", default="adam", choices=("adam", "momentum"), help="adam or momentum")
    add("--lr_schedule", default="cosine", choices=LR_SCHEDULES,
        help="cosine = from --learning_rate down to 1e-5 over --max_epoch epochs; staircase = the original's "
        "x --decay_rate every --decay_step samples (floor 1e-5)")
    add("--decay_step", type=int, default=task.decay_step, help="samples between learning-rate decays (staircase)")
    add("--decay_rate", type=float, default=task.decay_rate, help="learning-rate decay factor (staircase)")
    add("--bn_init_decay", type=float, default=0.5,
        help="batch-norm momentum (decay of the moving averages) at the start, as the original")
    add("--bn_decay_step", dest="bn_decay_decay_step", type=int, default=task.bn_decay_step,
        help="samples between BN-momentum steps (1 - momentum halves each step)")
    add("--bn_decay_clip", type=float, default=0.99, help="largest batch-norm momentum")
    add("--precise_bn_batches", type=int, default=16,
        help="before each validation, set the batch-norm moving statistics from this many training batches "
        "run through the current weights (0: keep the moving averages, as the original; one-device runs only)")
    add("--original_settings", action="store_true",
        help="the original's exact training: --lr_schedule staircase --precise_bn_batches 0 and, for "
        "classifiers, --train_rotation z (see README, 'Training on real data')")
    add("--divergence_factor", type=float, default=5.0,
        help="stop when an epoch's training loss exceeds this multiple of the lowest so far and the first "
        "epoch's loss (0: only NaN/inf stop the run)")
    add("--val_split", type=float, default=0.1,
        help="fraction of the training clouds held out for validation when the dataset has no val split")
    add("--validate_on", default="auto", choices=("auto", "val", "test", "none"),
        help="validation data: auto = the dataset's val split, else a --val_split hold-out of train; "
        "'test' validates on the test split as the original did")
    add("--seed", type=int, default=0, help="seed of shuffling, augmentation, hold-out and initialisation")
    add("--resume", action="store_true", help="continue the run in --log_dir from its last checkpoint")
    add("--label_smoothing", type=float, default=0.0, help="label smoothing of the cross-entropy")
    add("--class_weights", default=None, help="'balanced' or comma-separated per-class weights of the loss")
    add("--orthogonal_weight", type=float, default=None,
        help="weight of the feature-transform regulariser (per-sample mean); default: the original's "
        "0.001 * l2_loss scale, i.e. 0.0005 * batch_size")
    task.add_train_arguments(add)
    add("--distribute", default=None, choices=("none", "mirrored", "multi_worker"),
        help="tf.distribute: mirrored = every GPU of this host; multi_worker = the hosts of $TF_CONFIG "
        "(see the README, 'Distributed training'); --batch_size is the global batch. "
        "Default: mirrored when more than one GPU is visible, else none")
    add("--sync_batch_norm", action="store_true",
        help="distributed runs: batch-norm statistics over the global batch (all replicas) instead of per replica")
    add("--steps_per_execution", type=int, default=1, help="training steps per call into the compiled function (Keras)")
    add("--jit_compile", action="store_true", help="compile the training step with XLA (slower on CPU: see README, Performance)")
    add("--visuals_every", type=int, default=10, help="epochs between confusion-matrix/point-cloud summaries (0: never)")
    add("--no_test", dest="test", action="store_false", help="skip the final test-set evaluation")
    add("--verbose", type=int, default=1, choices=(0, 1, 2), help="0 quiet, 1 progress bar, 2 one line per epoch")
    return parser


def main(task_name, argv=None):
    """Parses the arguments of a train script and trains.

    Errors the user can fix print one line and give exit status 1.

    Args:
        task_name: "cls", "part_seg" or "sem_seg".
        argv: Arguments (default: `sys.argv[1:]`).

    Returns:
        The exit status.
    """
    args = build_parser(task_name).parse_args(argv)
    values = vars(args)
    pairs = values.pop("model_arg")
    config = TrainConfig.from_values(values, task=task_name)

    try:
        config.model_args = model_args(pairs)
        train(config)
    except (ValueError, OSError) as error:
        print(f"{get_task(task_name).script}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{get_task(task_name).script}: interrupted; continue with --resume --log_dir {config.log_dir}", file=sys.stderr)
        return 130
    return 0
