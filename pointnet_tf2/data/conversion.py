"""Running a per-file conversion over many inputs: parallel, seeded, sharded, resumable.

This is the engine behind `pointnet-tf2 prepare` (meshes and point files ->
ModelNet40 layout) and is meant to be reused by every converter of raw data
(S3DIS rooms, ShapeNet part shapes, ...). A converter supplies three things:

1. The inputs: a list of `ConversionInput(key, path, group, info)`. `key` is a
   unique, stable name (e.g. the path relative to the data root): it seeds the
   input's random generator and identifies it on `--resume`. `group` keeps
   inputs apart that must land in different outputs (e.g. "train" / "test"):
   a work shard never mixes groups. `info` carries what the conversion
   function needs besides the file (a label, a room name); it must be picklable.
2. A conversion function `convert(item, rng)`: a module-level function (or a
   `functools.partial` of one, so it pickles) that turns one input into rows,
   e.g. `{"data": (1, 2048, 3) float32, "label": (1,) uint8}` for one mesh, or
   `{"data": (k, 4096, 9), "label": (k, 4096)}` for a room cut into k blocks.
   It returns a dict of arrays with the same number of rows (0 is allowed), or
   a `Converted(arrays, notes)` to attach non-fatal remarks ("non-manifold").
   To reject an input it raises `SkipItem(reason, kind)` with a one-line
   reason; any other exception is also caught and turns into a skip of kind
   "error", so one bad file never stops a run.
3. A `schema`: `{key: (row shape, dtype)}` of what every row must look like,
   e.g. `{"data": ((2048, 3), "float32"), "label": ((), "uint8")}`. Results are
   cast to it and checked (shape, NaN/inf in float arrays); an input whose
   result does not fit is skipped ("bad_output"), never written into a shard.

`run_conversion(inputs, convert, work_dir, schema=...)` then:

- converts the inputs in worker processes (`workers`, default: every CPU;
  `workers <= 1` runs in this process), giving input `key` the generator
  `numpy.random.default_rng(item_seed(seed, key))`, so results depend neither
  on the number of workers nor on the order in which inputs finish; a worker
  that dies (a crash in a C library, the out-of-memory killer) costs a retry:
  the inputs that were in flight are converted again one at a time, and the
  one that kills its worker is skipped ("crashed");
- groups consecutive inputs of one group into work shards of at most
  `shard_size` inputs (so at most `shard_size` rows when each input gives one
  row), writes each finished shard to `work_dir/shard-NNNNN.h5` through
  `atomic_output` and then records it in `work_dir/manifest.json` (also
  written atomically) with the key, size and modification time of each of
  its inputs, its skips and notes;
- with `resume=True`, reuses every recorded shard whose inputs are unchanged
  (same keys, sizes and modification times), so an interrupted run continues
  where it stopped; the other options must be the same (`options` is stored
  in the manifest and compared);
- shows a progress line on stderr (`pointnet_tf2.utils.progress`) and returns a `ConversionRun`: the counts,
  the skips (`run.skipped`: key, kind, reason), `run.summary_lines()`,
  `run.write_skipped(path)` (`skipped.txt`: one `key<TAB>kind<TAB>reason` line
  per skipped input) and `run.arrays(group)`: lazy row concatenations
  (`ShardedArray`) of the group's shards, which the layout writers
  (`pointnet_tf2.data.datasets`) read shard by shard, so a dataset larger than
  memory can be written;
- with `strict=True`, raises `ValueError` after the run if anything was
  skipped (the finished shards stay, so fixing the files and resuming only
  converts the shards that hold them again).

Typical use (see `pointnet_tf2.data.datasets.mesh_folder` for the full one):

```python
inputs = [ConversionInput(key=rel, path=os.path.join(root, rel), group=split, info={"label": label})
          for rel, split, label in files]
schema = {"data": ((num_points, 3), "float32"), "label": ((), "uint8")}
run = run_conversion(inputs, functools.partial(convert_one, options), work_dir, schema=schema,
                     shard_size=2048, seed=0, options=dataclasses.asdict(options), resume=resume)
train = run.arrays("train")
write_modelnet_layout(output, {"train": (train["data"], train["label"]), ...}, class_names)
run.cleanup()   # removes work_dir once the output is published
```

Before converting, a converter checks its destination with
`check_output_folder` and gets its work folder (hidden, next to the output:
`work_dir_for`) from `claim_work_dir`, which keeps an unfinished run's shards
for `resume` or discards them with `overwrite`.
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import time
import traceback
from collections import Counter
from collections import deque
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from pointnet_tf2.utils import atomic_output
from pointnet_tf2.utils import files
from pointnet_tf2.utils.files import check_not_an_input
from pointnet_tf2.utils.files import path_is_inside  # noqa: F401  (re-exported)
from pointnet_tf2.utils.locking import LOCK_FILE
from pointnet_tf2.utils.locking import run_lock
from pointnet_tf2.utils.progress import Progress  # noqa: F401  (re-exported: its former home)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
SKIPPED_FILE = "skipped.txt"
# Suffix of the hidden work folder next to a dataset being prepared.
WORK_SUFFIX = ".prepare-work"

# Skip kinds used by the engine itself (converters add their own, e.g. "malformed").
ERROR = "error"
BAD_OUTPUT = "bad_output"
CRASHED = "crashed"
MISSING = "missing"

_SOURCE_KEY = "_input"  # per-row position of the input within its shard


class SkipItem(Exception):
    """Raised by a conversion function: skip this input, with a one-line reason.

    Args:
        reason: One line saying what is wrong, without the file name (the
            engine adds it), e.g. "zero surface area".
        kind: A short category used to count skips in the summary, e.g.
            "empty", "malformed", "zero_area".
    """

    def __init__(self, reason, kind="skipped"):
        super().__init__(reason)
        self.reason = _one_line(reason)
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class ConversionInput:
    """One input of a conversion.

    Attributes:
        key: Unique, stable name of the input (e.g. its path relative to the
            data root); seeds its random generator and identifies it on resume.
        path: The file to read; its size and modification time decide whether
            a finished shard can be reused. Missing files are skipped.
        group: Output group (e.g. "train", "test"); shards never mix groups.
        info: Picklable extra data for the conversion function (a label, ...).
    """

    key: str
    path: str
    group: str = ""
    info: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Converted:
    """What a conversion function may return instead of a plain dict.

    Attributes:
        arrays: Dict key -> array whose first axis is rows.
        notes: Non-fatal remarks about the input (counted in the summary),
            e.g. ("non_manifold",).
    """

    arrays: dict
    notes: tuple = ()


def item_seed(seed, key):
    """Returns the seed of one input: a hash of the run seed and the input key.

    Args:
        seed: The run's seed (int).
        key: The input's key.

    Returns:
        A non-negative 63-bit int.
    """
    digest = hashlib.sha256(f"{int(seed)}\0{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def default_workers():
    """Number of worker processes used by default: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# --- the plan ------------------------------------------------------------------------


