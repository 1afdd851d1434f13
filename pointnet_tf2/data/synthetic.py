"""Built-in procedural datasets, written in the original HDF5 layouts.

Three seeded generators, numpy only, a few seconds at the default sizes:

- `cls` (ModelNet40 layout): 12 shape classes (`CLS_CLASS_NAMES`) sampled
  uniformly by area from procedural surfaces with random size, aspect and pose
  (any rotation about the up axis y, tilt up to 20 degrees), centred and scaled
  into the unit sphere, with small noise. Confusable pairs (sphere / mild
  ellipsoid, cylinder / capsule / tube, cone / frustum, pyramid / octahedron)
  keep it from being trivial.
- `part_seg` (ShapeNet part layout): 6 categories made of labelled parts
  (`PART_CATEGORIES`: airplane, chair, lamp, mug, rocket, table), with the
  ShapeNet category names and synset ids; overall part ids are numbered by
  category in order like ShapeNet's; some parts are optional (engines, arms,
  table supports), so they are sometimes absent, as in the real data.
- `sem_seg` (S3DIS layout): rooms with ceiling, floor, walls and the other 10
  S3DIS classes (beam, column, window, door, table, chair, sofa, bookcase,
  board, clutter), coloured per class with noise, cut into 1 m x 1 m columns
  with a 0.5 m stride like the original; 9 features per point (block-centred
  XYZ, RGB in [0, 1], room-normalised XYZ), z up, cut, sampled and computed
  by the S3DIS converter's own functions (`pointnet_tf2.data.raw.s3dis.room_blocks`,
  `block_features`), so they match converted data. Training rooms are spread
  over Areas 1-5 and test rooms are in Area 6, so the default test area works.

`builtin_dataset` generates one of them once into the cache and returns its
folder: the training scripts use it when no data is given.
"""

import hashlib
import json
import math
import os
import shutil

import numpy as np

from pointnet_tf2.data import shapes
from pointnet_tf2.data import writers
from pointnet_tf2.data.formats import S3DIS_CLASS_NAMES
from pointnet_tf2.data.raw.s3dis import BlockOptions
from pointnet_tf2.data.raw.s3dis import room_blocks
from pointnet_tf2.utils import cache_dir

TASKS = ("cls", "part_seg", "sem_seg")

# Bump when the generated data changes, so cached built-in datasets are rebuilt.
# 2: sem_seg blocks come from the S3DIS converter's `room_blocks` (features centred
# on the sampled points' minimum + half a block, the converter's sampling).
GENERATOR_VERSION = 2

DEFAULT_SIZES = {
    "cls": {"num_train": 480, "num_val": None, "num_test": 120, "num_points": 2048},
    "part_seg": {"num_train": 480, "num_val": 60, "num_test": 120, "num_points": 2048},
    # sem_seg counts rooms: training rooms in Areas 1-5, test rooms in Area 6.
    "sem_seg": {"num_train": 10, "num_val": None, "num_test": 2, "num_points": 4096},
}

INFO_FILE = "synthetic.json"

_TASK_INDEX = {task: i for i, task in enumerate(TASKS)}
_TWO_PI = 2.0 * math.pi


def _u(rng, low, high):
    return float(rng.uniform(low, high))


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
_PART_NOISE = 0.005
_PART_MAX_YAW = 0.25


def _random_pose(rng, max_tilt):
    axis_angle = _u(rng, 0.0, _TWO_PI)
    tilt = shapes.rotation_about((math.cos(axis_angle), 0.0, math.sin(axis_angle)), _u(rng, 0.0, max_tilt))
    return tilt @ shapes.rotation_y(_u(rng, 0.0, _TWO_PI))


def _finish_cloud(rng, points, noise):
    points = shapes.normalize_to_unit_sphere(points)
    points = points + rng.normal(0.0, noise, points.shape)
    return shapes.normalize_to_unit_sphere(points).astype(np.float32)


def _balanced_labels(rng, n, num_classes):
    return rng.permutation(np.arange(n) % num_classes)


def _cls_split(rng, n, num_points):
    labels = _balanced_labels(rng, n, len(CLS_SHAPES))
    points = np.empty((n, num_points, 3), dtype=np.float32)
    for i, label in enumerate(labels):
        cloud, _ = shapes.sample_patches(rng, CLS_SHAPES[label][1](rng), num_points)
        points[i] = _finish_cloud(rng, cloud @ _random_pose(rng, _CLS_MAX_TILT).T, _CLS_NOISE)
    return points, labels


# --- part segmentation objects (local frame, y up, front towards +z) ------------------------


