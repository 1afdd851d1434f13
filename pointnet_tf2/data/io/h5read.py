"""Reading HDF5 datasets with errors that name the file, the dataset and the rows.

h5py reports a damaged compressed block as "Can't synchronously read data
(filter returned failure during read)", without saying which file or dataset.
Every read of the package's data goes through `read`, which says both.
"""

import os

import numpy as np

from pointnet_tf2.utils.errors import first_line


class DataReadError(ValueError):
    """A dataset of an HDF5 file could not be read (a damaged block, an I/O error)."""


def read(dataset, selection=Ellipsis):
    """Returns `dataset[selection]`, turning a read failure into one clear line.

    Args:
        dataset: An open `h5py.Dataset`.
        selection: Anything h5py accepts: `...`, an int row, a slice of rows.

    Returns:
        The NumPy array (or scalar) read.

    Raises:
        DataReadError: Naming the file (for a virtual dataset also the source
            file that holds the rows), the dataset, the rows and h5py's reason.
    """
    try:
        return dataset[selection]
    except (OSError, RuntimeError) as error:
        raise DataReadError(describe_failure(dataset, selection, error)) from None


def describe_failure(dataset, selection, error):
    """The one-line message of a failed read (see `read`)."""
    path = dataset.file.filename
    name = dataset.name.lstrip("/")
    rows, first = _rows(dataset, selection)
    reason = first_line(error)
    source = _virtual_source(dataset, first) if first is not None else None
    where = f" (source {source})" if source else ""
    return (f"{path}: cannot read {name!r}{rows}{where}: {reason}; the file is damaged or unreadable: "
            "restore or rewrite it")  # fmt: skip


def _rows(dataset, selection):
    length = dataset.shape[0] if dataset.shape else 0
    if isinstance(selection, (int, np.integer)):
        return f" row {int(selection)}", int(selection)
    if isinstance(selection, slice):
        start, stop, _ = selection.indices(length)
        return (f" rows {start}..{stop - 1}", start) if stop > start else ("", None)
    return "", 0 if length else None


def _virtual_source(dataset, row):
    """The source file of a virtual dataset that holds `row`, or None."""
    try:
        if not dataset.is_virtual:
            return None
        folder = os.path.dirname(os.path.abspath(dataset.file.filename))
        for source in dataset.virtual_sources():
            start, stop = source.vspace.get_select_bounds()
            if start[0] <= row <= stop[0]:
                return os.path.normpath(os.path.join(folder, source.file_name))
    except Exception:  # only a better message is at stake
        return None
    return None
