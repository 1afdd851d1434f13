"""`pointnet-tf2 build-vds`: one virtual-dataset file over a dataset's shards."""

HELP = "build one HDF5 virtual dataset (with splits and description) over a dataset directory's shards"


def add_arguments(parser):
    parser.add_argument(
        "dataset_dir",
        metavar="DATASET_DIR",
        help="a dataset folder in an original layout (modelnet40_ply_hdf5_2048, hdf5_data, "
        "indoor3d_sem_seg_hdf5_data) or a plain HDF5 file",
    )
    parser.add_argument("--output", required=True, metavar="FILE.h5",
                        help="the virtual dataset file to write (must not exist, see --overwrite)")
    parser.add_argument("--task", choices=("cls", "part_seg", "sem_seg"), help="fail unless the data is for this task")
    parser.add_argument("--test_area", type=int, default=6, help="S3DIS area used as test split [default: 6]")
    parser.add_argument(
        "--val_fraction",
        type=float,
        default=0.0,
        help="share of the training clouds held out, at random, as a 'val' split [default: 0]",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation hold-out [default: 0]")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --output if it is a virtual dataset written by build-vds")


def run(args):
    from pointnet_tf2.data.datasets import open_dataset
    from pointnet_tf2.data.vds import build_vds

    output = build_vds(
        args.dataset_dir,
        args.output,
        task=args.task,
        test_area=args.test_area,
        val_fraction=args.val_fraction,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    description = open_dataset(output)
    print(f"wrote {output}")
    print(f"  {description.summary()}")
    print(f"  {len(description.shards)} source shards, keys: {', '.join(description.keys)}")
    return 0