def _airplane(rng):
    parts = []
    length = _u(rng, 1.6, 2.2)
    radius = length * _u(rng, 0.045, 0.07)
    parts += [(shapes.ellipsoid((radius, radius * _u(rng, 0.9, 1.1), length / 2)), 0)]
    span, chord = length * _u(rng, 0.8, 1.2), length * _u(rng, 0.12, 0.2)
    thick, sweep, dihedral = length * 0.012, chord * _u(rng, 0.0, 1.5), _u(rng, -0.05, 0.12)
    wing_y, wing_z = -radius * _u(rng, 0.0, 0.6), length * _u(rng, -0.08, 0.12)
    for side in (-1.0, 1.0):
        parts += [
            (p, 1)
            for p in shapes.parallelepiped(
                (0.0, wing_y, wing_z - chord / 2),
                (side * span / 2, dihedral * span / 2, -sweep),
                (0.0, 0.0, chord),
                (0.0, thick, 0.0),
            )
        ]
    tail_chord = chord * _u(rng, 0.7, 1.1)
    tail_z = -length / 2 + length * 0.03
    fin_height = length * _u(rng, 0.12, 0.2)
    parts += [
        (p, 2)
        for p in shapes.parallelepiped(
            (-thick / 2, radius * 0.3, tail_z),
            (0.0, fin_height, -tail_chord * 0.5),
            (0.0, 0.0, tail_chord),
            (thick, 0.0, 0.0),
        )
    ]
    stab_span = span * _u(rng, 0.3, 0.45)
    for side in (-1.0, 1.0):
        parts += [
            (p, 2)
            for p in shapes.parallelepiped(
                (0.0, radius * 0.2, tail_z),
                (side * stab_span / 2, 0.0, -tail_chord * 0.4),
                (0.0, 0.0, tail_chord * 0.8),
                (0.0, thick, 0.0),
            )
        ]
    if rng.random() < 0.75:
        count = 4 if rng.random() < 0.3 else 2
        er, el = length * _u(rng, 0.03, 0.045), length * _u(rng, 0.13, 0.2)
        fractions = (0.3, 0.65) if count == 4 else (_u(rng, 0.3, 0.45),)
        to_z = shapes.rotation_x(math.pi / 2)
        for side in (-1.0, 1.0):
            for f in fractions:
                x = side * f * span / 2
                offset = (x, wing_y + dihedral * abs(x) - er * 1.3, wing_z + chord * 0.2 - sweep * f)
                engine = [shapes.frustum_side(er, er * 0.85, el, y=-el / 2), shapes.disk(er * 0.85, y=el / 2)]
                parts += [(p, 3) for p in shapes.move(engine, to_z, offset)]
    return parts


def _chair(rng):
    parts = []
    width, depth = _u(rng, 0.8, 1.1), _u(rng, 0.75, 1.0)
    seat_y, seat_t = _u(rng, 0.8, 1.05), _u(rng, 0.06, 0.12)
    parts += [(p, 1) for p in shapes.box((width, seat_t, depth), (0.0, seat_y, 0.0))]
    back_h, back_t = _u(rng, 0.7, 1.2), _u(rng, 0.06, 0.1)
    back = shapes.box((width, back_h, back_t), (0.0, back_h / 2, 0.0))
    back = shapes.move(back, shapes.rotation_x(-_u(rng, 0.0, 0.25)), (0.0, seat_y + seat_t / 2, -depth / 2 + back_t / 2))
    parts += [(p, 0) for p in back]
    leg_w, inset = _u(rng, 0.05, 0.09), _u(rng, 0.0, 0.08)
    leg_h = seat_y - seat_t / 2
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            center = (sx * (width / 2 - leg_w / 2 - inset), leg_h / 2, sz * (depth / 2 - leg_w / 2 - inset))
            parts += [(p, 2) for p in shapes.box((leg_w, leg_h, leg_w), center)]
    if rng.random() < 0.5:
        arm_w, arm_y = _u(rng, 0.06, 0.1), seat_y + _u(rng, 0.22, 0.32)
        for sx in (-1.0, 1.0):
            x = sx * (width / 2 - arm_w / 2)
            parts += [(p, 3) for p in shapes.box((arm_w, 0.05, depth * 0.85), (x, arm_y, 0.05 * depth))]
            post_h = arm_y - seat_y - seat_t / 2
            parts += [(p, 3) for p in shapes.box((arm_w * 0.7, post_h, arm_w * 0.7), (x, seat_y + seat_t / 2 + post_h / 2, depth * 0.35))]
    return parts


def _lamp(rng):
    base_r, base_h = _u(rng, 0.25, 0.45), _u(rng, 0.04, 0.12)
    top_r = base_r * _u(rng, 0.6, 1.0)
    base = [shapes.frustum_side(base_r, top_r, base_h), shapes.disk(base_r), shapes.disk(top_r, y=base_h)]
    pole_r, pole_h = _u(rng, 0.02, 0.04), _u(rng, 1.0, 1.8)
    pole = [shapes.frustum_side(pole_r, pole_r, pole_h, y=base_h)]
    shade_h, shade_bottom = _u(rng, 0.3, 0.55), _u(rng, 0.3, 0.5)
    shade_y = base_h + pole_h - shade_h * _u(rng, 0.3, 0.7)
    shade = [shapes.frustum_side(shade_bottom, shade_bottom * _u(rng, 0.35, 0.7), shade_h, y=shade_y)]
    return [(p, 0) for p in base] + [(p, 1) for p in shade] + [(p, 2) for p in pole]


