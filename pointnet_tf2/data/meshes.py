"""One mesh or point file -> one fixed-size cloud: the chain `pointnet-tf2 prepare` and `predict` run.

A mesh becomes a cloud by sampling its surface uniformly by area (a
triangle's chance is its share of the total area; barycentric coordinates
`(1 - sqrt(r1), sqrt(r1) (1 - r2), sqrt(r1) r2)`), optionally with the
sampled faces' normals, optionally oversampled and reduced by farthest-point
sampling (or sampled by density: points per unit area). Clouds are turned
upright (the input's up axis onto the layout's, y for ModelNet40) and
centred and scaled into the unit sphere as the original data, or kept in
their units. `cloud_from_file` runs the whole chain for one file.

Reading and checking the files lives in `pointnet_tf2.data.io.mesh_files`,
sampling and normalising in `pointnet_tf2.data.geometry`; their names stay
importable from here.
"""

import dataclasses
import math
from typing import Optional

import numpy as np

from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.geometry import AXES  # noqa: F401  (re-exported)
from pointnet_tf2.data.geometry import NORMALIZATIONS
from pointnet_tf2.data.geometry import axis_index
from pointnet_tf2.data.geometry import farthest_point_sampling
from pointnet_tf2.data.geometry import normalize_unit_sphere
from pointnet_tf2.data.geometry import reorient
from pointnet_tf2.data.geometry import sample_surface
from pointnet_tf2.data.geometry import triangle_areas  # noqa: F401  (re-exported)
from pointnet_tf2.data.geometry import up_axis_rotation  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import BadFileError
from pointnet_tf2.data.io.mesh_files import COLUMN_WIDTHS  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import DEFAULT_MAX_ELEMENTS  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import DEFAULT_MAX_FILE_MB
from pointnet_tf2.data.io.mesh_files import MESH_SUFFIXES  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import Mesh
from pointnet_tf2.data.io.mesh_files import POINT_SUFFIXES  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import PointCloud  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import SUPPORTED_SUFFIXES  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import check_mesh  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import check_points  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import non_manifold_edges  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.mesh_files import parse_columns
from pointnet_tf2.data.io.mesh_files import read_geometry
from pointnet_tf2.data.io.mesh_files import read_mesh  # noqa: F401  (re-exported)

# The up axis of raw ModelNet40 meshes (the layouts' clouds are y-up).
DEFAULT_INPUT_UP_AXIS = "z"


@dataclasses.dataclass(frozen=True)
class SamplingOptions:
    """How a file becomes a fixed-size cloud (the options of `prepare`).

    Attributes:
        num_points: Points per cloud.
        normals: Also output normals (clouds become (P, 6)); meshes give the
            sampled faces' normals, point files must contain normals.
        fps: Reduce by farthest-point sampling instead of at random.
        oversample: With `fps`, sample `oversample * num_points` points on a
            mesh before reducing them.
        density: Count-by-density mode: sample `density * area` points on a
            mesh (area measured after scaling the mesh to its bounding
            sphere's unit radius; at least `num_points`), then reduce.
        normalize: "unit_sphere" (centre on the centroid, farthest point at
            distance 1, as the original data) or "none" (keep units).
        up_axis: Up axis of the input files ("z" for raw ModelNet40).
        target_up_axis: Up axis of the output (1 = y, as in ModelNet40).
        columns: Column layout of point files (see `read_geometry`).
        max_file_mb: Larger files are skipped.
    """

    num_points: int = 2048
    normals: bool = False
    fps: bool = False
    oversample: int = 4
    density: Optional[float] = None
    normalize: str = "unit_sphere"
    up_axis: str = DEFAULT_INPUT_UP_AXIS
    target_up_axis: int = 1
    columns: str = "auto"
    max_file_mb: float = DEFAULT_MAX_FILE_MB

    def __post_init__(self):
        for name in ("num_points", "oversample"):
            check_positive_int(name, getattr(self, name))
        if self.density is not None and not (isinstance(self.density, (int, float)) and self.density > 0):
            raise ValueError(f"density must be a number > 0 (points per unit area), got {self.density!r}")
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")
        axis_index(self.up_axis)
        axis_index(self.target_up_axis)
        if not (isinstance(self.max_file_mb, (int, float)) and self.max_file_mb > 0):
            raise ValueError(f"max_file_mb must be a number > 0, got {self.max_file_mb!r}")
        parse_columns("", self.columns, 10**6)