@dataclasses.dataclass
class ShardRecord:
    """A work shard: consecutive inputs of one group, and what became of them.

    Attributes:
        index: Shard number (file `shard-<index>.h5`).
        group: The inputs' group.
        first: Position of its first input in the run's input list.
        inputs: `[key, size, mtime_ns]` of each input (size -1: missing).
        rows: Rows written (0 when every input was skipped or gave no rows).
        file: File name inside the work folder, or None when `rows` is 0.
        skipped: `[key, kind, reason]` of each skipped input.
        notes: `[key, note]` of each note.
        converted: Number of inputs converted (not skipped).
        seconds: Conversion time summed over its inputs.
    """

    index: int
    group: str
    first: int
    inputs: list
    rows: int = 0
    file: str = None
    skipped: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    converted: int = 0
    seconds: float = 0.0


def _file_state(path):
    try:
        stat = os.stat(path)
    except OSError:
        return -1, -1
    return int(stat.st_size), int(stat.st_mtime_ns)


def plan_shards(inputs, shard_size):
    """Splits inputs into shards: consecutive runs of one group, at most `shard_size` long.

    Groups are taken in the order of their first input; within a group the
    inputs keep their order.

    Args:
        inputs: A list of `ConversionInput`.
        shard_size: Maximum inputs per shard.

    Returns:
        `(ordered_inputs, shards)`: the inputs in shard order, and a list of
        `ShardRecord` (without results).
    """
    groups = {}
    for item in inputs:
        groups.setdefault(item.group, []).append(item)
    ordered, shards = [], []
    for group, members in groups.items():
        for start in range(0, len(members), shard_size):
            chunk = members[start:start + shard_size]
            shards.append(ShardRecord(
                index=len(shards), group=group, first=len(ordered),
                inputs=[[item.key, *_file_state(item.path)] for item in chunk],
            ))  # fmt: skip
            ordered.extend(chunk)
    return ordered, shards


