"""`pointnet-tf2 retrieve`: leave-one-out shape retrieval with a checkpoint's features."""

import json
import os

import numpy as np

from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils import check_writable

HELP = "shape retrieval: every test shape queries all others (mAP, precision@k, PNG of the nearest shapes)"


def add_arguments(parser):
    parser.add_argument("--checkpoint", required=True,
                        help="a .keras checkpoint written by train_cls.py (pointnet_embed, or any classifier), "
                        "its run folder, or a preset folder")
    parser.add_argument("--data", default=None, help="dataset (default: the one recorded in config.json beside the "
                        "checkpoint; required for a .keras file outside a run folder)")
    parser.add_argument("--split", default="test", help="split whose shapes query each other")
    parser.add_argument("--layer", default=None,
                        help="layer whose output is the feature (default: the embedding of pointnet_embed, "
                        "else the global feature: 'max_pool' of the PointNets, 'avg_pool' of voxel_resnet, "
                        "'flatten' of voxel_cnn)")
    parser.add_argument("--distance", default="l2", choices=("l2", "cosine"), help="feature distance")
    parser.add_argument("--top_k", default="1,5,10", help="comma-separated k of precision@k")
    parser.add_argument("--num_point", type=int, default=None, help="points per cloud (default: the training value)")
    parser.add_argument("--rotation", default="none", choices=("none", "z", "so3"), help="rotate the test shapes first")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--num_queries", type=int, default=4, help="queries drawn in the PNG (0: no PNG)")
    parser.add_argument("--output_dir", default=None,
                        help="where retrieval.json and retrieval.png go (default: the checkpoint's folder; for a preset, "
                        "the folder holding it)")
    parser.add_argument("--output", default=None, metavar="FILE.json",
                        help="write the results to this JSON file instead, and the PNG beside it as FILE.png")
    parser.add_argument("--seed", type=int, default=0, help="seed of the query choice and of the rotations")


def _outputs(args, checkpoint):
    """The results file and the PNG path (`--output`, else `--output_dir`, else the checkpoint's folder)."""
    if args.output and args.output_dir:
        raise ValueError(f"--output {args.output} and --output_dir {args.output_dir}: give one of them")
    if args.output:
        if not args.output.lower().endswith(".json"):
            raise ValueError(f"--output {args.output}: must end with .json")
        return args.output, os.path.splitext(args.output)[0] + ".png"
    output_dir = args.output_dir or os.path.dirname(os.path.abspath(checkpoint))
    return os.path.join(output_dir, "retrieval.json"), os.path.join(output_dir, "retrieval.png")


def run(args):
    from pointnet_tf2 import retrieval
    from pointnet_tf2.checkpoints import open_checkpoint
    from pointnet_tf2.checkpoints import resolve_checkpoint

    try:
        ks = [int(k) for k in args.top_k.split(",")]
        if min(ks) < 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"--top_k must be comma-separated positive integers, got {args.top_k!r}") from None
    checkpoint = resolve_checkpoint(args.checkpoint)
    path, png_path = _outputs(args, checkpoint)
    output_dir = os.path.dirname(os.path.abspath(path))
    if args.output:
        check_writable(path)  # before the features are computed
    else:
        check_writable(output_dir, folder=True)
    loaded = open_checkpoint(checkpoint, data=args.data, need_data=True)
    model, description, run_config = loaded.model, loaded.description, loaded.run_config
    retrieval.check_retrieval_model(model)
    feature = retrieval.feature_name(model, args.layer)
    num_points = args.num_point or run_config["train_config"]["num_point"]
    features, labels, points = retrieval.compute_features(
        model, description, split=args.split, num_points=num_points, batch_size=args.batch_size,
        layer=args.layer, rotation=args.rotation, seed=args.seed)
    metrics = retrieval.retrieval_metrics(features, labels, ks=ks, distance=args.distance)
    result = {"checkpoint": os.path.abspath(loaded.checkpoint), "split": args.split, "feature": feature,
              "distance": args.distance, "rotation": args.rotation, "num_queries": metrics["num_queries"],
              "map": metrics["map"], **{f"precision_at_{k}": metrics[f"precision_at_{k}"] for k in ks}}
    print(f"retrieval on {args.split} ({metrics['num_queries']} queries, feature {feature}, {args.distance} distance)")
    for key in ["map"] + [f"precision_at_{k}" for k in ks]:
        print(f"  {key:<18} {result[key]:.4f}")
    os.makedirs(output_dir, exist_ok=True)
    if args.num_queries > 0:
        rng = np.random.default_rng(args.seed)
        queries = sorted(rng.choice(len(labels), size=min(args.num_queries, len(labels)), replace=False).tolist())
        png = retrieval.neighbours_png(png_path, points, labels, queries,
                                       metrics["order"], top=min(5, len(labels) - 1),
                                       class_names=description.class_names, up_axis=description.up_axis)
        result["png"] = png
        print(f"nearest shapes of {len(queries)} queries drawn in {png}")
    with atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(result, f, indent=2)
    print(f"results written to {path}")
    return 0
