"""Procedural surfaces sampled uniformly by area (numpy only).

A `Patch` is one piece of surface with a known area and a sampler that draws
points uniformly over it. Shapes are lists of patches; `sample_patches` spreads
`n` points over them in proportion to their areas, so a composite shape
(a cylinder = side + two caps, a table = top + legs) is sampled uniformly by
area as a whole, and the patch index of every point gives its part label.

Primitives are built in a local frame with y up (ModelNet / ShapeNet
convention) and placed with `Patch.moved(rotation, offset)`. Only rigid
motions are applied after construction, so area-uniformity is kept.
"""

import math

import numpy as np

# Quadrature points on the unit sphere (Fibonacci lattice) for ellipsoid areas.
_FIBONACCI_SIZE = 4096


class Patch:
    """A piece of surface with an area and a uniform-by-area point sampler.

    Args:
        area: Surface area (> 0 except for degenerate pieces, which get no points).
        sampler: Callable `(rng, n) -> (n, 3) float64` in the local frame.
        rotation: Optional (3, 3) rotation applied to local points.
        offset: Optional (3,) translation applied after the rotation.
    """

    __slots__ = ("_sampler", "area", "offset", "rotation")

    def __init__(self, area, sampler, rotation=None, offset=None):
        self.area = float(area)
        self._sampler = sampler
        self.rotation = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
        self.offset = np.zeros(3) if offset is None else np.asarray(offset, dtype=np.float64)

    def sample(self, rng, n):
        """Draws `n` points uniformly over the patch.

        Args:
            rng: A `numpy.random.Generator`.
            n: Number of points.

        Returns:
            A float64 array of shape (n, 3).
        """
        if n <= 0:
            return np.zeros((0, 3))
        return self._sampler(rng, int(n)) @ self.rotation.T + self.offset

    def moved(self, rotation=None, offset=None):
        """Returns this patch after a rotation (about the origin), then a translation.

        Args:
            rotation: (3, 3) rotation matrix, or None for the identity.
            offset: (3,) translation, or None.

        Returns:
            A new `Patch`.
        """
        r = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
        t = np.zeros(3) if offset is None else np.asarray(offset, dtype=np.float64)
        return Patch(self.area, self._sampler, r @ self.rotation, r @ self.offset + t)


def move(patches, rotation=None, offset=None):
    """Applies `Patch.moved` to every patch of a list."""
    return [p.moved(rotation, offset) for p in patches]


def rotation_x(angle):
    """Rotation matrix about the x axis by `angle` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_y(angle):
    """Rotation matrix about the y (up) axis by `angle` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_z(angle):
    """Rotation matrix about the z axis by `angle` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_about(axis, angle):
    """Rotation matrix about a unit `axis` by `angle` radians (Rodrigues)."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)


# --- flat pieces -------------------------------------------------------------------


def parallelogram(corner, u, v):
    """The parallelogram `corner + s*u + t*v`, s, t in [0, 1].

    Args:
        corner: (3,) first corner.
        u, v: (3,) edge vectors.

    Returns:
        A `Patch`.
    """
    corner, u, v = (np.asarray(a, dtype=np.float64) for a in (corner, u, v))

    def sampler(rng, n):
        st = rng.random((n, 2))
        return corner + st[:, :1] * u + st[:, 1:] * v

    return Patch(np.linalg.norm(np.cross(u, v)), sampler)


def triangle(a, b, c):
    """The triangle with corners a, b, c (barycentric sampling).

    Returns:
        A `Patch`.
    """
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (a, b, c))

    def sampler(rng, n):
        st = rng.random((n, 2))
        flip = st.sum(axis=1) > 1.0
        st[flip] = 1.0 - st[flip]
        return a + st[:, :1] * (b - a) + st[:, 1:] * (c - a)

    return Patch(0.5 * np.linalg.norm(np.cross(b - a, c - a)), sampler)


def disk(radius, *, inner=0.0, y=0.0):
    """A horizontal disk (or annulus with `inner` > 0) centred on the y axis at height `y`.

    Returns:
        A `Patch`.
    """
    r_out, r_in = float(radius), float(inner)

    def sampler(rng, n):
        r = np.sqrt(r_in**2 + rng.random(n) * (r_out**2 - r_in**2))
        theta = rng.random(n) * (2.0 * math.pi)
        return np.stack([r * np.cos(theta), np.full(n, float(y)), r * np.sin(theta)], axis=1)

    return Patch(math.pi * (r_out**2 - r_in**2), sampler)