# --- converting one input (runs in a worker) ---------------------------------------------


def _one_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_rows(arrays, schema):
    """Casts a result to the schema; returns (arrays, rows) or raises SkipItem."""
    if isinstance(arrays, Converted):
        arrays = arrays.arrays
    if not isinstance(arrays, dict):
        raise SkipItem(f"the conversion returned {type(arrays).__name__}, not a dict of arrays", BAD_OUTPUT)
    missing = [key for key in schema if key not in arrays]
    extra = [key for key in arrays if key not in schema]
    if missing or extra:
        raise SkipItem(f"the conversion returned keys {sorted(arrays)}, expected {sorted(schema)}", BAD_OUTPUT)
    out, rows = {}, None
    for key, (shape, dtype) in schema.items():
        value = np.asarray(arrays[key])
        if value.ndim == 0 or tuple(value.shape[1:]) != tuple(shape):
            raise SkipItem(f"{key!r} has shape {value.shape}, expected (rows, {', '.join(map(str, shape))})"
                           if shape else f"{key!r} has shape {value.shape}, expected (rows,)", BAD_OUTPUT)
        if rows is not None and value.shape[0] != rows:
            raise SkipItem(f"{key!r} has {value.shape[0]} rows, other arrays have {rows}", BAD_OUTPUT)
        rows = value.shape[0]
        dtype = np.dtype(dtype)
        both_integer = np.issubdtype(value.dtype, np.integer) and np.issubdtype(dtype, np.integer)
        if not (both_integer or np.can_cast(value.dtype, dtype, "same_kind")):
            raise SkipItem(f"{key!r} has dtype {value.dtype}, expected {dtype}", BAD_OUTPUT)
        if np.issubdtype(dtype, np.integer) and value.size:
            info = np.iinfo(dtype)
            if value.min() < info.min or value.max() > info.max:
                raise SkipItem(f"{key!r} has values outside the range of {dtype}", BAD_OUTPUT)
        with np.errstate(over="ignore", invalid="ignore"):
            value = value.astype(dtype, copy=False)
        if np.issubdtype(dtype, np.floating) and not np.isfinite(value).all():
            raise SkipItem(f"{key!r} has NaN or inf values (or values too large for {dtype})", BAD_OUTPUT)
        out[key] = np.ascontiguousarray(value)
    return out, rows


def _convert_task(task):
    """Converts one input; never raises (except KeyboardInterrupt/SystemExit).

    Returns:
        `(position, "ok", arrays, notes, seconds)` or
        `(position, "skip", (kind, reason), (), seconds)`.
    """
    position, item, seed, convert, schema = task
    start = time.perf_counter()
    try:
        if not os.path.exists(item.path):
            raise SkipItem("the file does not exist (any more)", MISSING)
        result = convert(item, np.random.default_rng(seed))
        notes = tuple(str(n) for n in result.notes) if isinstance(result, Converted) else ()
        arrays, _ = _check_rows(result, schema)
        return position, "ok", arrays, notes, time.perf_counter() - start
    except SkipItem as skip:
        payload = (skip.kind, skip.reason)
    except MemoryError:
        payload = (ERROR, "out of memory while converting")
    except Exception as error:  # noqa: BLE001 - one input must never stop the run
        where = traceback.extract_tb(error.__traceback__)[-1]
        payload = (ERROR, _one_line(f"{type(error).__name__}: {error} "
                                    f"(at {os.path.basename(where.filename)}:{where.lineno})"))  # fmt: skip
    return position, "skip", payload, (), time.perf_counter() - start


