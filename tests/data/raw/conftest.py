"""Tiny fake raw releases, written in exactly the raw layouts (including broken files).

- S3DIS: `Stanford3dDataset_v1.2_Aligned_Version/Area_N/<room>/Annotations/<class>_<k>.txt`
  (`x y z r g b` lines, coordinates with an arbitrary offset as in the release);
- ShapeNet part, classic: `<synset>/points/<id>.pts`, `<synset>/points_label/<id>.seg`,
  and the `_normal` variant `<synset>/<id>.txt` (`x y z nx ny nz overall_id`), both
  with `synsetoffset2category.txt` and `train_test_split/shuffled_*_file_list.json`;
- ModelNet40 resampled with normals: `<class>/<class>_NNNN.txt` (`x,y,z,nx,ny,nz`),
  `modelnet40_shape_names.txt`, `modelnet40_{train,test}.txt`.

Each writer returns a dict with the release folder and what the tests need to
check the conversion (the good inputs and the broken ones, by key).
"""

import json
import os

import numpy as np
import pytest

SHAPENET_CATEGORIES = (
    ("Airplane", "02691156", 4), ("Bag", "02773838", 2), ("Cap", "02954340", 2), ("Car", "02958343", 4),
    ("Chair", "03001627", 4), ("Earphone", "03261776", 3), ("Guitar", "03467517", 3), ("Knife", "03624134", 2),
    ("Lamp", "03636649", 4), ("Laptop", "03642806", 2), ("Motorbike", "03790512", 6), ("Mug", "03797390", 2),
    ("Pistol", "03948459", 3), ("Rocket", "04099429", 3), ("Skateboard", "04225943", 3), ("Table", "04379243", 3),
)  # fmt: skip


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def _lines(rows, fmt):
    return "".join(fmt % tuple(row) + "\n" for row in rows)


def edit_line(path, index, change):
    """Replaces line `index` (0-based) of a text file by `change` (a string, or a function of the old line)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    lines[index] = change(lines[index]) if callable(change) else change
    _write(path, "\n".join(lines) + "\n")


# --- S3DIS -------------------------------------------------------------------------------------


def s3dis_points(rng, count, low, high, color):
    """`count` points uniform in the box [low, high], colours around `color` (ints 0..255)."""
    xyz = rng.uniform(low, high, (count, 3))
    rgb = np.clip(np.asarray(color) + rng.integers(-10, 11, (count, 3)), 0, 255)
    return np.concatenate([xyz, rgb], axis=1)


def write_annotation(room_dir, name, points):
    """Writes `Annotations/<name>` with S3DIS's `%.3f %.3f %.3f %d %d %d` lines."""
    return _write(os.path.join(room_dir, "Annotations", name), _lines(points, "%.3f %.3f %.3f %d %d %d"))


def _s3dis_room(rng, offset, size):
    """Annotation name -> points for a small room of `size` = (x, y, z) metres at `offset`."""
    sx, sy, sz = size
    o = np.asarray(offset, dtype=np.float64)
    return {
        "floor_1.txt": s3dis_points(rng, 900, o + [0, 0, 0], o + [sx, sy, 0.02], (120, 110, 100)),
        "ceiling_1.txt": s3dis_points(rng, 700, o + [0, 0, sz - 0.02], o + [sx, sy, sz], (230, 230, 230)),
        "wall_1.txt": s3dis_points(rng, 500, o + [0, 0, 0], o + [0.03, sy, sz], (200, 190, 180)),
        "chair_1.txt": s3dis_points(rng, 300, o + [0.3, 0.2, 0], o + [0.8, 0.7, 0.9], (40, 40, 160)),
        "table_1.txt": s3dis_points(rng, 300, o + [0.9, 0.4, 0.7], o + [1.6, 1.1, 0.75], (150, 90, 40)),
        "stairs_1.txt": s3dis_points(rng, 150, o + [sx - 0.4, 0, 0], o + [sx, 0.4, 0.5], (90, 90, 90)),
    }


