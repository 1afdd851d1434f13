"""`DatasetDescription`: everything a script needs to know about a dataset.

A description is what `open_dataset` returns for a dataset directory in one of
the original layouts, a virtual dataset built by `build_vds`, or a plain HDF5
file. Models, trainers and evaluators read class counts, point counts and input
dims from it, so nothing hard-codes 40, 16, 50 or 13. It is a plain dataclass
that round-trips through JSON (`to_dict` / `from_dict`), so it can be stored
next to a checkpoint or inside a virtual dataset file.

What a dataset's rows hold besides the points is a `Labels` (cloud labels,
point labels, or part labels with object categories); `TASK_LABELS` is the
one table relating those to the task names the rest of the package uses.
"""

import dataclasses
import json
import re
from typing import Optional

import numpy as np

from pointnet_tf2.task_names import CLS
from pointnet_tf2.task_names import PART_SEG
from pointnet_tf2.task_names import SEM_SEG


@dataclasses.dataclass(frozen=True)
class Labels:
    """What a dataset stores as targets besides the points: its half of a task.

    Each dataset module declares one (`LABELS`); a `DatasetDescription`
    carries it (`description.labels`, `label_key`, `per_point_labels`,
    `has_categories`), so code of the data layer asks what the data holds,
    never which task it is for.

    Attributes:
        key: The HDF5 key of the model's target: "label", or "pid" (overall
            part ids) when `label` holds object categories.
        per_point: One target per point (segmentation) rather than per cloud.
        categories: `label` holds an object category per cloud, with part
            metadata (`category_names`, `category_parts`).
    """

    key: str
    per_point: bool
    categories: bool = False

    @property
    def keys(self):
        """The keys read from every shard: `data`, `label` and, with categories, `pid`."""
        return ["data", "label"] + (["pid"] if self.categories else [])


CLOUD_LABELS = Labels("label", per_point=False)  # one class per cloud (ModelNet40)
PART_LABELS = Labels("pid", per_point=True, categories=True)  # a part per point, a category per cloud (ShapeNet part)
POINT_LABELS = Labels("label", per_point=True)  # one class per point (S3DIS)

# The one table relating what a dataset stores to the task names the rest of
# the package uses (`DatasetDescription.task`, `open_dataset(task=...)`; the
# names come from `pointnet_tf2.task_names`, below the tasks package).
TASK_LABELS = {CLS: CLOUD_LABELS, PART_SEG: PART_LABELS, SEM_SEG: POINT_LABELS}
TASKS = tuple(TASK_LABELS)
LABEL_TASKS = {labels: task for task, labels in TASK_LABELS.items()}


def labels_of(task):
    """The `Labels` of a task name.

    Args:
        task: One of `TASKS`.

    Returns:
        A `Labels`.

    Raises:
        ValueError: For another task.
    """
    if task not in TASK_LABELS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return TASK_LABELS[task]


# Version of the dictionary written by `to_dict`; bump on incompatible changes.
FORMAT_VERSION = 1


@dataclasses.dataclass
class Shard:
    """One HDF5 source file and the rows it contributes.

    Attributes:
        path: Absolute path of the file.
        rows: Number of clouds (rows) it holds.
    """

    path: str
    rows: int


