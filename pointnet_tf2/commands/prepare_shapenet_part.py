"""`pointnet-tf2 prepare-shapenet-part`: the raw ShapeNet part release -> the hdf5_data layout."""

from pointnet_tf2.commands.common import add_output_arguments
from pointnet_tf2.commands.common import output_of
from pointnet_tf2.data.runner import add_run_arguments
from pointnet_tf2.data.runner import run_kwargs

HELP = ("convert the raw ShapeNet part release (classic .pts/.seg or the _normal variant) into the hdf5_data "
        "layout, with full-resolution files")  # fmt: skip


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("root", help="shapenetcore_partanno_segmentation_benchmark_v0[_normal] (or its parent)")
    add_output_arguments(parser, "dataset folder to create, e.g. hdf5_data")
    parser.add_argument("--variant", choices=("auto", "classic", "normal"), default="auto",
                        help="classic: <synset>/points/*.pts + points_label/*.seg (xyz); normal: <synset>/*.txt "
                             "(xyz + normals, stored as 6 channels); default: detected")
    parser.add_argument("--num_point", type=int, default=2048, help="points per stored cloud (default 2048)")
    parser.add_argument("--normalize", choices=("unit_sphere", "none"), default="unit_sphere",
                        help="centre and scale every shape into the unit sphere (default) or keep coordinates")
    add_run_arguments(parser, shard_size=2048)


def run(args):
    """Runs the conversion and prints the summary.

    Returns:
        The exit status (0).
    """
    from pointnet_tf2.data.datasets.shapenet_part import prepare_shapenet_part

    prepare_shapenet_part(args.root, output_of(args), variant=args.variant, num_points=args.num_point,
                          normalize=args.normalize, **run_kwargs(args))  # fmt: skip
    return 0