def _mug(rng):
    radius, height = _u(rng, 0.4, 0.55), _u(rng, 0.8, 1.3)
    top = radius * _u(rng, 0.95, 1.1)
    wall = 0.05 * radius
    body = [
        shapes.frustum_side(radius, top, height),
        shapes.frustum_side(radius - wall, top - wall, height * 0.95, y=height * 0.05),
        shapes.disk(radius),
        shapes.disk(radius - wall, y=height * 0.05),
    ]
    ring = height * _u(rng, 0.22, 0.3)
    handle = shapes.torus(ring, _u(rng, 0.035, 0.06), arc=(-2 * math.pi / 3, 2 * math.pi / 3))
    handle = handle.moved(shapes.rotation_x(math.pi / 2), (radius + ring / 2, height * _u(rng, 0.45, 0.6), 0.0))
    return [(handle, 0)] + [(p, 1) for p in body]


def _rocket(rng):
    radius, height = _u(rng, 0.12, 0.22), _u(rng, 1.2, 1.9)
    body = [shapes.frustum_side(radius, radius, height), shapes.disk(radius)]
    nose = [shapes.frustum_side(radius, 0.0, _u(rng, 0.3, 0.6), y=height)]
    count = 3 if rng.random() < 0.5 else 4
    fin_h, fin_w = _u(rng, 0.3, 0.5), _u(rng, 0.15, 0.3)
    phase = _u(rng, 0.0, _TWO_PI)
    fin = shapes.triangle((radius, -fin_h * 0.15, 0.0), (radius + fin_w, -fin_h * 0.15, 0.0), (radius, fin_h, 0.0))
    fins = [fin.moved(shapes.rotation_y(phase + k * _TWO_PI / count)) for k in range(count)]
    return [(p, 0) for p in body] + [(p, 1) for p in fins] + [(p, 2) for p in nose]


def _table(rng):
    width, depth = _u(rng, 1.2, 2.0), _u(rng, 0.6, 1.1)
    height, top_t = _u(rng, 0.65, 0.9), _u(rng, 0.03, 0.08)
    parts = [(p, 0) for p in shapes.box((width, top_t, depth), (0.0, height - top_t / 2, 0.0))]
    leg_w, inset = _u(rng, 0.05, 0.1), _u(rng, 0.0, 0.12)
    leg_h = height - top_t
    round_legs = rng.random() < 0.4
    corners = [(sx * (width / 2 - leg_w / 2 - inset), sz * (depth / 2 - leg_w / 2 - inset)) for sx in (-1, 1) for sz in (-1, 1)]
    for x, z in corners:
        if round_legs:
            parts += [(shapes.frustum_side(leg_w / 2, leg_w / 2, leg_h).moved(offset=(x, 0.0, z)), 1)]
        else:
            parts += [(p, 1) for p in shapes.box((leg_w, leg_h, leg_w), (x, leg_h / 2, z))]
    if rng.random() < 0.6:
        inner_w, inner_d = width - 2 * (inset + leg_w), depth - 2 * (inset + leg_w)
        y = _u(rng, 0.1, 0.35)
        if rng.random() < 0.5:
            parts += [(p, 2) for p in shapes.box((inner_w, 0.03, inner_d), (0.0, y, 0.0))]
        else:
            for sz in (-1.0, 1.0):
                bar = shapes.box((inner_w, 0.04, 0.04), (0.0, y, sz * (depth / 2 - leg_w / 2 - inset)))
                parts += [(p, 2) for p in bar]
    return parts


# (name, ShapeNet synset, part names, builder); parts are numbered in order per category.
PART_CATEGORIES = (
    ("Airplane", "02691156", ("body", "wing", "tail", "engine"), _airplane),
    ("Chair", "03001627", ("back", "seat", "leg", "arm"), _chair),
    ("Lamp", "03636649", ("base", "shade", "pole"), _lamp),
    ("Mug", "03797390", ("handle", "body"), _mug),
    ("Rocket", "04099429", ("body", "fin", "nose"), _rocket),
    ("Table", "04379243", ("top", "leg", "support"), _table),
)


def part_category_offsets():
    """Returns the first overall part id of every `PART_CATEGORIES` entry (and the total).

    Returns:
        A list of len(PART_CATEGORIES) + 1 ints.
    """
    offsets = [0]
    for _, _, part_names, _ in PART_CATEGORIES:
        offsets.append(offsets[-1] + len(part_names))
    return offsets