def _init_worker():
    # Ctrl-C is handled by the parent, which stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool_context():
    # fork starts workers without re-importing the package (and TensorFlow).
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _run_tasks(tasks, workers, on_result):
    """Runs tasks in-process or in a process pool; calls on_result for each result.

    A task whose worker dies is retried alone; if it kills a worker again it
    gives a "crashed" skip result.
    """
    if workers <= 1:
        for task in tasks:
            on_result(_convert_task(task))
        return
    queue = deque(tasks)
    context = _pool_context()
    while queue:
        suspects = []
        executor = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker)
        try:
            inflight = {}
            while queue or inflight:
                while queue and len(inflight) < 2 * workers:
                    task = queue.popleft()
                    inflight[executor.submit(_convert_task, task)] = task
                done, _ = concurrent.futures.wait(inflight, return_when=concurrent.futures.FIRST_COMPLETED)
                broken = False
                for future in done:
                    task = inflight.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        suspects.append(task)
                        broken = True
                        continue
                    on_result(result)
                if broken:
                    suspects.extend(inflight.values())
                    break
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown(wait=True, cancel_futures=True)
        for task in sorted(suspects, key=lambda t: t[0]):
            on_result(_run_isolated(task, context))


def _run_isolated(task, context):
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker) as executor:
        try:
            return executor.submit(_convert_task, task).result()
        except BrokenProcessPool:
            return task[0], "skip", (CRASHED, "the worker process died while converting it "
                                              "(a crash in a library, or killed for using too much memory)"), (), 0.0


# --- reading the shards back ------------------------------------------------------------


class ShardedArray:
    """Read-only row concatenation of one dataset over several HDF5 work shards.

    Behaves as a numpy array for `shape`, `dtype`, `len()` and slicing
    `a[start:stop]` (reads only the shards it needs), integer and index-array
    access, and `numpy.asarray(a)` (reads everything). The layout writers
    (`pointnet_tf2.data.datasets`) accept it wherever they take an array.

    Args:
        files: Paths of the shard files, in row order (files with 0 rows omitted).
        counts: Rows of each file.
        key: Dataset name inside the files.
        row_shape: Shape of one row.
        dtype: Dtype of the dataset.
    """

    def __init__(self, files, counts, key, row_shape, dtype):
        self.files, self.key = list(files), key
        self.counts = np.asarray(counts, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.shape = (int(self.starts[-1]),) + tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)

    def __len__(self):
        return self.shape[0]

    def _read(self, start, stop):
        import h5py

        parts = []
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        for i in range(max(first, 0), len(self.files)):
            lo, hi = self.starts[i], self.starts[i + 1]
            if lo >= stop:
                break
            a, b = max(start, lo) - lo, min(stop, hi) - lo
            if b > a:
                with h5py.File(self.files[i], "r") as f:
                    parts.append(f[self.key][a:b])
        if not parts:
            return np.zeros((0,) + self.shape[1:], self.dtype)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return self._read(start, max(start, stop))
            return self._read(0, len(self))[index]
        if isinstance(index, (int, np.integer)):
            i = int(index) + (len(self) if index < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"index {index} is out of range for {len(self)} rows")
            return self._read(i, i + 1)[0]
        return np.asarray(self)[index]

    def __array__(self, dtype=None, copy=None):
        values = self._read(0, len(self))
        return values if dtype is None else values.astype(dtype)

    def __repr__(self):
        return f"ShardedArray({self.key!r}, shape={self.shape}, dtype={self.dtype}, files={len(self.files)})"


# --- the run --------------------------------------------------------------------------------


