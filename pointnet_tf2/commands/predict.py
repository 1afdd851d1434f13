"""`pointnet-tf2 predict`: run a checkpoint on one's own meshes, point files or HDF5 rows."""

import csv
import json
import os
import sys

import numpy as np

from pointnet_tf2 import viz
from pointnet_tf2.inference import cloud_for_model
from pointnet_tf2.inference import load_input
from pointnet_tf2.inference import load_predictor
from pointnet_tf2.inference import predict
from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils import check_writable

HELP = "predict classes (top-k) or per-point labels (coloured PLY + PNG) for meshes, point files or FILE.h5:index"


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("--checkpoint", required=True, help="a .keras checkpoint (or its run folder: best.keras)")
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
    if predictor.task != "part_seg":
        raise ValueError(f"--category is for part segmentation models; {predictor.checkpoint} is a "
                         f"{predictor.task} model")
    names = predictor.category_names or []
    lowered = [name.lower() for name in names]
    if value.lower() in lowered:
        return lowered.index(value.lower())
    shapes = {tensor.name: tuple(tensor.shape) for tensor in predictor.model.inputs}
    if value.isdigit() and int(value) < shapes["category"][-1]:
        return int(value)
    raise ValueError(f"--category {value!r}: not one of the model's categories ({', '.join(names) or 'unknown names'})")


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
                writer = csv.writer(f)
                if task == "cls":
                    writer.writerow(["file", "rank", "class", "index", "probability", "error"])
                    for row in rows:
                        for rank, entry in enumerate(row.get("top_k", []), 1):
                            writer.writerow([row["file"], rank, entry.get("class", ""), entry["index"],
                                             f"{entry['probability']:.6f}", ""])  # fmt: skip
                        if "error" in row:
                            writer.writerow([row["file"], "", "", "", "", row["error"]])
                else:
                    writer.writerow(["file", "ply", "png", "points", "category", "most_common", "error"])
                    for row in rows:
                        most = max(row["label_counts"], key=row["label_counts"].get) if row.get("label_counts") else ""
                        writer.writerow([row["file"], row.get("ply", ""), row.get("png", ""), row.get("points", ""),
                                         row.get("category", ""), most, row.get("error", "")])  # fmt: skip
            else:
                json.dump(rows, f, indent=1)


def run(args):
    """Predicts every input; a bad input is reported and the others go on.

    `--output` gets a row per input (failed ones with their error), unless
    every input failed: then nothing is written.

    Returns:
        The exit status: 0, or 1 if any input failed.
    """
    if args.output and not args.output.lower().endswith((".json", ".csv")):
        raise ValueError(f"--output {args.output}: must end with .json or .csv")
    if args.output:
        check_writable(args.output)  # before any prediction is made
    predictor = load_predictor(args.checkpoint)
    if predictor.task != "cls":
        check_writable(args.output_dir, folder=True)
    category = _category_index(args.category, predictor)
    names = predictor.class_names
    sample_points = args.num_point or predictor.num_points or 2048
    print(f"{predictor.checkpoint}: {predictor.task} model, {len(names)} classes, "
          f"{predictor.num_points or 'any number of'} points x {predictor.input_dims}")  # fmt: skip
    rows, failures, used = [], 0, set()
    for spec in args.inputs:
        try:
            cloud = load_input(spec, num_points=sample_points, normals=predictor.input_dims == 6,
                               columns=args.columns, seed=args.seed)  # fmt: skip
            points = cloud_for_model(cloud, predictor, up_axis=args.up_axis, normalize=not args.no_normalize)
            result = predict(predictor.model, points, num_votes=args.num_votes, top_k=args.top_k, class_names=names,
                             category=category, category_parts=predictor.category_parts, up_axis=predictor.up_axis,
                             batch_size=args.batch_size, seed=args.seed)  # fmt: skip
        except (ValueError, OSError) as error:
            failures += 1
            message = str(error) if str(error).startswith(spec.rpartition(":")[0] or spec) else f"{spec}: {error}"
            print(f"pointnet-tf2 predict: error: {message}", file=sys.stderr)
            rows.append({"file": spec, "error": message})
            continue
        notes = f"  [{', '.join(cloud.notes)}]" if cloud.notes else ""
        if predictor.task == "cls":
            print(f"{cloud.name}: {result['class']} ({result['probabilities'][result['label']]:.3f}){notes}")
            for rank, entry in enumerate(result["top_k"], 1):
                print(f"  {rank:>2}. {entry['class']:<24} {entry['probability']:.4f}")
            rows.append({"file": cloud.name, "class": result["class"], "label": result["label"],
                         "top_k": result["top_k"], "notes": cloud.notes})  # fmt: skip
            continue
        labels = result["labels"]
        stem = _unique_stem(cloud.stem, used)
        os.makedirs(args.output_dir, exist_ok=True)
        ply = os.path.join(args.output_dir, f"{stem}.ply")
        png = os.path.join(args.output_dir, f"{stem}.png")
        up_axis = cloud.up_axis or args.up_axis
        viz.write_ply(ply, cloud.points, colors=viz.label_colors(labels), labels=labels,
                      fields={"confidence": result["probabilities"].max(axis=-1)}, up_axis=up_axis)  # fmt: skip
        title = cloud.name
        category_name = None
        if predictor.task == "part_seg":
            cat = result["category"]
            category_name = predictor.category_names[cat] if predictor.category_names else str(cat)
            title += f"  ({category_name})"
        viz.write_views_png(png, cloud.points, labels, class_names=names, up_axis=up_axis, title=title)
        counts = np.bincount(labels, minlength=len(names))
        order = np.argsort(-counts, kind="stable")
        shares = ", ".join(f"{names[i]} {100.0 * counts[i] / len(labels):.0f}%" for i in order[:5] if counts[i])
        print(f"{cloud.name}: {len(labels)} points" + (f", category {category_name}" if category_name else "")
              + f" -> {ply}, {png}; {shares}{notes}")  # fmt: skip
        row = {"file": cloud.name, "ply": ply, "png": png, "points": int(len(labels)),
               "label_counts": {names[i]: int(counts[i]) for i in order if counts[i]},
               "notes": cloud.notes}  # fmt: skip
        if category_name is not None:
            row["category"] = category_name
        rows.append(row)
    if args.output and failures < len(args.inputs):  # errors alone are on stderr already
        _write_table(args.output, rows, predictor.task)
        print(f"results written to {args.output}")
    if failures and len(args.inputs) > 1:
        print(f"pointnet-tf2 predict: {failures} of {len(args.inputs)} input(s) failed", file=sys.stderr)
    return 1 if failures else 0