def _part_split(rng, n, num_points):
    offsets = part_category_offsets()
    categories = _balanced_labels(rng, n, len(PART_CATEGORIES))
    points = np.empty((n, num_points, 3), dtype=np.float32)
    pids = np.empty((n, num_points), dtype=np.uint8)
    for i, cat in enumerate(categories):
        labelled = PART_CATEGORIES[cat][3](rng)
        cloud, index = shapes.sample_patches(rng, [p for p, _ in labelled], num_points)
        local = np.array([part for _, part in labelled])[index]
        cloud = cloud @ shapes.rotation_y(_u(rng, -_PART_MAX_YAW, _PART_MAX_YAW)).T
        points[i] = _finish_cloud(rng, cloud, _PART_NOISE)
        pids[i] = offsets[cat] + local
    return points, categories, pids


# --- semantic segmentation rooms -----------------------------------------------------------

_S3DIS = {name: i for i, name in enumerate(S3DIS_CLASS_NAMES)}

_CLASS_COLORS = {
    "ceiling": (0.86, 0.86, 0.83),
    "floor": (0.46, 0.42, 0.37),
    "wall": (0.76, 0.74, 0.69),
    "beam": (0.7, 0.7, 0.68),
    "column": (0.73, 0.71, 0.66),
    "window": (0.55, 0.66, 0.78),
    "door": (0.52, 0.36, 0.22),
    "table": (0.6, 0.45, 0.28),
    "chair": (0.22, 0.23, 0.3),
    "sofa": (0.42, 0.27, 0.38),
    "bookcase": (0.5, 0.43, 0.33),
    "board": (0.93, 0.93, 0.93),
    "clutter": (0.5, 0.5, 0.5),
}

# Room type -> (x size range, horizontal z size range) in metres.
_ROOM_TYPES = {
    "office": ((3.0, 5.0), (3.0, 5.0)),
    "conferenceRoom": ((4.5, 6.5), (3.5, 5.0)),
    "hallway": ((1.6, 2.4), (5.0, 8.0)),
    "storage": ((2.0, 3.5), (2.0, 3.5)),
    "pantry": ((2.5, 4.0), (2.5, 3.5)),
    "lounge": ((4.0, 6.0), (3.5, 5.0)),
}
_TEST_AREA = 6
_TRAIN_AREAS = (1, 2, 3, 4, 5)
_BLOCK_SIZE = 1.0
_BLOCK_STRIDE = 0.5
_MIN_BLOCK_POINTS = 100


class _Room:
    """Collects labelled, coloured patches of one room (y up, x/z horizontal)."""

    def __init__(self, rng, size_x, size_z, height):
        self.rng = rng
        self.size = (size_x, height, size_z)
        self.patches, self.labels, self.colors = [], [], []
        self.walls = []  # (patch index, corner, along-the-wall vector, inward normal)
        self.wall_regions = []  # (wall number, s0, s1, t0, t1, label, offset, colour)

    def color(self, name, spread=0.06):
        base = np.array(_CLASS_COLORS[name]) if name != "clutter" else self.rng.random(3)
        return np.clip(base + self.rng.normal(0.0, spread, 3), 0.0, 1.0)

    def add(self, patches, name, color=None):
        color = self.color(name) if color is None else color
        for p in patches:
            self.patches.append(p)
            self.labels.append(_S3DIS[name])
            self.colors.append(color)

    def place(self, patches, name, x, z, yaw=0.0):
        self.add(shapes.move(patches, shapes.rotation_y(yaw), (x, 0.0, z)), name)


def _room_shell(room):
    sx, h, sz = room.size
    room.add([shapes.parallelogram((0, 0, 0), (sx, 0, 0), (0, 0, sz))], "floor")
    room.add([shapes.parallelogram((0, h, 0), (sx, 0, 0), (0, 0, sz))], "ceiling")
    wall_color = room.color("wall")
    corners = [((0, 0, 0), (sx, 0, 0), (0, 0, 1)), ((sx, 0, 0), (0, 0, sz), (-1, 0, 0)),
               ((sx, 0, sz), (-sx, 0, 0), (0, 0, -1)), ((0, 0, sz), (0, 0, -sz), (1, 0, 0))]  # fmt: skip
    for corner, along, inward in corners:
        room.walls.append((len(room.patches), np.array(corner, float), np.array(along, float), np.array(inward, float)))
        room.add([shapes.parallelogram(corner, along, (0, h, 0))], "wall", wall_color)


def _wall_feature(room, name, width, bottom, top, offset, wall=None):
    wall = int(room.rng.integers(len(room.walls))) if wall is None else wall
    length = np.linalg.norm(room.walls[wall][2])
    width = min(width, length - 0.2)
    if width <= 0.2:
        return
    start = _u(room.rng, 0.1, length - width - 0.1) if length - width > 0.2 else 0.1
    room.wall_regions.append((wall, start, start + width, bottom, top, _S3DIS[name], offset, room.color(name)))