@dataclasses.dataclass
class ConversionRun:
    """What `run_conversion` produced.

    Attributes:
        work_dir: The work folder (shards and manifest).
        inputs: The inputs in shard order.
        shards: The `ShardRecord`s, all finished.
        schema: The row schema.
        seconds: Wall time of this call.
        resumed_shards: Shards reused from an earlier run.
        workers: Worker processes used (1 = in-process).
        processed: Inputs converted or skipped by this call (not resumed).
    """

    work_dir: str
    inputs: list
    shards: list
    schema: dict
    seconds: float
    resumed_shards: int
    workers: int
    processed: int = 0

    @property
    def skipped(self):
        """`(key, kind, reason)` of every skipped input, in input order."""
        return [tuple(entry) for shard in self.shards for entry in shard.skipped]

    @property
    def notes(self):
        """`(key, note)` of every note, in input order."""
        return [tuple(entry) for shard in self.shards for entry in shard.notes]

    @property
    def converted(self):
        """Number of inputs converted."""
        return sum(shard.converted for shard in self.shards)

    def groups(self):
        """The groups in shard order."""
        return list(dict.fromkeys(shard.group for shard in self.shards))

    def rows(self, group):
        """Rows written for a group."""
        return sum(shard.rows for shard in self.shards if shard.group == group)

    def arrays(self, group):
        """The rows of a group as lazy arrays.

        Args:
            group: A group name.

        Returns:
            Dict schema key -> `ShardedArray`, plus "input": for each row, the
            position of its input in `inputs` (int64 numpy array).
        """
        shards = [shard for shard in self.shards if shard.group == group and shard.rows]
        files = [os.path.join(self.work_dir, shard.file) for shard in shards]
        counts = [shard.rows for shard in shards]
        out = {key: ShardedArray(files, counts, key, shape, dtype) for key, (shape, dtype) in self.schema.items()}
        positions = ShardedArray(files, counts, _SOURCE_KEY, (), np.int32)
        firsts = np.repeat([shard.first for shard in shards], counts)
        out["input"] = np.asarray(positions, dtype=np.int64) + firsts.astype(np.int64)
        return out

    def skip_counts(self):
        """Counter kind -> number of skipped inputs."""
        return Counter(kind for _, kind, _ in self.skipped)

    def note_counts(self):
        """Counter note -> number of inputs with that note."""
        return Counter(note for _, note in self.notes)

    def summary_lines(self, label="convert", unit="files", row_unit="rows"):
        """A human-readable summary: converted, skipped by kind, notes.

        Args:
            label: Name in front of the first line.
            unit: What the inputs are called.
            row_unit: What the rows are called.

        Returns:
            A list of lines.
        """
        total = len(self.inputs)
        skipped = self.skipped
        rate = self.processed / self.seconds if self.seconds > 0 else 0.0
        lines = [f"{label}: converted {self.converted} of {total} {unit} in {self.seconds:.1f} s "
                 f"({rate:.1f} {unit}/s, {self.workers} worker{'s' if self.workers != 1 else ''}"
                 + (f", {self.resumed_shards} shard(s) resumed" if self.resumed_shards else "") + ")"]  # fmt: skip
        for group in self.groups():
            if group:
                lines.append(f"  {group}: {self.rows(group)} {row_unit}")
        if skipped:
            lines.append(f"  skipped {len(skipped)}:")
            for kind, count in sorted(self.skip_counts().items(), key=lambda kv: (-kv[1], kv[0])):
                example = next(key for key, k, _ in skipped if k == kind)
                lines.append(f"    {kind:<14} {count:>6}  (e.g. {example})")
        notes = self.note_counts()
        if notes:
            lines.append("  notes (converted anyway): " + ", ".join(f"{n} {c}" for n, c in sorted(notes.items())))
        return lines

    def write_skipped(self, path):
        """Writes `skipped.txt`: `key<TAB>kind<TAB>reason` per skipped input (atomically).

        Args:
            path: The file to write.

        Returns:
            The path.
        """
        with atomic_output(path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                for key, kind, reason in self.skipped:
                    f.write(f"{key}\t{kind}\t{reason}\n")
        return path

    def raise_if_skipped(self):
        """Strict mode: raises if any input was skipped, after writing `work_dir/skipped.txt`.

        Raises:
            ValueError: Naming the first skipped input and the skip list.
        """
        skipped = self.skipped
        if skipped:
            path = self.write_skipped(os.path.join(self.work_dir, SKIPPED_FILE))
            raise ValueError(f"{len(skipped)} of {len(self.inputs)} inputs were skipped and strict mode is on "
                             f"(first: {skipped[0][0]}: {skipped[0][2]}); every reason is in {path}")  # fmt: skip

    def cleanup(self):
        """Deletes the work folder (call once the final output is published)."""
        shutil.rmtree(self.work_dir, ignore_errors=True)


def _read_manifest(work_dir):
    path = os.path.join(work_dir, MANIFEST)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        manifest["version"], manifest["options"], manifest["shards"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a valid conversion manifest ({error}); "
                         "remove the folder to start over") from None
    if manifest["version"] > MANIFEST_VERSION:
        raise ValueError(f"{path}: written by a newer pointnet_tf2 (manifest version {manifest['version']})")
    return manifest


def _write_manifest(work_dir, options, shards):
    payload = {
        "version": MANIFEST_VERSION,
        "options": options,
        "shards": [dataclasses.asdict(shard) for shard in shards if shard is not None],
    }
    with atomic_output(os.path.join(work_dir, MANIFEST)) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(payload, f)


def _difference(old, new):
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k) != new.get(k)]
    return ", ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in changed[:4])


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def run_conversion(
    inputs,
    convert,
    work_dir,
    *,
    schema,
    shard_size=2048,
    seed=0,
    workers=None,
    resume=False,
    strict=False,
    options=None,
    progress=True,
    label="convert",
    stream=None,
):
    """Converts every input into rows stored in work shards (see the module docstring).

    Args:
        inputs: A list of `ConversionInput` with unique keys.
        convert: `convert(item, rng)` -> dict of arrays or `Converted`;
            picklable (module-level, or a `functools.partial` of one).
        work_dir: Folder for the shards and the manifest (created if missing).
        schema: `{key: (row shape, dtype)}` every result must fit.
        shard_size: Maximum inputs per work shard.
        seed: Run seed; input `key` gets `default_rng(item_seed(seed, key))`.
        workers: Worker processes (default: all CPUs); <= 1 converts in this
            process.
        resume: Reuse the finished shards recorded in `work_dir`. Without it,
            a `work_dir` holding a manifest is an error.
        strict: Raise `ValueError` at the end if any input was skipped.
        options: JSON-able dict of the conversion's options; a resumed run
            must have the same (with the schema, seed and shard size).
        progress: Show the progress line on stderr.
        label: Name shown in the progress line.
        stream: Stream of the progress line (default `sys.stderr`).

    Returns:
        A `ConversionRun`.

    Raises:
        ValueError: On bad arguments, duplicate keys, a manifest from other
            options, a manifest without `resume`, or skips with `strict`.
    """
    start_time = time.perf_counter()
    inputs = list(inputs)
    if isinstance(shard_size, bool) or not isinstance(shard_size, (int, np.integer)) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size!r}")
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ValueError(f"workers must be an integer >= 0, got {workers!r}")
    workers = max(1, int(workers))
    if not isinstance(schema, dict) or not schema:
        raise ValueError(f"schema must be a non-empty dict {{key: (row shape, dtype)}}, got {schema!r}")
    schema = {key: (tuple(int(d) for d in shape), np.dtype(dtype).str) for key, (shape, dtype) in schema.items()}
    if _SOURCE_KEY in schema:
        raise ValueError(f"schema: the key {_SOURCE_KEY!r} is reserved")
    seen = set()
    for item in inputs:
        if not isinstance(item, ConversionInput):
            raise ValueError(f"inputs must be ConversionInput objects, got {type(item).__name__}")
        if item.key in seen:
            raise ValueError(f"inputs: the key {item.key!r} appears twice")
        seen.add(item.key)

    fingerprint = _jsonable({
        "options": options or {},
        "schema": {key: [list(shape), dtype] for key, (shape, dtype) in schema.items()},
        "seed": int(seed),
        "shard_size": int(shard_size),
    })  # fmt: skip
    work_dir = os.path.abspath(os.fspath(work_dir))
    with run_lock(work_dir, what="work folder"):  # one run per work folder; created if missing
        files.remove_stale_temporaries(work_dir)  # of a run that was killed
        return _convert(inputs, convert, work_dir, schema, shard_size, seed, workers, resume, strict,
                        fingerprint, progress, label, stream, start_time)


