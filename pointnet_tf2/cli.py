"""The `pointnet-tf2` command line: subcommand dispatch only.

Each subcommand lives in its own module under `pointnet_tf2.commands`, which
defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Command modules import what they run at their heads (importing the package
loads TensorFlow and Keras anyway: it registers the zoo's Keras objects).
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
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
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
    args = parser.parse_args(argv)
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
