"""Occupancy grids: voxelising point clouds, grid augmentations, a grid's surface as a cloud.

`voxelize` turns a batch of clouds into binary occupancy grids the way the
classic voxel networks were fed (VoxNet, Xu & Todorovic): each shape is
centred and scaled uniformly so its longest side spans an `inner` cube placed
in the middle of an `R^3` grid, leaving `(R - inner) / 2` empty cells of
padding on each side (24^3 inside 30^3 by default). `Voxelize` does the same
as a `PointCloudSequence(transform=...)` step, so the HDF5 data that feeds the
point models feeds the voxel models too, voxelised on the fly.

Grids are indexed `[x, y, z]` (channel 0 of the points is x). Reading and
writing `.binvox` files and `.npz` voxel archives lives in
`pointnet_tf2.data.io.binvox`; those names stay importable from here.
"""

import numpy as np

from pointnet_tf2.data.checks import check_non_negative_int
from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.geometry import AXES
from pointnet_tf2.data.geometry import NORMALIZATIONS
from pointnet_tf2.data.geometry import normalize_unit_sphere
from pointnet_tf2.data.geometry import reorient
from pointnet_tf2.data.io.binvox import Binvox  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.binvox import load_voxel_npz  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.binvox import read_binvox  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.binvox import read_binvox_dims  # noqa: F401  (re-exported)
from pointnet_tf2.data.io.binvox import write_binvox  # noqa: F401  (re-exported)


def _check_grid_sizes(resolution, inner):
    for value, what in ((resolution, "resolution"), (inner, "inner")):
        check_positive_int(f"voxelize: {what}", value)
    if inner > resolution:
        raise ValueError(f"voxelize: inner={inner!r} must not exceed resolution={resolution!r}")
    return int(resolution), int(inner)


def voxelize(points, resolution=30, inner=24):
    """Binary occupancy grids of a batch of clouds, vectorised over the batch.

    Each cloud is centred on its bounding box and scaled (the same factor on
    every axis) so that its longest side spans `inner` cells (its extreme
    points fall in the first and the last cell); the inner cube starts at
    cell `(resolution - inner) // 2`, so the rest is empty padding. A cell is
    occupied when at least one point falls in it. A cloud whose points all
    coincide occupies one central cell.

    Args:
        points: `(B, N, C)` or `(N, C)` array with x, y, z in channels 0-2
            (further channels are ignored).
        resolution: Cells per side of the grid (R).
        inner: Cells per side of the cube the shape is scaled into.

    Returns:
        float32 array `(B, R, R, R, 1)` (or `(R, R, R, 1)` for one cloud) of 0/1.

    Raises:
        ValueError: On bad sizes, a bad shape or non-finite coordinates.
    """
    resolution, inner = _check_grid_sizes(resolution, inner)
    points = np.asarray(points)
    single = points.ndim == 2
    batch = points[None] if single else points
    if batch.ndim != 3 or batch.shape[-1] < 3 or batch.shape[1] < 1:
        raise ValueError(f"voxelize: points must have shape (B, N, C) or (N, C) with N >= 1, C >= 3, got {points.shape}")
    xyz = batch[..., :3].astype(np.float64)
    if not np.all(np.isfinite(xyz)):
        raise ValueError("voxelize: points contain NaN or infinite coordinates")
    low, high = xyz.min(axis=1, keepdims=True), xyz.max(axis=1, keepdims=True)
    centre = (low + high) / 2.0
    extent = (high - low).max(axis=2, keepdims=True)
    # Cell centres: the extreme points of the longest side land on the centres
    # of the first and last cells of the inner cube (symmetric rounding).
    scale = np.where(extent > 0, (inner - 1) / np.where(extent > 0, extent, 1.0), 0.0)
    cells = np.floor((xyz - centre) * scale + (inner - 1) / 2.0 + 0.5).astype(np.int64)
    cells = np.clip(cells, 0, inner - 1) + (resolution - inner) // 2
    count = batch.shape[0]
    flat = ((np.arange(count)[:, None] * resolution + cells[..., 0]) * resolution + cells[..., 1]) * resolution + cells[..., 2]
    grid = np.zeros(count * resolution**3, np.float32)
    grid[flat.ravel()] = 1.0
    grid = grid.reshape(count, resolution, resolution, resolution, 1)
    return grid[0] if single else grid