def _convert(inputs, convert, work_dir, schema, shard_size, seed, workers, resume, strict, fingerprint,
             progress, label, stream, start_time):
    """`run_conversion` once the arguments are checked and the work folder is locked."""
    manifest = _read_manifest(work_dir)
    if manifest is not None and not resume:
        raise ValueError(f"{work_dir}: holds an unfinished conversion; resume it (--resume) or remove the folder")
    if manifest is not None and manifest["options"] != fingerprint:
        raise ValueError(f"{work_dir}: the unfinished conversion used other options "
                         f"({_difference(manifest['options'], fingerprint)}); run without --resume "
                         "(and with --overwrite) to start over")  # fmt: skip

    ordered, plan = plan_shards(inputs, shard_size)
    finished = [None] * len(plan)
    if manifest is not None:
        recorded = {record["index"]: record for record in manifest["shards"]}
        for shard in plan:
            record = recorded.get(shard.index)
            if (record is not None and record["group"] == shard.group and record["inputs"] == shard.inputs
                    and (record["file"] is None or os.path.exists(os.path.join(work_dir, record["file"])))):
                finished[shard.index] = ShardRecord(**record)
    resumed = sum(shard is not None for shard in finished)

    pending = {}  # shard index -> {position: result}
    tasks = []
    for shard in plan:
        if finished[shard.index] is not None:
            continue
        pending[shard.index] = {}
        for offset in range(len(shard.inputs)):
            position = shard.first + offset
            item = ordered[position]
            tasks.append((position, item, item_seed(seed, item.key), convert, schema))
    shard_of = np.zeros(len(ordered), dtype=np.int64)
    for shard in plan:
        shard_of[shard.first:shard.first + len(shard.inputs)] = shard.index

    bar = Progress(len(ordered), label, stream=stream, enabled=progress, always_final=True,
                   initial=sum(len(s.inputs) for s in finished if s is not None))
    bar.skipped = sum(len(s.skipped) for s in finished if s is not None)

    def on_result(result):
        position = result[0]
        index = int(shard_of[position])
        pending[index][position] = result
        bar.update(1, skipped=int(result[1] == "skip"))
        shard = plan[index]
        if len(pending[index]) == len(shard.inputs):
            finished[index] = _write_shard(work_dir, shard, ordered, pending.pop(index), schema)
            _write_manifest(work_dir, fingerprint, finished)

    try:
        if manifest is None:
            _write_manifest(work_dir, fingerprint, finished)
        _run_tasks(tasks, workers, on_result)
    finally:
        bar.close()
    run = ConversionRun(work_dir=work_dir, inputs=ordered, shards=finished, schema=schema,
                        seconds=time.perf_counter() - start_time, resumed_shards=resumed,
                        workers=workers if tasks else 0, processed=len(tasks))  # fmt: skip
    if strict:
        run.raise_if_skipped()
    return run


