"""Point cloud augmentations, vectorised over the batch with numpy.

Every augmentation is a small callable object:

```python
points, labels = augmentation(points, labels)          # its own Generator
points, labels = augmentation(points, labels, rng=rng)  # a Generator you pass
```

`points` is `(B, N, C)` (or a single `(N, C)` cloud) with x, y, z in channels
0-2; `labels` is None, per-cloud `(B,)` (passed through), or per-point
`(B, N)`, which stays aligned with its points when an augmentation reorders or
drops points. Inputs are never modified in place.

Only the coordinates are moved. For 6-channel clouds (`normals="auto"`),
channels 3-5 are taken as normals and turned consistently by rotations, scales
and shears. Other channels (e.g. the RGB and room-normalised XYZ of S3DIS's 9)
are left alone. The original trained classification with a random rotation
about the up (y) axis and a clipped jitter (`default_train_augmentation`), and
did no augmentation for part or semantic segmentation, which stays the default
for those tasks.

`PointCloudSequence` passes the augmentation a Generator derived from
(sequence seed, epoch, batch index), so batches are reproducible whatever the
worker or process that computes them; an augmentation's own `seed` matters
when it is called without `rng`.
"""

import math
import numbers

import numpy as np

from pointnet_tf2.data.description import TASK_LABELS
from pointnet_tf2.task_names import CLS


class Augmentation:
    """Base class: a seeded callable `(points, labels=None, *, rng=None) -> (points, labels)`.

    Subclasses implement `apply(points, labels, rng)` on a `(B, N, C)` batch
    (already a copy they may modify) and return `(points, labels)`.

    Args:
        seed: Seed of the augmentation's own Generator (used when no `rng`
            is passed). None draws fresh entropy.
    """

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"{type(self).__name__}: seed must be a non-negative integer or None, got {seed!r}")
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def __call__(self, points, labels=None, *, rng=None):
        points = np.asarray(points)
        single = points.ndim == 2
        if single:
            points = points[None]
            labels = None if labels is None else np.asarray(labels)[None]
        if points.ndim != 3 or points.shape[-1] < 3:
            raise ValueError(
                f"{type(self).__name__}: points must have shape (B, N, C) or (N, C) with C >= 3, got {points.shape}"
            )
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape[0] != points.shape[0]:
                raise ValueError(
                    f"{type(self).__name__}: labels of shape {labels.shape} do not match points of shape {points.shape}"
                )
        if not np.issubdtype(points.dtype, np.floating):
            points = points.astype(np.float32)
        points, labels = self.apply(points.copy(), labels, self._rng if rng is None else rng)
        if single:
            points = points[0]
            labels = None if labels is None else labels[0]
        return points, labels

    def apply(self, points, labels, rng):
        """Transforms a `(B, N, C)` batch; see the class docstring."""
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._repr_args().items())
        return f"{type(self).__name__}({args})"

    def _repr_args(self):
        return {"seed": self.seed}


def _per_point(labels, points):
    """True if `labels` holds one label per point of `points`."""
    return labels is not None and labels.ndim >= 2 and labels.shape[:2] == points.shape[:2]


def _normal_slice(points, normals):
    channels = points.shape[-1]
    if normals == "auto":
        return slice(3, 6) if channels == 6 else None
    if normals is True:
        if channels < 6:
            raise ValueError(f"normals=True needs at least 6 channels, got points of shape {points.shape}")
        return slice(3, 6)
    if normals is False or normals is None:
        return None
    raise ValueError(f"normals must be 'auto', True or False, got {normals!r}")


def _check_normals(normals):
    if normals not in ("auto", True, False):
        raise ValueError(f"normals must be 'auto', True or False, got {normals!r}")
    return normals


def _transform(points, matrices, normals, *, normal_matrices=None):
    """Row vectors times per-cloud 3x3 matrices: xyz @ M, normals @ inv(M)^T (renormalised)."""
    matrices = matrices.astype(points.dtype, copy=False)
    points[..., 0:3] = np.matmul(points[..., 0:3], matrices)
    where = _normal_slice(points, normals)
    if where is not None:
        if normal_matrices is None:
            normal_matrices = matrices
        normal_matrices = normal_matrices.astype(points.dtype, copy=False)
        turned = np.matmul(points[..., where], normal_matrices)
        norms = np.linalg.norm(turned, axis=-1, keepdims=True)
        original = np.linalg.norm(points[..., where], axis=-1, keepdims=True)
        points[..., where] = np.where(norms > 0, turned * (original / np.maximum(norms, 1e-12)), turned)
    return points


