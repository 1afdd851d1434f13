"""Argument parsing of `train_cls.py`, `train_sem_seg.py` and `train_part_seg.py`.

Flag names are the original scripts'; the extra flags (`--data`, `--seed`,
`--resume`, ...) are the project's. The training settings a model's original
recipe sets default to None: the run takes the recipe's value, else the
task's (the original PointNet's; see `pointnet_tf2.training.recipes`).

`pointnet-tf2 train --task TASK` uses the same parser. Building it imports
no TensorFlow: the task defaults, recipe examples and task flags the help
shows come from the snapshot `pointnet_tf2.cli_facts` (see
`pointnet_tf2.training.help_facts`); `run` imports the trainer.
"""

import argparse
import json
import sys

from pointnet_tf2.cli_facts import FACTS
from pointnet_tf2.task_names import check_task_name

# `type=` of the tasks' own flags, recorded by name in the facts snapshot.
_TYPES = {"int": int, "float": float, "str": str}


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


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None (a default the help text describes)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def build_parser(task_name, *, prog=None, facts=None):
    """Returns the argument parser of the train script of a task.

    Args:
        task_name: "cls", "part_seg" or "sem_seg".
        prog: Program name in the usage line (default: the task's script).
        facts: The help facts (default: the snapshot `pointnet_tf2.cli_facts.FACTS`;
            `pointnet_tf2.training.help_facts.compute_facts()` gives the live ones).

    Raises:
        ValueError: If the task is unknown.
    """
    check_task_name(task_name)
    facts = FACTS if facts is None else facts
    task = facts["tasks"][task_name]
    parser = argparse.ArgumentParser(
        prog=prog or task["script"],
        description=f"Train a {task_name} model of pointnet-tf2 (defaults: the model's original training, "
        "else the original PointNet's; with the project's stability defaults, see --original_settings).",
        formatter_class=_HelpFormatter,
    )
    add = parser.add_argument
    add("--data", default=None, help="dataset directory in an original layout, or a VDS/HDF5 file; "
        "default: the built-in synthetic dataset, generated once into the cache")
    add("--num_classes", type=int, default=None,
        help="class count of data that names no classes (no shape_names.txt); never guessed from the labels")
    add("--model", default=task["default_model"], help="registry name of a model for this task (pointnet-tf2 models)")
    add("--model_arg", action="append", type=parse_model_arg, default=None, metavar="KEY=VALUE",
        help="an argument of the model's builder, repeatable, e.g. --model_arg resolution=24 --model_arg "
        "dropout_rate=0.5; VALUE is read as JSON when it parses (numbers, true/false, lists), else as a string. "
        "Arguments the run sets (num_classes, num_points, input_dims, ...) come from the data and their flags")
    add("--log_dir", default=task["log_dir"], help="checkpoints, config.json, log.csv and TensorBoard events")
    recipe = task["recipe_help"].__getitem__  # "default: the model's original (e.g. ...), else ..."
    add("--num_point", type=int, default=None, help="points per cloud; " + recipe("num_point"))
    add("--max_epoch", type=int, default=None, help="epochs to run; " + recipe("max_epoch"))
    add("--batch_size", type=int, default=None,
        help="batch size during training; " + recipe("batch_size"))
    add("--learning_rate", type=float, default=None,
        help="initial learning rate; " + recipe("learning_rate"))
    add("--momentum", type=float, default=None,
        help="momentum of --optimizer momentum; " + recipe("momentum"))
    add("--optimizer", default=None, choices=("adam", "momentum"),
        help="adam or momentum (SGD); " + recipe("optimizer"))
    add("--lr_schedule", default=None, choices=facts["lr_schedules"],
        help="cosine = from --learning_rate down to 1e-5 over --max_epoch epochs; staircase = the original's "
        "x --decay_rate every --decay_step samples (floor 1e-5); default: cosine (--original_settings: the "
        "model's original, e.g. staircase)")
    add("--decay_step", type=int, default=None,
        help="samples between learning-rate decays (staircase); " + recipe("decay_step"))
    add("--decay_rate", type=float, default=None,
        help="learning-rate decay factor (staircase); " + recipe("decay_rate"))
    add("--bn_init_decay", type=float, default=None,
        help="batch-norm momentum (decay of the moving averages) at the start; "
        + recipe("bn_init_decay"))
    add("--bn_decay_step", dest="bn_decay_decay_step", type=int, default=None,
        help="samples between BN-momentum steps (1 - momentum halves each step); "
        + recipe("bn_decay_decay_step"))
    add("--bn_decay_clip", type=float, default=None,
        help="largest batch-norm momentum; " + recipe("bn_decay_clip"))
    add("--precise_bn_batches", type=int, default=None,
        help="before each validation, set the batch-norm moving statistics from this many training batches "
        "run through the current weights (0: keep the moving averages, as the original; one-device runs only); "
        f"default: {facts['precise_bn_batches']} (--original_settings: 0)")
    add("--original_settings", action="store_true",
        help="the model's original training exactly: its learning-rate schedule (staircase; dgcnn_cls: cosine), "
        "--precise_bn_batches 0 and, for classifiers, its rotation (--train_rotation z for PointNet) "
        "(see README, 'Training on real data')")
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
    add("--label_smoothing", type=float, default=None,
        help="label smoothing of the cross-entropy (Keras'); " + recipe("label_smoothing"))
    add("--weight_decay", type=float, default=None,
        help="weight decay added to every gradient, weight_decay * w, before the optimizer (PyTorch's SGD/Adam "
        "weight_decay, not Keras' decoupled kind); " + recipe("weight_decay"))
    add("--class_weights", default=None, help="'balanced' or comma-separated per-class weights of the loss")
    add("--orthogonal_weight", type=float, default=None,
        help="weight of the feature-transform regulariser (per-sample mean); default: the original's "
        "0.001 * l2_loss scale, i.e. 0.0005 * batch_size")
    for names, options in task["flags"]:  # the task's own flags (`Task.add_train_arguments`)
        add(*names, **dict(options, **({"type": _TYPES[options["type"]]} if "type" in options else {})))
    add("--distribute", default=None, choices=("none", "mirrored", "multi_worker"),
        help="tf.distribute: mirrored = every GPU of this host; multi_worker = the hosts of $TF_CONFIG "
        "(see the README, 'Distributed training'); --batch_size is the global batch. "
        "Default: mirrored when more than one GPU is visible, else none")
    add("--sync_batch_norm", action="store_true",
        help="distributed runs: batch-norm statistics over the global batch (all replicas) instead of per replica")
    add("--steps_per_execution", type=int, default=1, help="training steps per call into the compiled function (Keras)")
    add("--jit_compile", action="store_true", help="compile the training step with XLA (slower on CPU: see README, Performance)")
    add("--bf16_products", action="store_true",
        help="multiply the per-point layers of a training step in bfloat16 (float32 weights, gradients, batch "
        "norm and evaluation): 1.2-1.6x faster on CPUs with avx512_bf16 or AMX (see README, Performance)")
    add("--visuals_every", type=int, default=10, help="epochs between confusion-matrix/point-cloud summaries (0: never)")
    add("--no_test", dest="test", action="store_false", help="skip the final test-set evaluation")
    add("--save_preset", action="store_true",
        help="at the end, write the best checkpoint as a preset folder into LOG_DIR/preset (model, weights, "
        "metadata.json, README.md model card; load it with pointnet_tf2.from_preset)")
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
    return run(task_name, build_parser(task_name).parse_args(argv))


def run(task_name, args):
    """Trains with the arguments `build_parser(task_name)` parsed.

    Args:
        task_name: "cls", "part_seg" or "sem_seg".
        args: The parsed arguments (an `argparse.Namespace`).

    Returns:
        The exit status.
    """
    from pointnet_tf2.training.trainer import TrainConfig
    from pointnet_tf2.training.trainer import train

    script = FACTS["tasks"][task_name]["script"]
    values = dict(vars(args))  # TrainConfig.from_values leaves out what is not a field
    pairs = values.pop("model_arg")
    config = TrainConfig.from_values(values, task=task_name)

    try:
        config.model_args = model_args(pairs)
        train(config)
    except (ValueError, OSError) as error:
        print(f"{script}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{script}: interrupted; continue with --resume --log_dir {config.log_dir}", file=sys.stderr)
        return 130
    return 0