@dataclasses.dataclass
class Cloud:
    """A fixed-size cloud made from one file.

    Attributes:
        points: float32 (P, 3), or (P, 6) = xyz + normals.
        notes: Non-fatal remarks ("non_manifold", "upsampled").
        source: "mesh" or "points".
    """

    points: np.ndarray
    notes: list
    source: str


def mesh_sample_count(mesh, options):
    """How many points to sample on a mesh before reducing to `num_points`."""
    if options.density is not None:
        used = mesh.vertices[np.unique(mesh.faces)]
        centre = 0.5 * (used.min(axis=0) + used.max(axis=0))
        radius = float(np.max(np.linalg.norm(used - centre, axis=1)))
        area = float(mesh.areas.sum()) / (radius * radius)
        return max(options.num_points, int(math.ceil(options.density * area)))
    return options.num_points * (options.oversample if options.fps else 1)


def _reduce(points, count, rng, fps):
    """Indices of `count` points in random (or FPS) order, padded with repeats when there are fewer."""
    n = len(points)
    if n > count:
        if fps:
            return farthest_point_sampling(points, count, start=int(rng.integers(n)))
        return rng.choice(n, count, replace=False)
    if n == count:
        return rng.permutation(n)
    return rng.permutation(np.concatenate([np.arange(n), rng.choice(n, count - n, replace=True)]))


def cloud_from_geometry(geometry, options, rng):
    """Turns a `Mesh` or `PointCloud` into a fixed-size, upright, normalised cloud.

    Meshes are sampled (`mesh_sample_count` points uniformly by area) and
    reduced to `num_points` (FPS or at random); point clouds are reduced the
    same way, or padded with repeated points when they have fewer (note
    "upsampled").

    Args:
        geometry: A `Mesh` or `PointCloud`.
        options: `SamplingOptions`.
        rng: A `numpy.random.Generator`.

    Returns:
        A `Cloud`.

    Raises:
        BadFileError: "no_normals" (normals asked, a point file without
            them), "degenerate" (all points coincide) or "nonfinite".
    """
    notes = list(geometry.notes)
    if isinstance(geometry, Mesh):
        count = mesh_sample_count(geometry, options)
        points, normals, _ = sample_surface(geometry.vertices, geometry.faces, count, rng=rng, normals=options.normals)
        source = "mesh"
    else:
        points, normals, source = geometry.points, geometry.normals, "points"
        if options.normals and normals is None:
            raise BadFileError(geometry.path, "no_normals", "normals were asked for, but the file has none")
        if len(points) < options.num_points:
            notes.append("upsampled")
    chosen = _reduce(points, options.num_points, rng, options.fps)
    points = reorient(points[chosen], options.up_axis, options.target_up_axis)
    if options.normals:
        normals = reorient(normals[chosen], options.up_axis, options.target_up_axis)
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.where(lengths > 0, normals / np.where(lengths > 0, lengths, 1.0), 0.0)
    if options.normalize == "unit_sphere":
        try:
            points, _, _ = normalize_unit_sphere(points)
        except ValueError:
            raise BadFileError(geometry.path, "degenerate", "all points coincide (nothing to normalise)") from None
    out = np.concatenate([points, normals], axis=1) if options.normals else points
    with np.errstate(over="ignore", invalid="ignore"):
        out = out.astype(np.float32)
    if not np.isfinite(out).all():
        raise BadFileError(geometry.path, "nonfinite", "coordinates too large for float32 (use normalisation)")
    return Cloud(out, notes, source)


def cloud_from_file(path, options, rng):
    """Reads a mesh or point file and makes a fixed-size cloud of it.

    Args:
        path: A supported file.
        options: `SamplingOptions`.
        rng: A `numpy.random.Generator`.

    Returns:
        A `Cloud`.

    Raises:
        BadFileError: If the file cannot be used.
    """
    geometry = read_geometry(path, columns=options.columns, max_file_mb=options.max_file_mb)
    return cloud_from_geometry(geometry, options, rng)
