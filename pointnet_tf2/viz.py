"""Colours and pictures of point clouds and confusion matrices."""

import io

import numpy as np

from pointnet_tf2.data.meshes import reorient
from pointnet_tf2.utils import atomic_output


def label_colors(labels, num_classes=None):
    """Maps integer labels to distinct uint8 RGB colours.

    The palette is fixed (the same label always gets the same colour), so a
    prediction and its ground truth can be compared side by side.

    Args:
        labels: Integer array of any shape.
        num_classes: Unused beyond validation; labels must be below it if given.

    Returns:
        uint8 array of shape `labels.shape + (3,)`.

    Raises:
        ValueError: If a label is negative or not below `num_classes`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or (num_classes is not None and labels.max() >= num_classes)):
        raise ValueError(f"label_colors: labels must be in [0, {num_classes}), got range [{labels.min()}, {labels.max()}]")
    # Golden-ratio hues with three alternating brightness levels.
    hue = (labels * 0.618033988749895) % 1.0
    value = 0.95 - 0.25 * (labels % 3) / 2.0
    saturation = 0.65 + 0.35 * ((labels // 3) % 2)
    return (_hsv_to_rgb(hue, saturation, value) * 255).round().astype(np.uint8)


def _hsv_to_rgb(h, s, v):
    i = np.floor(h * 6.0).astype(np.int64) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    rgb = np.zeros(np.shape(h) + (3,))
    for k, (r, g, b) in enumerate(choices):
        mask = i == k
        rgb[mask] = np.stack([np.broadcast_to(c, np.shape(h))[mask] for c in (r, g, b)], axis=-1)
    return rgb


def confusion_matrix_png(confusion, class_names=None, *, normalize=True, title="confusion matrix"):
    """Renders a confusion matrix (rows = truth, columns = prediction) to PNG bytes.

    Args:
        confusion: Square integer array.
        class_names: Optional names for the tick labels (shown up to 60 classes).
        normalize: Whether to colour by row-normalised rates.
        title: Figure title.

    Returns:
        The PNG file content as bytes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion, dtype=np.float64)
    n = confusion.shape[0]
    shown = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1) if normalize else confusion
    size = min(12.0, 3.0 + 0.25 * n)
    fig, ax = plt.subplots(figsize=(size, size), dpi=80)
    try:
        ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
        if class_names is not None and n <= 60:
            ax.set_xticks(range(n), class_names, rotation=90, fontsize=7)
            ax.set_yticks(range(n), class_names, fontsize=7)
        if n <= 15:
            for i in range(n):
                for j in range(n):
                    ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if shown[i, j] > 0.5 else "black")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


# --- clouds: three-view PNG and coloured PLY -------------------------------------------

_VIEW_NAMES = ("front", "side", "top")


def _view_coordinates(points):
    """For y-up points: per view (horizontal, vertical, depth), depth growing towards the viewer."""
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    return [(x, y, z), (-z, y, x), (x, -z, y)]


