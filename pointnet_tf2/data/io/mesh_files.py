"""Mesh and point files: reading and checking them (sampling them into clouds: `pointnet_tf2.data.meshes`).

What `pointnet-tf2 prepare` and `pointnet-tf2 predict` read:

- meshes `.off`, `.obj`, `.ply`, `.stl`, parsed by trimesh. Many ModelNet
  `.off` files have the header fused with the counts (`OFF490 518 0`); the
  header is repaired in memory before parsing;
- point files `.txt`, `.xyz`, `.pts` (whitespace- or comma-separated, one
  point per row, optional header and `#` comments), `.npy` (an `(N, C)`
  array), and `.ply` files without faces. Columns beyond xyz are found
  automatically (normals: unit-length triples; colours: values in [0, 255]),
  or named with `columns` (e.g. "xyz,rgb,label").

Bad files raise `BadFileError` (a `ValueError` and a conversion `SkipItem`)
with a short `kind` and a one-line `reason`: "empty", "malformed",
"too_large", "nonfinite", "zero_area", "point_only", "degenerate",
"no_normals", "unsupported". Before anything is parsed, the size of the file
and the element counts its header claims (OFF, PLY, binary STL) are checked
against the file size, so a file that claims billions of vertices is
rejected without allocating memory for them. Non-manifold meshes are sampled
as they are and get the note "non_manifold".
"""

import dataclasses
import io
import logging
import math
import os
import re
import zipfile
from typing import Optional

import numpy as np

from pointnet_tf2.data.conversion import SkipItem
from pointnet_tf2.data.geometry import AXES
from pointnet_tf2.data.geometry import triangle_areas

MESH_SUFFIXES = (".off", ".obj", ".ply", ".stl")
POINT_SUFFIXES = (".txt", ".xyz", ".pts", ".npy", ".ply")
SUPPORTED_SUFFIXES = tuple(sorted(set(MESH_SUFFIXES + POINT_SUFFIXES)))

DEFAULT_MAX_FILE_MB = 256.0
DEFAULT_MAX_ELEMENTS = 50_000_000

# Column groups of point files and their widths.
COLUMN_WIDTHS = {"xyz": 3, "normals": 3, "rgb": 3, "label": 1, "skip": 1}

# Smallest bytes per element of text formats ("0 0 0\n", "3 0 1 2\n").
_OFF_MIN_VERTEX_BYTES = 6
_OFF_MIN_FACE_BYTES = 8
_PLY_SIZES = {
    "char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
    "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8, "float64": 8,
}  # fmt: skip
_PLY_HEADER_LIMIT = 1 << 16
_OFF_HEADER = re.compile(rb"^\s*((?:ST)?C?N?4?OFF)[ \t]*([^\r\n]*)")

logging.getLogger("trimesh").setLevel(logging.ERROR)


class BadFileError(SkipItem, ValueError):
    """A file that cannot be used, with a short kind and a one-line reason.

    `str(error)` is `"<path>: <reason>"`; `error.reason` leaves the path out.

    Args:
        path: The file.
        kind: Short category ("empty", "malformed", "too_large", ...).
        reason: One line saying what is wrong.
    """

    def __init__(self, path, kind, reason):
        SkipItem.__init__(self, reason, kind)
        self.args = (f"{path}: {self.reason}",)
        self.path = os.fspath(path)


@dataclasses.dataclass
class Mesh:
    """A triangle mesh.

    Attributes:
        vertices: float64 (V, 3).
        faces: int64 (F, 3) vertex indices.
        path: The file it came from.
        notes: Non-fatal remarks (e.g. "non_manifold").
    """

    vertices: np.ndarray
    faces: np.ndarray
    path: str = ""
    notes: list = dataclasses.field(default_factory=list)

    @property
    def areas(self):
        """Area of every triangle (F,)."""
        return triangle_areas(self.vertices, self.faces)