def _table_patches(rng, width, depth, height):
    top_t, leg_w = 0.04, 0.06
    parts = shapes.box((width, top_t, depth), (0.0, height - top_t / 2, 0.0))
    for sx in (-1, 1):
        for sz in (-1, 1):
            x, z = sx * (width / 2 - leg_w), sz * (depth / 2 - leg_w)
            parts += shapes.box((leg_w, height - top_t, leg_w), (x, (height - top_t) / 2, z), skip=("-y",))
    return parts


def _chair_patches(rng):
    w, seat_y = _u(rng, 0.42, 0.55), _u(rng, 0.42, 0.5)
    parts = shapes.box((w, 0.06, w), (0.0, seat_y, 0.0))
    parts += shapes.box((w, _u(rng, 0.35, 0.5), 0.05), (0.0, seat_y + 0.25, -w / 2 + 0.025))
    for sx in (-1, 1):
        for sz in (-1, 1):
            parts += shapes.box((0.04, seat_y - 0.03, 0.04), (sx * (w / 2 - 0.03), (seat_y - 0.03) / 2, sz * (w / 2 - 0.03)), skip=("-y",))
    return parts


def _clutter_patches(rng, y):
    kind = rng.integers(3)
    size = _u(rng, 0.08, 0.35)
    if kind == 0:
        h = _u(rng, 0.05, 0.3)
        return shapes.box((size, h, size * _u(rng, 0.5, 1.5)), (0.0, y + h / 2, 0.0))
    if kind == 1:
        h = _u(rng, 0.1, 0.35)
        return [shapes.frustum_side(size / 3, size / 3, h, y=y), shapes.disk(size / 3, y=y + h)]
    return [shapes.ellipsoid((size / 2, size / 2, size / 2)).moved(offset=(0.0, y + size / 2, 0.0))]


def _furnish(room, room_type):
    rng, (sx, h, sz) = room.rng, room.size
    # Doors, windows, boards: regions of the walls, relabelled after sampling.
    for _ in range(1 if rng.random() < 0.7 else 2):
        _wall_feature(room, "door", _u(rng, 0.85, 1.1), 0.0, _u(rng, 2.0, 2.2), -0.04)
    if room_type != "hallway" and rng.random() < 0.7:
        _wall_feature(room, "window", _u(rng, 1.0, 2.0), _u(rng, 0.85, 1.0), _u(rng, 1.9, 2.3), -0.06)
    if room_type in ("office", "conferenceRoom") or rng.random() < 0.15:
        _wall_feature(room, "board", _u(rng, 1.2, 2.5), _u(rng, 0.85, 1.0), _u(rng, 1.8, 2.1), 0.02)
    if rng.random() < 0.35:
        w = _u(rng, 0.3, 0.5)
        x, z = (w / 2, w / 2) if rng.random() < 0.5 else (sx - w / 2, _u(rng, w, sz - w))
        room.add(shapes.box((w, h, w), (x, h / 2, z), skip=("-y", "+y")), "column")
    if rng.random() < 0.3:
        bw, bh = _u(rng, 0.25, 0.4), _u(rng, 0.3, 0.5)
        if rng.random() < 0.5:
            room.add(shapes.box((sx, bh, bw), (sx / 2, h - bh / 2, _u(rng, 1.0, max(1.01, sz - 1.0))), skip=("+y",)), "beam")
        else:
            room.add(shapes.box((bw, bh, sz), (_u(rng, 1.0, max(1.01, sx - 1.0)), h - bh / 2, sz / 2), skip=("+y",)), "beam")

    def against_wall(width, depth):
        # A spot along a random wall: (x, z, yaw) with the object's back (-z) on the wall.
        wall = int(rng.integers(4))
        length = sx if wall in (0, 2) else sz
        s = _u(rng, width / 2 + 0.05, max(width / 2 + 0.06, length - width / 2 - 0.05))
        return [(s, depth / 2 + 0.02, 0.0), (sx - depth / 2 - 0.02, s, -math.pi / 2),
                (sx - s, sz - depth / 2 - 0.02, math.pi), (depth / 2 + 0.02, sz - s, math.pi / 2)][wall]  # fmt: skip

    tables = []
    if room_type in ("office", "conferenceRoom", "pantry", "lounge"):
        count = {"office": int(rng.integers(1, 3)), "conferenceRoom": 1, "pantry": 1, "lounge": 1}[room_type]
        for _ in range(count):
            if room_type == "conferenceRoom":
                tw, td, th = min(sx - 2.0, _u(rng, 2.2, 3.5)), _u(rng, 1.0, 1.4), 0.75
            elif room_type == "lounge":
                tw, td, th = _u(rng, 0.8, 1.2), _u(rng, 0.5, 0.7), _u(rng, 0.4, 0.5)
            else:
                tw, td, th = _u(rng, 1.2, 1.6), _u(rng, 0.6, 0.8), _u(rng, 0.72, 0.78)
            x = _u(rng, tw / 2 + 0.6, max(tw / 2 + 0.61, sx - tw / 2 - 0.6))
            z = _u(rng, td / 2 + 0.6, max(td / 2 + 0.61, sz - td / 2 - 0.6))
            room.place(_table_patches(rng, tw, td, th), "table", x, z)
            tables.append((x, z, tw, td, th))
            if room_type == "lounge":
                continue
            seats = int(rng.integers(2, 5)) if room_type != "conferenceRoom" else int(rng.integers(4, 9))
            for k in range(seats):
                side = k % 2
                along = _u(rng, -tw / 2 + 0.3, tw / 2 - 0.3)
                cz = z + (td / 2 + _u(rng, 0.2, 0.4)) * (1 if side else -1)
                room.place(_chair_patches(rng), "chair", x + along, cz, yaw=(math.pi if side else 0.0) + _u(rng, -0.4, 0.4))
    if room_type in ("lounge",) or (room_type == "office" and rng.random() < 0.25):
        w, d = _u(rng, 1.6, 2.2), _u(rng, 0.8, 0.95)
        sofa = shapes.box((w, 0.42, d), (0.0, 0.21, 0.0), skip=("-y",))
        sofa += shapes.box((w, 0.45, 0.2), (0.0, 0.42 + 0.225, -d / 2 + 0.1))
        for side in (-1, 1):
            sofa += shapes.box((0.18, 0.25, d), (side * (w / 2 - 0.09), 0.42 + 0.125, 0.0))
        room.place(sofa, "sofa", *against_wall(w, d))
    shelves = {"office": int(rng.integers(0, 3)), "storage": int(rng.integers(2, 5)), "pantry": int(rng.integers(0, 2))}
    for _ in range(shelves.get(room_type, 0)):
        w, d, bh = _u(rng, 0.8, 1.2), _u(rng, 0.3, 0.4), _u(rng, 1.6, 2.1)
        case = shapes.box((w, bh, d), (0.0, bh / 2, 0.0), skip=("-y", "+z"))
        for level in range(1, 4):
            case.append(shapes.parallelogram((-w / 2, level * bh / 4, -d / 2), (w, 0, 0), (0, 0, d)))
        room.place(case, "bookcase", *against_wall(w, d))
    for _ in range(int(rng.integers(2, 7))):
        if tables and rng.random() < 0.5:
            x, z, tw, td, th = tables[int(rng.integers(len(tables)))]
            spot = (x + _u(rng, -tw / 2 + 0.15, tw / 2 - 0.15), z + _u(rng, -td / 2 + 0.15, td / 2 - 0.15), th)
        else:
            spot = (_u(rng, 0.3, sx - 0.3), _u(rng, 0.3, sz - 0.3), 0.0)
        room.place(_clutter_patches(rng, spot[2]), "clutter", spot[0], spot[1], yaw=_u(rng, 0.0, _TWO_PI))


