"""The built-in semantic segmentation dataset: furnished rooms in the S3DIS layout.

Rooms with ceiling, floor, walls and the other 10 S3DIS classes (beam,
column, window, door, table, chair, sofa, bookcase, board, clutter),
coloured per class with noise, cut into 1 m x 1 m columns with a 0.5 m
stride like the original; 9 features per point (block-centred XYZ, RGB in
[0, 1], room-normalised XYZ), z up, cut, sampled and computed by the S3DIS
converter's own functions (`pointnet_tf2.data.datasets.s3dis.room_blocks`,
`block_features`), so they match converted data. Training rooms are spread
over Areas 1-5 and test rooms are in Area 6, so the default test area works.
"""

import math

import numpy as np

from pointnet_tf2.data.datasets.s3dis import BlockOptions
from pointnet_tf2.data.datasets.s3dis import S3DIS_CLASS_NAMES
from pointnet_tf2.data.datasets.s3dis import room_blocks
from pointnet_tf2.data.datasets.s3dis import write_s3dis_layout
from pointnet_tf2.data.description import POINT_LABELS
from pointnet_tf2.data.synthetic import shapes
from pointnet_tf2.data.synthetic.shapes import TWO_PI as _TWO_PI
from pointnet_tf2.data.synthetic.shapes import uniform as _u

LABELS = POINT_LABELS
LAYOUT = "s3dis"
SPLITS = ("train", "test")
# Counts are rooms: training rooms in Areas 1-5, test rooms in Area 6.
DEFAULT_SIZES = {"num_train": 10, "num_val": None, "num_test": 2, "num_points": 4096}
LIST_FILES = ("all_files.txt", "room_filelist.txt")
# Seed stream of this generator (changing it changes the data).
STREAM = 2


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
        rng = np.random.default_rng([seed, STREAM, stream, index])
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


def generate(folder, config, list_name):
    """Writes the dataset of `config` (see `resolve_sizes`) into `folder`; returns its `synthetic.json` entries."""
    blocks, labels, rooms = _sem_seg_rooms(config["seed"], config["num_train"], config["num_test"], config["num_points"])
    write_s3dis_layout(folder, blocks, labels, rooms, list_prefix=f"{list_name}/")
    test = sum(1 for r in rooms if r.startswith(f"Area_{_TEST_AREA}_"))
    return {
        "layout": "s3dis",
        "classes": list(S3DIS_CLASS_NAMES),
        "rooms": len(dict.fromkeys(rooms)),
        "test_area": _TEST_AREA,
        "splits": {"train": len(rooms) - test, "test": test},
    }