@dataclasses.dataclass
class PointCloud:
    """Points read from a point file (or a PLY without faces).

    Attributes:
        points: float64 (N, 3).
        normals: float64 (N, 3) or None.
        colors: float64 (N, 3) in [0, 1] or None.
        labels: int64 (N,) or None.
        path: The file it came from.
        notes: Non-fatal remarks.
        up_axis: Up axis recorded in the file (PLY comment written by
            `pointnet_tf2.viz.write_ply`), or None.
    """

    points: np.ndarray
    normals: Optional[np.ndarray] = None
    colors: Optional[np.ndarray] = None
    labels: Optional[np.ndarray] = None
    path: str = ""
    notes: list = dataclasses.field(default_factory=list)
    up_axis: Optional[str] = None


# --- reading --------------------------------------------------------------------------


def read_geometry(path, *, columns="auto", max_file_mb=DEFAULT_MAX_FILE_MB, max_elements=DEFAULT_MAX_ELEMENTS):
    """Reads a mesh or point file and checks it.

    Args:
        path: A `.off`, `.obj`, `.ply`, `.stl`, `.txt`, `.xyz`, `.pts` or `.npy` file.
        columns: Column layout of point files: "auto" or groups of
            `COLUMN_WIDTHS` joined by commas, e.g. "xyz,normals".
        max_file_mb: Larger files are rejected ("too_large").
        max_elements: Files claiming more vertices, faces or points are rejected.

    Returns:
        A `Mesh` (faces present) or a `PointCloud`.

    Raises:
        BadFileError: If the file cannot be used (see the module docstring).
        FileNotFoundError: If it does not exist.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise BadFileError(path, "unsupported", f"unsupported file type {suffix or '(none)'!r} "
                                                f"(supported: {' '.join(SUPPORTED_SUFFIXES)})")  # fmt: skip
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    size = os.path.getsize(path)
    if size == 0:
        raise BadFileError(path, "empty", "empty file (0 bytes)")
    if size > max_file_mb * 2**20:
        raise BadFileError(path, "too_large", f"the file is {_bytes(size)}, more than the limit of "
                                              f"{max_file_mb:g} MB (max_file_mb, --max_file_mb)")  # fmt: skip
    if suffix == ".npy":
        return _read_npy(path, columns, max_elements)
    with open(path, "rb") as f:
        data = f.read()
    if not data.strip():
        raise BadFileError(path, "empty", "the file holds only whitespace")
    if suffix in (".txt", ".xyz", ".pts"):
        return _read_point_text(path, data, columns, max_elements)
    up_axis = None
    if suffix == ".off":
        data = _repair_off(path, data, max_elements)
    elif suffix == ".ply":
        up_axis = _check_ply(path, data, max_elements)
    elif suffix == ".stl":
        _check_stl(path, data, max_elements)
    loaded = _trimesh_load(path, data, suffix)
    return _from_trimesh(path, loaded, suffix, up_axis)


def read_mesh(path, **kwargs):
    """Reads a mesh file; a file without faces is a `BadFileError` ("point_only").

    Args:
        path: A mesh file.
        **kwargs: As `read_geometry`.

    Returns:
        A `Mesh`.
    """
    geometry = read_geometry(path, **kwargs)
    if not isinstance(geometry, Mesh):
        raise BadFileError(path, "point_only", f"has {len(geometry.points)} points but no faces")
    return geometry


def _bytes(size):
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _count(text, path, what):
    try:
        value = int(text)
    except ValueError:
        raise BadFileError(path, "malformed", f"the {what} count {text!r} is not an integer") from None
    if value < 0:
        raise BadFileError(path, "malformed", f"negative {what} count {value}")
    return value


def _check_claims(path, claims, needed, available, max_elements):
    for what, count in claims:
        if count > max_elements:
            raise BadFileError(path, "too_large", f"the header claims {count:,} {what}, more than the limit "
                                                  f"of {max_elements:,}")  # fmt: skip
    if needed > available:
        text = " and ".join(f"{count:,} {what}" for what, count in claims if count)
        raise BadFileError(path, "malformed", f"the header claims {text}, which need at least {_bytes(needed)}, "
                                              f"but the file holds only {_bytes(available)}")  # fmt: skip


def _repair_off(path, data, max_elements):
    """Checks the OFF header counts; splits a fused 'OFF490 518 0' header line."""
    match = _OFF_HEADER.match(data)
    if match is None:
        raise BadFileError(path, "malformed", "not an OFF file (it does not start with 'OFF')")
    keyword, rest = match.group(1), match.group(2).strip()
    body_start = match.end()
    if rest and not rest.startswith(b"#"):
        counts_line = rest
    else:
        counts_line = None
        for line in data[body_start:].splitlines():
            line = line.split(b"#", 1)[0].strip()
            if line:
                counts_line = line
                break
        if counts_line is None:
            raise BadFileError(path, "malformed", "the OFF header has no vertex/face count line")
    fields = counts_line.split()
    if len(fields) < 2:
        raise BadFileError(path, "malformed", f"bad OFF count line {counts_line[:40].decode('latin-1')!r}")
    vertices = _count(fields[0].decode("latin-1"), path, "vertex")
    faces = _count(fields[1].decode("latin-1"), path, "face")
    needed = vertices * _OFF_MIN_VERTEX_BYTES + faces * _OFF_MIN_FACE_BYTES
    _check_claims(path, [("vertices", vertices), ("faces", faces)], needed, len(data), max_elements)
    if keyword not in (b"OFF", b"COFF", b"NOFF", b"CNOFF"):
        raise BadFileError(path, "malformed", f"unsupported OFF variant {keyword.decode('latin-1')!r}")
    if rest and not rest.startswith(b"#"):
        # 'OFF490 518 0' or 'OFF 490 518 0': put the counts on their own line.
        data = b"OFF\n" + rest + b"\n" + data[body_start:]
    elif keyword != b"OFF":
        data = b"OFF" + data[match.end(1):]
    return data


def _check_ply(path, data, max_elements):
    """Checks a PLY header's element counts against the file size; returns a recorded up axis."""
    if not data.startswith(b"ply"):
        raise BadFileError(path, "malformed", "not a PLY file (it does not start with 'ply')")
    end = data.find(b"end_header", 0, _PLY_HEADER_LIMIT)
    if end < 0:
        raise BadFileError(path, "malformed", "the PLY header has no 'end_header' line in its first 64 kB")
    newline = data.find(b"\n", end)
    body = len(data) - (newline + 1 if newline >= 0 else len(data))
    fmt, elements, up_axis = None, [], None
    for raw in data[:end].decode("latin-1").splitlines()[1:]:
        words = raw.split()
        if not words:
            continue
        if words[0] == "format" and len(words) >= 2:
            fmt = words[1]
        elif words[:2] == ["comment", "pointnet_tf2"] and len(words) >= 3 and words[2].startswith("up_axis="):
            up_axis = words[2].split("=", 1)[1] if words[2].split("=", 1)[1] in AXES else None
        elif words[0] == "element" and len(words) >= 3:
            elements.append([words[1], _count(words[2], path, words[1]), 0])
        elif words[0] == "property" and elements:
            if len(words) >= 5 and words[1] == "list":
                size = _PLY_SIZES.get(words[2])
            elif len(words) >= 3:
                size = _PLY_SIZES.get(words[1])
            else:
                size = None
            if size is None:
                raise BadFileError(path, "malformed", f"bad PLY property line {raw.strip()[:60]!r}")
            elements[-1][2] += size if fmt != "ascii" else 2
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise BadFileError(path, "malformed", f"unknown PLY format {fmt!r}")
    needed = sum(count * row for _, count, row in elements)
    claims = [("vertices" if name == "vertex" else f"{name} elements", count) for name, count, _ in elements]
    _check_claims(path, claims, needed, body, max_elements)
    return up_axis