def up_rotation_matrices(angles, axis=1):
    """Rotation matrices about a coordinate axis, for row vectors (`points @ R`).

    For `axis=1` (y, the up axis of ModelNet40) this is the original's
    `[[c, 0, s], [0, 1, 0], [-s, 0, c]]`.

    Args:
        angles: Angles in radians, any shape `S`.
        axis: 0 (x), 1 (y) or 2 (z).

    Returns:
        float64 array of shape `S + (3, 3)`.
    """
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    angles = np.asarray(angles, np.float64)
    p, q = [(1, 2), (0, 2), (0, 1)][axis]
    c, s = np.cos(angles), np.sin(angles)
    matrices = np.zeros(angles.shape + (3, 3))
    matrices[..., axis, axis] = 1.0
    matrices[..., p, p] = c
    matrices[..., q, q] = c
    matrices[..., p, q] = s
    matrices[..., q, p] = -s
    return matrices


def rotate_up(points, angle, *, axis=1, normals="auto"):
    """Rotates clouds about the up axis by given angles (used by evaluation voting).

    The original's voting rotates every test cloud by `2 * pi * v / num_votes`
    for vote `v`; `rotate_up(points, 2 * np.pi * v / num_votes)` does the same.

    Args:
        points: `(B, N, C)` or `(N, C)` clouds.
        angle: An angle in radians, or one per cloud (shape `(B,)`).
        axis: The up axis (1 = y as in ModelNet40, 2 = z as in S3DIS).
        normals: 'auto' (channels 3-5 of 6-channel clouds are normals), True
            or False.

    Returns:
        The rotated clouds (a new array of the input's float dtype).
    """
    points = np.asarray(points)
    single = points.ndim == 2
    batch = points[None] if single else points
    if batch.ndim != 3 or batch.shape[-1] < 3:
        raise ValueError(f"rotate_up: points must have shape (B, N, C) or (N, C) with C >= 3, got {points.shape}")
    if not np.issubdtype(batch.dtype, np.floating):
        batch = batch.astype(np.float32)
    angle = np.broadcast_to(np.asarray(angle, np.float64), (batch.shape[0],))
    out = _transform(batch.copy(), up_rotation_matrices(angle, axis), _check_normals(normals))
    return out[0] if single else out


class RotateUp(Augmentation):
    """Random rotation of each cloud about the up axis (the original's augmentation).

    Args:
        axis: Up axis: 1 (y, ModelNet40 and ShapeNet part) or 2 (z, S3DIS).
        max_angle: Angles are uniform in `[0, max_angle)`; 2*pi turns freely.
        normals: 'auto', True or False (see the module docstring).
        seed: Seed of the own Generator.
    """

    def __init__(self, axis=1, max_angle=2 * math.pi, *, normals="auto", seed=None):
        super().__init__(seed)
        if axis not in (0, 1, 2):
            raise ValueError(f"RotateUp: axis must be 0, 1 or 2, got {axis!r}")
        if not isinstance(max_angle, numbers.Real) or max_angle < 0:
            raise ValueError(f"RotateUp: max_angle must be a number >= 0, got {max_angle!r}")
        self.axis, self.max_angle, self.normals = axis, float(max_angle), _check_normals(normals)

    def apply(self, points, labels, rng):
        angles = rng.uniform(0.0, self.max_angle, size=points.shape[0])
        return _transform(points, up_rotation_matrices(angles, self.axis), self.normals), labels

    def _repr_args(self):
        return {"axis": self.axis, "max_angle": self.max_angle, "normals": self.normals, "seed": self.seed}