def _room_points(room, density):
    """Samples the room densely; returns xyz (z up, min 0), rgb, labels."""
    areas = sum(p.area for p in room.patches)
    count = math.ceil(density * areas)
    points, index = shapes.sample_patches(room.rng, room.patches, count)
    labels = np.array(room.labels, dtype=np.uint8)[index]
    colors = np.array(room.colors)[index]
    for wall, s0, s1, t0, t1, label, offset, color in room.wall_regions:
        patch, corner, along, inward = room.walls[wall]
        rel = points - corner
        s = rel @ (along / np.linalg.norm(along))
        inside = (index == patch) & (s >= s0) & (s <= s1) & (rel[:, 1] >= t0) & (rel[:, 1] <= t1)
        labels[inside] = label
        colors[inside] = color
        points[inside] += offset * inward
    colors = np.clip(colors + room.rng.normal(0.0, 0.025, colors.shape), 0.0, 1.0)
    xyz = points[:, [0, 2, 1]]  # y up -> z up, as in S3DIS
    xyz -= xyz.min(axis=0)
    return xyz, colors, labels


def _room_blocks(rng, xyz, rgb, labels, num_points):
    """Cuts a room into 1 m x 1 m columns (stride 0.5 m) of `num_points` 9-feature points, as the converter."""
    options = BlockOptions(num_points=num_points, block_size=_BLOCK_SIZE, stride=_BLOCK_STRIDE,
                           min_block_points=_MIN_BLOCK_POINTS)  # fmt: skip
    blocks, block_labels = [], []
    for chosen, features in room_blocks(xyz, rgb, rng, options, color_scale=1.0):
        blocks.append(features)
        block_labels.append(labels[chosen])
    return blocks, block_labels


