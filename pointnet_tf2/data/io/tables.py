"""Reading the text tables of raw releases (one point per line), with errors naming the line.

Raw releases store points as text, one point per line (`x y z r g b` for S3DIS,
`x y z` for ShapeNet part `.pts`, `x,y,z,nx,ny,nz` for ModelNet40 with
normals). `read_table` parses a whole file with numpy's C parser and, only
when that fails, scans the lines in Python to name the first bad line, so a
broken file is reported as `<file>: line <n>: <problem>` (a conversion
`SkipItem`) instead of a parser message without a line number.
"""

import io
import math
import warnings

import numpy as np

from pointnet_tf2.data.conversion import SkipItem

DELIMITERS = ("auto", "whitespace", ",")

# Skip kinds of the raw converters (the engine adds "error", "missing", ...).
EMPTY = "empty"
MALFORMED = "malformed"
NONFINITE = "nonfinite"
DEGENERATE = "degenerate"

_SHOWN_CHARS = 60


class TableError(SkipItem, ValueError):
    """A text table that cannot be used: a `SkipItem` (and `ValueError`) with a line number.

    Args:
        reason: One line, already naming the file (relative name) and line.
        kind: "empty", "malformed" or "nonfinite".
        line: 1-based line number of the first bad line, or None.
    """

    def __init__(self, reason, kind, line=None):
        super().__init__(reason, kind)
        self.line = line


def _shown(text):
    text = text.strip()
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return repr(text)


def _decode(raw):
    # Invalid bytes become U+FFFD, which no number parses: reported as a malformed line.
    return raw.decode("utf-8", errors="replace")


def _delimiter_of(text, delimiter):
    if delimiter not in DELIMITERS:
        raise ValueError(f"delimiter must be one of {DELIMITERS}, got {delimiter!r}")
    if delimiter == "auto":
        for _, line in _data_lines(text):
            return "," if "," in line else None
        return None
    return None if delimiter == "whitespace" else delimiter


def _data_lines(text):
    """Yields (1-based line number, stripped text) of the non-blank, non-comment lines."""
    # Lines end at \n, \r\n or \r only, as for the parser (str.splitlines also splits at \x1c, \x85, ...).
    for number, line in enumerate(io.StringIO(text, newline=None), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, stripped


def _line_problem(fields, columns):
    if len(fields) != columns:
        return f"{len(fields)} values, expected {columns}"
    for field in fields:
        try:
            float(field)
        except ValueError:
            return f"{field.strip()!r} is not a number"
    return None


def _split(line, delimiter):
    return line.split(delimiter) if delimiter else line.split()


def _first_bad_line(text, columns, delimiter):
    for number, line in _data_lines(text):
        problem = _line_problem(_split(line, delimiter), columns)
        if problem:
            return number, line, problem
    return None


def _nonfinite_line(text, row):
    for index, (number, line) in enumerate(_data_lines(text)):
        if index == row:
            return number, line
    return None, ""


def read_table(path, columns, *, name=None, delimiter="auto", allow_empty=False):
    """Reads a text table of numbers with a fixed number of columns.

    Blank lines and lines starting with `#` are ignored; values are separated
    by whitespace or commas (`delimiter="auto"` looks at the first data line).

    Args:
        path: The text file.
        columns: Values expected on every line.
        name: How the file is called in messages (default: `path`; "" leaves
            it out, for a caller whose key already names the file).
        delimiter: "auto", "whitespace" or ",".
        allow_empty: Return a (0, columns) array for a file without data lines
            instead of raising.

    Returns:
        A float64 array (rows, columns).

    Raises:
        TableError: With kind "malformed" (a line with another number of
            values, or a value that is not a number: the message names the
            first such line), "nonfinite" (NaN or inf, first line named) or
            "empty" (no data line, unless `allow_empty`).
        OSError: If the file cannot be read.
    """
    prefix = f"{path}: " if name is None else (f"{name}: " if name else "")
    with open(path, "rb") as f:
        text = _decode(f.read())
    sep = _delimiter_of(text, delimiter)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" is handled below
            values = np.loadtxt(io.StringIO(text, newline=None), dtype=np.float64, delimiter=sep, ndmin=2)
    except ValueError as error:
        bad = _first_bad_line(text, columns, sep)
        if bad is None:
            raise TableError(f"{prefix}cannot be parsed ({error})", MALFORMED) from None
        number, line, problem = bad
        raise TableError(f"{prefix}line {number}: {problem} ({_shown(line)})", MALFORMED, number) from None
    if values.shape[0] == 0:
        if allow_empty:
            return np.zeros((0, columns), np.float64)
        raise TableError(f"{prefix}holds no points (no data lines)", EMPTY)
    if values.shape[1] != columns:
        number, line = next(_data_lines(text))
        raise TableError(
            f"{prefix}line {number}: {values.shape[1]} values, expected {columns} ({_shown(line)})", MALFORMED, number
        )
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        number, line = _nonfinite_line(text, int(np.argmin(finite)))
        raise TableError(f"{prefix}line {number}: NaN or infinite value ({_shown(line)})", NONFINITE, number)
    return values


def read_table_dropping_bad_lines(path, columns, *, delimiter="auto"):
    """Reads a text table, leaving out malformed and non-finite lines.

    Args:
        path: The text file.
        columns: Values expected on every line.
        delimiter: "auto", "whitespace" or ",".

    Returns:
        `(values, bad_lines)`: a float64 array (rows, columns) of the good
        lines, and the 1-based numbers of the lines left out.

    Raises:
        OSError: If the file cannot be read.
    """
    with open(path, "rb") as f:
        text = _decode(f.read())
    sep = _delimiter_of(text, delimiter)
    rows, bad = [], []
    for number, line in _data_lines(text):
        fields = _split(line, sep)
        if _line_problem(fields, columns) is None:
            row = [float(v) for v in fields]
            if all(math.isfinite(v) for v in row):
                rows.append(row)
                continue
        bad.append(number)
    values = np.array(rows, dtype=np.float64).reshape(-1, columns)
    return values, bad