def _write_shard(work_dir, shard, ordered, results, schema):
    import h5py

    parts = {key: [] for key in schema}
    sources = []
    record = dataclasses.replace(shard, skipped=[], notes=[], rows=0, converted=0, seconds=0.0, file=None)
    for position in sorted(results):
        _, status, payload, notes, seconds = results[position]
        key = ordered[position].key
        record.seconds += float(seconds)
        if status == "skip":
            record.skipped.append([key, payload[0], payload[1]])
            continue
        record.converted += 1
        record.notes.extend([key, note] for note in notes)
        rows = next(iter(payload.values())).shape[0]
        for name in schema:
            parts[name].append(payload[name])
        sources.append(np.full(rows, position - shard.first, dtype=np.int32))
    record.rows = int(sum(len(s) for s in sources))
    if record.rows:
        record.file = f"shard-{shard.index:05d}.h5"
        with atomic_output(os.path.join(work_dir, record.file)) as tmp:
            with h5py.File(tmp, "w") as f:
                for name, (_, dtype) in schema.items():
                    f.create_dataset(name, data=np.concatenate(parts[name]).astype(dtype, copy=False))
                f.create_dataset(_SOURCE_KEY, data=np.concatenate(sources))
    return record


def work_dir_for(output_dir):
    """The hidden work folder next to `output_dir` (work shards of an unfinished run)."""
    parent, name = os.path.split(os.path.abspath(os.fspath(output_dir)))
    return os.path.join(parent, f".{name}{WORK_SUFFIX}")


