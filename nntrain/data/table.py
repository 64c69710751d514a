"""What every source gives: a ``Table`` of examples as they are, with the conventions the sources share.

- ``x``: (n, features) numbers. NumPy files stay memory-mapped where the format allows (``.npy`` and
  the members of an uncompressed ``.npz``), so a data set larger than memory is never read whole.
  A table file's x is its feature columns as read (``nntrain.data.reader.Columns``), encoded into
  numbers once the training split is drawn (``nntrain.data.columns``).
- ``y``: class labels 0..K-1 (n,) for classification sets; (n, targets) numbers otherwise.
- ``classes``: the class names (label k is ``classes[k]``) where the data has names, else None.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError

# Rows per block when a memory-mapped array is scanned (finiteness, statistics): blocks of ~16 MB keep
# the scan's own memory small whatever the file's size.
BLOCK_BYTES = 1 << 24


@dataclass
class Table:
    """One data set as read or generated. ``parts``: held-out (x, y) pairs a file defines itself."""

    x: np.ndarray
    y: np.ndarray
    features: list
    targets: list  # the target's name(s): one per column of y, or the single label column's name
    classes: list | None = None
    labels: bool = False  # y holds class labels (not numbers to regress on)
    parts: dict = field(default_factory=dict)  # "val" / "test" -> (x, y)
    origin: str = ""  # how messages name the data: a file, or the built-in set
    dropped: dict = field(default_factory=dict)  # a table's rows left out: column -> rows without a value in it
    weight: np.ndarray | None = None  # a table's data.weight column: a weight >= 0 per row (n,)


DEFAULT_TARGETS = ["y"]


def default_features(n):
    """The names of unnamed features: x1, x2, ..., xn."""
    return [f"x{j + 1}" for j in range(n)]


def shown(path):
    """A path as messages show it: relative to the working directory when it lies below it."""
    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def check_file(path, expected):
    """A DataError unless ``path`` is a regular file (``expected`` says what it should be): a
    device or a FIFO would be read without end (``/dev/zero``) or wait for a writer for ever."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{shown(path)}: no such file")
    if path.is_dir():
        raise DataError(f"{shown(path)}: is a directory, expected {expected}")
    if not path.is_file():
        raise DataError(f"{shown(path)}: not a regular file (a device, FIFO or socket); expected {expected}")


# Rows from which a table's work by columns (conversion, encoding) or by blocks of rows (the final
# cast) is shared among threads: NumPy and pyarrow release the GIL on large arrays, so on two cores it
# takes about half the time; on fewer rows the threads would cost more than they save.
THREADED_ROWS = 100_000


def parallel_map(fn, items, rows):
    """``[fn(item) for item in items]``, on every core when ``rows`` are many. The results, and the first
    exception in the items' order, are the same as in one thread."""
    import os

    workers = min(os.cpu_count() or 1, len(items))
    if rows < THREADED_ROWS or workers < 2:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))