def random_rotation_matrices(count, rng):
    """Rotation matrices uniform over SO(3), from normalised Gaussian quaternions.

    Args:
        count: Number of matrices.
        rng: A numpy Generator.

    Returns:
        float64 array `(count, 3, 3)`.
    """
    q = rng.standard_normal((count, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


class RotateSO3(Augmentation):
    """Random rotation of each cloud, uniform over all 3-D rotations.

    Args:
        normals: 'auto', True or False.
        seed: Seed of the own Generator.
    """

    def __init__(self, *, normals="auto", seed=None):
        super().__init__(seed)
        self.normals = _check_normals(normals)

    def apply(self, points, labels, rng):
        return _transform(points, random_rotation_matrices(points.shape[0], rng), self.normals), labels

    def _repr_args(self):
        return {"normals": self.normals, "seed": self.seed}


def perturbation_matrices(angles):
    """`R = Rz Ry Rx` for per-cloud angles about x, y and z (the original's
    `rotate_perturbation_point_cloud`), for row vectors (`points @ R`).

    Args:
        angles: `(B, 3)` angles in radians about x, y and z.

    Returns:
        float64 array `(B, 3, 3)`.
    """
    angles = np.asarray(angles, np.float64)
    c, s = np.cos(angles), np.sin(angles)
    count = angles.shape[0]
    rx, ry, rz = (np.tile(np.eye(3), (count, 1, 1)) for _ in range(3))
    rx[:, 1, 1], rx[:, 1, 2], rx[:, 2, 1], rx[:, 2, 2] = c[:, 0], -s[:, 0], s[:, 0], c[:, 0]
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 2, 0], ry[:, 2, 2] = c[:, 1], s[:, 1], -s[:, 1], c[:, 1]
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1] = c[:, 2], -s[:, 2], s[:, 2], c[:, 2]
    return rz @ ry @ rx


class RotatePerturbation(Augmentation):
    """A small random rotation of each cloud about x, y and z (PointNet++'s `rotate_perturbation_point_cloud`).

    Per cloud, three angles drawn from N(0, sigma) and clipped to
    `[-clip, clip]` give `R = Rz Ry Rx`; XYZ (and normals, as the original's
    `_with_normal` variant) become `points @ R`.

    Args:
        sigma: Standard deviation of the angles, in radians (the original: 0.06).
        clip: Angles are clipped to `[-clip, clip]` (the original: 0.18).
        normals: 'auto', True or False (see the module docstring).
        seed: Seed of the own Generator.
    """

    def __init__(self, sigma=0.06, clip=0.18, *, normals="auto", seed=None):
        super().__init__(seed)
        if not isinstance(sigma, numbers.Real) or sigma < 0:
            raise ValueError(f"RotatePerturbation: sigma must be a number >= 0, got {sigma!r}")
        if not isinstance(clip, numbers.Real) or clip <= 0:
            raise ValueError(f"RotatePerturbation: clip must be a number > 0, got {clip!r}")
        self.sigma, self.clip, self.normals = float(sigma), float(clip), _check_normals(normals)

    def apply(self, points, labels, rng):
        angles = np.clip(self.sigma * rng.standard_normal((points.shape[0], 3)), -self.clip, self.clip)
        return _transform(points, perturbation_matrices(angles), self.normals), labels

    def _repr_args(self):
        return {"sigma": self.sigma, "clip": self.clip, "normals": self.normals, "seed": self.seed}


class Jitter(Augmentation):
    """Adds clipped Gaussian noise to every coordinate (the original: sigma 0.01, clip 0.05).

    Args:
        sigma: Standard deviation of the noise.
        clip: Noise is clipped to `[-clip, clip]`.
        seed: Seed of the own Generator.
    """

    def __init__(self, sigma=0.01, clip=0.05, *, seed=None):
        super().__init__(seed)
        if not isinstance(sigma, numbers.Real) or sigma < 0:
            raise ValueError(f"Jitter: sigma must be a number >= 0, got {sigma!r}")
        if not isinstance(clip, numbers.Real) or clip <= 0:
            raise ValueError(f"Jitter: clip must be a number > 0, got {clip!r}")
        self.sigma, self.clip = float(sigma), float(clip)

    def apply(self, points, labels, rng):
        noise = rng.standard_normal(points.shape[:2] + (3,), dtype=np.float32) * np.float32(self.sigma)
        np.clip(noise, -self.clip, self.clip, out=noise)
        points[..., 0:3] += noise.astype(points.dtype, copy=False)
        return points, labels

    def _repr_args(self):
        return {"sigma": self.sigma, "clip": self.clip, "seed": self.seed}


