"""`pointnet-tf2 prepare-modelnet-normals`: modelnet40_normal_resampled -> the ModelNet40 layout, 6 channels."""

from pointnet_tf2.commands.common import add_output_arguments
from pointnet_tf2.commands.common import output_of
from pointnet_tf2.data.runner import add_run_arguments
from pointnet_tf2.data.runner import run_kwargs

HELP = ("convert modelnet40_normal_resampled (x,y,z,nx,ny,nz text files) into the ModelNet40 HDF5 layout with "
        "data (n, P, 6)")  # fmt: skip


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("root", help="modelnet40_normal_resampled (or the folder holding it)")
    add_output_arguments(parser, "dataset folder to create, e.g. modelnet40_normal_hdf5_2048")
    parser.add_argument("--classes", type=int, choices=(40, 10), default=40,
                        help="use the modelnet40_* (default) or modelnet10_* lists of the folder")
    parser.add_argument("--num_point", type=int, default=2048, help="points per stored cloud (default 2048)")
    parser.add_argument("--sampling", choices=("random", "first", "fps"), default="random",
                        help="which points are kept: a seeded random subset (default), the file's first points "
                             "(as PointNet++), or farthest-point sampling")
    parser.add_argument("--normalize", choices=("unit_sphere", "none"), default="unit_sphere",
                        help="centre and scale every shape into the unit sphere (default) or keep coordinates")
    add_run_arguments(parser, shard_size=2048)


def run(args):
    """Runs the conversion and prints the summary.

    Returns:
        The exit status (0).
    """
    from pointnet_tf2.data.datasets.modelnet40 import prepare_modelnet_normals

    prepare_modelnet_normals(args.root, output_of(args), classes=args.classes, num_points=args.num_point,
                             sampling=args.sampling, normalize=args.normalize, **run_kwargs(args))  # fmt: skip
    return 0
