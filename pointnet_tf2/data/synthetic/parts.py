"""The built-in part segmentation dataset: 6 categories of labelled parts in the ShapeNet part layout.

Categories (`PART_CATEGORIES`: airplane, chair, lamp, mug, rocket, table)
carry the ShapeNet category names and synset ids; overall part ids are
numbered by category in order like ShapeNet's; some parts are optional
(engines, arms, table supports), so they are sometimes absent, as in the
real data.
"""

import math

import numpy as np

from pointnet_tf2.data.datasets.shapenet_part import write_shapenet_part_layout
from pointnet_tf2.data.description import PART_LABELS
from pointnet_tf2.data.synthetic import shapes
from pointnet_tf2.data.synthetic.shapes import TWO_PI as _TWO_PI
from pointnet_tf2.data.synthetic.shapes import balanced_labels as _balanced_labels
from pointnet_tf2.data.synthetic.shapes import finish_cloud as _finish_cloud
from pointnet_tf2.data.synthetic.shapes import uniform as _u

LABELS = PART_LABELS
LAYOUT = "shapenet_part"
SPLITS = ("train", "val", "test")
DEFAULT_SIZES = {"num_train": 480, "num_val": 60, "num_test": 120, "num_points": 2048}
LIST_FILES = ("train_hdf5_file_list.txt", "val_hdf5_file_list.txt", "test_hdf5_file_list.txt",
              "all_object_categories.txt", "overallid_to_catid_partid.json",
              "catid_partid_to_overallid.json", "part_color_mapping.json")  # fmt: skip
# Seed stream of this generator (changing it changes the data).
STREAM = 1

_PART_NOISE = 0.005
_PART_MAX_YAW = 0.25


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


def _split_rng(config, split):
    return np.random.default_rng([config["seed"], STREAM, split])


def generate(folder, config, list_name):
    """Writes the dataset of `config` (see `resolve_sizes`) into `folder`; returns its `synthetic.json` entries."""
    splits = {
        split: _part_split(_split_rng(config, k), config[f"num_{split}"], config["num_points"])
        for k, split in enumerate(("train", "val", "test"))
    }
    offsets = part_category_offsets()
    write_shapenet_part_layout(
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
