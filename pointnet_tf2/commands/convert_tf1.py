"""`pointnet-tf2 convert-tf1`: turn an original (TF1) PointNet, PointNet++ or DGCNN checkpoint into a `.keras` model.

    pointnet-tf2 convert-tf1 --model pointnet_cls --checkpoint log/model.ckpt --output cls.keras
    pointnet-tf2 convert-tf1 --model pointnet_part_seg --checkpoint log/model.ckpt --output part.keras
    pointnet-tf2 convert-tf1 --model pointnet2_cls_ssg --checkpoint log/model.ckpt --output pn2.keras
    pointnet-tf2 convert-tf1 --model dgcnn_part_seg --checkpoint train_results/trained_models/epoch_200.ckpt \
        --output dgcnn_part.keras
"""

import sys

from pointnet_tf2.commands.common import check_keras_output
from pointnet_tf2.commands.common import parse_num_points
from pointnet_tf2.utils import atomic_output

HELP = "convert a checkpoint of the original TF1 PointNet, PointNet++ or DGCNN into a .keras model of the zoo (same outputs)"


def add_arguments(parser):
    parser.add_argument("--model", required=True,
                        help="zoo model to build: pointnet_cls, pointnet_cls_basic, pointnet_sem_seg, pointnet_part_seg, "
                             "pointnet2_cls_ssg, pointnet2_cls_msg, pointnet2_part_seg, pointnet2_part_seg_msg, "
                             "pointnet2_sem_seg, "
                             "dgcnn_cls_tf, dgcnn_part_seg or dgcnn_sem_seg")
    parser.add_argument("--checkpoint", required=True, metavar="CKPT",
                        help="checkpoint prefix as written by tf.train.Saver (e.g. log/model.ckpt), or its folder")
    parser.add_argument("--output", required=True, metavar="FILE.keras", help="the .keras file to write")
    parser.add_argument("--num_classes", type=int, help="classes of a cls / sem_seg checkpoint (default: the model's, 40 / 13)")
    parser.add_argument("--num_parts", type=int, help="part labels of a part_seg checkpoint (default 50)")
    parser.add_argument("--num_categories", type=int, help="object categories of a part_seg checkpoint (default 16)")
    parser.add_argument("--num_points", type=str, metavar="N",
                        help="points per cloud the model is built for, or 'any' (default: the model's)")
    parser.add_argument("--input_dims", type=int, help="channels per point (default: the model's, 3, 6 or 9)")


def run(args):
    from pointnet_tf2.migration.tf1_checkpoint import load_tf1_checkpoint
    from pointnet_tf2.migration.tf1_checkpoint import resolve_checkpoint
    from pointnet_tf2.models import get_model

    check_keras_output(args.output)
    config = {}
    for key in ("num_classes", "num_parts", "num_categories", "input_dims"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    if args.num_points is not None:
        config["num_points"] = parse_num_points(args.num_points)

    resolve_checkpoint(args.checkpoint)  # a missing checkpoint fails before building the model
    model = get_model(args.model, **config)
    mapping = load_tf1_checkpoint(model, args.checkpoint)
    with atomic_output(args.output) as tmp:
        model.save(tmp)
    print(f"{mapping.checkpoint}: {len(mapping.assigned)} variables -> {len(model.weights)} weights of "
          f"{args.model} ({len(mapping.ignored)} optimizer/counter variables ignored); wrote {args.output}",
          file=sys.stderr)
    return 0
