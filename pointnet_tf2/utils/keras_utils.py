"""Small helpers around Keras models."""

import os
import zipfile

import numpy as np

from pointnet_tf2.compat import graph_nodes  # noqa: F401  (re-exported: its former home)
from pointnet_tf2.utils import registration
from pointnet_tf2.utils.errors import first_line


def count_trainable_params(model):
    """Returns the number of trainable scalars of a Keras model."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# Members every Keras 3 `.keras` archive holds.
_KERAS_MEMBERS = ("config.json", "model.weights.h5")


def check_keras_file(path, hint=None):
    """Checks that a file is a complete Keras 3 `.keras` archive, without loading it.

    Tells apart a missing file, a folder, an empty file, a text file, an HDF5
    file, a truncated or damaged zip (including a member that fails its CRC
    check) and a zip that is not a Keras model.

    Args:
        path: The file.
        hint: Optional advice appended to the message of a file that exists
            but is damaged (e.g. "resume from best.keras ...").

    Raises:
        FileNotFoundError: If there is no such file.
        ValueError: One line naming the file and what is wrong with it.
    """
    path = os.fspath(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a folder, not a .keras file")
    problem = _keras_file_problem(path, zipfile)
    if problem:
        raise ValueError(f"{path}: {problem}" + (f"; {hint}" if hint else ""))


def _keras_file_problem(path, zipfile):
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as error:
        return f"cannot be read ({first_line(error)})"
    if size == 0:
        return "empty file (0 bytes), not a Keras model"
    if head.startswith(_HDF5_MAGIC):
        return "an HDF5 file, not a .keras zip archive (a legacy .h5 model or weights file?)"
    if not head.startswith(_ZIP_MAGIC):
        kind = "a text file" if _looks_like_text(head) else "not a zip archive"
        return f"{kind}, not a .keras model"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [name for name in _KERAS_MEMBERS if name not in names]
            if missing:
                return f"a zip archive without {' and '.join(missing)}: not a Keras model"
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        return f"truncated or damaged ({size} bytes; {first_line(error)})"
    if bad is not None:
        return f"damaged: {bad} inside it fails its CRC check"
    return None


def _looks_like_text(head):
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a multi-byte character cut at the end
    return True


def load_keras_model(path, *, compile=False, hint=None):
    """Loads a `.keras` model with one-line errors; the one loader of the package.

    The file is checked first (`check_keras_file`), then loaded with
    `keras.saving.load_model(..., safe_mode=True)`: a `.keras` file cannot run
    code through a `Lambda` layer's pickled bytecode, only rebuild layers of
    Keras and of registered packages (the zoo's are registered first:
    `pointnet_tf2.utils.registration`).

    Args:
        path: The `.keras` file.
        compile: Also restore the optimizer, losses and metrics.
        hint: Advice appended to the message of a damaged file.

    Returns:
        The Keras model.

    Raises:
        FileNotFoundError: If there is no such file.
        ValueError: One line naming the file and the problem.
    """
    import keras

    check_keras_file(path, hint=hint)
    registration.register_keras_objects()
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many types for a file it cannot rebuild.
        raise ValueError(f"{path}: cannot be loaded as a Keras model ({first_line(error)})") from None