def write_s3dis_tree(root, *, broken=True, seed=0):
    """Writes a fake S3DIS release; returns a dict describing it.

    Good rooms: Area_1/office_1, Area_1/hallway_2, Area_1/hallway_10, Area_2/conferenceRoom_1.
    Broken (with `broken`): Area_2/office_3 (malformed line), Area_2/office_4 (NaN),
    Area_2/storage_1 (no Annotations), Area_2/WC_1 (tiny room: no block), Area_x (not an area).

    Returns:
        {"root": release folder, "rooms": {key: {name: points}}, "broken": {key: kind}}.
    """
    rng = np.random.default_rng(seed)
    release = os.path.join(root, "Stanford3dDataset_v1.2_Aligned_Version")
    rooms = {
        "Area_1/office_1": _s3dis_room(rng, (-15.2, 31.7, 0.4), (2.2, 1.6, 2.5)),
        "Area_1/hallway_2": _s3dis_room(rng, (3.0, -4.0, -0.1), (1.7, 1.2, 2.4)),
        "Area_1/hallway_10": _s3dis_room(rng, (10.0, 10.0, 0.0), (1.4, 1.3, 2.2)),
        "Area_2/conferenceRoom_1": _s3dis_room(rng, (-1.0, -1.0, 0.0), (2.0, 1.5, 2.6)),
    }
    for key, files in rooms.items():
        room_dir = os.path.join(release, key)
        for name, points in files.items():
            write_annotation(room_dir, name, points)
        # The release also holds the whole room as <room>.txt next to Annotations/: ignored.
        _write(os.path.join(room_dir, key.split("/")[1] + ".txt"),
               _lines(np.concatenate(list(files.values())), "%.3f %.3f %.3f %d %d %d"))  # fmt: skip
    _write(os.path.join(release, ".DS_Store"), "junk")
    broken_rooms = {}
    if broken:
        room = _s3dis_room(rng, (0, 0, 0), (1.5, 1.5, 2.0))
        bad = os.path.join(release, "Area_2", "office_3")
        for name, points in room.items():
            write_annotation(bad, name, points)
        # Line 42 gets a control byte, the kind of damage found in the real Area_5.
        edit_line(os.path.join(bad, "Annotations", "ceiling_1.txt"), 41, "0.512 0.733\x10 1.990 230 230 230")
        broken_rooms["Area_2/office_3"] = "malformed"

        nan_room = os.path.join(release, "Area_2", "office_4")
        for name, points in _s3dis_room(rng, (0, 0, 0), (1.5, 1.5, 2.0)).items():
            write_annotation(nan_room, name, points)
        edit_line(os.path.join(nan_room, "Annotations", "chair_1.txt"), 6, "0.5 nan 0.3 40 40 160")
        broken_rooms["Area_2/office_4"] = "nonfinite"

        os.makedirs(os.path.join(release, "Area_2", "storage_1"))
        _write(os.path.join(release, "Area_2", "storage_1", "storage_1.txt"), "0 0 0 1 1 1\n")
        broken_rooms["Area_2/storage_1"] = "no_annotations"

        write_annotation(os.path.join(release, "Area_2", "WC_1"), "clutter_1.txt",
                         s3dis_points(rng, 60, (0, 0, 0), (1.2, 1.2, 1.0), (1, 2, 3)))  # fmt: skip
        broken_rooms["Area_2/WC_1"] = "no_blocks"

        write_annotation(os.path.join(release, "Area_x", "office_1"), "chair_1.txt",
                         s3dis_points(rng, 200, (0, 0, 0), (1, 1, 1), (1, 2, 3)))  # fmt: skip
        broken_rooms["Area_x/"] = "unknown_area"
    return {"root": release, "rooms": rooms, "broken": broken_rooms}


# --- ShapeNet part -----------------------------------------------------------------------------


def shapenet_offsets():
    """First overall part id of each category (alphabetical order), computed from the part counts."""
    return dict(zip([c[0] for c in SHAPENET_CATEGORIES], np.cumsum([0] + [c[2] for c in SHAPENET_CATEGORIES])))


# (category, shape id, points, split)
_SHAPES = (
    ("Airplane", "a01", 2500, "train"), ("Airplane", "a02", 1500, "train"), ("Bag", "b01", 2048, "train"),
    ("Motorbike", "m01", 2300, "train"), ("Table", "t01", 1900, "train"), ("Table", "t02", 2100, "val"),
    ("Motorbike", "m02", 1200, "test"), ("Airplane", "a03", 2600, "test"),
)  # fmt: skip


