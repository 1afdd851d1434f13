"""`pointnet-tf2 save-preset`: a checkpoint as a preset folder (model, weights, metadata, model card)."""

from pointnet_tf2.utils import check_writable
from pointnet_tf2.utils.files import check_output_folder

HELP = "save a checkpoint as a preset folder (config.json, model.weights.h5, metadata.json, README.md model card)"


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("--checkpoint", required=True,
                        help="a run folder (its best.keras, with the run's flags, dataset and measured figures), "
                        "a .keras checkpoint, or a preset folder")
    parser.add_argument("--output", required=True, help="the preset folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing preset folder")


def run(args):
    """Writes the preset and says where.

    Returns:
        The exit status (0).
    """
    from pointnet_tf2.checkpoints import open_checkpoint
    from pointnet_tf2.checkpoints import resolve_checkpoint
    from pointnet_tf2.presets import save_to_preset

    # Before the model is loaded. The input is the checkpoint file (or preset): a preset may go into its run folder.
    checkpoint = resolve_checkpoint(args.checkpoint)
    check_output_folder(args.output, [checkpoint], overwrite=args.overwrite)
    check_writable(args.output, folder=True)
    loaded = open_checkpoint(checkpoint)
    path = save_to_preset(loaded.model, args.output, checkpoint=loaded, overwrite=args.overwrite)
    what = "a model without its run" if loaded.standalone else "its run's flags, dataset and figures"
    print(f"saved {loaded.checkpoint} ({loaded.task}, {len(loaded.class_names)} classes; {what}) as the preset {path}")
    print(f"load it with pointnet_tf2.from_preset({path!r}); model card: {path}/README.md")
    return 0