def _sem_seg_rooms(seed, num_train, num_test, num_points):
    # Room plan: (area, stream, index); train rooms round-robin over Areas 1-5.
    plan = [(_TRAIN_AREAS[i % len(_TRAIN_AREAS)], 0, i) for i in range(num_train)]
    plan += [(_TEST_AREA, 1, j) for j in range(num_test)]
    plan.sort(key=lambda item: item[0])
    density = max(200.0, 1.25 * num_points / 2.0)  # floor + ceiling of a column hold ~1.25 num_points
    type_names = list(_ROOM_TYPES)
    weights = np.array([0.3, 0.15, 0.15, 0.15, 0.1, 0.15])
    counters = {}
    blocks, labels, names = [], [], []
    for area, stream, index in plan:
        rng = np.random.default_rng([seed, _TASK_INDEX["sem_seg"], stream, index])
        room_type = type_names[rng.choice(len(type_names), p=weights)]
        counters[(area, room_type)] = counters.get((area, room_type), 0) + 1
        name = f"Area_{area}_{room_type}_{counters[(area, room_type)]}"
        (x_lo, x_hi), (z_lo, z_hi) = _ROOM_TYPES[room_type]
        room = _Room(rng, _u(rng, x_lo, x_hi), _u(rng, z_lo, z_hi), _u(rng, 2.7, 3.4))
        _room_shell(room)
        _furnish(room, room_type)
        xyz, rgb, point_labels = _room_points(room, density)
        room_blocks, room_labels = _room_blocks(rng, xyz, rgb, point_labels, num_points)
        blocks += room_blocks
        labels += room_labels
        names += [name] * len(room_blocks)
    return np.stack(blocks), np.stack(labels), names


# --- generation ------------------------------------------------------------------------------


