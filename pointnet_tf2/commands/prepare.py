"""`pointnet-tf2 prepare`: meshes, point files or voxel grids (`.binvox`, `.npz`) -> the ModelNet40 HDF5 layout."""

from pointnet_tf2.commands.common import add_output_arguments
from pointnet_tf2.commands.common import output_of
from pointnet_tf2.data.runner import run_kwargs

HELP = ("convert a folder of meshes (OFF/OBJ/PLY/STL), point files or .binvox grids, or a .npz voxel archive, "
        "into the ModelNet40 HDF5 layout")


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    add = parser.add_argument
    add("root", help="data folder: ROOT/<class>/{train,test}/* (ModelNet40) or ROOT/<class>/* (flat), "
        "or a .npz voxel archive (X_train, y_train[, X_test, y_test], e.g. modelnet10.npz)")
    add_output_arguments(parser, "dataset folder to create")
    add("--inputs", choices=("auto", "meshes", "binvox"), default="auto",
        help="what to read from a folder (default: .binvox files if there are any, else meshes and point files)")
    add("--class_names", default=None,
        help=".npz archives: class names, comma-separated or a file with one per line (default: the ModelNet10 "
             "names for 10 classes, else class_0, class_1, ...)")
    add("--layout", choices=("auto", "modelnet", "flat"), default="auto",
        help="folder layout (default: modelnet if class folders have train/ or test/)")
    add("--num_point", type=int, default=2048, help="points per cloud (default 2048, as the original)")
    add("--normals", action="store_true", help="store xyz + normals (P x 6); meshes: the sampled faces' normals")
    add("--fps", action="store_true",
        help="farthest-point sampling: sample --oversample times more points, keep the farthest")
    add("--oversample", type=int, default=4, help="with --fps: oversampling factor (default 4)")
    add("--density", type=float, default=None, metavar="D",
        help="count-by-density: sample D points per unit area (mesh scaled to unit bounding radius), "
             "at least --num_point, then reduce")
    add("--normalize", choices=("unit_sphere", "none"), default="unit_sphere",
        help="centre and scale into the unit sphere (default, as the original) or keep units")
    add("--up_axis", choices=("x", "y", "z"), default="z",
        help="up axis of the input files or grids (default z, raw ModelNet40 and its voxel grids); "
             "clouds are written y-up, grids as given")
    add("--columns", default="auto",
        help="columns of point files: auto, or e.g. xyz | xyz,normals | xyz,rgb,label | xyz,skip,normals")
    add("--test_fraction", type=float, default=0.2, help="flat layout: test share per class (default 0.2)")
    add("--seed", type=int, default=0, help="seed of the sampling and of the flat split (default 0)")
    add("--shard_size", type=int, default=2048, help="at most this many clouds per h5 file (default 2048)")
    add("--workers", type=int, default=None, help="worker processes (default: all CPUs; 1: no pool)")
    add("--max_file_mb", type=float, default=256.0, help="skip larger files (default 256)")
    add("--resume", action="store_true", help="continue an interrupted run, reusing its finished shards")
    add("--strict", action="store_true", help="fail if any file is skipped")
    add("--overwrite", action="store_true",
        help="replace OUTPUT (only a dataset pointnet-tf2 wrote) and discard an unfinished run")
    add("--no_progress", action="store_true", help="no progress line on stderr")


def run(args):
    """Runs the conversion; prints the summary.

    Returns:
        The exit status (0).
    """
    from pointnet_tf2.data.datasets.mesh_folder import prepare_dataset

    output = output_of(args)
    prepare_dataset(
        args.root, output, inputs=args.inputs, class_names=args.class_names, layout=args.layout,
        num_points=args.num_point, normals=args.normals, fps=args.fps, oversample=args.oversample,
        density=args.density, normalize=args.normalize, up_axis=args.up_axis,
        columns=args.columns, max_file_mb=args.max_file_mb, test_fraction=args.test_fraction, **run_kwargs(args),
    )  # fmt: skip
    return 0
