"""The built-in classification dataset: 12 procedural shape classes in the ModelNet40 layout.

Shapes (`CLS_CLASS_NAMES`) are sampled uniformly by area from procedural
surfaces (`pointnet_tf2.data.synthetic.shapes`) with random size, aspect and
pose (any rotation about the up axis y, tilt up to 20 degrees), centred and
scaled into the unit sphere, with small noise. Confusable pairs (sphere /
mild ellipsoid, cylinder / capsule / tube, cone / frustum, pyramid /
octahedron) keep it from being trivial.
"""

import math

import numpy as np

from pointnet_tf2.data.datasets.modelnet40 import write_modelnet_layout
from pointnet_tf2.data.description import CLOUD_LABELS
from pointnet_tf2.data.synthetic import shapes
from pointnet_tf2.data.synthetic.shapes import TWO_PI as _TWO_PI
from pointnet_tf2.data.synthetic.shapes import balanced_labels as _balanced_labels
from pointnet_tf2.data.synthetic.shapes import finish_cloud as _finish_cloud
from pointnet_tf2.data.synthetic.shapes import uniform as _u

LABELS = CLOUD_LABELS
LAYOUT = "modelnet40"
SPLITS = ("train", "test")
DEFAULT_SIZES = {"num_train": 480, "num_val": None, "num_test": 120, "num_points": 2048}
LIST_FILES = ("train_files.txt", "test_files.txt", "shape_names.txt")
# Seed stream of this generator (changing it changes the data).
STREAM = 0


# --- classification shapes (local frame, y up) -------------------------------------------


def _sphere(rng):
    return [shapes.ellipsoid((1.0, 1.0, 1.0))]


def _ellipsoid(rng):
    # Up to 0.95: the mildest ellipsoids are hard to tell from spheres, on purpose.
    radii = rng.permutation([1.0, _u(rng, 0.6, 0.95), _u(rng, 0.6, 1.0)])
    return [shapes.ellipsoid(radii)]


def _box(rng):
    return shapes.box([_u(rng, 0.35, 1.0) for _ in range(3)])


def _cylinder(rng):
    r, h = _u(rng, 0.25, 0.6), _u(rng, 0.5, 1.8)
    return [shapes.frustum_side(r, r, h, y=-h / 2), shapes.disk(r, y=-h / 2), shapes.disk(r, y=h / 2)]


def _capsule(rng):
    r, h = _u(rng, 0.25, 0.5), _u(rng, 0.3, 1.4)
    return [
        shapes.frustum_side(r, r, h, y=-h / 2),
        shapes.ellipsoid((r, r, r), half="upper").moved(offset=(0.0, h / 2, 0.0)),
        shapes.ellipsoid((r, r, r), half="lower").moved(offset=(0.0, -h / 2, 0.0)),
    ]


def _cone(rng):
    r, h = _u(rng, 0.3, 0.7), _u(rng, 0.6, 1.6)
    return [shapes.frustum_side(r, 0.0, h, y=-h / 2), shapes.disk(r, y=-h / 2)]


def _frustum(rng):
    r0, h = _u(rng, 0.35, 0.7), _u(rng, 0.5, 1.4)
    r1 = r0 * _u(rng, 0.3, 0.75)
    return [shapes.frustum_side(r0, r1, h, y=-h / 2), shapes.disk(r0, y=-h / 2), shapes.disk(r1, y=h / 2)]


def _pyramid(rng):
    w, d, h = _u(rng, 0.6, 1.2), _u(rng, 0.6, 1.2), _u(rng, 0.5, 1.4)
    corners = [np.array(c) for c in ((-w / 2, 0, -d / 2), (w / 2, 0, -d / 2), (w / 2, 0, d / 2), (-w / 2, 0, d / 2))]
    apex = np.array([0.0, h, 0.0])
    sides = [shapes.triangle(corners[i], corners[(i + 1) % 4], apex) for i in range(4)]
    return [shapes.parallelogram(corners[0], corners[1] - corners[0], corners[3] - corners[0])] + sides


def _octahedron(rng):
    a, b, c = _u(rng, 0.6, 1.0), _u(rng, 0.6, 1.2), _u(rng, 0.6, 1.0)
    ring = [np.array(p) for p in ((a, 0, 0), (0, 0, c), (-a, 0, 0), (0, 0, -c))]
    tips = [np.array((0.0, b, 0.0)), np.array((0.0, -b, 0.0))]
    return [shapes.triangle(ring[i], ring[(i + 1) % 4], tip) for tip in tips for i in range(4)]


def _torus(rng):
    return [shapes.torus(1.0, _u(rng, 0.15, 0.45))]


def _tube(rng):
    r, h = _u(rng, 0.25, 0.6), _u(rng, 0.5, 1.8)
    return [shapes.frustum_side(r, r, h, y=-h / 2)]


def _bowl(rng):
    return [shapes.ellipsoid((1.0, _u(rng, 0.45, 1.0), _u(rng, 0.85, 1.0)), half="lower")]


# (name, builder) in label order; shape_names.txt lists the names.
CLS_SHAPES = (
    ("sphere", _sphere),
    ("ellipsoid", _ellipsoid),
    ("box", _box),
    ("cylinder", _cylinder),
    ("capsule", _capsule),
    ("cone", _cone),
    ("frustum", _frustum),
    ("pyramid", _pyramid),
    ("octahedron", _octahedron),
    ("torus", _torus),
    ("tube", _tube),
    ("bowl", _bowl),
)


CLS_CLASS_NAMES = tuple(name for name, _ in CLS_SHAPES)

_CLS_MAX_TILT = math.radians(20.0)
_CLS_NOISE = 0.01


def _random_pose(rng, max_tilt):
    axis_angle = _u(rng, 0.0, _TWO_PI)
    tilt = shapes.rotation_about((math.cos(axis_angle), 0.0, math.sin(axis_angle)), _u(rng, 0.0, max_tilt))
    return tilt @ shapes.rotation_y(_u(rng, 0.0, _TWO_PI))


def _cls_split(rng, n, num_points):
    labels = _balanced_labels(rng, n, len(CLS_SHAPES))
    points = np.empty((n, num_points, 3), dtype=np.float32)
    for i, label in enumerate(labels):
        cloud, _ = shapes.sample_patches(rng, CLS_SHAPES[label][1](rng), num_points)
        points[i] = _finish_cloud(rng, cloud @ _random_pose(rng, _CLS_MAX_TILT).T, _CLS_NOISE)
    return points, labels


def _split_rng(config, split):
    return np.random.default_rng([config["seed"], STREAM, split])


def generate(folder, config, list_name):
    """Writes the dataset of `config` (see `resolve_sizes`) into `folder`; returns its `synthetic.json` entries."""
    splits = {
        split: _cls_split(_split_rng(config, k), config[f"num_{split}"], config["num_points"])
        for k, split in enumerate(("train", "test"))
    }
    write_modelnet_layout(folder, splits, CLS_CLASS_NAMES, list_prefix=f"data/{list_name}/")
    return {
        "layout": "modelnet40",
        "classes": list(CLS_CLASS_NAMES),
        "splits": {split: len(labels) for split, (_, labels) in splits.items()},
    }