def _check_count(what, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def resolve_sizes(task, **sizes):
    """Fills in and validates the size arguments of a synthetic task.

    Args:
        task: "cls", "part_seg" or "sem_seg".
        **sizes: Any of num_train, num_val, num_test, num_points, seed (None = default).

    Returns:
        A dict with all five keys.

    Raises:
        ValueError: On an unknown task or key, or a bad value.
    """
    if task not in TASKS:
        raise ValueError(f"unknown synthetic task {task!r}; choose one of {', '.join(TASKS)}")
    unknown = set(sizes) - {"num_train", "num_val", "num_test", "num_points", "seed"}
    if unknown:
        raise ValueError(f"unknown synthetic dataset arguments {sorted(unknown)}")
    config = dict(DEFAULT_SIZES[task])
    config["seed"] = 0
    config.update({k: v for k, v in sizes.items() if v is not None})
    if task == "part_seg":
        config["num_val"] = _check_count("num_val", config["num_val"], 1)
    elif config["num_val"] is not None:
        raise ValueError(f"num_val applies to part_seg only (the {task} layout has no validation split)")
    config["num_train"] = _check_count("num_train", config["num_train"], 1)
    config["num_test"] = _check_count("num_test", config["num_test"], 1)
    config["num_points"] = _check_count("num_points", config["num_points"], 1)
    config["seed"] = _check_count("seed", config["seed"], 0)
    return config


def _split_rng(config, task, split):
    return np.random.default_rng([config["seed"], _TASK_INDEX[task], split])


def _generate_cls(folder, config, list_name):
    splits = {
        split: _cls_split(_split_rng(config, "cls", k), config[f"num_{split}"], config["num_points"])
        for k, split in enumerate(("train", "test"))
    }
    writers.write_modelnet_layout(folder, splits, CLS_CLASS_NAMES, list_prefix=f"data/{list_name}/")
    return {
        "layout": "modelnet40",
        "classes": list(CLS_CLASS_NAMES),
        "splits": {split: len(labels) for split, (_, labels) in splits.items()},
    }


def _generate_part_seg(folder, config, list_name):
    splits = {
        split: _part_split(_split_rng(config, "part_seg", k), config[f"num_{split}"], config["num_points"])
        for k, split in enumerate(("train", "val", "test"))
    }
    offsets = part_category_offsets()
    writers.write_shapenet_part_layout(
        folder,
        splits,
        [c[0] for c in PART_CATEGORIES],
        [c[1] for c in PART_CATEGORIES],
        [list(range(offsets[k], offsets[k + 1])) for k in range(len(PART_CATEGORIES))],
    )
    return {
        "layout": "shapenet_part",
        "categories": {name: list(parts) for name, _, parts, _ in PART_CATEGORIES},
        "splits": {split: len(v[1]) for split, v in splits.items()},
    }


def _generate_sem_seg(folder, config, list_name):
    blocks, labels, rooms = _sem_seg_rooms(config["seed"], config["num_train"], config["num_test"], config["num_points"])
    writers.write_s3dis_layout(folder, blocks, labels, rooms, list_prefix=f"{list_name}/")
    test = sum(1 for r in rooms if r.startswith(f"Area_{_TEST_AREA}_"))
    return {
        "layout": "s3dis",
        "classes": list(S3DIS_CLASS_NAMES),
        "rooms": len(dict.fromkeys(rooms)),
        "test_area": _TEST_AREA,
        "splits": {"train": len(rooms) - test, "test": test},
    }


_GENERATORS = {"cls": _generate_cls, "part_seg": _generate_part_seg, "sem_seg": _generate_sem_seg}


def generate_synthetic(
    task, output_dir, *, num_train=None, num_val=None, num_test=None, num_points=None, seed=0, overwrite=False
):
    """Generates a built-in procedural dataset in the matching original layout.

    `cls` writes the ModelNet40 layout, `part_seg` the ShapeNet part layout and
    `sem_seg` the S3DIS layout (see the module docstring), plus `synthetic.json`
    (the generation arguments and counts). The folder is built under a
    temporary name and renamed into place when complete. The same arguments
    always give the same data.

    Args:
        task: "cls", "part_seg" or "sem_seg".
        output_dir: Folder to create (missing or empty, or one written by pointnet-tf2 with `overwrite`).
        num_train: Training clouds (cls 480, part_seg 480), or training rooms
            for sem_seg (10, spread over Areas 1-5, about 70 blocks each).
        num_val: Validation clouds (part_seg only, default 60).
        num_test: Test clouds (cls 120, part_seg 120), or Area 6 rooms (sem_seg 2).
        num_points: Points per cloud or block (2048; sem_seg 4096).
        seed: Non-negative integer seed.
        overwrite: Replace an existing non-empty folder written by pointnet-tf2.

    Returns:
        The absolute path of the folder.

    Raises:
        ValueError: On bad arguments or an existing non-empty folder without `overwrite`.
    """
    config = resolve_sizes(
        task, num_train=num_train, num_val=num_val, num_test=num_test, num_points=num_points, seed=seed
    )
    output_dir = os.path.abspath(os.fspath(output_dir))
    with writers.staged_folder(output_dir, overwrite=overwrite) as folder:
        info = _GENERATORS[task](folder, config, os.path.basename(output_dir))
        info = {"generator": "pointnet_tf2.data.synthetic", "version": GENERATOR_VERSION, "task": task,
                **config, **info}  # fmt: skip
        with open(os.path.join(folder, INFO_FILE), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
    return output_dir


_LIST_FILES = {
    "cls": ("train_files.txt", "test_files.txt", "shape_names.txt"),
    "part_seg": ("train_hdf5_file_list.txt", "val_hdf5_file_list.txt", "test_hdf5_file_list.txt",
                 "all_object_categories.txt", "overallid_to_catid_partid.json",
                 "catid_partid_to_overallid.json", "part_color_mapping.json"),
    "sem_seg": ("all_files.txt", "room_filelist.txt"),
}  # fmt: skip


def is_complete(task, folder):
    """Tells whether `folder` holds a complete generated dataset of `task`.

    Checks `synthetic.json`, the list and metadata files, and that every shard
    named in a list file exists.

    Args:
        task: "cls", "part_seg" or "sem_seg".
        folder: The dataset folder.

    Returns:
        True if complete.
    """
    try:
        with open(os.path.join(folder, INFO_FILE), encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return False
    if info.get("task") != task or info.get("version") != GENERATOR_VERSION:
        return False
    for name in _LIST_FILES[task]:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            return False
        if name.endswith(("files.txt", "file_list.txt")):
            with open(path, encoding="utf-8") as f:
                shards = [line.strip() for line in f if line.strip()]
            if not shards or not all(os.path.isfile(os.path.join(folder, os.path.basename(s))) for s in shards):
                return False
    return True


def builtin_dataset(task, *, root=None, **sizes):
    """Returns the folder of a built-in synthetic dataset, generating it once.

    The folder is `<root>/<task>-<hash of the arguments>`, with root defaulting
    to `pointnet_tf2.utils.cache_dir("synthetic")`. A complete folder is reused;
    an incomplete one is regenerated. Generation happens in a temporary folder
    renamed into place, so an interrupted run never leaves a half dataset, and
    two processes generating at once both end up with the same folder.

    Args:
        task: "cls", "part_seg" or "sem_seg".
        root: Optional parent folder instead of the cache.
        **sizes: num_train, num_val, num_test, num_points, seed (see
            `generate_synthetic`; None or absent = default).

    Returns:
        The absolute path of the dataset folder.

    Raises:
        ValueError: On bad arguments.
    """
    config = resolve_sizes(task, **sizes)
    key = json.dumps({"task": task, "version": GENERATOR_VERSION, **config}, sort_keys=True)
    name = f"{task}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if root is None:
        root = cache_dir("synthetic")
    path = os.path.join(os.path.abspath(os.fspath(root)), name)
    if is_complete(task, path):
        return path
    if os.path.isdir(path) and os.listdir(path):
        shutil.rmtree(path)  # an incomplete or outdated copy
    try:
        generate_synthetic(task, path, **config)
    except (FileExistsError, ValueError):
        if not is_complete(task, path):  # else another process has just written it
            raise
    return path
