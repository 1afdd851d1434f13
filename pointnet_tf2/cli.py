"""The `pointnet-tf2` command line: subcommand dispatch only.

Each subcommand lives in its own module under `pointnet_tf2.commands`, which
defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Building the parser imports no TensorFlow: command modules import only light
modules at their heads, and what they run inside `run` (`pointnet-tf2 --help`
and `pointnet-tf2 COMMAND --help` answer in a fraction of a second). A module
with `PASS_THROUGH = True` gets the arguments its parser does not know as
`args._rest` (its parser has no automatic --help: `train` hands both to the
train parser of the task).
"""

import argparse
import importlib
import sys

from pointnet_tf2.version import __version__

# Subcommand name -> module under pointnet_tf2.commands.
COMMANDS = {
    "models": "models",
    "upgrade-report": "upgrade_report",
    "convert-tf1": "convert_tf1",
    "convert-torch": "convert_torch",
    "build-vds": "build_vds",
    "synthetic": "synthetic",
    "evaluate": "evaluate",
    "retrieve": "retrieve",
    "prepare": "prepare",
    "prepare-s3dis": "prepare_s3dis",
    "prepare-shapenet-part": "prepare_shapenet_part",
    "prepare-modelnet-normals": "prepare_modelnet_normals",
    "predict": "predict",
    "show": "show",
    "export": "export",
    "save-preset": "save_preset",
    "train": "train",
}


def build_parser():
    """Builds the argument parser with every subcommand registered.

    Returns:
        An `argparse.ArgumentParser`.
    """
    parser = argparse.ArgumentParser(
        prog="pointnet-tf2",
        description="PointNet and friends for TensorFlow 2 / Keras 3.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"pointnet_tf2.commands.{module_name}")
        pass_through = getattr(module, "PASS_THROUGH", False)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP, add_help=not pass_through)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run, _pass_through=pass_through)
    return parser


def main(argv=None):
    """Runs the command line.

    Errors the user can fix (bad files, bad arguments) are printed as one line
    `pointnet-tf2 COMMAND: error: ...` and give exit status 1.

    Args:
        argv: Arguments without the program name; defaults to `sys.argv[1:]`.

    Returns:
        The exit status.
    """
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not args._pass_through:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args._rest = rest
    try:
        return int(args._run(args) or 0)
    except (ValueError, OSError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"pointnet-tf2 {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"pointnet-tf2 {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
