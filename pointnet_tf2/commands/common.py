"""Argument pieces several commands share (not a command itself)."""


def add_output_arguments(parser, help):
    """Adds an output folder given as a positional `OUTPUT` after the input, or as `--output OUTPUT`.

    Args:
        parser: The command's `argparse` parser.
        help: What the output is, e.g. "dataset folder to create".
    """
    parser.add_argument("output", nargs="?", default=None, help=f"{help} (or --output)")
    parser.add_argument("--output", dest="output_option", default=None, metavar="OUTPUT", help=help)


def output_of(args):
    """The output of `add_output_arguments`' two forms.

    Raises:
        ValueError: If both forms name different outputs, or neither names one.
    """
    if args.output and args.output_option and args.output != args.output_option:
        raise ValueError(f"two output folders given: {args.output} and --output {args.output_option}")
    output = args.output or args.output_option
    if not output:
        raise ValueError("no output folder: pass it after ROOT or as --output OUTPUT")
    return output


def parse_num_points(text):
    """`--num_points N|any` of the converters: a positive integer, or None for any number of points.

    Raises:
        ValueError: If `text` is neither.
    """
    if text.lower() in ("any", "none"):
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"--num_points must be a positive integer or 'any', got {text!r}")
    return value


def check_keras_output(output):
    """Refuses an output path of a converter that is not a `.keras` file, in one line."""
    if not output.endswith(".keras"):
        raise ValueError(f"{output}: the output must be a .keras file")