def _check_stl(path, data, max_elements):
    if len(data) >= 84:
        triangles = int(np.frombuffer(data[80:84], dtype="<u4")[0])
        if len(data) == 84 + 50 * triangles:
            _check_claims(path, [("triangles", triangles)], 0, 0, max_elements)
            return
    if data.lstrip()[:5].lower() == b"solid":
        return  # ASCII STL: no counts to check
    if len(data) < 84:
        raise BadFileError(path, "malformed", f"too short for a binary STL ({len(data)} bytes) and not an ASCII STL")
    _check_claims(path, [("triangles", triangles)], 84 + 50 * triangles, len(data), max_elements)
    raise BadFileError(path, "malformed", f"binary STL of {len(data)} bytes, but {triangles:,} triangles "
                                          f"need {84 + 50 * triangles} bytes")  # fmt: skip


def _trimesh_load(path, data, suffix):
    import trimesh

    kwargs = {"file_type": suffix[1:], "process": False}
    try:
        return trimesh.load(io.BytesIO(data), **kwargs)
    except MemoryError:
        raise BadFileError(path, "too_large", "out of memory while parsing") from None
    except Exception as error:  # noqa: BLE001 - parsers raise many types on bad input
        message = " ".join(str(error).split()) or type(error).__name__
        raise BadFileError(path, "malformed", f"cannot be parsed as {suffix[1:].upper()}: {message[:200]}") from None


