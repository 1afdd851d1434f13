"""S3DIS (Stanford Large-Scale 3D Indoor Spaces): class names, the block layout's reader and writer, the raw converter.

Semantic segmentation of rooms: 13 classes per point (`S3DIS_CLASS_NAMES`),
rooms cut into 1 m x 1 m blocks of 9 features per point.

Layout `indoor3d_sem_seg_hdf5_data/` (`open_folder`, `write_s3dis_layout`):
`all_files.txt` and `room_filelist.txt` (the room of every block, e.g.
`Area_1_office_1`; it drives the test-area split, `s3dis_split_rows`); shards
`ply_data_all_<k>.h5` with keys `data` (n, P, 9) and `label` (n, P). An
optional `class_names.txt` replaces the 13 class names.

Raw converter (`prepare_s3dis`, `pointnet-tf2 prepare-s3dis`): raw annotated
rooms -> blocks in that layout.

Input (the "Aligned Version" release, `Stanford3dDataset_v1.2_Aligned_Version/`):
`Area_N/<room>/Annotations/<class>_<k>.txt`, one point per line,
`x y z r g b` (metres, colours 0..255). Other files (the room's own
`<room>.txt`, `.DS_Store`, alignment angles) are ignored.

Per room, as the original PointNet preparation did:

1. every annotation file of the room is read; its label is the class named by
   the file-name prefix (the text before the first `_`, case-insensitive),
   one of the 13 classes ceiling floor wall beam column window door table
   chair sofa bookcase board clutter; any other prefix (e.g. "stairs") counts
   as clutter and is noted in the summary;
2. the room is shifted so that its minimum corner is the origin;
3. the room is cut into blocks: `block_size` x `block_size` (1 m) columns over
   x-y, swept with stride `stride` (0.5 m); the block count per axis is
   `ceil((extent - block_size) / stride) + 1` and block (i, j) holds the
   points with `i*stride <= x <= i*stride + block_size` (both ends included)
   and likewise for y; blocks come x-major (i outer, j inner);
4. a block with fewer than `min_block_points` (100) points is dropped; the
   others get `num_points` (4096) points: a random subset, or all points plus
   random duplicates when fewer, in random order;
5. 9 features per point: x and y minus (block minimum + block_size / 2), where
   the block minimum is the smallest x (y) of the block's sampled points as in
   the original; z unchanged; RGB / 255; then x, y, z divided by the room's
   maximum x, y, z (after the shift, i.e. its extent).

`block_features` computes step 5 and is the only code that computes these
features: the built-in generator (`pointnet_tf2.data.synthetic`) cuts its
rooms with `room_blocks` (steps 3-5) and `pointnet-tf2 predict`
(`pointnet_tf2.inference.sem_seg_blocks`) cuts a room with `block_members`
(step 3) and calls it on every chunk it feeds the model, so a model trained
on converted or generated blocks is served the same features.

Output (written by `write_s3dis_layout`):
`ply_data_all_<k>.h5` with at most 1000 blocks each (`data` float32
(n, 4096, 9), `label` uint8 (n, 4096)), `all_files.txt`, `room_filelist.txt`
(`Area_N_<room>` per block, in order), plus `skipped.txt` and
`prepare.json`. Rooms are taken area by area (numerically), rooms in natural
order (office_2 before office_10).

Problems are reported per room and the room is skipped, never converted in
part: a malformed line (wrong number of values, a value that is not a number;
the message names the file and line), NaN/inf values, colours outside 0..255,
a room without an `Annotations` folder or annotation files, an empty or flat
room, a room without any block of `min_block_points` points, and folders next
to the areas that are not `Area_<N>` ("unknown_area"). With
`drop_bad_lines=True`, malformed and NaN lines are left out instead and the
room is converted with a note naming the files and lines (the real Area_5
release has one such line).

Resuming: a room is identified by its `Annotations` folder, whose
modification time changes when an annotation file is added, removed or
replaced (editors and `sed -i` replace files); a file edited in place
without that is not noticed.
"""

import dataclasses
import functools
import math
import os
import re

import numpy as np