class Scale(Augmentation):
    """Random scale of each cloud, per axis (anisotropic) or uniform.

    Args:
        low: Smallest scale factor (> 0).
        high: Largest scale factor.
        anisotropic: Draw a factor per axis (True) or one per cloud.
        normals: 'auto', True or False; normals are turned by the inverse
            scale and keep their length.
        seed: Seed of the own Generator.
    """

    def __init__(self, low=0.8, high=1.25, *, anisotropic=True, normals="auto", seed=None):
        super().__init__(seed)
        if not (isinstance(low, numbers.Real) and isinstance(high, numbers.Real) and 0 < low <= high):
            raise ValueError(f"Scale: need 0 < low <= high, got low={low!r}, high={high!r}")
        self.low, self.high, self.anisotropic = float(low), float(high), bool(anisotropic)
        self.normals = _check_normals(normals)

    def apply(self, points, labels, rng):
        count = points.shape[0]
        factors = rng.uniform(self.low, self.high, size=(count, 3 if self.anisotropic else 1))
        factors = np.broadcast_to(factors, (count, 3))
        matrices = np.zeros((count, 3, 3))
        inverse = np.zeros((count, 3, 3))
        for i in range(3):
            matrices[:, i, i] = factors[:, i]
            inverse[:, i, i] = 1.0 / factors[:, i]
        return _transform(points, matrices, self.normals, normal_matrices=inverse), labels

    def _repr_args(self):
        return {"low": self.low, "high": self.high, "anisotropic": self.anisotropic, "seed": self.seed}


class Translate(Augmentation):
    """Random shift of each cloud, uniform in `[-shift, shift]` per axis.

    Args:
        shift: Largest shift per axis (>= 0).
        seed: Seed of the own Generator.
    """

    def __init__(self, shift=0.2, *, seed=None):
        super().__init__(seed)
        if not isinstance(shift, numbers.Real) or shift < 0:
            raise ValueError(f"Translate: shift must be a number >= 0, got {shift!r}")
        self.shift = float(shift)

    def apply(self, points, labels, rng):
        offsets = rng.uniform(-self.shift, self.shift, size=(points.shape[0], 1, 3))
        points[..., 0:3] += offsets.astype(points.dtype)
        return points, labels

    def _repr_args(self):
        return {"shift": self.shift, "seed": self.seed}


class Shear(Augmentation):
    """Random shear: coordinates times `I + E`, off-diagonal `E` uniform in `[-amount, amount]`.

    Args:
        amount: Largest off-diagonal entry (>= 0, < 0.5 keeps the matrix invertible).
        normals: 'auto', True or False; normals are turned by the inverse
            transpose and keep their length.
        seed: Seed of the own Generator.
    """

    def __init__(self, amount=0.2, *, normals="auto", seed=None):
        super().__init__(seed)
        if not isinstance(amount, numbers.Real) or not 0 <= amount < 0.5:
            raise ValueError(f"Shear: amount must be a number in [0, 0.5), got {amount!r}")
        self.amount, self.normals = float(amount), _check_normals(normals)

    def apply(self, points, labels, rng):
        count = points.shape[0]
        matrices = np.tile(np.eye(3), (count, 1, 1))
        off = ~np.eye(3, dtype=bool)
        matrices[:, off] += rng.uniform(-self.amount, self.amount, size=(count, 6))
        inverse_t = None
        if _normal_slice(points, self.normals) is not None:
            inverse_t = np.transpose(np.linalg.inv(matrices), (0, 2, 1))
        return _transform(points, matrices, self.normals, normal_matrices=inverse_t), labels

    def _repr_args(self):
        return {"amount": self.amount, "normals": self.normals, "seed": self.seed}


class PointDropout(Augmentation):
    """Randomly drops points, keeping the shape: dropped points (and their labels)
    become copies of the cloud's first point.

    Each cloud draws a drop ratio uniform in `[0, max_ratio]`, then drops every
    point with that probability.

    Args:
        max_ratio: Largest drop ratio, in [0, 1).
        seed: Seed of the own Generator.
    """

    def __init__(self, max_ratio=0.875, *, seed=None):
        super().__init__(seed)
        if not isinstance(max_ratio, numbers.Real) or not 0 <= max_ratio < 1:
            raise ValueError(f"PointDropout: max_ratio must be a number in [0, 1), got {max_ratio!r}")
        self.max_ratio = float(max_ratio)

    def apply(self, points, labels, rng):
        count, num_points = points.shape[:2]
        ratios = rng.uniform(0.0, self.max_ratio, size=(count, 1))
        dropped = rng.random((count, num_points)) < ratios
        dropped[:, 0] = False
        batch, point = np.nonzero(dropped)
        points[batch, point] = points[batch, 0]
        if _per_point(labels, points):
            labels = labels.copy()
            labels[batch, point] = labels[batch, 0]
        return points, labels

    def _repr_args(self):
        return {"max_ratio": self.max_ratio, "seed": self.seed}


