"""`pointnet-tf2 prepare-s3dis`: raw S3DIS rooms -> blocks in the indoor3d_sem_seg_hdf5_data layout."""

from pointnet_tf2.commands.common import add_output_arguments
from pointnet_tf2.commands.common import output_of
from pointnet_tf2.data.runner import add_run_arguments
from pointnet_tf2.data.runner import run_kwargs

HELP = "convert the raw S3DIS release (Area_N/<room>/Annotations/*.txt) into the indoor3d_sem_seg_hdf5_data layout"


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("root", help="Stanford3dDataset_v1.2_Aligned_Version (or the folder holding it)")
    add_output_arguments(parser, "dataset folder to create, e.g. indoor3d_sem_seg_hdf5_data")
    parser.add_argument("--areas", type=int, nargs="+", metavar="N", help="convert only these areas (default: all)")
    parser.add_argument("--num_point", type=int, default=4096, help="points per block (default 4096)")
    parser.add_argument("--block_size", type=float, default=1.0, help="block side in metres (default 1.0)")
    parser.add_argument("--stride", type=float, default=0.5, help="block step in metres (default 0.5)")
    parser.add_argument("--min_block_points", type=int, default=100,
                        help="drop blocks with fewer points (default 100)")
    parser.add_argument("--drop_bad_lines", action="store_true",
                        help="leave out malformed/NaN lines (reported as notes) instead of skipping their room")
    add_run_arguments(parser, shard_size=1000)


def run(args):
    """Runs the conversion and prints the summary.

    Returns:
        The exit status (0).
    """
    from pointnet_tf2.data.datasets.s3dis import prepare_s3dis

    prepare_s3dis(
        args.root, output_of(args), areas=args.areas, num_points=args.num_point, block_size=args.block_size,
        stride=args.stride, min_block_points=args.min_block_points, drop_bad_lines=args.drop_bad_lines,
        **run_kwargs(args),
    )  # fmt: skip
    return 0