def render_views_png(
    points,
    labels=None,
    *,
    colors=None,
    class_names=None,
    up_axis=1,
    title=None,
    point_size=None,
    max_points=30000,
    dpi=100,
):
    """Renders a point cloud from the front, the side and the top to PNG bytes.

    Points are drawn far to near (orthographic views), coloured by label
    (`label_colors`, with a legend when `class_names` are given), by given
    RGB colours, or else by height with depth shading.

    Args:
        points: (N, >=3) array; the first three columns are xyz.
        labels: Optional (N,) integer labels (per point).
        colors: Optional (N, 3) RGB in [0, 1] (floats) or [0, 255] (integers);
            ignored when `labels` are given.
        class_names: Optional names of the labels for the legend.
        up_axis: The cloud's up axis: 0, 1, 2 or "x", "y", "z".
        title: Optional figure title.
        point_size: Marker area in points^2 (default: from the point count).
        max_points: Larger clouds are drawn from a fixed random subset.
        dpi: Resolution of the PNG.

    Returns:
        The PNG file content as bytes.

    Raises:
        ValueError: On bad shapes or labels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 3 or len(points) == 0:
        raise ValueError(f"render_views_png: points must have shape (N, >=3) with N >= 1, got {points.shape}")
    n = len(points)
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"render_views_png: labels must be {n} integers, got shape {labels.shape} "
                             f"dtype {labels.dtype}")
        rgb = label_colors(labels) / 255.0
    elif colors is not None:
        colors = np.asarray(colors)
        if colors.shape != (n, 3):
            raise ValueError(f"render_views_png: colors must have shape ({n}, 3), got {colors.shape}")
        rgb = colors / 255.0 if np.issubdtype(colors.dtype, np.integer) else np.clip(colors, 0.0, 1.0)
    else:
        rgb = None
    upright = reorient(points[:, :3], up_axis, 1)
    keep = np.arange(n)
    if n > max_points:
        keep = np.sort(np.random.default_rng(0).choice(n, max_points, replace=False))
    upright = upright[keep]
    if rgb is None:
        height = upright[:, 1]
        span = np.ptp(height) or 1.0
        rgb = plt.get_cmap("viridis")(0.15 + 0.75 * (height - height.min()) / span)[:, :3]
        shade = True
    else:
        rgb = rgb[keep]
        shade = False
    low, high = upright.min(axis=0), upright.max(axis=0)
    centre, half = (low + high) / 2.0, max(float(np.max(high - low)) / 2.0, 1e-9) * 1.06
    size = point_size if point_size is not None else float(np.clip(4000.0 / len(upright), 0.4, 12.0))

    legend = []
    if labels is not None and class_names is not None:
        present = np.unique(labels)
        if len(present) <= 20:
            for label in present:
                name = class_names[label] if 0 <= label < len(class_names) else str(label)
                legend.append(Patch(color=label_colors([label])[0] / 255.0, label=str(name)))
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.6 if legend else 3.3), dpi=dpi)
    try:
        centred = upright - centre
        for ax, name, (u, v, depth) in zip(axes, _VIEW_NAMES, _view_coordinates(centred)):
            order = np.argsort(depth, kind="stable")
            colour = rgb[order]
            if shade:
                d = depth[order]
                colour = colour * (0.55 + 0.45 * ((d - d.min()) / (np.ptp(d) or 1.0)))[:, None]
            ax.scatter(u[order], v[order], c=colour, s=size, linewidths=0, marker="o")
            ax.set_xlim(-half, half)
            ax.set_ylim(-half, half)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name, fontsize=9)
            for spine in ax.spines.values():
                spine.set_color("#cccccc")
        if title:
            fig.suptitle(title, fontsize=10)
        if legend:
            fig.legend(handles=legend, loc="lower center", ncol=min(len(legend), 8), fontsize=7, frameon=False)
        fig.tight_layout(rect=(0, 0.08 if legend else 0, 1, 1))
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def write_views_png(path, points, labels=None, **kwargs):
    """Renders `render_views_png` to a file, atomically.

    Args:
        path: The PNG file to write.
        points: (N, >=3) array.
        labels: Optional (N,) integer labels.
        **kwargs: As `render_views_png`.

    Returns:
        The path.
    """
    data = render_views_png(points, labels, **kwargs)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return path


def write_ply(path, points, *, colors=None, labels=None, normals=None, fields=None, up_axis=None):
    """Writes a point cloud as a binary little-endian PLY file, atomically.

    Properties: `x y z` (float32), `nx ny nz` (float32) when normals are
    given, `red green blue` (uchar) when colours are given, `label` (uchar,
    or int32 above 255) when labels are given, and any extra per-point
    float32 `fields` (e.g. `{"confidence": ...}`). The up axis is recorded
    as a `comment pointnet_tf2 up_axis=<axis>` line, which
    `pointnet_tf2.data.meshes` (and `pointnet-tf2 show`) read back.

    Args:
        path: The `.ply` file to write.
        points: (N, >=3) array (only xyz is written).
        colors: Optional (N, 3) RGB, uint8 or floats in [0, 1].
        labels: Optional (N,) non-negative integer labels.
        normals: Optional (N, 3) normals.
        fields: Optional dict name -> (N,) values, stored as float32.
        up_axis: Optional "x", "y" or "z" recorded in the header.

    Returns:
        The path.

    Raises:
        ValueError: On shape mismatches or negative labels.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f"write_ply: points must have shape (N, >=3), got {points.shape}")
    n = len(points)
    columns = [("x", "<f4", points[:, 0]), ("y", "<f4", points[:, 1]), ("z", "<f4", points[:, 2])]
    if normals is not None:
        normals = np.asarray(normals)
        if normals.shape != (n, 3):
            raise ValueError(f"write_ply: normals must have shape ({n}, 3), got {normals.shape}")
        columns += [(name, "<f4", normals[:, i]) for i, name in enumerate(("nx", "ny", "nz"))]
    if colors is not None:
        colors = np.asarray(colors)
        if colors.shape != (n, 3):
            raise ValueError(f"write_ply: colors must have shape ({n}, 3), got {colors.shape}")
        if not np.issubdtype(colors.dtype, np.integer):
            colors = np.round(np.clip(colors, 0.0, 1.0) * 255.0)
        colors = colors.astype(np.uint8)
        columns += [(name, "u1", colors[:, i]) for i, name in enumerate(("red", "green", "blue"))]
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer) or (n and labels.min() < 0):
            raise ValueError(f"write_ply: labels must be {n} non-negative integers, got shape {labels.shape}")
        columns.append(("label", "u1" if not n or labels.max() < 256 else "<i4", labels))
    for name, values in (fields or {}).items():
        values = np.asarray(values).reshape(-1)
        if values.shape != (n,) or not name.isidentifier():
            raise ValueError(f"write_ply: field {name!r} must be a name with {n} values, got shape {values.shape}")
        columns.append((name, "<f4", values))
    if up_axis is not None and up_axis not in ("x", "y", "z"):
        raise ValueError(f"write_ply: up_axis must be x, y or z, got {up_axis!r}")
    ply_types = {"<f4": "float", "u1": "uchar", "<i4": "int"}
    table = np.empty(n, dtype=[(name, dtype) for name, dtype, _ in columns])
    for name, _, values in columns:
        table[name] = values
    header = ["ply", "format binary_little_endian 1.0", "comment written by pointnet_tf2"]
    if up_axis is not None:
        header.append(f"comment pointnet_tf2 up_axis={up_axis}")
    header.append(f"element vertex {n}")
    header += [f"property {ply_types[dtype]} {name}" for name, dtype, _ in columns]
    header.append("end_header")
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(("\n".join(header) + "\n").encode("ascii"))
            f.write(table.tobytes())
    return path
