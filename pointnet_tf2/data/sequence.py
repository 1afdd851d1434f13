"""`PointCloudSequence`: batches of point clouds for Keras, and `load_split`.

Reading strategy (measured, see the README "Data" section): the original files
are gzip-chunked, and random fancy-indexed reads from them are about 100x
slower than reading contiguous rows. So rows are always read as contiguous
runs and clouds are shuffled in memory:

- 'memory' mode reads the whole split once (whole chunks, one contiguous read
  per file run) and serves every epoch from RAM;
- 'stream' mode keeps memory bounded: each epoch cuts the split into blocks
  of contiguous rows (aligned to the storage chunks), shuffles the blocks,
  groups them into buffers of about `stream_buffer_bytes`, and shuffles the
  clouds within each buffer; only the buffers being served are in memory;
- 'auto' picks 'memory' when the split fits in `memory_limit` (by default a
  quarter of the machine's RAM, divided among spawned worker processes).

HDF5 handles are opened lazily in the process that reads, and are never
pickled, so `workers > 1` works with threads and with processes started by
fork or spawn. Threads are the better choice here: numpy releases the GIL for
the heavy work; forked workers share the in-memory split, but spawned workers
each load it themselves (Keras starts new worker processes every epoch). Every batch depends only on (seed, epoch, batch index): its
shuffle, point sampling and augmentation are reproducible whichever worker
computes it.
"""

import math
import multiprocessing
import numbers
import os
import threading
from collections import OrderedDict

import keras
import numpy as np

from pointnet_tf2.data.augment import Compose
from pointnet_tf2.data.augment import apply_augmentation
from pointnet_tf2.data.augment import default_train_augmentation
from pointnet_tf2.data.checks import check_non_negative_int
from pointnet_tf2.data.checks import check_positive_int
from pointnet_tf2.data.datasets import open_dataset
from pointnet_tf2.data.description import DatasetDescription
from pointnet_tf2.data.io import h5read
from pointnet_tf2.data.voxels import Voxelize
from pointnet_tf2.data.voxels import default_grid_augmentation

MODES = ("auto", "memory", "stream")
SAMPLINGS = ("random", "first", "fixed")
INPUTS = ("points", "voxels")

# Rows read in one go may include gaps of up to this many unwanted rows.
_MAX_GAP_ROWS = 64
# Rows per streaming block when the storage is not chunked.
_DEFAULT_BLOCK_ROWS = 64
# Smallest streaming block read at once (files chunked by one cloud would
# otherwise be read one cloud per call).
_MIN_BLOCK_BYTES = 256 << 10
# Purpose tags mixed into seeds, so each random stream is independent.
_ORDER, _SAMPLE, _AUGMENT, _FIXED, _GRID = 0, 1, 2, 3, 4


