"""`pointnet-tf2 convert-torch`: turn the official PyTorch DGCNN classifier's state_dict into a `.keras` model.

    pointnet-tf2 convert-torch --model dgcnn_cls --checkpoint pretrained/model.1024.t7 --output dgcnn.keras
    pointnet-tf2 convert-torch --model dgcnn_cls --checkpoint model.2048.t7 --k 40 --num_points 2048 \
        --output dgcnn_2048.keras

torch is not needed: the checkpoint is read by `pointnet_tf2.migration.torch_checkpoint`.
"""

import os
import sys

from pointnet_tf2.commands.common import check_keras_output
from pointnet_tf2.commands.common import parse_num_points
from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils import check_writable

HELP = ("convert a PyTorch state_dict of the official DGCNN classifier (WangYueFt/dgcnn pretrained/model.1024.t7) "
        "into a .keras model of the zoo (same outputs; torch not needed)")
# Zoo models whose layers carry the PyTorch module names -> the function reading their builder arguments
# from a state_dict (in pointnet_tf2.migration.torch_checkpoint).
MODELS = {"dgcnn_cls": "dgcnn_cls_config"}


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("--model", required=True, choices=sorted(MODELS),
                        help="zoo model to build: dgcnn_cls (pytorch/model.py, class DGCNN)")
    parser.add_argument("--checkpoint", required=True, metavar="FILE",
                        help="torch.save(model.state_dict()) file (.t7/.pt/.pth, zip or legacy format, "
                             "DataParallel 'module.' keys fine) or a .npz of the state_dict")
    parser.add_argument("--output", required=True, metavar="FILE.keras", help="the .keras file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--num_classes", type=int,
                        help="classes the checkpoint must have (default: read from linear3.weight)")
    parser.add_argument("--k", type=int, default=20,
                        help="neighbours per point the network was trained with (not stored in the weights): "
                             "20 for model.1024.t7, 40 for model.2048.t7 (default 20)")
    parser.add_argument("--num_points", type=str, metavar="N",
                        help="points per cloud the model is built for, or 'any' (default: the model's, 1024)")


def run(args):
    """Converts the checkpoint and writes the `.keras` file atomically.

    Returns:
        The exit status, 0.
    """
    from pointnet_tf2.migration import torch_checkpoint
    from pointnet_tf2.models import get_model

    output = args.output
    check_keras_output(output)
    if os.path.lexists(output) and not args.overwrite:
        raise ValueError(f"{output}: exists; choose another path or overwrite it (--overwrite)")
    check_writable(output)  # before the checkpoint is read and the model built
    state = torch_checkpoint.read_torch_state_dict(args.checkpoint)
    config = getattr(torch_checkpoint, MODELS[args.model])(state, args.checkpoint)
    if args.num_classes is not None and args.num_classes != config["num_classes"]:
        raise ValueError(f"{args.checkpoint}: --num_classes {args.num_classes}, but the checkpoint has "
                         f"{config['num_classes']} classes")
    config["k"] = args.k
    if args.num_points is not None:
        config["num_points"] = parse_num_points(args.num_points)
    model = get_model(args.model, **config)
    mapping = torch_checkpoint.load_torch_checkpoint(model, state, source=args.checkpoint)
    with atomic_output(output) as tmp:
        model.save(tmp)
    widths = ", ".join(f"{key}={config[key]}" for key in ("num_classes", "edge_widths", "emb_dims", "head_widths"))
    print(f"{args.checkpoint}: {len(state)} tensors -> {len(mapping.assigned)} weights of {args.model} "
          f"({widths}, k={args.k}; {len(mapping.ignored)} num_batches_tracked counters ignored); wrote {output}",
          file=sys.stderr)
    return 0