class ShufflePoints(Augmentation):
    """Shuffles the order of the points of each cloud (labels follow their points).

    Args:
        seed: Seed of the own Generator.
    """

    def apply(self, points, labels, rng):
        order = np.argsort(rng.random(points.shape[:2]), axis=1)
        points = np.take_along_axis(points, order[..., None], axis=1)
        if _per_point(labels, points):
            labels = np.take_along_axis(labels, order.reshape(order.shape + (1,) * (labels.ndim - 2)), axis=1)
        return points, labels


class Compose(Augmentation):
    """Applies augmentations in order.

    With an `rng` argument every step draws from it in turn; without, each
    step uses its own Generator.

    Args:
        augmentations: A sequence of augmentations (or callables taking and
            returning `(points, labels)`).
        seed: Unused by Compose itself; kept for a uniform interface.
    """

    def __init__(self, augmentations, *, seed=None):
        super().__init__(seed)
        augmentations = list(augmentations)
        for step in augmentations:
            if not callable(step):
                raise ValueError(f"Compose: every augmentation must be callable, got {step!r}")
        self.augmentations = augmentations

    def __call__(self, points, labels=None, *, rng=None):
        for step in self.augmentations:
            points, labels = apply_augmentation(step, points, labels, rng)
        return points, labels

    def apply(self, points, labels, rng):  # pragma: no cover - __call__ is overridden
        return self(points, labels, rng=rng)

    def __len__(self):
        return len(self.augmentations)

    def _repr_args(self):
        return {"augmentations": self.augmentations}


def apply_augmentation(augmentation, points, labels, rng=None):
    """Calls an augmentation, passing `rng` only to `Augmentation` objects.

    Args:
        augmentation: An `Augmentation` or a plain callable
            `(points, labels) -> (points, labels)`.
        points: The batch.
        labels: None, per-cloud or per-point labels.
        rng: Optional Generator for `Augmentation` objects.

    Returns:
        `(points, labels)`.

    Raises:
        ValueError: If a plain callable does not return a `(points, labels)` pair.
    """
    if isinstance(augmentation, Augmentation):
        return augmentation(points, labels, rng=rng)
    result = augmentation(points, labels)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ValueError(f"augmentation {augmentation!r} must return a (points, labels) pair, got {type(result).__name__}")
    return result


def default_train_augmentation(seed=None, *, task=CLS, up_axis=1):
    """The original's training augmentation for a task.

    Classification (one label per cloud): a random rotation about the up
    axis, then jitter with sigma 0.01 clipped to 0.05. Part and semantic
    segmentation (labels per point): none (the original trained them
    without augmentation), an empty `Compose`.

    Args:
        seed: Seed of the augmentations' own Generators.
        task: 'cls', 'part_seg' or 'sem_seg'.
        up_axis: The up axis of the data (1 = y for ModelNet40).

    Returns:
        A `Compose`.
    """
    if task not in TASK_LABELS:
        raise ValueError(f"task must be 'cls', 'part_seg' or 'sem_seg', got {task!r}")
    if TASK_LABELS[task].per_point:
        return Compose([])
    return Compose([RotateUp(axis=up_axis, seed=seed), Jitter(0.01, 0.05, seed=None if seed is None else seed + 1)])


# -- augmentations named as data (model recipes, config.json) ------------------------------------

# The augmentations a recipe may name, by class name.
STEP_CLASSES = {cls.__name__: cls for cls in (RotateUp, RotateSO3, RotatePerturbation, Jitter, Scale, Translate,
                                              Shear, PointDropout, ShufflePoints)}
# The steps `--train_rotation` replaces: a rotation about the up axis ('z') or over SO(3).
ROTATION_STEPS = {"RotateUp": "z", "RotateSO3": "so3"}
# The original PointNet's training augmentation of classifiers (rotation about the up axis, jitter).
POINTNET_CLS_STEPS = (("RotateUp", {}), ("Jitter", {"sigma": 0.01, "clip": 0.05}))


