"""`pointnet-tf2 train --task TASK ...`: the train scripts (`train_cls.py`, ...) as a command.

`pointnet-tf2 train --task cls FLAGS` is `python train_cls.py FLAGS`: the
same parser (`pointnet_tf2.training.cli.build_parser`), flags and defaults;
`pointnet-tf2 train --task cls --help` lists them.
"""

import pointnet_tf2.training.cli as training_cli
from pointnet_tf2.task_names import TASK_NAMES

HELP = ("train a model: --task cls, part_seg or sem_seg, then the flags of train_cls.py, train_part_seg.py or "
        "train_sem_seg.py")
# The command's own parser sees --task and --help; every other flag goes to the task's train parser.
PASS_THROUGH = True


def add_arguments(parser):
    """Adds the command's arguments to `parser` (built without its own --help: see `PASS_THROUGH`)."""
    parser.add_argument("-h", "--help", action="store_true",
                        help="show this help message and exit; with --task: the flags of that task's training")
    parser.add_argument("--task", choices=TASK_NAMES,
                        help="what to train (required); the other flags are those of train_TASK.py: "
                        "see pointnet-tf2 train --task TASK --help")
    parser.set_defaults(_train_parser=parser)


def task_parser(task, prog="pointnet-tf2 train"):
    """The parser of the task's flags: `train_TASK.py`'s, with `prog --task TASK` in its usage line."""
    return training_cli.build_parser(task, prog=f"{prog} --task {task}")


def run(args):
    """Parses the rest of the command line with the task's train parser and trains.

    Returns:
        The exit status.
    """
    parser = args._train_parser
    if args.task is None:
        if args.help:
            parser.print_help()
            return 0
        parser.error("the following arguments are required: --task")
    rest = list(args._rest) + (["--help"] if args.help else [])
    return training_cli.run(args.task, task_parser(args.task, parser.prog).parse_args(rest))