def _from_trimesh(path, loaded, suffix, up_axis):
    import trimesh

    if isinstance(loaded, trimesh.Scene):
        geometries = [g for g in loaded.geometry.values() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
        if geometries:
            loaded = trimesh.util.concatenate(geometries)
        else:
            points = [np.asarray(g.vertices) for g in loaded.geometry.values() if hasattr(g, "vertices")]
            loaded = trimesh.PointCloud(np.concatenate(points) if points else np.zeros((0, 3)))
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    if vertices.size % 3 or faces.size % 3:  # e.g. a truncated OBJ line "v 0.5 0.25"
        raise BadFileError(path, "malformed", f"vertices of shape {vertices.shape} and faces of shape {faces.shape} "
                                              "are not 3D points and triangles")  # fmt: skip
    vertices = vertices.reshape(-1, 3)
    if len(vertices) == 0:
        raise BadFileError(path, "empty", "the file has no vertices")
    if faces.size == 0:
        if suffix != ".ply":
            raise BadFileError(path, "point_only", f"has {len(vertices)} vertices but no faces (a point-only mesh)")
        return _ply_point_cloud(path, loaded, vertices, up_axis)
    faces = faces.reshape(-1, 3)
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise BadFileError(path, "malformed", f"a face refers to vertex {int(faces.max())}, but there are "
                                              f"only {len(vertices)} vertices")  # fmt: skip
    return check_mesh(Mesh(vertices, faces, path))


def _ply_point_cloud(path, loaded, vertices, up_axis):
    raw = (getattr(loaded, "metadata", None) or {}).get("_ply_raw", {})
    fields = raw.get("vertex", {}).get("data") if isinstance(raw, dict) else None
    names = fields.dtype.names if fields is not None and fields.dtype.names else ()
    normals = colors = labels = None
    if all(n in names for n in ("nx", "ny", "nz")):
        normals = np.stack([fields[n] for n in ("nx", "ny", "nz")], axis=1).astype(np.float64)
    for rgb in (("red", "green", "blue"), ("r", "g", "b")):
        if all(n in names for n in rgb):
            values = np.stack([fields[n] for n in rgb], axis=1)
            colors = values.astype(np.float64) / (255.0 if np.issubdtype(values.dtype, np.integer) else 1.0)
            break
    for name in ("label", "class", "scalar_label"):
        if name in names:
            labels = np.asarray(fields[name]).astype(np.int64)
            break
    return check_points(PointCloud(vertices, normals, colors, labels, path, up_axis=up_axis))


def parse_columns(path, spec, width):
    """The column layout of a point file: group name -> slice of a row, or None for "auto".

    Args:
        path: The file, named in errors.
        spec: "auto" or comma-separated groups of `COLUMN_WIDTHS` with xyz
            once, e.g. "xyz,rgb,label" ("skip" skips one value).
        width: Values per row of the file.

    Returns:
        A dict group -> slice, or None for "auto".

    Raises:
        ValueError: For a bad `spec`.
        BadFileError: If the groups need more values than a row has.
    """
    if spec == "auto":
        return None
    groups = [g.strip() for g in str(spec).split(",") if g.strip()]
    unknown = [g for g in groups if g not in COLUMN_WIDTHS]
    named = [g for g in groups if g != "skip"]
    if unknown or "xyz" not in groups or len(set(named)) != len(named):
        raise ValueError(f"columns {spec!r}: expected 'auto' or groups of {sorted(COLUMN_WIDTHS)} separated by "
                         "commas, with xyz once (e.g. 'xyz,normals', 'xyz,rgb,label')")  # fmt: skip
    total = sum(COLUMN_WIDTHS[g] for g in groups)
    if total > width:
        raise BadFileError(path, "malformed", f"columns {spec!r} need {total} values per row, the file has {width}")
    layout, start = {}, 0
    for group in groups:
        if group != "skip":
            layout[group] = slice(start, start + COLUMN_WIDTHS[group])
        start += COLUMN_WIDTHS[group]
    return layout


def _looks_like_normals(values):
    norms = np.linalg.norm(values, axis=1)
    return bool(np.mean(np.abs(norms - 1.0) < 0.02) >= 0.95)


def _looks_like_colors(values):
    return bool(values.min() >= 0 and values.max() <= 255 and (values.max() > 1 or np.all(values == np.round(values))))


def _auto_columns(table):
    layout = {"xyz": slice(0, 3)}
    width = table.shape[1]
    for start in (3, 6):
        if width < start + 3:
            break
        block = table[:, start:start + 3]
        if "normals" not in layout and _looks_like_normals(block):
            layout["normals"] = slice(start, start + 3)
        elif "rgb" not in layout and _looks_like_colors(block):
            layout["rgb"] = slice(start, start + 3)
        else:
            break
    return layout


def _table_to_cloud(path, table, columns):
    if table.ndim != 2 or table.shape[1] < 3:
        raise BadFileError(path, "malformed", f"expected rows of at least 3 values (x y z), got shape {table.shape}")
    if len(table) == 0:
        raise BadFileError(path, "empty", "the file has no points")
    layout = parse_columns(path, columns, table.shape[1])
    if layout is None:
        finite = table[np.isfinite(table).all(axis=1)]
        layout = _auto_columns(finite if len(finite) else table)
    points = table[:, layout["xyz"]].astype(np.float64)
    normals = table[:, layout["normals"]].astype(np.float64) if "normals" in layout else None
    colors = None
    if "rgb" in layout:
        colors = table[:, layout["rgb"]].astype(np.float64)
        if np.isfinite(colors).all() and colors.max(initial=0) > 1.0:
            colors = colors / 255.0
    labels = table[:, layout["label"]].reshape(-1).astype(np.int64) if "label" in layout else None
    return check_points(PointCloud(points, normals, colors, labels, path))


def _read_point_text(path, data, columns, max_elements):
    text = data.decode("utf-8", errors="replace").replace(",", " ").replace(";", " ")
    lines = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].split("//", 1)[0].strip()
        if line:
            lines.append(line)
    if not lines:
        raise BadFileError(path, "empty", "the file has no points (only comments or blank lines)")
    # Leading header lines: words, or a single point count before rows of >= 3 values.
    skip = 0
    while skip < min(len(lines), 20):
        tokens = lines[skip].split()
        try:
            [float(t) for t in tokens]
        except ValueError:
            skip += 1
            continue
        if len(tokens) < 3 and skip + 1 < len(lines) and len(lines[skip + 1].split()) >= 3:
            skip += 1
            continue
        break
    lines = lines[skip:]
    if not lines:
        raise BadFileError(path, "malformed", "no numeric rows (only header lines)")
    if len(lines) > max_elements:
        raise BadFileError(path, "too_large", f"{len(lines):,} points, more than the limit of {max_elements:,}")
    try:
        table = np.loadtxt(lines, dtype=np.float64, ndmin=2)
    except ValueError as error:
        message = " ".join(str(error).split(";")[0].split())
        raise BadFileError(path, "malformed", f"not a table of numbers: {message[:200]}") from None
    return _table_to_cloud(path, table, columns)