from pointnet_tf2.data import runner
from pointnet_tf2.data.checks import check_positive_float
from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.conversion import ConversionInput
from pointnet_tf2.data.conversion import Converted
from pointnet_tf2.data.conversion import SkipItem
from pointnet_tf2.data.description import POINT_LABELS
from pointnet_tf2.data.description import Shard
from pointnet_tf2.data.description import area_of_room  # noqa: F401  (re-exported)
from pointnet_tf2.data.description import rows_to_ranges
from pointnet_tf2.data.description import s3dis_split_rows
from pointnet_tf2.data.geometry import resample_indices
from pointnet_tf2.data.io import hdf5
from pointnet_tf2.data.io import shards as writing
from pointnet_tf2.data.io.tables import EMPTY
from pointnet_tf2.data.io.tables import TableError
from pointnet_tf2.data.io.tables import read_table
from pointnet_tf2.data.io.tables import read_table_dropping_bad_lines

S3DIS_CLASS_NAMES = (
    "ceiling", "floor", "wall", "beam", "column", "window", "door",
    "table", "chair", "sofa", "bookcase", "board", "clutter",
)  # fmt: skip
S3DIS_NUM_CLASSES = len(S3DIS_CLASS_NAMES)

# The layout: its name, the folder of the original download, what its rows hold, the up axis (z).
NAME = "s3dis"
FOLDER = "indoor3d_sem_seg_hdf5_data"
LABELS = POINT_LABELS
UP_AXIS = 2
# The original's default test area (its training script's --test_area).
DEFAULT_TEST_AREA = 6

RELEASE_FOLDERS = ("Stanford3dDataset_v1.2_Aligned_Version", "Stanford3dDataset_v1.2")
CLUTTER = S3DIS_CLASS_NAMES.index("clutter")
CLASS_INDEX = {name: i for i, name in enumerate(S3DIS_CLASS_NAMES)}
GROUP = "all"

# Skip kinds.
UNKNOWN_AREA = "unknown_area"
NO_ANNOTATIONS = "no_annotations"
NO_BLOCKS = "no_blocks"
DEGENERATE = "degenerate"
BAD_COLOR = "bad_color"
BAD_NAME = "bad_name"

_AREA = re.compile(r"^Area_(\d+)$")
_COLUMNS = 6


# --- the layout: reading -------------------------------------------------------------------


def detect(directory):
    """True if `directory` has the list files of the S3DIS layout (`all_files.txt` or `room_filelist.txt`)."""
    return os.path.isfile(os.path.join(directory, "all_files.txt")) or os.path.isfile(
        os.path.join(directory, "room_filelist.txt")
    )


def open_folder(directory, *, test_area=DEFAULT_TEST_AREA, check_values=True):
    """Opens and checks an `indoor3d_sem_seg_hdf5_data` folder (see `pointnet_tf2.data.open_dataset`).

    Args:
        directory: The dataset folder.
        test_area: The area whose rooms form the test split; the others train.
        check_values: Scan coordinates and labels (see `open_dataset`).

    Returns:
        A `DatasetDescription` with splits 'train' and 'test' and the room of every row.

    Raises:
        FileNotFoundError: If a list file or a listed shard is missing.
        ValueError: Naming the file and the problem.
    """
    files_path = os.path.join(directory, "all_files.txt")
    rooms_path = os.path.join(directory, "room_filelist.txt")
    for required in (files_path, rooms_path):
        if not os.path.isfile(required):
            raise FileNotFoundError(f"{required}: missing (an S3DIS folder needs all_files.txt and room_filelist.txt)")
    paths = hdf5.read_list_file(files_path, directory)
    infos = hdf5.inspect_files(
        paths,
        label_per_point=True,
        channels=((9,), "S3DIS blocks have 9 values per point (xyz, rgb, room-normalised xyz)"),
    )
    names_path = os.path.join(directory, "class_names.txt")
    class_names = hdf5.read_lines(names_path) if os.path.isfile(names_path) else list(S3DIS_CLASS_NAMES)
    where = os.path.basename(names_path) if os.path.isfile(names_path) else None
    hdf5.check_label_values(infos, len(class_names), where, check_values)
    rooms = hdf5.read_lines(rooms_path)
    total = sum(info["rows"] for info in infos)
    if len(rooms) != total:
        raise ValueError(f"{rooms_path}: {len(rooms)} room names, but the files in all_files.txt hold {total} blocks")
    train, test = s3dis_split_rows(rooms, test_area, where=rooms_path)
    shards = [Shard(info["path"], info["rows"]) for info in infos]
    ranges = {"train": rows_to_ranges(train), "test": rows_to_ranges(test)}
    return hdf5.describe(
        LABELS, NAME, directory, class_names, infos, shards, ranges, up_axis=UP_AXIS, rooms=rooms, test_area=test_area
    )


