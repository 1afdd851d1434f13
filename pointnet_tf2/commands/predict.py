"""`pointnet-tf2 predict`: run a checkpoint on one's own meshes, point files or HDF5 rows."""

import csv
import json
import os
import sys

from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils import check_writable
from pointnet_tf2.utils.progress import Progress

HELP = "predict classes (top-k) or per-point labels (coloured PLY + PNG) for meshes, point files or FILE.h5:index"


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("--checkpoint", required=True,
                        help="a .keras checkpoint (or its run folder: best.keras), or a preset folder")
    parser.add_argument("inputs", nargs="+", metavar="FILE",
                        help="meshes (.off .obj .ply .stl), point files (.txt .xyz .pts .npy .ply) or FILE.h5:index")
    parser.add_argument("--top_k", type=int, default=5, help="classification: classes to list (default 5)")
    parser.add_argument("--num_votes", type=int, default=1,
                        help="passes to average: rotations about the up axis and new point subsets (default 1)")
    parser.add_argument("--output", default=None,
                        help="also write the results to this .json or .csv file")
    parser.add_argument("--output_dir", default="predictions",
                        help="segmentation: folder for the <name>.ply and <name>.png files (default ./predictions)")
    parser.add_argument("--up_axis", choices=("x", "y", "z"), default="z",
                        help="up axis of files that do not record one (default z, as prepare)")
    parser.add_argument("--no_normalize", action="store_true",
                        help="do not centre and scale clouds into the unit sphere (classification, part seg)")
    parser.add_argument("--category", default=None,
                        help="part segmentation: the object category (name or index; default: predicted)")
    parser.add_argument("--num_point", type=int, default=None,
                        help="points sampled on meshes (default: the model's point count)")
    parser.add_argument("--columns", default="auto", help="columns of point files (see prepare --columns)")
    parser.add_argument("--batch_size", type=int, default=32, help="clouds or chunks per model call (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")


def _category_index(value, predictor):
    if value is None:
        return None
    shapes = {tensor.name: tuple(tensor.shape) for tensor in predictor.model.inputs}
    width = shapes["category"][-1] if "category" in shapes else None
    return predictor.task_object.parse_category(value, category_names=predictor.category_names, num_categories=width,
                                                where=predictor.checkpoint)  # fmt: skip


def _unique_stem(stem, used):
    candidate, k = stem, 2
    while candidate in used:
        candidate, k = f"{stem}_{k}", k + 1
    used.add(candidate)
    return candidate


def _write_table(path, rows, task):
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            if path.lower().endswith(".csv"):
                header, table = task.prediction_table(rows)
                writer = csv.writer(f)
                writer.writerow(header)
                writer.writerows(table)
            else:
                json.dump(rows, f, indent=1)


def run(args):
    """Predicts every input; a bad input is reported and the others go on.

    `--output` gets a row per input (failed ones with their error), unless
    every input failed: then nothing is written.

    Returns:
        The exit status: 0, or 1 if any input failed.
    """
    from pointnet_tf2 import viz
    from pointnet_tf2.checkpoints import open_checkpoint
    from pointnet_tf2.inference import cloud_for_model
    from pointnet_tf2.inference import load_input
    from pointnet_tf2.inference import predict

    if args.output and not args.output.lower().endswith((".json", ".csv")):
        raise ValueError(f"--output {args.output}: must end with .json or .csv")
    if args.output:
        check_writable(args.output)  # before any prediction is made
    predictor = open_checkpoint(args.checkpoint)
    task = predictor.task_object
    if predictor.output_kind == "embedding":
        raise ValueError(f"{predictor.checkpoint}: a {predictor.run_config['train_config']['model']} model gives "
                         "embeddings, not classes; rank shapes by them with pointnet-tf2 retrieve")  # fmt: skip
    if task.per_point:
        check_writable(args.output_dir, folder=True)
    category = _category_index(args.category, predictor)
    names = predictor.class_names
    sample_points = args.num_point or predictor.num_points or 2048
    kind = " (voxelised)" if predictor.input_kind == "voxels" else ""
    print(f"{predictor.checkpoint}: {predictor.task} model, {len(names)} classes, "
          f"{predictor.num_points or 'any number of'} points x {predictor.input_dims}{kind}")  # fmt: skip
    rows, failures, used = [], 0, set()
    # Many files: a progress line on stderr (quiet when they take less than a few seconds, see Progress).
    bar = Progress(len(args.inputs), "predict", unit="files", enabled=len(args.inputs) > 1)
    with bar:
        for spec in args.inputs:
            try:
                cloud = load_input(spec, num_points=sample_points, normals=predictor.input_dims == 6,
                                   columns=args.columns, seed=args.seed)  # fmt: skip
                points = cloud_for_model(cloud, predictor, up_axis=args.up_axis, normalize=not args.no_normalize)
                result = predict(predictor.model, points, num_votes=args.num_votes, top_k=args.top_k,
                                 class_names=names, category=category, category_parts=predictor.category_parts,
                                 up_axis=predictor.up_axis, batch_size=args.batch_size, seed=args.seed,
                                 num_points=predictor.num_points)  # fmt: skip
            except (ValueError, OSError) as error:
                failures += 1
                message = str(error) if str(error).startswith(spec.rpartition(":")[0] or spec) else f"{spec}: {error}"
                bar.clear()
                print(f"pointnet-tf2 predict: error: {message}", file=sys.stderr)
                rows.append({"file": spec, "error": message})
                bar.update(1)
                continue
            notes = f"  [{', '.join(cloud.notes)}]" if cloud.notes else ""
            files = None
            if task.per_point:
                labels = result["labels"]
                stem = _unique_stem(cloud.stem, used)
                os.makedirs(args.output_dir, exist_ok=True)
                files = {"ply": os.path.join(args.output_dir, f"{stem}.ply"),
                         "png": os.path.join(args.output_dir, f"{stem}.png")}  # fmt: skip
                up_axis = cloud.up_axis or args.up_axis
                viz.write_ply(files["ply"], cloud.points, colors=viz.label_colors(labels), labels=labels,
                              fields={"confidence": result["probabilities"].max(axis=-1)}, up_axis=up_axis)  # fmt: skip
                title = task.prediction_title(cloud.name, result, category_names=predictor.category_names)
                viz.write_views_png(files["png"], cloud.points, labels, class_names=names, up_axis=up_axis, title=title)
            row = task.prediction_row(cloud.name, result, label_names=names, category_names=predictor.category_names,
                                      files=files, notes=cloud.notes)  # fmt: skip
            bar.clear()
            for line in task.prediction_lines(row, notes):
                print(line, flush=bar.enabled)
            rows.append(row)
            bar.update(1)
    if args.output and failures < len(args.inputs):  # errors alone are on stderr already
        _write_table(args.output, rows, task)
        print(f"results written to {args.output}")
    if failures and len(args.inputs) > 1:
        print(f"pointnet-tf2 predict: {failures} of {len(args.inputs)} input(s) failed", file=sys.stderr)
    return 1 if failures else 0
