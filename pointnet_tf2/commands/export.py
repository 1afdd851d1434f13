"""`pointnet-tf2 export`: a checkpoint as a SavedModel, a LiteRT (.tflite) or an ONNX file."""

import sys

from pointnet_tf2.utils import check_writable

HELP = "export a checkpoint for serving: TF SavedModel, LiteRT (.tflite) or ONNX (needs tf2onnx + onnx)"


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("--checkpoint", required=True,
                        help="a .keras checkpoint (or its run folder: best.keras), or a preset folder")
    parser.add_argument("--format", choices=("saved_model", "litert", "onnx"), default="saved_model",
                        help="saved_model: a folder; litert: a .tflite file; onnx: a .onnx file (default saved_model)")
    parser.add_argument("--output", required=True, help="where to write the export (a folder, .tflite or .onnx)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--no_fold", dest="fold_batch_norm", action="store_false",
                        help="export the batch-norm layers as they are instead of folding them into the dense layers")


def run(args):
    """Exports the model and writes `<output>.json` with its class names.

    Returns:
        The exit status: 0, or 1 when an optional package is missing.
    """
    from pointnet_tf2.checkpoints import open_checkpoint
    from pointnet_tf2.export import export_model
    from pointnet_tf2.export import missing_packages
    from pointnet_tf2.export import model_metadata

    missing = missing_packages(args.format)
    if missing:
        print(f"pointnet-tf2 export: error: the {args.format} export needs the optional package(s) "
              f"{' and '.join(missing)}: pip install \"pointnet-tf2[onnx]\" (or pip install tf2onnx onnx)",
              file=sys.stderr)  # fmt: skip
        return 1

    check_writable(args.output, folder=args.format == "saved_model")  # before the model is loaded and converted
    predictor = open_checkpoint(args.checkpoint)
    metadata = model_metadata(predictor.model, class_names=predictor.class_names,
                              category_names=predictor.category_names, up_axis=predictor.up_axis_name,
                              checkpoint=predictor.checkpoint, format=args.format,
                              num_points=predictor.num_points)  # fmt: skip
    try:
        path = export_model(predictor.model, args.output, format=args.format, overwrite=args.overwrite,
                            fold_batch_norm=args.fold_batch_norm,
                            metadata=metadata)  # fmt: skip
    except ImportError as error:
        print(f"pointnet-tf2 export: error: {error}", file=sys.stderr)
        return 1
    inputs = ", ".join(f"{name} {tuple(shape)}" for name, shape in metadata["inputs"].items())
    print(f"exported {predictor.checkpoint} ({predictor.task}, inputs {inputs}) as {args.format} to {path}")
    print(f"metadata (outputs: {metadata['outputs']}, preprocessing, class names, up axis) in {path}.json")
    return 0