# --- the layout: writing -------------------------------------------------------------------


def write_s3dis_layout(
    output_dir,
    blocks,
    labels,
    room_names,
    *,
    num_classes=S3DIS_NUM_CLASSES,
    shard_size=1000,
    list_prefix=None,
    overwrite=False,
):
    """Writes a semantic-segmentation dataset in the S3DIS `indoor3d_sem_seg_hdf5_data` layout.

    Files: `ply_data_all_0.h5`.. with `data` float32 (n, P, 9) (block-centred
    XYZ, RGB / 255, room-normalised XYZ) and `label` uint8 (n, P);
    `all_files.txt` (`<folder name>/ply_data_all_<k>.h5` per line, like the
    original); `room_filelist.txt` (the room of every block, in file order,
    e.g. `Area_1_office_1`: readers split train/test by its area).

    Args:
        output_dir: Folder to create (missing or empty, or one written by pointnet-tf2 with `overwrite`).
        blocks: Float (n, P, 9) block features; channels 3:6 (RGB) must be in [0, 1].
        labels: Int (n, P) class ids in [0, num_classes).
        room_names: n room names (no whitespace), one per block.
        num_classes: Number of classes (13 for S3DIS), at most 256.
        shard_size: Maximum blocks per h5 file (the original used 1000).
        list_prefix: Text put before each shard name in `all_files.txt`;
            default `<basename of output_dir>/`.
        overwrite: Replace an existing non-empty folder written by pointnet-tf2.

    Returns:
        The absolute path of the written folder.

    Raises:
        ValueError: On bad shapes, dtypes, labels, colours, NaN/inf values, room
            names or an existing non-empty folder without `overwrite`.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    if num_classes > writing.UINT8_LIMIT:
        raise ValueError(f"num_classes: {num_classes}, but labels are stored as uint8 (at most {writing.UINT8_LIMIT})")
    shard_size = check_positive_int("shard_size", shard_size)
    blocks = writing.check_points("blocks", blocks, (9,))
    labels = writing.check_label_array("labels", labels, tuple(blocks.shape[:2]))
    if isinstance(room_names, str) or not hasattr(room_names, "__iter__"):
        raise ValueError(f"room_names: expected one name per block, got {room_names!r}")
    room_names = [str(r) if isinstance(r, np.str_) else r for r in room_names]
    if len(room_names) != blocks.shape[0]:
        raise ValueError(f"room_names: {len(room_names)} names for {blocks.shape[0]} blocks")
    for i, name in enumerate(room_names):
        if not isinstance(name, str) or not name or writing.WHITESPACE.search(name):
            raise ValueError(f"room_names[{i}] = {name!r}: names must be non-empty strings without whitespace")
    prefix = writing.default_prefix(output_dir, "{name}/") if list_prefix is None else list_prefix

    def shard_arrays(start, stop):
        values = writing.finite_float32("blocks", blocks[start:stop], start)
        rgb = values[..., 3:6]
        bad = ((rgb < 0) | (rgb > 1)).reshape(len(values), -1).any(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"blocks: block {row + start} has RGB channels (3:6) outside [0, 1] "
                f"(min {rgb[row].min():.3g}, max {rgb[row].max():.3g}); store RGB / 255"
            )
        label = writing.labels_in_range("labels", labels[start:stop], start, num_classes, f"{num_classes} classes")
        return {"data": values, "label": label}

    with writing.staged_folder(output_dir, overwrite=overwrite) as tmp:
        writing.write_shards(tmp, blocks.shape[0], shard_size, "ply_data_all_", "all_files.txt", prefix, shard_arrays)
        writing.write_text(os.path.join(tmp, "room_filelist.txt"), room_names)
    return os.path.abspath(os.fspath(output_dir))


# --- the raw converter ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BlockOptions:
    """How rooms are cut into blocks (defaults: the original's).

    Attributes:
        num_points: Points per block.
        block_size: Side of a block's x-y square, metres.
        stride: Step between blocks, metres.
        min_block_points: Blocks with fewer points are dropped.
        drop_bad_lines: Leave out malformed / NaN lines (with a note) instead
            of skipping the room.
    """

    num_points: int = 4096
    block_size: float = 1.0
    stride: float = 0.5
    min_block_points: int = 100
    drop_bad_lines: bool = False

    def __post_init__(self):
        check_positive_int("num_points", self.num_points)
        check_positive_float("block_size", self.block_size)
        check_positive_float("stride", self.stride)
        check_positive_int("min_block_points", self.min_block_points)
        if not isinstance(self.drop_bad_lines, bool):
            raise ValueError(f"drop_bad_lines must be True or False, got {self.drop_bad_lines!r}")


def class_of_annotation(file_name):
    """Returns the class of an annotation file name like `chair_3.txt`.

    The class is the text before the first `_` (lower-cased); names that are
    not one of the 13 S3DIS classes map to clutter.

    Args:
        file_name: The annotation file name (or path).

    Returns:
        `(class index, prefix)`, e.g. `(8, "chair")`, or `(12, "stairs")`.
    """
    stem = os.path.splitext(os.path.basename(file_name))[0]
    prefix = stem.split("_", 1)[0].lower()
    return CLASS_INDEX.get(prefix, CLUTTER), prefix


def block_counts(extent, block_size=1.0, stride=0.5):
    """Blocks per axis: `ceil((extent - block_size) / stride) + 1` (0 for a room narrower than that allows).

    Args:
        extent: Room extent along the axis (max - min), metres.
        block_size: Block side.
        stride: Block step.

    Returns:
        An int >= 0.
    """
    return max(0, int(math.ceil((float(extent) - block_size) / stride)) + 1)


def block_members(xyz, block_size=1.0, stride=0.5, min_points=1, *, cover=False):
    """Cuts a room into the original's blocks; yields the rows of each block.

    Block (i, j) holds the points with `i*stride <= x <= i*stride + block_size`
    (both ends included) and likewise for y; there are `block_counts(extent)`
    blocks per axis, visited x-major (i outer, j inner). A point on a block
    edge belongs to both blocks that share the edge, and with a stride below
    `block_size` blocks overlap.

    Args:
        xyz: (N, 3) coordinates, shifted so that the room's minimum corner is
            the origin.
        block_size: Side of a block's x-y square.
        stride: Step between blocks.
        min_points: Blocks with fewer points are not yielded.
        cover: Add blocks when needed so that every point is in a block (at
            least one block per axis, and one more if rounding left the far
            edge out); the original drops rooms narrower than `stride`
            instead. Prediction uses this, the dataset converters do not.

    Yields:
        `(i, j, rows)`: the block's grid position and the int64 indices of
        its points, ascending.
    """
    xyz = np.asarray(xyz)
    room_max = xyz[:, :2].max(axis=0)
    counts = []
    for axis in (0, 1):
        count = block_counts(room_max[axis], block_size, stride)
        if cover:
            count = max(1, count)
            if (count - 1) * stride + block_size < room_max[axis]:
                count += 1
        counts.append(count)
    by_x = np.argsort(xyz[:, 0], kind="stable")
    xs = xyz[by_x, 0]
    for i in range(counts[0]):
        x0 = i * stride
        column = by_x[np.searchsorted(xs, x0, "left"):np.searchsorted(xs, x0 + block_size, "right")]
        if len(column) < min_points:
            continue
        column = column[np.argsort(xyz[column, 1], kind="stable")]
        ys = xyz[column, 1]
        for j in range(counts[1]):
            y0 = j * stride
            members = column[np.searchsorted(ys, y0, "left"):np.searchsorted(ys, y0 + block_size, "right")]
            if len(members) < min_points or len(members) == 0:
                continue
            yield i, j, np.sort(members).astype(np.int64)


def block_features(xyz, rgb, room_max, block_size=1.0, color_scale=255.0):
    """The 9 S3DIS features of one block's sampled points, as the original computed them.

    This is the only place the features are computed: the raw converter, the
    built-in generator (`pointnet_tf2.data.synthetic`) and `pointnet-tf2
    predict` (`pointnet_tf2.inference`) all call it. Per point:

    - 0, 1: x and y minus (the smallest x, y of the given points +
      `block_size / 2`): the original centres a block on its sampled points'
      minimum plus half a block, not on the block's grid cell;
    - 2: z unchanged;
    - 3..5: RGB / `color_scale`;
    - 6..8: x, y, z divided by the room's maximum x, y, z (`room_max`).

    Args:
        xyz: (K, 3) coordinates of the block's sampled points (all points of
            the block plus repeats, or a subset), in the room's frame shifted
            so that its minimum corner is the origin.
        rgb: (K, 3) colours.
        room_max: (3,) the room's maximum x, y, z (after the shift), over all
            of its points, not only this block's.
        block_size: Side of the block's x-y square.
        color_scale: What the colours are divided by (255 for 0..255 colours,
            1 for colours already in [0, 1]).

    Returns:
        float32 (K, 9); computed in float64, then rounded.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    features = np.empty((len(xyz), 9), np.float64)
    features[:, 0] = xyz[:, 0] - (xyz[:, 0].min() + block_size / 2.0)
    features[:, 1] = xyz[:, 1] - (xyz[:, 1].min() + block_size / 2.0)
    features[:, 2] = xyz[:, 2]
    features[:, 3:6] = np.asarray(rgb, dtype=np.float64) / color_scale
    features[:, 6:9] = xyz / np.asarray(room_max, dtype=np.float64)
    return features.astype(np.float32)


