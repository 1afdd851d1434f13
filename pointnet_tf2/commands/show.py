"""`pointnet-tf2 show`: render a cloud (mesh, point file or HDF5 row) to a three-view PNG."""


HELP = "render a mesh, point file or FILE.h5[:index] cloud to a PNG (front, side, top; coloured by label)"


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("input", metavar="FILE_OR_H5[:index]",
                        help="a mesh (.off .obj .ply .stl), a point file (.txt .xyz .pts .npy .ply) or FILE.h5:index")
    parser.add_argument("--output", required=True, help="the PNG file to write")
    parser.add_argument("--color", choices=("auto", "label", "rgb", "height"), default="auto",
                        help="auto: per-point labels if the file has them, else RGB, else height")
    parser.add_argument("--num_point", type=int, default=2048, help="points sampled on a mesh (default 2048)")
    parser.add_argument("--up_axis", choices=("auto", "x", "y", "z"), default="auto",
                        help="up axis of the cloud (auto: y for ModelNet/ShapeNet HDF5, z for S3DIS and other files, "
                             "or what a PLY records)")
    parser.add_argument("--title", default=None, help="figure title (default: the file and its label)")
    parser.add_argument("--point_size", type=float, default=None, help="marker area (default: from the point count)")
    parser.add_argument("--dpi", type=int, default=100, help="resolution (default 100)")


def run(args):
    """Renders the PNG.

    Returns:
        The exit status (0).
    """
    from pointnet_tf2.data.meshes import DEFAULT_INPUT_UP_AXIS
    from pointnet_tf2.inference import load_input
    from pointnet_tf2.viz import write_views_png

    cloud = load_input(args.input, num_points=args.num_point)
    labels = colors = None
    if args.color in ("auto", "label") and cloud.labels is not None:
        labels = cloud.labels
    elif args.color == "label":
        raise ValueError(f"{cloud.name}: has no per-point labels to colour by")
    elif args.color in ("auto", "rgb") and cloud.colors is not None:
        colors = cloud.colors
    elif args.color == "rgb":
        raise ValueError(f"{cloud.name}: has no colours")
    up_axis = (cloud.up_axis or DEFAULT_INPUT_UP_AXIS) if args.up_axis == "auto" else args.up_axis
    title = args.title
    if title is None:
        title = cloud.name
        if cloud.cloud_label is not None:
            names = cloud.class_names
            name = names[cloud.cloud_label] if names and 0 <= cloud.cloud_label < len(names) else None
            title += f"  (label {cloud.cloud_label}{': ' + name if name else ''})"
    write_views_png(args.output, cloud.points, labels, colors=colors, class_names=cloud.label_names, up_axis=up_axis,
                    title=title, point_size=args.point_size, dpi=args.dpi)  # fmt: skip
    print(f"wrote {args.output} ({len(cloud.points)} points"
          + (f", {len(set(labels.tolist()))} labels" if labels is not None else "") + ")")  # fmt: skip
    return 0