def check_output_folder(output_dir, root, *, overwrite=False, resume=False):
    """Checks, before anything is converted, that a dataset can be created at `output_dir`.

    The output (and its work folder) must not equal, contain or lie inside
    the data folder; an existing non-empty output is only replaced with
    `overwrite` (or when `resume` continues the unfinished run that was
    writing it), and only if pointnet-tf2 wrote it (see
    `pointnet_tf2.utils.files.check_output_folder`).

    Args:
        output_dir: Absolute path of the dataset folder to create.
        root: Absolute path of the data being converted.
        overwrite: Whether a non-empty `output_dir` written by pointnet-tf2
            may be replaced.
        resume: Whether an unfinished run for `output_dir` is continued: it
            may replace the output as the run it continues could.

    Raises:
        ValueError: If the output or its work folder overlaps `root`, the
            output is not a folder, or is a non-empty folder that may not be
            replaced.
    """
    check_not_an_input(output_dir, [root])
    check_not_an_input(work_dir_for(output_dir), [root], what="work folder")
    replace = overwrite or (resume and os.path.isdir(work_dir_for(output_dir)))
    files.check_output_folder(output_dir, [root], overwrite=replace)


def _is_work_folder(work_dir):
    """Whether `work_dir` is a work folder of `run_conversion` (a manifest, or nothing of anyone else's)."""
    names = [n for n in os.listdir(work_dir) if n != LOCK_FILE and files.temporary_target(n) is None]
    return MANIFEST in names or not names


def claim_work_dir(output_dir, *, overwrite=False, resume=False, run_name="run"):
    """The work folder of `output_dir` (see `work_dir_for`), once an unfinished run in it is dealt with.

    An unfinished run's work folder is kept with `resume` (`run_conversion`
    continues it), deleted with `overwrite` alone, and an error otherwise.

    Args:
        output_dir: The dataset folder being created.
        overwrite: Without `resume`: discard an unfinished run.
        resume: Keep an unfinished run, to continue it.
        run_name: What the error calls the unfinished run, e.g. "prepare run".

    Returns:
        The absolute path of the work folder (created later by `run_conversion`).

    Raises:
        ValueError: If an unfinished run exists and neither `resume` nor
            `overwrite` is given.
    """
    work_dir = work_dir_for(output_dir)
    if os.path.isdir(work_dir) and not resume:
        if not overwrite:
            raise ValueError(f"{work_dir}: holds an unfinished {run_name} for {output_dir}; pass --resume to "
                             "continue it, or --overwrite to start over")  # fmt: skip
        if not _is_work_folder(work_dir):
            raise ValueError(f"{work_dir}: is not a work folder of pointnet-tf2 (no {MANIFEST}), so --overwrite "
                             "does not remove it; remove it yourself")  # fmt: skip
        with run_lock(work_dir, what="work folder"):  # never under a live run
            shutil.rmtree(work_dir)
    return work_dir