def room_blocks(xyz, rgb, rng, options=BlockOptions(), *, color_scale=255.0):
    """Cuts a room into sampled blocks of 9 features, as the original (steps 3-5 of the module docstring).

    Args:
        xyz: (N, 3) coordinates, shifted so that the minimum corner is the
            origin.
        rgb: (N, 3) colours.
        rng: A `numpy.random.Generator` (sampling of every block).
        options: `BlockOptions` (num_points, block_size, stride,
            min_block_points).
        color_scale: See `block_features`.

    Yields:
        `(rows, features)` per kept block: int64 (num_points,) indices of the
        sampled points (in sampling order) and their float32
        (num_points, 9) `block_features`.

    Raises:
        ValueError: If the room has zero extent along x, y or z (the
            room-normalised coordinates would divide by 0).
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    room_max = xyz.max(axis=0)
    if not (room_max > 0).all():
        axis = "xyz"[int(np.argmin(room_max > 0))]
        raise ValueError(f"the room has zero extent along {axis}")
    for _, _, members in block_members(xyz, options.block_size, options.stride, options.min_block_points):
        chosen = members[resample_indices(len(members), options.num_points, rng)]
        yield chosen, block_features(xyz[chosen], rgb[chosen], room_max, options.block_size, color_scale)


def room_to_blocks(points, labels, rng, options=BlockOptions()):
    """Cuts a room into blocks of 9 features (see the module docstring and `room_blocks`).

    Args:
        points: (N, 6) `x y z r g b`, already shifted so the minimum corner is
            the origin (colours 0..255).
        labels: (N,) class ids.
        rng: A `numpy.random.Generator` (sampling of every block).
        options: `BlockOptions`.

    Returns:
        `(data, label)`: float32 (k, num_points, 9) and uint8 (k, num_points);
        k may be 0.

    Raises:
        ValueError: If the room has zero extent along x, y or z (the
            room-normalised coordinates would divide by 0).
    """
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    data, label = [], []
    for chosen, features in room_blocks(points[:, :3], points[:, 3:6], rng, options):
        data.append(features)
        label.append(labels[chosen].astype(np.uint8))
    if not data:
        return np.zeros((0, options.num_points, 9), np.float32), np.zeros((0, options.num_points), np.uint8)
    return np.stack(data), np.stack(label)


def read_room(room_dir, options=BlockOptions()):
    """Reads every annotation file of a room and labels its points.

    Args:
        room_dir: The room folder (holding `Annotations/`).
        options: `BlockOptions` (only `drop_bad_lines` matters here).

    Returns:
        `(points, labels, notes)`: float64 (N, 6) `x y z r g b` (not shifted),
        int (N,) class ids, and a list of notes (classes counted as clutter,
        empty annotation files, dropped lines).

    Raises:
        SkipItem: Kinds "no_annotations", "malformed", "nonfinite", "empty",
            "bad_color"; the reason names the annotation file and line.
    """
    folder = os.path.join(room_dir, "Annotations")
    if not os.path.isdir(folder):
        raise SkipItem("no Annotations folder", NO_ANNOTATIONS)
    files = sorted(n for n in os.listdir(folder) if n.lower().endswith(".txt") and not n.startswith("."))
    if not files:
        raise SkipItem("the Annotations folder holds no <class>_<k>.txt files", NO_ANNOTATIONS)
    parts, part_labels, notes = [], [], []
    for name in files:
        path = os.path.join(folder, name)
        shown = f"Annotations/{name}"
        if options.drop_bad_lines:
            values, bad = read_table_dropping_bad_lines(path, _COLUMNS, delimiter="whitespace")
            if bad:
                lines = ", ".join(str(b) for b in bad[:3]) + (", ..." if len(bad) > 3 else "")
                notes.append(f"dropped {len(bad)} bad line(s) of {shown} (line {lines})")
        else:
            try:
                values = read_table(path, _COLUMNS, name=shown, delimiter="whitespace", allow_empty=True)
            except TableError as error:
                raise SkipItem(f"{error.reason}; drop_bad_lines (--drop_bad_lines) leaves such lines out",
                               error.kind) from None  # fmt: skip
        if len(values) == 0:
            notes.append("empty annotation file")
            continue
        rgb = values[:, 3:6]
        bad_rgb = ((rgb < 0) | (rgb > 255)).any(axis=1)
        if bad_rgb.any():
            row = int(np.argmax(bad_rgb))
            raise SkipItem(f"{shown}: point {row + 1} has colour values {rgb[row].tolist()} outside 0..255", BAD_COLOR)
        index, prefix = class_of_annotation(name)
        if index == CLUTTER and prefix != "clutter":
            notes.append(f"class '{prefix}' counted as clutter")
        parts.append(values)
        part_labels.append(np.full(len(values), index, np.uint8))
    if not parts:
        raise SkipItem("every annotation file is empty", EMPTY)
    return np.concatenate(parts), np.concatenate(part_labels), notes


def convert_room(item, rng, options):
    """Conversion function: one room -> its blocks (or a skip).

    Args:
        item: A `ConversionInput` whose `info` has "room_dir" (or "problem":
            `(kind, reason)` for an input that is only reported).
        rng: The room's generator.
        options: `BlockOptions`.

    Returns:
        A `Converted` with "data" float32 (k, num_points, 9) and "label" uint8
        (k, num_points), and the room's notes.

    Raises:
        SkipItem: For every problem (see the module docstring).
    """
    runner.skip_if_problem(item)
    points, labels, notes = read_room(item.info["room_dir"], options)
    points[:, :3] -= points[:, :3].min(axis=0)
    try:
        data, label = room_to_blocks(points, labels, rng, options)
    except ValueError as error:
        raise SkipItem(str(error), DEGENERATE) from None
    if len(data) == 0:
        extent = " x ".join(f"{v:.2f}" for v in points[:, :2].max(axis=0))
        raise SkipItem(
            f"no block of {options.block_size:g} m with at least {options.min_block_points} points "
            f"({len(points)} points, extent {extent} m)", NO_BLOCKS,
        )  # fmt: skip
    return Converted({"data": data, "label": label}, tuple(dict.fromkeys(notes)))


def _natural_key(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def find_release_root(root):
    """Returns the folder holding the `Area_N` folders: `root` or a known release folder inside it.

    Args:
        root: The release folder or its parent.

    Returns:
        The absolute path of the release folder.

    Raises:
        FileNotFoundError: If `root` is not a folder.
        ValueError: If no `Area_<N>` folder is found.
    """
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder")

    def has_areas(folder):
        return any(_AREA.match(n) and os.path.isdir(os.path.join(folder, n)) for n in os.listdir(folder))

    if has_areas(root):
        return root
    for name in RELEASE_FOLDERS:
        candidate = os.path.join(root, name)
        if os.path.isdir(candidate) and has_areas(candidate):
            return candidate
    raise ValueError(
        f"{root}: no Area_<N> folders (expected the S3DIS release folder "
        f"{RELEASE_FOLDERS[0]}/ with Area_1/<room>/Annotations/<class>_<k>.txt)"
    )


def find_rooms(root, *, areas=None):
    """Lists the rooms of a release as conversion inputs (and folders that are reported).

    Args:
        root: The release folder (or its parent, see `find_release_root`).
        areas: Optional area numbers to keep (default: every `Area_<N>` folder).

    Returns:
        `(release_root, inputs)`: the folder used and a list of
        `ConversionInput` with keys `Area_N/<room>` (group "all"); folders that
        are not areas, and rooms whose name has whitespace, are inputs with
        `info["problem"]` so that they are reported.

    Raises:
        ValueError: If a requested area is missing.
    """
    root = find_release_root(root)
    found, unknown = {}, []
    for name in sorted(os.listdir(root), key=_natural_key):
        path = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(path):
            continue
        match = _AREA.match(name)
        if match and int(match.group(1)) >= 1:
            found[int(match.group(1))] = name
        else:
            unknown.append(name)
    if areas is not None:
        areas = sorted({check_positive_int("areas", a) for a in areas})
        missing = [a for a in areas if a not in found]
        if missing:
            raise ValueError(f"{root}: no folder for area(s) {missing} (found: {', '.join(found.values()) or 'none'})")
        found = {a: found[a] for a in areas}
    inputs = []
    for name in unknown:
        reason = "not an area folder (expected Area_<N>); its rooms are not converted"
        inputs.append(ConversionInput(key=f"{name}/", path=os.path.join(root, name), group=GROUP,
                                      info={"problem": (UNKNOWN_AREA, reason)}))  # fmt: skip
    for number in sorted(found):
        area = found[number]
        area_dir = os.path.join(root, area)
        for room in sorted(os.listdir(area_dir), key=_natural_key):
            room_dir = os.path.join(area_dir, room)
            if room.startswith(".") or not os.path.isdir(room_dir):
                continue
            key = f"{area}/{room}"
            info = {"room_dir": room_dir, "room": f"{area}_{room}"}
            if any(c.isspace() for c in room):
                info["problem"] = (BAD_NAME, "room folder names must not contain whitespace")
            annotations = os.path.join(room_dir, "Annotations")
            path = annotations if os.path.isdir(annotations) else room_dir
            inputs.append(ConversionInput(key=key, path=path, group=GROUP, info=info))
    return root, inputs


def _input_bytes(inputs):
    total = 0
    for item in inputs:
        folder = os.path.join(item.info.get("room_dir", ""), "Annotations")
        if "problem" in item.info or not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            if entry.name.lower().endswith(".txt") and entry.is_file():
                total += entry.stat().st_size
    return total


def prepare_s3dis(
    root,
    output_dir,
    *,
    areas=None,
    num_points=4096,
    block_size=1.0,
    stride=0.5,
    min_block_points=100,
    drop_bad_lines=False,
    shard_size=1000,
    seed=0,
    workers=None,
    resume=False,
    strict=False,
    overwrite=False,
    progress=True,
    log=print,
):
    """Converts the raw S3DIS release into the `indoor3d_sem_seg_hdf5_data` layout.

    Args:
        root: `Stanford3dDataset_v1.2_Aligned_Version` (or a folder holding it).
        output_dir: Dataset folder to create (missing or empty, or one
            pointnet-tf2 wrote with `overwrite`); it must not overlap `root`.
        areas: Area numbers to convert (default: all).
        num_points: Points per block (4096).
        block_size: Block side in metres (1.0).
        stride: Block step in metres (0.5).
        min_block_points: Smaller blocks are dropped (100).
        drop_bad_lines: Leave out malformed/NaN lines with a note instead of
            skipping their room.
        shard_size: Blocks per h5 file (1000, as the original).
        seed: Seed of the block sampling (each room gets its own generator
            from the seed and its key, so results do not depend on `workers`).
        workers: Worker processes (default: all CPUs; <= 1: this process).
        resume: Continue an interrupted run.
        strict: Fail if any room is skipped (nothing is written then).
        overwrite: Replace a non-empty `output_dir` written by pointnet-tf2; discard an unfinished run.
        progress: Show a progress line on stderr.
        log: Function printing summary lines (None: silent).

    Returns:
        The `prepare.json` dict, plus "output_dir" and "skipped_rooms"
        (`(key, kind, reason)` tuples).

    Raises:
        FileNotFoundError: If `root` is missing.
        ValueError: On bad arguments, no area folders, a missing requested
            area, an existing output without `overwrite`, an unfinished run
            without `resume`/`overwrite`, no room converted, or skips with
            `strict`.
    """
    log = log or (lambda *_: None)
    options = BlockOptions(num_points=num_points, block_size=block_size, stride=stride,
                           min_block_points=min_block_points, drop_bad_lines=drop_bad_lines)  # fmt: skip
    shard_size = check_positive_int("shard_size", shard_size)
    root, output_dir, work_dir = runner.check_destination(root, output_dir, overwrite=overwrite, resume=resume)
    release, inputs = find_rooms(root, areas=areas)
    rooms = sum("problem" not in item.info for item in inputs)
    area_names = sorted({item.key.split("/", 1)[0] for item in inputs if "problem" not in item.info}, key=_natural_key)
    input_bytes = _input_bytes(inputs)
    log(f"prepare-s3dis: {rooms} rooms in {len(area_names)} areas ({', '.join(area_names)}) under {release}, "
        f"{input_bytes / 2**20:.1f} MiB of annotation text")  # fmt: skip
    run = runner.convert_inputs(
        inputs, functools.partial(convert_room, options=options), work_dir,
        schema={"data": ((options.num_points, 9), "float32"), "label": ((options.num_points,), "uint8")},
        label="prepare-s3dis", unit="rooms", row_unit="blocks", work_shard_size=1, seed=seed, workers=workers,
        resume=resume, strict=strict, options=dataclasses.asdict(options), progress=progress, log=log,
    )  # fmt: skip
    arrays = run.arrays(GROUP)
    if len(arrays["data"]) == 0:
        runner.fail_without_rows(run, f"{release}: the dataset")
    room_names = [run.inputs[int(p)].info["room"] for p in arrays["input"]]
    blocks_per_room = {}
    for name in room_names:
        blocks_per_room[name] = blocks_per_room.get(name, 0) + 1
    info = runner.run_info(
        run, layout="s3dis", root=release, options=dataclasses.asdict(options), seed=seed, shard_size=shard_size,
        blocks=len(room_names), rooms=len(blocks_per_room), input_mib=round(input_bytes / 2**20, 3),
        mib_per_second=round(input_bytes / 2**20 / run.seconds, 3) if run.seconds > 0 else None,
        blocks_per_room=blocks_per_room,
    )  # fmt: skip
    name = os.path.basename(output_dir)

    def write(folder):
        write_s3dis_layout(folder, arrays["data"], arrays["label"], room_names, shard_size=shard_size,
                           list_prefix=f"{name}/")  # fmt: skip

    runner.publish(output_dir, run, write, info, overwrite=overwrite or resume)
    files = math.ceil(len(room_names) / shard_size)
    log(f"wrote {output_dir}: {len(room_names)} blocks of {options.num_points} x 9 from {len(blocks_per_room)} rooms "
        f"in {files} file(s)" + runner.skipped_note(run, output_dir, "rooms"))
    return dict(info, output_dir=output_dir, skipped_rooms=run.skipped)