def augmentation_from_steps(steps, *, up_axis=1, seed=None):
    """Builds a `Compose` from `(class name, keyword arguments)` steps.

    A `RotateUp` step without `axis` turns about `up_axis` (the data's).

    Args:
        steps: A sequence of `(name, kwargs)` pairs (lists too, as read
            from JSON); names are keys of `STEP_CLASSES`.
        up_axis: The data's up axis (0, 1 or 2).
        seed: Seed of the steps' own Generators (step i gets `seed + i`).

    Returns:
        A `Compose`.

    Raises:
        ValueError: On an unknown name, a malformed step or a bad argument.
    """
    built = []
    for i, step in enumerate(steps):
        if not (isinstance(step, (list, tuple)) and len(step) == 2 and isinstance(step[1], dict)):
            raise ValueError(f"augmentation step must be (name, kwargs), got {step!r}")
        name, kwargs = step
        if name not in STEP_CLASSES:
            raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(sorted(STEP_CLASSES))}")
        kwargs = dict(kwargs)
        if name == "RotateUp":
            kwargs.setdefault("axis", up_axis)
        try:
            built.append(STEP_CLASSES[name](**kwargs, seed=None if seed is None else seed + i))
        except TypeError as error:
            raise ValueError(f"augmentation {name}: {error}") from None
    return Compose(built)


def with_train_rotation(steps, kind):
    """Steps with their rotation part set by `--train_rotation kind`.

    The rotation steps (`ROTATION_STEPS`) are removed; 'z' puts back a
    rotation about the up axis (the steps' own `RotateUp` if they had one),
    'so3' a uniform one, where the first rotation was (else first).

    Args:
        steps: `(name, kwargs)` steps.
        kind: 'none', 'z' or 'so3'.

    Returns:
        A list of `[name, kwargs]` steps.
    """
    check_rotation(kind, "--train_rotation")
    steps = [[name, dict(kwargs)] for name, kwargs in steps]
    where = next((i for i, (name, _) in enumerate(steps) if name in ROTATION_STEPS), 0)
    own = next((step for step in steps if ROTATION_STEPS.get(step[0]) == kind), None)
    kept = [step for step in steps if step[0] not in ROTATION_STEPS]
    if kind != "none":
        kept.insert(where, own or [{"z": "RotateUp", "so3": "RotateSO3"}[kind], {}])
    return kept


def steps_rotation(steps):
    """The `--train_rotation` kind of steps: 'z', 'so3' or 'none' (the first rotation step's)."""
    return next((ROTATION_STEPS[name] for name, _ in steps if name in ROTATION_STEPS), "none")


# -- rotation protocols' samplers (see `pointnet_tf2.rotations`) -------------------------------

# Kinds of random rotation: none, about the up axis ('z' in the papers), uniform over SO(3).
ROTATIONS = ("none", "z", "so3")


def check_rotation(kind, what="rotation"):
    """Returns `kind` if it is one of `ROTATIONS`, else raises ValueError."""
    if kind not in ROTATIONS:
        raise ValueError(f"{what} must be one of {', '.join(ROTATIONS)}, got {kind!r}")
    return kind


def rotation_augmentation(kind, *, up_axis=1, seed=None):
    """The augmentation applying random rotations of a kind, or None for 'none'.

    Args:
        kind: 'none', 'z' or 'so3'.
        up_axis: The dataset's up axis (the axis of 'z' rotations).
        seed: Seed of the augmentation's own Generator.

    Returns:
        A `RotateUp`, a `RotateSO3` or None.
    """
    check_rotation(kind)
    if kind == "z":
        return RotateUp(axis=up_axis, seed=seed)
    if kind == "so3":
        return RotateSO3(seed=seed)
    return None


def train_augmentation(kind, *, task=CLS, up_axis=1, seed=None):
    """The training augmentation for `--train_rotation kind`.

    'z' is the original's augmentation (rotation about the up axis + jitter);
    'so3' replaces the rotation by a uniform SO(3) one (jitter kept); 'none'
    keeps only the jitter.

    Returns:
        A `Compose`.
    """
    check_rotation(kind, "--train_rotation")
    if task not in TASK_LABELS or TASK_LABELS[task].per_point:
        raise ValueError(f"--train_rotation is for classification, not {task!r}")
    if kind == "z":
        return default_train_augmentation(seed, task=task, up_axis=up_axis)
    jitter = Jitter(0.01, 0.05, seed=None if seed is None else seed + 1)
    steps = [rotation_augmentation(kind, up_axis=up_axis, seed=seed), jitter] if kind == "so3" else [jitter]
    return Compose(steps)