def _read_npy(path, columns, max_elements):
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:  # "PK" first: read as a damaged .npz
        raise BadFileError(path, "malformed", f"not a valid .npy array: {' '.join(str(error).split())[:200]}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf" or array.ndim != 2:
        raise BadFileError(path, "malformed", f"expected a numeric (N, C) array, got shape "
                                              f"{getattr(array, 'shape', None)} dtype {getattr(array, 'dtype', None)}")
    if array.shape[0] > max_elements:
        raise BadFileError(path, "too_large", f"{array.shape[0]:,} points, more than the limit of {max_elements:,}")
    return _table_to_cloud(path, np.array(array, dtype=np.float64), columns)


# --- checks ----------------------------------------------------------------------------


def non_manifold_edges(vertices, faces):
    """Counts edges shared by more than two faces (after welding equal vertices).

    Args:
        vertices: (V, 3) coordinates.
        faces: (F, 3) indices.

    Returns:
        The number of non-manifold edges.
    """
    _, inverse = np.unique(vertices, axis=0, return_inverse=True)
    welded = inverse.reshape(-1)[faces]
    edges = np.sort(welded[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    edges = edges[edges[:, 0] != edges[:, 1]]
    if len(edges) == 0:
        return 0
    keys = edges[:, 0].astype(np.int64) * (int(welded.max()) + 1) + edges[:, 1]
    _, counts = np.unique(keys, return_counts=True)
    return int(np.count_nonzero(counts > 2))


def check_mesh(mesh):
    """Checks a mesh for NaN/inf vertices and zero area; notes non-manifold edges.

    Args:
        mesh: A `Mesh`.

    Returns:
        The mesh (with `notes` updated).

    Raises:
        BadFileError: "nonfinite" or "zero_area".
    """
    finite = np.isfinite(mesh.vertices).all(axis=1)
    if not finite.all():
        raise BadFileError(mesh.path, "nonfinite", f"{int(np.count_nonzero(~finite))} of {len(finite)} vertices "
                                                   "have NaN or inf coordinates")  # fmt: skip
    with np.errstate(over="ignore", invalid="ignore"):
        areas = mesh.areas
        total = float(areas.sum())
        extent = np.ptp(mesh.vertices[np.unique(mesh.faces)], axis=0)
        diagonal2 = float(np.dot(extent, extent))
    if not math.isfinite(total) or not math.isfinite(diagonal2):
        raise BadFileError(mesh.path, "nonfinite", "coordinates too large: the surface area overflows")
    if total <= 1e-12 * diagonal2 or total == 0.0:
        raise BadFileError(mesh.path, "zero_area", f"zero surface area ({len(mesh.faces)} degenerate faces)")
    bad_edges = non_manifold_edges(mesh.vertices, mesh.faces)
    if bad_edges:
        mesh.notes.append("non_manifold")
    return mesh


def check_points(cloud):
    """Checks a point cloud for NaN/inf coordinates and bad extra columns.

    Args:
        cloud: A `PointCloud`.

    Returns:
        The cloud.

    Raises:
        BadFileError: "empty" or "nonfinite".
    """
    if len(cloud.points) == 0:
        raise BadFileError(cloud.path, "empty", "the file has no points")
    finite = np.isfinite(cloud.points).all(axis=1)
    if not finite.all():
        raise BadFileError(cloud.path, "nonfinite", f"{int(np.count_nonzero(~finite))} of {len(finite)} points "
                                                    "have NaN or inf coordinates")  # fmt: skip
    if cloud.normals is not None and not np.isfinite(cloud.normals).all():
        raise BadFileError(cloud.path, "nonfinite", "some normals are NaN or inf")
    if cloud.colors is not None and not np.isfinite(cloud.colors).all():
        raise BadFileError(cloud.path, "nonfinite", "some colours are NaN or inf")
    return cloud
