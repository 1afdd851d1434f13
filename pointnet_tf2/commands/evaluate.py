"""`pointnet-tf2 evaluate`: test a checkpoint with the task's metric protocol."""

import json
import os

from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils import check_writable

HELP = "evaluate a checkpoint on a dataset split (accuracy, class accuracy, IoU), with optional voting"


def add_arguments(parser):
    parser.add_argument("--checkpoint", required=True,
                        help="a .keras checkpoint written by a train script (or its run folder: best.keras), "
                        "a preset folder (save-preset), or a standalone .keras model with --data")
    parser.add_argument("--data", default=None, help="dataset (default: the one recorded in config.json beside the "
                        "checkpoint, or in a preset if it is on this machine; required for a .keras file outside a "
                        "run folder)")
    parser.add_argument("--split", default="test",
                        help="split to evaluate; 'validation' = exactly the clouds the run validated on "
                        "(its val split or its seeded --val_split hold-out of train)")
    parser.add_argument("--num_point", type=int, default=None, help="points per cloud (default: the training value)")
    parser.add_argument("--num_votes", type=int, default=1, help="rotations about the up axis to average (original: 12)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--test_area", type=int, default=None, help="S3DIS test area (default: the training value)")
    parser.add_argument("--output", default=None, help="write the results as JSON to this file")
    parser.add_argument("--test_rotation", default="none", choices=("none", "z", "so3"),
                        help="rotate every test shape randomly: about the up axis (z) or uniformly over SO(3)")
    parser.add_argument("--rotation_protocol", action="store_true",
                        help="print the z/z, z/SO3, SO3/SO3 table; each checkpoint fills the rows of the "
                        "--train_rotation recorded in its config.json (--original_settings counts as z)")
    parser.add_argument("--rotation_checkpoint", action="append", default=[],
                        help="with --rotation_protocol: another checkpoint (e.g. the --train_rotation so3 run); repeatable")
    parser.add_argument("--seed", type=int, default=0, help="seed of the test rotations")


def run(args):
    from pointnet_tf2.checkpoints import open_checkpoint
    from pointnet_tf2.evaluation import evaluate
    from pointnet_tf2.evaluation import format_results
    from pointnet_tf2.rotations import format_protocol_table
    from pointnet_tf2.rotations import protocol_from_checkpoints
    from pointnet_tf2.training.trainer import run_validation_rows

    if args.output:
        check_writable(args.output)  # before minutes of evaluation
    loaded = open_checkpoint(args.checkpoint, data=args.data, test_area=args.test_area, need_data=True)
    model, description, run_config = loaded.model, loaded.description, loaded.run_config
    num_points = args.num_point or run_config["train_config"]["num_point"]
    if args.rotation_protocol:
        rows = protocol_from_checkpoints([(loaded.checkpoint, model, run_config)] + args.rotation_checkpoint,
                                         description, split=args.split, num_points=args.num_point,
                                         batch_size=args.batch_size, seed=args.seed)
        print(format_protocol_table(rows))
        if args.output:
            with atomic_output(args.output) as tmp:
                with open(tmp, "w") as f:
                    json.dump(rows, f, indent=2)
            print(f"results written to {args.output}")
        return 0
    split, indices = args.split, None
    if split == "validation":
        split, indices = run_validation_rows(run_config, description, loaded.checkpoint)
    result = evaluate(model, description, split=split, num_points=num_points, num_votes=args.num_votes,
                      batch_size=args.batch_size, rotation=args.test_rotation, seed=args.seed, indices=indices,
                      progress=True)
    result["checkpoint"] = os.path.abspath(loaded.checkpoint)
    print(format_results(result))
    if args.output:
        with atomic_output(args.output) as tmp:
            with open(tmp, "w") as f:
                json.dump(result, f, indent=2)
        print(f"results written to {args.output}")
    return 0
