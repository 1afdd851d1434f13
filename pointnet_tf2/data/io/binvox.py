"""Voxel files: `.binvox` occupancy grids and `.npz` voxel archives.

- `read_binvox`, `read_binvox_dims`, `write_binvox`: the run-length encoded
  `.binvox` format, read into `[x, y, z]`-indexed bool grids;
- `load_voxel_npz`: an archive of grids and labels (`X_train`, `y_train`,
  and optionally `X_test`, `y_test`), such as the Keras 3-D CNN tutorial's
  `modelnet10.npz`.

Voxelising point clouds and the grid augmentations live in
`pointnet_tf2.data.voxels`; turning voxel data into a dataset in
`pointnet_tf2.data.datasets.voxel_archive`.
"""

import collections
import os

import numpy as np

from pointnet_tf2.utils import atomic_output

Binvox = collections.namedtuple("Binvox", ["grid", "dims", "translate", "scale"])
Binvox.__doc__ = """A `.binvox` file's contents.

Attributes:
    grid: bool array `(X, Y, Z)` of occupied voxels, indexed `[x, y, z]`.
    dims: The header's `dim`, read as the grid's `(X, Y, Z)` sizes (binvox
        files are cubic in practice).
    translate: The header's `translate` (three floats).
    scale: The header's `scale` (a float).
"""


def _parse_binvox_header(content, path):
    """Parses the text header at the start of `content`; returns (dims, translate, scale, data offset)."""
    header, position = {}, 0
    for expected in ("#binvox", "dim", "translate", "scale", "data"):
        end = content.find(b"\n", position)
        if end < 0:
            raise ValueError(f"{path}: truncated binvox header (no {expected!r} line)")
        line = content[position:end].decode("ascii", errors="replace").strip()
        position = end + 1
        words = line.split()
        if not words or words[0] != expected:
            raise ValueError(f"{path}: expected a {expected!r} header line, got {line[:60]!r}")
        header[expected] = words[1:]
    try:
        if header["#binvox"] != ["1"]:
            raise ValueError
        dims = tuple(int(v) for v in header["dim"])
        translate = tuple(float(v) for v in header["translate"])
        (scale,) = (float(v) for v in header["scale"])
        if len(dims) != 3 or len(translate) != 3 or min(dims) < 1 or header["data"]:
            raise ValueError
    except ValueError:
        raise ValueError(f"{path}: malformed binvox header {header!r}") from None
    return dims, translate, scale, position


# A binvox header is five short lines; more than this many bytes without them is not a binvox file.
_BINVOX_HEADER_BYTES = 4096


def read_binvox_dims(path):
    """Reads only the header of a `.binvox` file and returns its grid sizes.

    Args:
        path: The file.

    Returns:
        The header's `dim` as a tuple `(X, Y, Z)`.

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If the header is malformed (naming the file).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(_BINVOX_HEADER_BYTES)
    return _parse_binvox_header(head, path)[0]


def read_binvox(path):
    """Reads a `.binvox` occupancy grid (run-length encoded).

    The format: text header lines `#binvox 1`, `dim D H W`, `translate x y z`,
    `scale s`, `data`, then (value, count) byte pairs covering `D * H * W`
    voxels in binvox order (x slowest, then z, y fastest).

    Args:
        path: The file.

    Returns:
        A `Binvox` (grid indexed `[x, y, z]`, dims, translate, scale).

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If the file is not a well-formed binvox file (the message
            names the file and the problem).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        content = f.read()
    dims, translate, scale, position = _parse_binvox_header(content, path)
    body = np.frombuffer(content, np.uint8, offset=position)
    if len(body) % 2:
        raise ValueError(f"{path}: binvox data has an odd number of bytes ({len(body)}); expected (value, count) pairs")
    values, counts = body[0::2], body[1::2].astype(np.int64)
    total = int(np.prod(dims))
    if counts.sum() != total:
        raise ValueError(f"{path}: binvox runs cover {int(counts.sum())} voxels, expected {total} for dim {dims}")
    if np.any(values > 1):
        raise ValueError(f"{path}: binvox run values must be 0 or 1")
    flat = np.repeat(values.astype(bool), counts)
    grid = flat.reshape(dims[0], dims[2], dims[1]).transpose(0, 2, 1)
    return Binvox(np.ascontiguousarray(grid), dims, translate, scale)