@dataclasses.dataclass
class DatasetDescription:
    """What a point cloud dataset holds and where.

    Rows are numbered over the concatenation of `shards` in order (for a
    virtual dataset: the rows of the virtual dataset). A split is a sorted list
    of those rows, stored compactly as `[start, stop)` ranges.

    Attributes:
        task: 'cls', 'part_seg' or 'sem_seg'.
        layout: 'modelnet40', 'shapenet_part', 's3dis', 'vds' (a file built by
            `build_vds`) or 'hdf5' (a plain HDF5 file with `data`/`label`).
        root: The dataset directory, or the `.h5` file for 'vds' and 'hdf5'.
        class_names: Names of the classes of the main target: object classes
            (cls), part labels (part_seg; same as `part_names`), semantic
            classes (sem_seg).
        num_classes: `len(class_names)`: output width of the model.
        num_points: Points stored per cloud.
        input_dims: Channels per point (3 XYZ, 6 XYZ + normals, 9 for S3DIS).
        splits: Split name -> number of clouds, e.g. `{"train": 9840, "test": 2468}`.
        split_ranges: Split name -> list of `[start, stop)` row ranges.
        shards: The source files in row order (for 'vds' the sources the
            virtual dataset maps; reading goes through `root`).
        keys: Dataset keys read from each file: `data`, `label` and, for
            part_seg, `pid`.
        dtypes: Key -> numpy dtype name as stored (e.g. `{"data": "float32"}`).
        up_axis: Index of the vertical axis of the coordinates (1 = y for
            ModelNet40 and ShapeNet part, 2 = z for S3DIS); rotation
            augmentation turns about it.
        source_layout: For 'vds', the layout the virtual dataset was built
            from; otherwise equal to `layout`.
        category_names: part_seg: object category names (index = label).
        category_ids: part_seg: category ids as in the metadata (synset ids).
        num_categories: part_seg: `len(category_names)`.
        num_parts: part_seg: number of overall part ids (`num_classes`).
        category_parts: part_seg: `category_parts[c]` lists the overall part
            ids of category `c` (used by the mIoU protocol).
        part_names: part_seg: a name per overall part id (from
            `part_names.txt` if present, else `<category>_<part id>`).
        rooms: sem_seg: room name of each row (block), e.g. `Area_1_office_1`.
        test_area: sem_seg: the area whose rooms form the test split.
        voxel_resolution: cls: R when every shard also stores the clouds'
            occupancy grids as `voxels` uint8 (n, R, R, R) (datasets prepared
            from `.npz` voxel archives or `.binvox` files); None otherwise.
            Voxel models read these grids instead of voxelising the points.
        voxel_up_axis: The grid axis pointing up in the stored grids (the
            `up_axis` attribute of `voxels`; 2 = z for ModelNet grids), or
            None. The points are turned y-up, the grids are kept as given.
        class_count_from: None when the class names come with the data
            (`shape_names.txt`, a `class_names` attribute, ...); "labels"
            when the data has no names and the count is the largest label
            + 1 (a guess: classes above it are missing); "num_classes" when
            the caller gave the count (`open_dataset(num_classes=...)`).
            Names are then `class_0`, `class_1`, ...
    """

    task: str
    layout: str
    root: str
    class_names: list
    num_classes: int
    num_points: int
    input_dims: int
    splits: dict
    split_ranges: dict
    shards: list = dataclasses.field(default_factory=list)
    keys: list = dataclasses.field(default_factory=lambda: ["data", "label"])
    dtypes: dict = dataclasses.field(default_factory=dict)
    up_axis: int = 1
    source_layout: Optional[str] = None
    category_names: Optional[list] = None
    category_ids: Optional[list] = None
    num_categories: Optional[int] = None
    num_parts: Optional[int] = None
    category_parts: Optional[list] = None
    part_names: Optional[list] = None
    rooms: Optional[list] = None
    test_area: Optional[int] = None
    voxel_resolution: Optional[int] = None
    voxel_up_axis: Optional[int] = None
    class_count_from: Optional[str] = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"DatasetDescription: task must be one of {TASKS}, got {self.task!r}")
        self.class_names = [str(name) for name in self.class_names]
        if self.num_classes != len(self.class_names):
            raise ValueError(
                f"DatasetDescription: num_classes={self.num_classes!r} but {len(self.class_names)} class names"
            )
        self.shards = [shard if isinstance(shard, Shard) else Shard(**shard) for shard in self.shards]
        self.split_ranges = {
            name: [[int(start), int(stop)] for start, stop in ranges] for name, ranges in self.split_ranges.items()
        }
        self.splits = {name: int(size) for name, size in self.splits.items()}
        for name, ranges in self.split_ranges.items():
            size = sum(stop - start for start, stop in ranges)
            if self.splits.get(name) != size:
                raise ValueError(
                    f"DatasetDescription: split {name!r} has {size} rows in its ranges, "
                    f"but splits says {self.splits.get(name)!r}"
                )
        if self.source_layout is None:
            self.source_layout = self.layout
        if self.has_categories:
            if self.category_names is None or self.category_parts is None:
                raise ValueError("DatasetDescription: part_seg needs category_names and category_parts")
            self.category_names = [str(name) for name in self.category_names]
            self.category_parts = [[int(p) for p in parts] for parts in self.category_parts]
            self.num_categories = len(self.category_names)
            self.num_parts = self.num_classes
            if self.part_names is None:
                self.part_names = list(self.class_names)

    # -- what the rows hold ------------------------------------------------

    @property
    def labels(self):
        """The dataset's `Labels` (what `task` means for the data)."""
        return TASK_LABELS[self.task]

    @property
    def label_key(self):
        """The key of the model's target: 'label', or 'pid' for part labels."""
        return self.labels.key

    @property
    def per_point_labels(self):
        """True when the target is one label per point (segmentation)."""
        return self.labels.per_point

    @property
    def has_categories(self):
        """True when `label` holds object categories with part metadata (part segmentation)."""
        return self.labels.categories

    # -- rows and splits ------------------------------------------------

    @property
    def num_rows(self):
        """Total number of rows over all shards (or in the virtual dataset)."""
        if self.shards:
            return sum(shard.rows for shard in self.shards)
        return max((stop for ranges in self.split_ranges.values() for _, stop in ranges), default=0)

    def split_rows(self, split):
        """Returns the sorted rows of a split.

        Args:
            split: A split name, e.g. 'train'.

        Returns:
            An int64 array of row numbers.

        Raises:
            ValueError: If the dataset has no such split.
        """
        if split not in self.split_ranges:
            raise ValueError(f"{self.root}: no split {split!r} (it has: {', '.join(self.split_ranges) or 'none'})")
        ranges = self.split_ranges[split]
        if not ranges:
            return np.zeros((0,), np.int64)
        return np.concatenate([np.arange(start, stop, dtype=np.int64) for start, stop in ranges])

    def split_rooms(self, split):
        """sem_seg: the room name of every row of a split, in row order."""
        if self.rooms is None:
            raise ValueError(f"{self.root}: no room names (task {self.task!r})")
        return [self.rooms[row] for row in self.split_rows(split)]

    # -- JSON -------------------------------------------------------------

    def to_dict(self):
        """Returns a JSON-serialisable dict (inverse of `from_dict`)."""
        out = dataclasses.asdict(self)
        out["format_version"] = FORMAT_VERSION
        return out

    @classmethod
    def from_dict(cls, data):
        """Builds a description from `to_dict()` output.

        Args:
            data: A dict as produced by `to_dict` (e.g. loaded from JSON).

        Returns:
            A `DatasetDescription`.

        Raises:
            ValueError: If the dict is from a newer format or misses fields.
        """
        data = dict(data)
        version = data.pop("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ValueError(
                f"dataset description format {version} is newer than this pointnet_tf2 understands ({FORMAT_VERSION})"
            )
        names = {field.name for field in dataclasses.fields(cls)}
        missing = [field.name for field in dataclasses.fields(cls) if field.name not in data and _required(field)]
        if missing:
            raise ValueError(f"dataset description misses field(s) {missing}")
        return cls(**{key: value for key, value in data.items() if key in names})

    def to_json(self, **kwargs):
        """Returns the description as a JSON string."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text):
        """Inverse of `to_json`."""
        return cls.from_dict(json.loads(text))

    def summary(self):
        """A one-line human readable summary, e.g. for CLI output."""
        splits = ", ".join(f"{name} {size}" for name, size in self.splits.items())
        extra = ""
        if self.has_categories:
            extra = f", {self.num_categories} categories"
        if self.test_area is not None:
            extra = f", test area {self.test_area}"
        if self.voxel_resolution is not None:
            extra += f", with {self.voxel_resolution}^3 voxel grids"
        return (
            f"{self.source_layout} ({self.task}): {self.num_classes} classes{extra}, "
            f"{self.num_points} points x {self.input_dims} dims, splits: {splits}"
        )


def _required(field):
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def rows_to_ranges(rows):
    """Compresses sorted unique row numbers into `[start, stop)` ranges.

    Args:
        rows: Sorted unique non-negative integers.

    Returns:
        A list of `[start, stop]` pairs of Python ints.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [rows.size]])
    return [[int(rows[a]), int(rows[b - 1]) + 1] for a, b in zip(starts, stops)]