def default_memory_limit():
    """A quarter of the machine's physical memory, in bytes (2 GiB if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 2 << 30


class PointCloudSequence(keras.utils.PyDataset):
    """A `keras.utils.PyDataset` of point cloud batches for cls, part_seg or sem_seg.

    Yields, with `B` = batch size and `N` = `num_points`:

    - cls: `(points float32 (B, N, C), labels int32 (B,))`
    - sem_seg: `(points float32 (B, N, C), labels int32 (B, N))`
    - part_seg: `({"points": float32 (B, N, C), "category": float32 one-hot
      (B, num_categories)}, {"parts": int32 (B, N), "category": int32 (B,)})`
    - cls with `inputs="voxels"`: `(grids float32 (B, R, R, R, 1) of 0/1,
      labels int32 (B,))` for voxel models: the dataset's stored grids when it
      has them (`DatasetDescription.voxel_resolution`; prepared from `.npz`
      or `.binvox` voxel data), else the sampled points voxelised by
      `voxelize`.

    Example:

    ```python
    train = PointCloudSequence("modelnet40.vds.h5", batch_size=32, num_points=1024)
    test = PointCloudSequence(train.description, split="test", num_points=1024)
    model.fit(train, validation_data=test, epochs=250, shuffle=False)
    ```

    (The sequence shuffles itself; pass `shuffle=False` to `fit` so Keras does
    not reorder the batches with Python's global random state.) Keras 3's
    `fit` calls `on_epoch_end` once before its first epoch, so training epoch
    `e` reads sequence epoch `e + 1`; to resume at `initial_epoch=k`, call
    `set_epoch(k)` before `fit` and the batches are those of an uninterrupted run.

    Args:
        source: A VDS/HDF5 file, a dataset directory (see `open_dataset`) or a
            `DatasetDescription`.
        batch_size: Clouds per batch.
        num_points: Points per cloud to yield; defaults to all stored points.
            Must not exceed the stored count.
        split: Split to read ('train', 'val', 'test'; 'all' for a plain file).
        task: Optional expected task; a dataset of another task raises.
        augment: None: the original's training augmentation for the task when
            `split == 'train'` (rotation about the up axis + jitter for cls,
            nothing for segmentation), none otherwise. False: none. An
            augmentation, callable `(points, labels) -> (points, labels)`, or a
            list of them (applied in order).
        seed: Seed of shuffling, point sampling and augmentation.
        shuffle: Shuffle every epoch; None means `split == 'train'`.
        drop_remainder: Drop the last partial batch (else it is yielded smaller).
        indices: Optional positions within the split to restrict to (e.g. a
            validation hold-out from 'train', see `holdout_indices`, or one
            worker's shard).
        mode: 'auto', 'memory' or 'stream' (see the module docstring).
        test_area: S3DIS test area (see `open_dataset`).
        workers: Passed to `keras.utils.PyDataset`.
        use_multiprocessing: Passed to `keras.utils.PyDataset`.
        max_queue_size: Passed to `keras.utils.PyDataset`.
        sampling: How `num_points` of the stored points are chosen: 'random'
            (a new random subset per cloud every epoch), 'first' (the first N,
            as the original), 'fixed' (a seeded subset per cloud, the same
            every epoch). None: 'random' when `split == 'train'`, else 'first'.
        memory_limit: Bytes a split may take to be held in memory in 'auto'
            mode; default a quarter of the physical memory.
        stream_buffer_bytes: Size of one shuffle buffer in 'stream' mode.
        channels: Keep only the first `channels` channels of each point (e.g.
            3 for XYZ of a dataset stored with normals); None keeps all.
        transform: Optional callable `(inputs, targets) -> (inputs, targets)`
            applied to every finished batch, after sampling and augmentation
            (e.g. `pointnet_tf2.data.voxels.Voxelize` turns the points into
            occupancy grids). It must be deterministic (batches stay pure
            functions of seed, epoch and index).
        inputs: "points" (default) or "voxels" (classification only): yield
            occupancy grids. Stored grids are read as they are (no points are
            read or sampled; `augment` must be None, True or False, and
            `grid_augment` moves them); otherwise the points, sampled and
            augmented as usual, are voxelised by `voxelize`.
        voxelize: With `inputs="voxels"`: a `pointnet_tf2.data.voxels.Voxelize`
            giving the grid size R the consumer (a voxel model) takes. Stored
            grids of another size raise `ValueError`; a dataset without
            grids is voxelised with it. None: the stored grids at their size,
            or `Voxelize()` (30^3, shapes scaled into 24^3).
        grid_augment: With `inputs="voxels"`: an augmentation of the grid
            batches, a callable `(grids, rng) -> grids` (e.g.
            `pointnet_tf2.data.voxels.GridShift`, `GridRotate90`) or a list of
            them applied in order, given a Generator derived from (seed, epoch,
            batch index). None: for stored grids, the default
            `GridShift(2)` (a random translation of up to 2 cells that never
            cuts the shape) when the default augmentation applies (`augment`
            None and `split == 'train'`, or `augment=True`), nothing
            otherwise; for voxelised points, nothing (the points are
            augmented). False: nothing. A random rotation by multiples of 90
            degrees about the up axis (`GridRotate90(description.voxel_up_axis)`)
            is off unless given here.
        sampler: Optional batch sampler choosing the clouds of every batch
            (e.g. `pointnet_tf2.data.samplers.ClassBalancedSampler`, P classes
            x K clouds): an object with `bind(labels) -> sampler` (called with
            this sequence's per-cloud labels), `batch_size`, `__len__`
            (batches per epoch) and `epoch_order(epoch) -> positions`. It
            replaces shuffling, sets the batch size, and needs 'memory' mode.

    Raises:
        ValueError: For bad arguments or data (naming the file and problem).
        FileNotFoundError: If the source or one of its files is missing.
    """

    def __init__(
        self,
        source,
        *,
        batch_size=32,
        num_points=None,
        split="train",
        task=None,
        augment=None,
        seed=0,
        shuffle=None,
        drop_remainder=False,
        indices=None,
        mode="auto",
        test_area=None,
        workers=1,
        use_multiprocessing=False,
        max_queue_size=10,
        sampling=None,
        memory_limit=None,
        stream_buffer_bytes=64 << 20,
        channels=None,
        transform=None,
        sampler=None,
        inputs="points",
        voxelize=None,
        grid_augment=None,
    ):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        description = _as_description(source, task, test_area)
        where = description.root
        self.description = description
        self.batch_size = check_positive_int("batch_size", batch_size)
        stored = description.num_points
        self.num_points = stored if num_points is None else check_positive_int("num_points", num_points)
        if self.num_points > stored:
            raise ValueError(
                f"{where}: num_points={self.num_points} is larger than the {stored} points stored per cloud"
            )
        if channels is not None:
            channels = check_positive_int("channels", channels)
            if channels > description.input_dims:
                raise ValueError(f"{where}: channels={channels} but the points have {description.input_dims} channels")
        self.channels = channels
        self.split = split
        split_rows = description.split_rows(split)
        if indices is None:
            self.indices = np.arange(len(split_rows), dtype=np.int64)
        else:
            self.indices = _check_indices(indices, len(split_rows), split, where)
        self.rows = split_rows[self.indices]
        if len(self.rows) == 0:
            raise ValueError(f"{where}: split {split!r} selects no clouds")
        self.seed = check_non_negative_int("seed", seed)
        self.shuffle = (split == "train") if shuffle is None else bool(shuffle)
        self.drop_remainder = bool(drop_remainder)
        if self.drop_remainder and len(self.rows) < self.batch_size:
            raise ValueError(
                f"{where}: split {split!r} has {len(self.rows)} clouds, fewer than batch_size={self.batch_size}, "
                "and drop_remainder=True leaves no batch"
            )
        if sampling is None:
            sampling = "random" if split == "train" else "first"
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS} or None, got {sampling!r}")
        self.sampling = sampling
        self._setup_inputs(inputs, voxelize, grid_augment, augment)
        self.augment = None if self.stored_grids else _resolve_augment(augment, split, description, self.seed)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if memory_limit is None:
            self.memory_limit = default_memory_limit()
        else:
            self.memory_limit = check_positive_int("memory_limit", memory_limit)
        self.stream_buffer_bytes = check_positive_int("stream_buffer_bytes", stream_buffer_bytes)
        if self.stored_grids:
            self._keys = ["voxels", "label"]
            label_bytes = np.dtype(description.dtypes.get("label", "int64")).itemsize
            self._row_bytes = description.voxel_resolution**3 + label_bytes
        else:
            self._keys = list(description.keys)
            self._row_bytes = _row_bytes(description)
        self.mode = self._choose_mode(mode)
        self._reader = _RowReader(description)
        # Streaming blocks: whole storage chunks, at least _MIN_BLOCK_BYTES per read,
        # but small enough that a buffer mixes about 8 or more blocks.
        chunk_rows = self._reader.chunk_rows() or _DEFAULT_BLOCK_ROWS
        buffer_rows = max(1, self.stream_buffer_bytes // self._row_bytes)
        chunks = max(1, math.ceil(_MIN_BLOCK_BYTES / (chunk_rows * self._row_bytes)))
        chunks = max(1, min(chunks, buffer_rows // (8 * chunk_rows)))
        self._block_rows = chunk_rows * chunks
        self._blocks_per_buffer = max(1, buffer_rows // self._block_rows)
        self.epoch = 0
        self._reset_process_state()
        if transform is not None and not callable(transform):
            raise ValueError(f"transform must be None or a callable (inputs, targets) -> (inputs, targets), got {transform!r}")
        self.transform = transform
        self.sampler = None
        if sampler is not None:
            if self.mode != "memory":
                raise ValueError(f"{where}: a sampler needs mode='memory', got mode={self.mode!r}")
            if description.per_point_labels:
                raise ValueError(f"{where}: a sampler needs per-cloud labels (task 'cls'), got task {description.task!r}")
            self.sampler = sampler.bind(self.read_labels())
            self.batch_size = int(self.sampler.batch_size)

    def _setup_inputs(self, inputs, voxelize, grid_augment, augment):
        """Checks and stores `inputs`, `voxelize` and `grid_augment` (see the class docstring)."""
        description, where = self.description, self.description.root
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {INPUTS}, got {inputs!r}")
        self.inputs = inputs
        self.stored_grids = inputs == "voxels" and description.voxel_resolution is not None
        self.voxelize = self.grid_augment = None
        if inputs == "points":
            if voxelize is not None or grid_augment not in (None, False):
                raise ValueError("voxelize= and grid_augment= need inputs='voxels'")
            return

        if description.per_point_labels:
            raise ValueError(f"{where}: inputs='voxels' is for classification datasets, not task {description.task!r}")
        if voxelize is not None and not isinstance(voxelize, Voxelize):
            raise ValueError(f"voxelize must be None or a pointnet_tf2.data.voxels.Voxelize, got {voxelize!r}")
        stored = description.voxel_resolution
        if self.stored_grids:
            if voxelize is not None and voxelize.resolution != stored:
                raise ValueError(f"{where}: stores {stored}^3 voxel grids, but {voxelize.resolution}^3 grids are "
                                 f"wanted (the model's resolution={voxelize.resolution}); prepare the data at "
                                 f"{voxelize.resolution}^3 or build the model with resolution={stored}")  # fmt: skip
            if augment not in (None, True, False):
                raise ValueError(f"{where}: augment= turns points, but inputs='voxels' reads the stored grids; "
                                 "pass grid augmentations as grid_augment=")  # fmt: skip
            if grid_augment is None:
                default = augment is True or (augment is None and self.split == "train")
                grid_augment = _default_grid_augment() if default else False
        self.voxelize = voxelize if voxelize is not None or self.stored_grids else Voxelize()
        if grid_augment in (None, False):
            return
        steps = list(grid_augment) if isinstance(grid_augment, (list, tuple)) else [grid_augment]
        for step in steps:
            if not callable(step):
                raise ValueError("grid_augment must be None, False, a callable (grids, rng) -> grids or a list "
                                 f"of them, got {step!r}")  # fmt: skip
        self.grid_augment = steps or None

    # -- keras.utils.PyDataset ---------------------------------------------

    def __len__(self):
        if getattr(self, "sampler", None) is not None:
            return len(self.sampler)
        if self.drop_remainder:
            return len(self.rows) // self.batch_size
        return math.ceil(len(self.rows) / self.batch_size)

    def __getitem__(self, index):
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (numbers.Integral,)):
            raise TypeError(f"batch index must be an integer, got {index!r}")
        count = len(self)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError(f"batch index {index} out of range for {count} batches")
        order, _ = self._epoch_plan()
        slots = np.arange(index * self.batch_size, min((index + 1) * self.batch_size, len(order)))
        positions = order[slots]
        arrays = self._gather(slots, positions)
        if self.stored_grids:
            batch = self._grid_batch(arrays["voxels"], arrays["label"], index)
        else:
            batch = self._make_batch(arrays, positions, index)
            if self.inputs == "voxels":
                grids, labels = self.voxelize(*batch)
                batch = self._grid_batch(grids, labels, index)
        return batch if self.transform is None else self.transform(*batch)

    def on_epoch_end(self):
        """Moves to the next epoch: a new, deterministic shuffle (seed, epoch)."""
        self.set_epoch(self.epoch + 1)

    def set_epoch(self, epoch):
        """Sets the epoch (e.g. when resuming training); batches depend on (seed, epoch)."""
        epoch = check_non_negative_int("epoch", epoch)
        with self._lock:
            self.epoch = epoch
            self._plan = None

    # -- public helpers -----------------------------------------------------

    @property
    def num_samples(self):
        """Number of clouds per epoch (including a dropped remainder)."""
        return len(self.rows)

    def read_all(self):
        """Reads the raw arrays of the sequence's clouds, in split order, for evaluation.

        All stored points are returned (no sampling, no augmentation).

        Returns:
            A dict: `points` float32 (n, P, C) and, by task, `labels` int32
            (n,) or (n, P), or `category` int32 (n,) and `parts` int32 (n, P);
            `rows` (the dataset rows); for S3DIS, `rooms`; with
            `inputs="voxels"` on a dataset that stores grids, `voxels` uint8
            (n, R, R, R).
        """
        self._check_process()
        with self._lock:
            out = _read_split_arrays(self.description, self._reader, self.rows)
            if self.stored_grids:
                out["voxels"] = self._reader.read("voxels", self.rows)
            return out

    def read_labels(self):
        """Reads only the targets of the sequence's clouds, in split order (no point data).

        Useful for class statistics (e.g. balanced class weights).

        Returns:
            int32 labels: (n,) for cls, (n, P) for sem_seg, and the part ids
            (n, P) for part_seg, over all stored points.
        """
        description = self.description
        self._check_process()
        with self._lock:
            labels = self._reader.read(description.label_key, self.rows)
        shape = (len(self.rows), description.num_points) if description.per_point_labels else (len(self.rows),)
        return labels.reshape(shape).astype(np.int32)

    def __repr__(self):
        return (
            f"PointCloudSequence({self.description.root!r}, split={self.split!r}, task={self.description.task!r}, "
            f"batch_size={self.batch_size}, num_points={self.num_points}, samples={self.num_samples}, "
            f"mode={self.mode!r}" + (f", inputs={self.inputs!r}" if self.inputs != "points" else "") + ")"
        )

    # -- pickling (spawn workers) ------------------------------------------

    def __getstate__(self):
        state = dict(self.__dict__)
        for key in ("_lock", "_buffers", "_plan", "_pid"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset_process_state()

    def _reset_process_state(self):
        self._lock = threading.RLock()
        self._buffers = OrderedDict()
        self._plan = None
        self._pid = os.getpid()

    def _check_process(self):
        # After a fork the parent's lock may be held and its handles are shared:
        # start afresh, but keep in-memory data (it is just memory).
        if self._pid != os.getpid():
            memory = self._buffers.get("all") if self.mode == "memory" else None
            self._reset_process_state()
            if memory is not None:
                self._buffers["all"] = memory

    # -- mode, plan, buffers -----------------------------------------------

    def _choose_mode(self, mode):
        if mode != "auto":
            return mode
        limit = self.memory_limit
        if self.use_multiprocessing and self.workers > 0:
            method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_context().get_start_method()
            if method != "fork":
                limit //= self.workers + 1
        return "memory" if len(self.rows) * self._row_bytes <= limit else "stream"

    def _epoch_plan(self):
        """Returns (order, buffer_starts): the positions in epoch order and where each buffer starts."""
        self._check_process()
        plan = self._plan
        if plan is not None and plan[0] == self.epoch:
            return plan[1], plan[2]
        count = len(self.rows)
        rng = np.random.default_rng([self.seed, _ORDER, self.epoch])
        if self.mode == "memory":
            if self.sampler is not None:
                order = np.asarray(self.sampler.epoch_order(self.epoch), np.int64)
            else:
                order = rng.permutation(count) if self.shuffle else np.arange(count)
            starts = np.array([0, len(order)])
        else:
            blocks = np.arange(0, count, self._block_rows)
            if self.shuffle:
                blocks = rng.permutation(blocks)
            pieces, starts = [], [0]
            for first in range(0, len(blocks), self._blocks_per_buffer):
                group = blocks[first : first + self._blocks_per_buffer]
                positions = np.concatenate([np.arange(b, min(b + self._block_rows, count)) for b in group])
                if self.shuffle:
                    positions = rng.permutation(positions)
                pieces.append(positions)
                starts.append(starts[-1] + len(positions))
            order, starts = np.concatenate(pieces), np.array(starts)
        self._plan = (self.epoch, order, starts)
        return order, starts

    def _gather(self, slots, positions):
        """Arrays (by key) of the clouds at `positions`, loading the buffers they are in."""
        order, starts = self._epoch_plan()
        if self.mode == "memory":
            buffer_ids = np.zeros(len(slots), np.int64)
        else:
            buffer_ids = np.searchsorted(starts, slots, side="right") - 1
        out = {}
        for buffer_id in np.unique(buffer_ids):
            chosen = buffer_ids == buffer_id
            sorted_positions, arrays = self._buffer(int(buffer_id), order, starts)
            where = np.searchsorted(sorted_positions, positions[chosen])
            for key, array in arrays.items():
                part = array[where]
                if key not in out:
                    out[key] = np.empty((len(slots),) + part.shape[1:], part.dtype)
                out[key][chosen] = part
        return out

    def _buffer(self, buffer_id, order, starts):
        key = "all" if self.mode == "memory" else (self.epoch, buffer_id)
        with self._lock:
            cached = self._buffers.get(key)
            if cached is not None:
                self._buffers.move_to_end(key)
                return cached
            if self.mode == "memory":
                positions = np.arange(len(self.rows))
            else:
                positions = np.sort(order[starts[buffer_id] : starts[buffer_id + 1]])
            rows = self.rows[positions]
            arrays = {key_: self._reader.read(key_, rows) for key_ in self._keys}
            cached = (positions, arrays)
            self._buffers[key] = cached
            keep = 1 if self.mode == "memory" else (2 if self.use_multiprocessing else max(2, self.workers + 1))
            while len(self._buffers) > keep:
                self._buffers.popitem(last=False)
            return cached

    # -- batch assembly -----------------------------------------------------

    def _sample_points(self, count, stored, positions, index):
        """Indices (count, num_points) of the stored points to keep, or None for all."""
        n = self.num_points
        if self.sampling == "first" or (n == stored and self.sampling != "fixed"):
            return None if n == stored else np.broadcast_to(np.arange(n), (count, n))
        if self.sampling == "random":
            keys = np.random.default_rng([self.seed, _SAMPLE, self.epoch, index]).random((count, stored))
        else:
            rows = self.rows[positions]
            keys = np.stack([np.random.default_rng([self.seed, _FIXED, int(r)]).random(stored) for r in rows])
        chosen = np.argpartition(keys, n - 1, axis=1)[:, :n] if n < stored else np.argsort(keys, axis=1)
        chosen.sort(axis=1)
        return chosen

    def _grid_batch(self, grids, labels, index):
        """`(grids float32 (B, R, R, R, 1) of 0/1, labels int32 (B,))`, grid augmentation applied."""
        grids = np.asarray(grids)
        if grids.ndim == 5:
            grids = grids[..., 0]
        if self.grid_augment is not None:
            rng = np.random.default_rng([self.seed, _GRID, self.epoch, index])
            for step in self.grid_augment:
                grids = np.asarray(step(grids, rng))
        labels = np.asarray(labels)
        return (grids != 0).astype(np.float32)[..., None], labels.reshape(len(labels)).astype(np.int32)

    def _make_batch(self, arrays, positions, index):
        description = self.description
        points = arrays["data"]
        if self.channels is not None:
            points = points[..., : self.channels]
        count, stored = points.shape[:2]
        per_point = arrays[description.label_key] if description.per_point_labels else None
        chosen = self._sample_points(count, stored, positions, index)
        if chosen is not None:
            points = np.take_along_axis(points, chosen[..., None], axis=1)
            if per_point is not None:
                per_point = np.take_along_axis(per_point.reshape(count, stored), chosen, axis=1)
        points = np.ascontiguousarray(points, dtype=np.float32)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, _AUGMENT, self.epoch, index])
            points, per_point = apply_augmentation(self.augment, points, per_point, rng)
            points = np.ascontiguousarray(points, dtype=np.float32)
            if points.shape[:2] != (count, self.num_points):
                raise ValueError(
                    f"augmentation {self.augment!r} changed the batch shape to {points.shape}; "
                    f"expected ({count}, {self.num_points}, C)"
                )
        if not description.per_point_labels:
            return points, arrays["label"].reshape(count).astype(np.int32)
        if not description.has_categories:
            return points, per_point.reshape(count, self.num_points).astype(np.int32)
        category = arrays["label"].reshape(count).astype(np.int32)
        one_hot = np.zeros((count, description.num_categories), np.float32)
        one_hot[np.arange(count), category] = 1.0
        parts = per_point.reshape(count, self.num_points).astype(np.int32)
        return {"points": points, "category": one_hot}, {"parts": parts, "category": category}


def load_split(source, split="test", *, task=None, test_area=None, indices=None):
    """Reads the raw arrays of a whole split (e.g. for evaluation).

    Args:
        source: A dataset directory, VDS/HDF5 file or `DatasetDescription`.
        split: The split to read.
        task: Optional expected task.
        test_area: S3DIS test area (see `open_dataset`).
        indices: Optional positions within the split.

    Returns:
        The dict described in `PointCloudSequence.read_all`.

    Raises:
        ValueError: For bad arguments or data.
    """
    description = _as_description(source, task, test_area)
    rows = description.split_rows(split)
    if indices is not None:
        rows = rows[_check_indices(indices, len(rows), split, description.root)]
    return _read_split_arrays(description, _RowReader(description), rows)


# -- reading ------------------------------------------------------------------


class _RowReader:
    """Reads sorted rows of a key from a VDS file or the shards of a layout.

    HDF5 files are opened lazily in the reading process, kept open, and never
    pickled. Rows are read as contiguous runs (short gaps are read and dropped).
    """

    def __init__(self, description):
        if description.layout in ("vds",):
            self._paths = [description.root]
            counts = [description.num_rows]
        else:
            self._paths = [shard.path for shard in description.shards]
            counts = [shard.rows for shard in description.shards]
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._data_dtype = np.dtype(np.float32)
        self._handles = {}
        self._pid = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handles"], state["_pid"] = {}, None
        return state

    def _file(self, index):
        import h5py

        if self._pid != os.getpid():
            self._handles, self._pid = {}, os.getpid()
        handle = self._handles.get(index)
        if handle is None:
            path = self._paths[index]
            try:
                handle = h5py.File(path, "r")
            except OSError as error:
                raise ValueError(f"{path}: cannot be opened ({error})") from None
            self._handles[index] = handle
        return handle

    def chunk_rows(self):
        """Rows per storage chunk of `data` in the first file (its sources for a VDS), or None."""
        dataset = self._file(0)["data"]
        if dataset.is_virtual:
            import h5py

            sources = dataset.virtual_sources()
            if not sources:
                return None
            path = os.path.join(os.path.dirname(self._paths[0]), sources[0].file_name)
            try:
                with h5py.File(path, "r") as f:
                    chunks = f[sources[0].dset_name].chunks
            except OSError:
                return None
        else:
            chunks = dataset.chunks
        return int(chunks[0]) if chunks else None

    def read(self, key, rows):
        """Returns `key`'s values at the sorted unique `rows` (data as float32)."""
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            dataset = self._file(0)[key]
            return np.empty((0,) + dataset.shape[1:], self._data_dtype if key == "data" else dataset.dtype)
        out = None
        file_ids = np.searchsorted(self._starts, rows, side="right") - 1
        done = 0
        for file_id in np.unique(file_ids):
            local = rows[file_ids == file_id] - self._starts[file_id]
            dataset = self._file(int(file_id))[key]
            if out is None:
                dtype = self._data_dtype if key == "data" else dataset.dtype
                out = np.empty((len(rows),) + dataset.shape[1:], dtype)
            for run in _runs(local, _MAX_GAP_ROWS):
                low, high = int(run[0]), int(run[-1]) + 1
                block = h5read.read(dataset, slice(low, high))
                out[done : done + len(run)] = block if len(run) == high - low else block[run - low]
                done += len(run)
        return out

    def close(self):
        for handle in self._handles.values():
            handle.close()
        self._handles = {}


def _runs(rows, max_gap):
    """Splits sorted rows into groups whose consecutive gaps are at most `max_gap`."""
    if len(rows) == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) > max_gap + 1) + 1
    return np.split(rows, breaks)


def _read_split_arrays(description, reader, rows):
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    if len(np.unique(sorted_rows)) != len(sorted_rows):
        raise ValueError("rows to read must be unique")
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    arrays = {key: reader.read(key, sorted_rows)[inverse] for key in description.keys}
    count = len(rows)
    out = {"points": arrays["data"].astype(np.float32, copy=False), "rows": np.asarray(rows, np.int64)}
    if not description.per_point_labels:
        out["labels"] = arrays["label"].reshape(count).astype(np.int32)
    elif not description.has_categories:
        out["labels"] = arrays["label"].reshape(count, description.num_points).astype(np.int32)
    else:
        out["category"] = arrays["label"].reshape(count).astype(np.int32)
        out["parts"] = arrays["pid"].reshape(count, description.num_points).astype(np.int32)
    if description.rooms is not None:
        out["rooms"] = [description.rooms[r] for r in rows]
    return out


# -- argument helpers -----------------------------------------------------------


def _as_description(source, task, test_area):
    if isinstance(source, DatasetDescription):
        if task is not None and source.task != task:
            raise ValueError(f"{source.root}: holds a dataset for task {source.task!r}, not {task!r}")
        return source
    if isinstance(source, (str, os.PathLike)):
        return open_dataset(source, task, test_area=test_area)
    raise ValueError(
        f"source must be a dataset directory, an HDF5/VDS file path or a DatasetDescription, got {source!r}"
    )


def _check_indices(indices, size, split, where):
    array = np.asarray(indices)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(f"indices must be a 1-D sequence of integers, got array of shape {array.shape} ({array.dtype})")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= size):
        raise ValueError(f"{where}: indices must be in 0..{size - 1} (split {split!r} has {size} clouds)")
    unique = np.unique(array)
    if len(unique) != len(array):
        raise ValueError("indices must not repeat")
    return unique


def _row_bytes(description):
    points = description.num_points
    total = points * description.input_dims * 4
    for key in description.keys:
        if key == "data":
            continue
        itemsize = np.dtype(description.dtypes.get(key, "int64")).itemsize
        per_point = description.per_point_labels and key == description.label_key
        total += itemsize * (points if per_point else 1)
    return total


def _default_grid_augment():
    return default_grid_augmentation()


def _resolve_augment(augment, split, description, seed):
    if augment is None:
        if split != "train":
            return None
        pipeline = default_train_augmentation(seed, task=description.task, up_axis=description.up_axis)
        return pipeline if len(pipeline) else None
    if augment is False:
        return None
    if augment is True:
        return default_train_augmentation(seed, task=description.task, up_axis=description.up_axis)
    if isinstance(augment, (list, tuple)):
        return Compose(augment)
    if callable(augment):
        return augment
    raise ValueError(f"augment must be None, False, a callable or a list of callables, got {augment!r}")