def box(size, center=(0.0, 0.0, 0.0), *, skip=()):
    """The six faces of an axis-aligned box.

    Args:
        size: (3,) edge lengths along x, y, z.
        center: (3,) centre.
        skip: Faces to leave out, among "-x", "+x", "-y", "+y", "-z", "+z"
            (e.g. "-y" for an object standing on the floor, "+y" for an open box).

    Returns:
        A list of `Patch` objects.
    """
    size = np.asarray(size, dtype=np.float64)
    lo = np.asarray(center, dtype=np.float64) - size / 2.0
    ex, ey, ez = np.diag(size)
    faces = {
        "-x": (lo, ey, ez),
        "+x": (lo + ex, ey, ez),
        "-y": (lo, ex, ez),
        "+y": (lo + ey, ex, ez),
        "-z": (lo, ex, ey),
        "+z": (lo + ez, ex, ey),
    }
    unknown = set(skip) - set(faces)
    if unknown:
        raise ValueError(f"box: unknown faces to skip {sorted(unknown)}; use {sorted(faces)}")
    return [parallelogram(*faces[name]) for name in faces if name not in skip]


def parallelepiped(corner, u, v, w):
    """The six faces of the parallelepiped spanned by u, v, w from `corner`.

    Returns:
        A list of `Patch` objects.
    """
    corner, u, v, w = (np.asarray(a, dtype=np.float64) for a in (corner, u, v, w))
    return [
        parallelogram(corner, u, v),
        parallelogram(corner + w, u, v),
        parallelogram(corner, u, w),
        parallelogram(corner + v, u, w),
        parallelogram(corner, v, w),
        parallelogram(corner + u, v, w),
    ]


# --- curved pieces -----------------------------------------------------------------


def frustum_side(r_bottom, r_top, height, *, y=0.0):
    """Lateral surface of a cone frustum along the y axis, from `y` to `y + height`.

    A cylinder has r_bottom == r_top, a cone r_top == 0. Sampling: the radius at
    a uniform u is sqrt(r0^2 + u (r1^2 - r0^2)), the inverse of the area CDF.

    Returns:
        A `Patch`.
    """
    r0, r1, h = float(r_bottom), float(r_top), float(height)

    def sampler(rng, n):
        theta = rng.random(n) * (2.0 * math.pi)
        u = rng.random(n)
        if abs(r1 - r0) < 1e-12:
            r, t = np.full(n, r0), u
        else:
            r = np.sqrt(r0**2 + u * (r1**2 - r0**2))
            t = (r - r0) / (r1 - r0)
        return np.stack([r * np.cos(theta), y + t * h, r * np.sin(theta)], axis=1)

    return Patch(math.pi * (r0 + r1) * math.hypot(r0 - r1, h), sampler)


def _fibonacci_sphere(n):
    i = np.arange(n) + 0.5
    phi = np.arccos(1.0 - 2.0 * i / n)
    theta = math.pi * (1.0 + 5.0**0.5) * i
    return np.stack([np.cos(theta) * np.sin(phi), np.cos(phi), np.sin(theta) * np.sin(phi)], axis=1)


_SPHERE_QUADRATURE = _fibonacci_sphere(_FIBONACCI_SIZE)


def _ellipsoid_area_factor(u, radii):
    # Area scale of x = diag(radii) u at the unit-sphere point u.
    a, b, c = radii
    return np.sqrt((b * c * u[:, 0]) ** 2 + (a * c * u[:, 1]) ** 2 + (a * b * u[:, 2]) ** 2)