def holdout_indices(num_samples, fraction, seed=0):
    """Splits positions `0..num_samples-1` into a kept and a held-out part.

    Used for a seeded validation hold-out from a training split: pass the
    two results as `indices=` of two `PointCloudSequence`s over 'train'.

    Args:
        num_samples: Number of samples to split.
        fraction: Share to hold out, in [0, 1). A positive fraction holds out
            at least one sample (when there are at least two).
        seed: Seed of the random choice.

    Returns:
        `(kept, held_out)`: sorted int64 arrays.

    Raises:
        ValueError: If `fraction` is not in [0, 1) or `num_samples` < 0.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be a number in [0, 1), got {fraction!r}")
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples!r}")
    count = int(round(fraction * num_samples))
    if fraction > 0 and count == 0 and num_samples >= 2:
        count = 1
    order = np.random.default_rng(seed).permutation(num_samples)
    held = np.sort(order[:count]).astype(np.int64)
    kept = np.sort(order[count:]).astype(np.int64)
    return kept, held


# The S3DIS split by area lives here rather than in `datasets/s3dis.py`: the
# virtual-dataset reader (`io/vds_reader.py`, below the datasets) re-splits too.


def area_of_room(room):
    """Returns the area number of an S3DIS room name like `Area_5_office_1`, or None."""
    match = re.match(r"^Area_(\d+)(?:_|$)", room)
    return int(match.group(1)) if match else None


def s3dis_split_rows(rooms, test_area, *, where="room_filelist.txt"):
    """Splits S3DIS blocks into train (other areas) and test (`test_area`) rows.

    Args:
        rooms: Room name per block, in row order.
        test_area: The test area number.
        where: File name used in error messages.

    Returns:
        `(train_rows, test_rows)` as sorted int64 arrays.

    Raises:
        ValueError: If a room name has no area, or the test area has no block.
    """
    areas = np.empty(len(rooms), np.int64)
    for i, room in enumerate(rooms):
        area = area_of_room(room)
        if area is None:
            raise ValueError(f"{where}: line {i + 1} {room!r} does not name an area like 'Area_1_office_1'")
        areas[i] = area
    test = areas == test_area
    if not test.any():
        present = ", ".join(str(a) for a in sorted(set(areas.tolist())))
        raise ValueError(f"{where}: test_area={test_area} has no blocks (areas present: {present})")
    return np.flatnonzero(~test), np.flatnonzero(test)