def write_binvox(path, grid, *, translate=(0.0, 0.0, 0.0), scale=1.0):
    """Writes an occupancy grid as a `.binvox` file (atomically).

    Args:
        path: The file to write.
        grid: `(X, Y, Z)` array, indexed `[x, y, z]`; non-zero is occupied.
            `dim` is written as `X Y Z` and the voxels in binvox order, so
            `read_binvox` gives the same grid back.
        translate: The header's translate.
        scale: The header's scale.

    Returns:
        The path.

    Raises:
        ValueError: If `grid` is not 3-D.
    """
    grid = np.asarray(grid)
    if grid.ndim != 3 or min(grid.shape) < 1:
        raise ValueError(f"write_binvox: grid must be a non-empty 3-D array, got shape {grid.shape}")
    flat = (grid != 0).transpose(0, 2, 1).ravel().astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(flat)]]))
    pairs = []
    for value, length in zip(flat[starts], lengths):
        while length > 0:
            run = min(int(length), 255)
            pairs += [int(value), run]
            length -= run
    header = (
        f"#binvox 1\ndim {grid.shape[0]} {grid.shape[1]} {grid.shape[2]}\n"
        f"translate {translate[0]} {translate[1]} {translate[2]}\nscale {float(scale)}\ndata\n"
    )
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(header.encode("ascii"))
            f.write(bytes(pairs))
    return path


def load_voxel_npz(path, *, dtype="float32"):
    """Reads a voxel dataset archive: `X_train`, `y_train` and optionally `X_test`, `y_test`.

    This is the archive of the Keras 3-D CNN tutorial (`modelnet10.npz`:
    30^3 ModelNet10 grids). Grids may be stored `(n, R, R, R)` or
    `(n, R, R, R, 1)`, any numeric or bool dtype (non-zero is occupied). An
    archive may hold only the training split (`X_train`, `y_train`).

    Args:
        path: The `.npz` file.
        dtype: Dtype of the returned grids (float32 for a model's input;
            uint8 takes a quarter of the memory).

    Returns:
        A dict: `X_<split>` `(n, R, R, R, 1)` of 0/1 in `dtype` and `y_<split>`
        int32 `(n,)` for each split present; `splits` (("train",) or
        ("train", "test")); `num_classes` (max label + 1); `resolution` (R).

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If an array is missing or has a bad shape, dtype or labels
            (the message names the file).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error})") from None
    if not hasattr(archive, "files"):
        raise ValueError(f"{path}: a single .npy array, not a .npz archive with X_train and y_train")
    out = {}
    with archive:
        for key in ("X_train", "y_train"):
            if key not in archive.files:
                raise ValueError(f"{path}: key {key!r} is missing (has {', '.join(archive.files) or 'nothing'})")
        has_test = [key in archive.files for key in ("X_test", "y_test")]
        if any(has_test) and not all(has_test):
            present, absent = ("X_test", "y_test") if has_test[0] else ("y_test", "X_test")
            raise ValueError(f"{path}: has {present} but not {absent}")
        splits = ("train", "test") if all(has_test) else ("train",)
        resolution = None
        for split in splits:
            grids, labels = archive[f"X_{split}"], archive[f"y_{split}"]
            if grids.ndim == 5 and grids.shape[-1] == 1:
                grids = grids[..., 0]
            if grids.ndim != 4 or not (grids.shape[1] == grids.shape[2] == grids.shape[3]):
                raise ValueError(f"{path}: X_{split} must have shape (n, R, R, R[, 1]), got {archive[f'X_{split}'].shape}")
            if resolution is not None and grids.shape[1] != resolution:
                raise ValueError(f"{path}: X_train is {resolution}^3 but X_test is {grids.shape[1]}^3")
            resolution = grids.shape[1]
            if grids.dtype.kind not in "biuf":
                raise ValueError(f"{path}: X_{split} must be numeric, got dtype {grids.dtype}")
            labels = labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels
            if labels.ndim != 1 or labels.dtype.kind not in "iu":
                raise ValueError(f"{path}: y_{split} must be 1-D integer labels, got shape {labels.shape} dtype {labels.dtype}")
            if len(labels) != len(grids):
                raise ValueError(f"{path}: y_{split} has {len(labels)} labels for {len(grids)} grids")
            if len(labels) and labels.min() < 0:
                raise ValueError(f"{path}: y_{split} has a negative label {int(labels.min())}")
            out[f"X_{split}"] = (grids != 0).astype(dtype)[..., None]
            out[f"y_{split}"] = labels.astype(np.int32)
    labels = np.concatenate([out[f"y_{split}"] for split in splits])
    out["splits"] = splits
    out["num_classes"] = int(labels.max()) + 1 if len(labels) else 0
    out["resolution"] = int(resolution)
    return out