class Voxelize:
    """A batch transform `(points, labels) -> (grids, labels)` for `PointCloudSequence(transform=...)`.

    Example:

    ```python
    train = PointCloudSequence(path, num_points=1024, transform=Voxelize(30, 24))
    grids, labels = train[0]   # (B, 30, 30, 30, 1) float32, (B,) int32
    ```

    Args:
        resolution: Cells per side of the grid.
        inner: Cells per side of the cube the shape is scaled into.

    Raises:
        ValueError: On bad sizes.
    """

    def __init__(self, resolution=30, inner=24):
        self.resolution, self.inner = _check_grid_sizes(resolution, inner)

    def __call__(self, points, labels=None):
        if isinstance(points, dict):
            raise ValueError("Voxelize: needs a classification batch of points, got a dict of inputs")
        return voxelize(points, self.resolution, self.inner), labels

    def __repr__(self):
        return f"Voxelize(resolution={self.resolution}, inner={self.inner})"


_FACE_AXES = ((0, 1, 2), (1, 0, 2), (2, 0, 1))  # (normal axis, the two in-plane axes)


def grid_surface_points(grid, count, *, rng=None):
    """Samples points uniformly on the surface of an occupancy grid's solid.

    The surface is made of the exposed faces of occupied cells: a face whose
    neighbour across it is empty or outside the grid. Every face has the same
    area, so faces are drawn uniformly (with replacement) and a point is
    drawn uniformly on each chosen face. Coordinates are in cell units,
    `[x, y, z]` with cell `(i, j, k)` spanning `[i, i + 1]` on x, and so on.

    Args:
        grid: `(X, Y, Z)` or `(X, Y, Z, 1)` array; non-zero is occupied.
        count: Points to draw.
        rng: A `numpy.random.Generator` (default: a fresh unseeded one).

    Returns:
        float32 array `(count, 3)`.

    Raises:
        ValueError: If the grid has no occupied cell, or a bad shape or count.
    """
    grid = np.asarray(grid)
    if grid.ndim == 4 and grid.shape[-1] == 1:
        grid = grid[..., 0]
    if grid.ndim != 3:
        raise ValueError(f"grid_surface_points: grid must be (X, Y, Z) or (X, Y, Z, 1), got shape {grid.shape}")
    check_positive_int("grid_surface_points: count", count)
    rng = np.random.default_rng() if rng is None else rng
    occupied = np.pad(grid != 0, 1)
    if not occupied.any():
        raise ValueError("grid_surface_points: the grid is empty (no occupied cell)")
    faces = []  # (cell index (3,), normal axis, side 0 = low face / 1 = high face)
    for axis in range(3):
        for side, shift in ((0, 1), (1, -1)):
            exposed = occupied & ~np.roll(occupied, shift, axis=axis)
            cells = np.argwhere(exposed) - 1  # back to unpadded indices
            faces.append((cells, axis, side))
    sizes = np.array([len(cells) for cells, _, _ in faces])
    choice = rng.integers(0, sizes.sum(), size=count)
    points = np.empty((count, 3), np.float64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for f, (cells, axis, side) in enumerate(faces):
        mine = (choice >= offsets[f]) & (choice < offsets[f + 1])
        if not mine.any():
            continue
        picked = cells[choice[mine] - offsets[f]].astype(np.float64)
        normal, a, b = _FACE_AXES[axis]
        picked[:, normal] += side
        uv = rng.random((len(picked), 2))
        picked[:, a] += uv[:, 0]
        picked[:, b] += uv[:, 1]
        points[mine] = picked
    return points.astype(np.float32)


def grid_cloud(grid, count, *, rng=None, up_axis="z", normalize="unit_sphere"):
    """A point cloud of an occupancy grid's surface, upright and normalised like ModelNet40's clouds.

    `grid_surface_points` samples the exposed cell faces; the points are then
    turned so the grid's up axis becomes y (`pointnet_tf2.data.geometry.reorient`,
    the convention of the ModelNet40 HDF5 data) and, by default, centred on
    their centroid and scaled into the unit sphere
    (`pointnet_tf2.data.geometry.normalize_unit_sphere`).

    Args:
        grid: `(X, Y, Z)` or `(X, Y, Z, 1)` array indexed `[x, y, z]`; non-zero
            is occupied.
        count: Points to draw.
        rng: A `numpy.random.Generator` (default: a fresh unseeded one).
        up_axis: The grid's up axis ("x", "y", "z" or 0, 1, 2); "z" for the
            ModelNet grids of `.binvox` files and the Keras tutorial archive.
        normalize: "unit_sphere" or "none" (cell units, turned y-up).

    Returns:
        float32 array `(count, 3)`.

    Raises:
        ValueError: If the grid is empty, or on a bad shape, count, axis or
            normalisation.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"grid_cloud: normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    points = reorient(grid_surface_points(grid, count, rng=rng), up_axis, "y")
    if normalize == "unit_sphere":
        points, _, _ = normalize_unit_sphere(points)
    return points.astype(np.float32)


# -- augmenting grids ----------------------------------------------------------------


def _grid_batch(grids, what):
    grids = np.asarray(grids)
    cubes = grids[..., 0] if grids.ndim == 5 and grids.shape[-1] == 1 else grids
    if cubes.ndim != 4 or not (cubes.shape[1] == cubes.shape[2] == cubes.shape[3]):
        raise ValueError(f"{what}: grids must have shape (B, R, R, R) or (B, R, R, R, 1), got {grids.shape}")
    return grids, cubes


def _generator(rng, seed):
    return rng if rng is not None else np.random.default_rng(seed)


class GridShift:
    """Moves each grid of a batch by a random whole number of cells, inside its empty border.

    On every axis the shift is drawn uniformly from the integers in
    `[-max_shift, max_shift]` that keep every occupied cell inside the grid
    (a shape touching a face is not moved towards it), so no part of the
    shape is cut off or wrapped around. An empty grid is left as it is. This
    is the default train-time augmentation of stored grids
    (`PointCloudSequence(inputs="voxels")`).

    Args:
        max_shift: Largest shift in cells on each axis.
        seed: Seed of the own Generator, used when no `rng` is passed.

    Raises:
        ValueError: If `max_shift` is not a non-negative integer.
    """

    def __init__(self, max_shift=2, *, seed=None):
        self.max_shift, self.seed = check_non_negative_int("GridShift: max_shift", max_shift), seed

    def __call__(self, grids, rng=None):
        """Returns shifted copies of `(B, R, R, R[, 1])` grids."""
        grids, cubes = _grid_batch(grids, "GridShift")
        rng = _generator(rng, self.seed)
        size = cubes.shape[1]
        out = np.empty_like(grids)
        for b in range(len(grids)):
            occupied = cubes[b] != 0
            if not occupied.any():
                out[b] = grids[b]
                continue
            shifts = []
            for axis in range(3):
                cells = np.flatnonzero(occupied.any(axis=tuple(a for a in range(3) if a != axis)))
                room_below, room_above = int(cells[0]), size - 1 - int(cells[-1])
                shifts.append(int(rng.integers(-min(self.max_shift, room_below), min(self.max_shift, room_above) + 1)))
            out[b] = np.roll(grids[b], shifts, axis=(0, 1, 2))
        return out

    def __repr__(self):
        return f"GridShift(max_shift={self.max_shift})"


class GridRotate90:
    """Turns each grid of a batch about its up axis by a random multiple of 90 degrees.

    Exact on a cubic grid (cells are permuted, nothing is resampled). Off by
    default in `PointCloudSequence`: pass it in `grid_augment=` to use it.

    Args:
        up_axis: Grid axis the rotation turns about ("x", "y", "z" or 0, 1, 2);
            the stored grids' up axis is `DatasetDescription.voxel_up_axis`.
        seed: Seed of the own Generator, used when no `rng` is passed.

    Raises:
        ValueError: If `up_axis` is not an axis.
    """

    def __init__(self, up_axis=2, *, seed=None):
        axis = AXES.get(up_axis.lower()) if isinstance(up_axis, str) else up_axis
        if isinstance(axis, bool) or axis not in (0, 1, 2):
            raise ValueError(f"GridRotate90: up_axis must be x, y, z (or 0, 1, 2), got {up_axis!r}")
        self.up_axis, self.seed = int(axis), seed

    def __call__(self, grids, rng=None):
        """Returns turned copies of `(B, R, R, R[, 1])` grids."""
        grids, _ = _grid_batch(grids, "GridRotate90")
        rng = _generator(rng, self.seed)
        plane = tuple(a for a in range(3) if a != self.up_axis)
        out = np.empty_like(grids)
        for b, turns in enumerate(rng.integers(0, 4, size=len(grids))):
            out[b] = np.rot90(grids[b], int(turns), axes=plane)
        return out

    def __repr__(self):
        return f"GridRotate90(up_axis={self.up_axis})"


def default_grid_augmentation(*, max_shift=2, rotate=False, up_axis=2):
    """The train-time augmentation of stored grids: a `GridShift`, optionally a `GridRotate90`.

    Args:
        max_shift: Largest shift in cells (0: no shift).
        rotate: Also turn by multiples of 90 degrees about `up_axis`.
        up_axis: The grids' up axis.

    Returns:
        A list of grid augmentations, applied in order (for
        `PointCloudSequence(grid_augment=...)`).
    """
    out = [GridShift(max_shift)] if max_shift else []
    if rotate:
        out.append(GridRotate90(up_axis))
    return out
