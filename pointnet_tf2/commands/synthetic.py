"""`pointnet-tf2 synthetic`: write a built-in procedural dataset in the original layout."""

import json
import os
import time


HELP = "Generate a built-in procedural dataset (cls, part_seg or sem_seg) in the original HDF5 layout."


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument(
        "--task", required=True, choices=("cls", "part_seg", "sem_seg"),
        help="cls: 12 shapes, ModelNet40 layout; part_seg: 6 part-labelled objects, ShapeNet part layout; "
        "sem_seg: rooms with the 13 S3DIS classes, S3DIS layout",
    )  # fmt: skip
    parser.add_argument("--output", metavar="DIR", help="folder to create (default: ./synthetic_<task>)")
    parser.add_argument(
        "--num_train", type=int, metavar="N",
        help="training clouds (cls 480, part_seg 480) or training rooms for sem_seg (10, in Areas 1-5)",
    )  # fmt: skip
    parser.add_argument("--num_val", type=int, metavar="N", help="validation clouds, part_seg only (60)")
    parser.add_argument(
        "--num_test", type=int, metavar="N", help="test clouds (cls 120, part_seg 120) or Area 6 rooms for sem_seg (2)"
    )
    parser.add_argument("--num_points", type=int, metavar="N", help="points per cloud or block (2048; sem_seg 4096)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace DIR if it is a dataset pointnet-tf2 wrote")


def _size(path):
    size = os.path.getsize(path)
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB" if size >= 2**10 else f"{size} B"


def run(args):
    """Generates the dataset and prints what was written.

    Returns:
        The exit status (0).
    """
    from pointnet_tf2.data import synthetic
    from pointnet_tf2.tasks import get_task

    output = args.output or f"synthetic_{args.task}"
    start = time.perf_counter()
    path = synthetic.generate_synthetic(
        args.task,
        output,
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        num_points=args.num_points,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    seconds = time.perf_counter() - start
    with open(os.path.join(path, synthetic.INFO_FILE), encoding="utf-8") as f:
        info = json.load(f)
    unit = get_task(args.task).sample_unit
    splits = ", ".join(f"{count} {split}" for split, count in info["splits"].items())
    print(f"wrote the synthetic {args.task} dataset ({info['layout']} layout, seed {info['seed']}) to {path} "
          f"in {seconds:.1f} s")  # fmt: skip
    print(f"  {splits} {unit} of {info['num_points']} points")
    if "categories" in info:
        parts = sum(len(p) for p in info["categories"].values())
        print(f"  {len(info['categories'])} categories, {parts} parts: "
              + "; ".join(f"{name} ({', '.join(p)})" for name, p in info["categories"].items()))  # fmt: skip
    else:
        print(f"  {len(info['classes'])} classes: {', '.join(info['classes'])}")
    if "rooms" in info:
        print(f"  {info['rooms']} rooms in Areas 1-6 (test area {info['test_area']}), listed in room_filelist.txt")
    for name in sorted(os.listdir(path)):
        print(f"  {name:32s} {_size(os.path.join(path, name)):>10s}")
    return 0