def _shape_cloud(rng, category, count):
    """Points whose labels follow x so parts are spatially coherent; returns (xyz, normals, 1-based labels)."""
    parts = {c[0]: c[2] for c in SHAPENET_CATEGORIES}[category]
    xyz = rng.uniform(-0.4, 0.4, (count, 3)) + rng.uniform(-0.2, 0.2, 3)
    labels = 1 + np.minimum(((xyz[:, 0] + 0.6) / 1.2 * parts).astype(int), parts - 1)
    normals = rng.normal(size=(count, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return xyz, normals, labels


def write_shapenet_tree(root, *, variant="classic", broken=True, seed=0):
    """Writes a fake ShapeNet part release (classic or _normal); returns a dict describing it.

    Returns:
        {"root", "variant", "shapes": {key: {"category", "split", "xyz", "normals", "pid"}},
         "broken": {key: kind}, "unlisted": int}; `pid` holds overall part ids.
    """
    rng = np.random.default_rng(seed)
    name = "shapenetcore_partanno_segmentation_benchmark_v0" + ("_normal" if variant == "normal" else "")
    release = os.path.join(root, name)
    synset_of = {c[0]: c[1] for c in SHAPENET_CATEGORIES}
    offsets = shapenet_offsets()
    _write(os.path.join(release, "synsetoffset2category.txt"),
           "".join(f"{c[0]}\t{c[1]}\n" for c in SHAPENET_CATEGORIES))  # fmt: skip
    lists = {"train": [], "val": [], "test": []}
    shapes, broken_shapes = {}, {}

    def write_shape(category, shape, xyz, normals, labels, split):
        synset = synset_of[category]
        if variant == "classic":
            _write(os.path.join(release, synset, "points", f"{shape}.pts"), _lines(xyz, "%.5f %.5f %.5f"))
            _write(os.path.join(release, synset, "points_label", f"{shape}.seg"), _lines(labels[:, None], "%d"))
        else:
            overall = offsets[category] + labels - 1
            table = np.concatenate([xyz, normals, overall[:, None]], axis=1)
            _write(os.path.join(release, synset, f"{shape}.txt"), _lines(table, "%.6f %.6f %.6f %.6f %.6f %.6f %.6f"))
        if split:
            lists[split].append(f"shape_data/{synset}/{shape}")
        return f"{synset}/{shape}"

    for category, shape, count, split in _SHAPES:
        xyz, normals, labels = _shape_cloud(rng, category, count)
        key = write_shape(category, shape, xyz, normals, labels, split)
        shapes[key] = {"category": category, "split": split, "xyz": xyz, "normals": normals,
                       "pid": offsets[category] + labels - 1}  # fmt: skip
    # On disk but in no list: not converted, only counted.
    xyz, normals, labels = _shape_cloud(rng, "Bag", 300)
    write_shape("Bag", "unlisted1", xyz, normals, labels, None)

    if broken:
        xyz, normals, labels = _shape_cloud(rng, "Bag", 400)
        key = write_shape("Bag", "bad_label", xyz, normals, np.where(np.arange(400) == 17, 3, labels), "train")
        broken_shapes[key] = "bad_label"  # Bag has parts 1..2 (normal variant: overall id 6 belongs to Cap)
        xyz, normals, labels = _shape_cloud(rng, "Chair", 500)
        key = write_shape("Chair", "bad_line", xyz, normals, labels, "train")
        path = (os.path.join(release, synset_of["Chair"], "points", "bad_line.pts") if variant == "classic"
                else os.path.join(release, synset_of["Chair"], "bad_line.txt"))  # fmt: skip
        edit_line(path, 99, lambda line: line.rsplit(" ", 1)[0])  # one value short
        broken_shapes[key] = "malformed"
        xyz, normals, labels = _shape_cloud(rng, "Lamp", 450)
        xyz[12, 1] = np.nan
        key = write_shape("Lamp", "nan_point", xyz, normals, labels, "test")
        broken_shapes[key] = "nonfinite"
        lists["train"].append(f"shape_data/{synset_of['Car']}/not_on_disk")
        broken_shapes[f"{synset_of['Car']}/not_on_disk"] = "missing"
        lists["val"].append("shape_data/99999999/foreign")
        broken_shapes["99999999/foreign"] = "unknown_category"
        lists["test"].append("garbage entry")
        broken_shapes["test:garbage entry"] = "bad_entry"
        if variant == "classic":
            xyz, normals, labels = _shape_cloud(rng, "Mug", 350)
            key = write_shape("Mug", "short_seg", xyz, normals, labels[:-5], "train")
            broken_shapes[key] = "count_mismatch"
            xyz, normals, labels = _shape_cloud(rng, "Mug", 350)
            key = write_shape("Mug", "no_seg", xyz, normals, labels, "train")
            os.remove(os.path.join(release, synset_of["Mug"], "points_label", "no_seg.seg"))
            broken_shapes[key] = "missing_labels"
    for split, entries in lists.items():
        _write(os.path.join(release, "train_test_split", f"shuffled_{split}_file_list.json"), json.dumps(entries))
    return {"root": release, "variant": variant, "shapes": shapes, "broken": broken_shapes, "unlisted": 1}


# --- ModelNet40 with normals -------------------------------------------------------------------


def write_modelnet_normals_tree(root, *, broken=True, seed=0, points=600):
    """Writes a fake `modelnet40_normal_resampled`; returns a dict describing it.

    Classes: airplane, bed, night_stand (label = line of modelnet40_shape_names.txt).

    Returns:
        {"root", "class_names", "files": {key: {"label", "split", "values"}}, "broken": {key: kind}}.
    """
    rng = np.random.default_rng(seed)
    release = os.path.join(root, "modelnet40_normal_resampled")
    class_names = ["airplane", "bed", "night_stand"]
    _write(os.path.join(release, "modelnet40_shape_names.txt"), "".join(f"{n}\n" for n in class_names))
    lists = {"train": [], "test": []}
    files, broken_files = {}, {}
    number = 0
    for label, name in enumerate(class_names):
        for split, count in (("train", 3), ("test", 1)):
            for _ in range(count):
                number += 1
                entry = f"{name}_{number:04d}"
                xyz = rng.normal(size=(points, 3)) * [1.0, 0.5, 0.3] * (label + 1) + label
                normals = rng.normal(size=(points, 3))
                normals /= np.linalg.norm(normals, axis=1, keepdims=True)
                values = np.concatenate([xyz, normals], axis=1)
                _write(os.path.join(release, name, f"{entry}.txt"), _lines(values, "%.6f,%.6f,%.6f,%.6f,%.6f,%.6f"))
                lists[split].append(entry)
                files[f"{name}/{entry}.txt"] = {"label": label, "split": split, "values": values}
    if broken:
        values = rng.normal(size=(50, 6))
        text = _lines(values, "%.6f,%.6f,%.6f,%.6f,%.6f,%.6f").splitlines()
        text[20] = "0.1,0.2,0.3,0.4,0.5"
        _write(os.path.join(release, "bed", "bed_0100.txt"), "\n".join(text) + "\n")
        lists["train"].append("bed_0100")
        broken_files["bed/bed_0100.txt"] = "malformed"
        lists["test"].append("airplane_0200")
        broken_files["airplane/airplane_0200.txt"] = "missing"
        _write(os.path.join(release, "airplane", "airplane_0300.txt"), "")
        lists["train"].append("airplane_0300")
        broken_files["airplane/airplane_0300.txt"] = "empty"
        lists["train"].append("sofa_0001")
        broken_files["train:sofa_0001"] = "unknown_class"
    for split, entries in lists.items():
        _write(os.path.join(release, f"modelnet40_{split}.txt"), "".join(f"{e}\n" for e in entries))
    return {"root": release, "class_names": class_names, "files": files, "broken": broken_files}


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def s3dis_raw(tmp_path):
    """A fake S3DIS release with broken rooms (see `write_s3dis_tree`)."""
    return write_s3dis_tree(str(tmp_path / "raw"))


@pytest.fixture
def shapenet_raw(tmp_path):
    """A fake classic ShapeNet part release with broken shapes."""
    return write_shapenet_tree(str(tmp_path / "raw"), variant="classic")


@pytest.fixture
def shapenet_normal_raw(tmp_path):
    """A fake `_normal` ShapeNet part release with broken shapes."""
    return write_shapenet_tree(str(tmp_path / "raw"), variant="normal")


@pytest.fixture
def modelnet_normals_raw(tmp_path):
    """A fake `modelnet40_normal_resampled` with broken files."""
    return write_modelnet_normals_tree(str(tmp_path / "raw"))