def _unit_vectors(rng, n):
    v = rng.standard_normal((n, 3))
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def ellipsoid(radii, *, half=None):
    """An ellipsoid centred at the origin with semi-axes `radii` along x, y, z.

    Uniform by area through rejection sampling of unit-sphere directions.

    Args:
        radii: (3,) semi-axes (a sphere has equal radii).
        half: None for the whole surface, "upper" (y >= 0) or "lower" (y <= 0).

    Returns:
        A `Patch`.
    """
    radii = np.asarray(radii, dtype=np.float64)
    if half not in (None, "upper", "lower"):
        raise ValueError(f"ellipsoid: half must be None, 'upper' or 'lower', got {half!r}")
    factors = _ellipsoid_area_factor(_SPHERE_QUADRATURE, radii)
    area = 4.0 * math.pi * float(factors.mean())
    a, b, c = radii
    bound = max(b * c, a * c, a * b)

    def sampler(rng, n):
        out = []
        need = n
        while need > 0:
            u = _unit_vectors(rng, int(need * 1.5) + 16)
            keep = rng.random(len(u)) * bound <= _ellipsoid_area_factor(u, radii)
            out.append(u[keep][:need])
            need -= len(out[-1])
        u = np.concatenate(out)
        if half == "upper":
            u[:, 1] = np.abs(u[:, 1])
        elif half == "lower":
            u[:, 1] = -np.abs(u[:, 1])
        return u * radii

    return Patch(area / 2.0 if half else area, sampler)


def torus(major, minor, *, arc=None):
    """A torus around the y axis: tube radius `minor` at distance `major`.

    Args:
        major: Distance from the axis to the tube centre.
        minor: Tube radius (< major).
        arc: Optional (start, stop) angles in radians around the y axis, measured
            from +x towards +z, to keep only part of the ring (a mug handle).

    Returns:
        A `Patch`.
    """
    big, small = float(major), float(minor)
    start, stop = (0.0, 2.0 * math.pi) if arc is None else (float(arc[0]), float(arc[1]))

    def sampler(rng, n):
        out = []
        need = n
        while need > 0:
            phi = rng.random(int(need * 1.5) + 16) * (2.0 * math.pi)
            keep = rng.random(len(phi)) * (big + small) <= big + small * np.cos(phi)
            out.append(phi[keep][:need])
            need -= len(out[-1])
        phi = np.concatenate(out)
        theta = start + rng.random(n) * (stop - start)
        ring = big + small * np.cos(phi)
        return np.stack([ring * np.cos(theta), small * np.sin(phi), ring * np.sin(theta)], axis=1)

    return Patch(2.0 * math.pi * big * small * (stop - start), sampler)


# --- sampling ----------------------------------------------------------------------


def sample_patches(rng, patches, n):
    """Samples `n` points uniformly by area over a list of patches.

    The points come back in random order (never grouped by patch), so taking
    the first k of them is itself a uniform sample.

    Args:
        rng: A `numpy.random.Generator`.
        patches: A non-empty list of `Patch` objects.
        n: Number of points.

    Returns:
        A tuple (points float64 (n, 3), patch_index int64 (n,)).

    Raises:
        ValueError: If the patches have no area.
    """
    areas = np.array([p.area for p in patches], dtype=np.float64)
    total = areas.sum()
    if not patches or not total > 0:
        raise ValueError("sample_patches: the patches have no area to sample")
    counts = rng.multinomial(n, areas / total)
    points = np.concatenate([p.sample(rng, k) for p, k in zip(patches, counts)])
    index = np.repeat(np.arange(len(patches)), counts)
    order = rng.permutation(n)
    return points[order], index[order]


def normalize_to_unit_sphere(points):
    """Centres points on their centroid and scales the farthest to norm 1.

    Args:
        points: (n, 3) array.

    Returns:
        The normalised float64 array.
    """
    centred = points - points.mean(axis=0)
    scale = np.linalg.norm(centred, axis=1).max()
    return centred / (scale if scale > 0 else 1.0)


# --- random draws shared by the generators ------------------------------------------------

TWO_PI = 2.0 * math.pi


def uniform(rng, low, high):
    """One float drawn uniformly from [low, high)."""
    return float(rng.uniform(low, high))


def balanced_labels(rng, n, num_classes):
    """`n` labels, each class equally often (up to one), in random order."""
    return rng.permutation(np.arange(n) % num_classes)


def finish_cloud(rng, points, noise):
    """Scales a cloud into the unit sphere, adds Gaussian noise of sigma `noise`, rescales; float32."""
    points = normalize_to_unit_sphere(points)
    points = points + rng.normal(0.0, noise, points.shape)
    return normalize_to_unit_sphere(points).astype(np.float32)
