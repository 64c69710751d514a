"""CSV tables: reading a comma-separated file (for training data and for ``nntrain predict``), its
numeric and class columns, and the ``Table`` of a config whose source is ``csv``.

Errors name the file, and where it helps the line and column, and what was expected.
"""

import csv
import math

import numpy as np

from ..errors import DataError
from ..nn.losses import loss_class
from .table import Table, shown


def read_csv(path):
    """(header, rows, lines) of a comma-separated file: the first non-blank row names the columns.

    ``lines[i]`` is the file line on which data row ``i`` starts (for messages). Every row must have
    as many fields as the header.
    """
    name = shown(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header, rows, lines = _records(f, name)
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, expected a CSV file") from None
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text; expected a CSV file") from None
    except OSError as e:
        raise DataError(f"{name}: cannot read: {e.strerror}") from None
    _check_header(name, header)
    if not rows:
        raise DataError(f"{name}: no data rows below the header")
    return header, rows, lines


def _records(f, name):
    """(header or None, rows, the line each row starts on) of an open CSV file; blank rows are skipped."""
    reader = csv.reader(f)
    header, rows, lines = None, [], []
    start = 1
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                start = reader.line_num + 1
                continue
            if header is None:
                header = [c.strip() for c in record]
            elif len(record) != len(header):
                raise DataError(f"{name}, line {start}: {len(record)} fields, but the header has {len(header)}")
            else:
                rows.append(record)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{name}, line {reader.line_num}: malformed CSV: {e}") from None
    return header, rows, lines


def _check_header(name, header):
    if header is None:
        raise DataError(f"{name}: empty file; expected a header row of column names, then data rows")
    for i, column in enumerate(header):
        if not column:
            raise DataError(f"{name}: column {i + 1} of the header has no name")
        if header.index(column) != i:
            raise DataError(f"{name}: two columns are named {column!r}")


def numeric_columns(path, header, rows, lines, columns):
    """The named columns as a float64 array (n, len(columns)); every cell a finite number."""
    out = np.empty((len(rows), len(columns)))
    for j, column in enumerate(columns):
        k = header.index(column)
        cells = [row[k] for row in rows]
        try:
            out[:, j] = np.array(cells, dtype=np.float64)  # fast path: NumPy parses the whole column
            if np.isfinite(out[:, j]).all():
                continue
        except ValueError:
            pass
        for i, cell in enumerate(cells):  # slow path: cell by cell, to name the first bad one
            problem = _not_a_number(cell)
            if problem:
                raise DataError(f"{shown(path)}, line {lines[i]}, column {column!r}: {problem}")
            out[i, j] = float(cell)
    return out


def _not_a_number(cell):
    if not cell.strip():
        return "empty cell; expected a number"
    try:
        value = float(cell)
    except ValueError:
        return f"{cell.strip()!r} is not a number"
    return None if math.isfinite(value) else f"{cell.strip()!r} is not a finite number"


def class_labels(path, cells, lines, column, classes=None):
    """Labels 0..K-1 for the cells of a class column, and the class names (label k is names[k]).

    Names are sorted (numerically when every name is a number, so "2" < "10"). With ``classes``
    given (a run's names), those are used and a cell outside them is an error.
    """
    cells = [c.strip() for c in cells]
    for i, cell in enumerate(cells):
        if not cell:
            raise DataError(f"{shown(path)}, line {lines[i]}, column {column!r}: empty cell; expected a class label")
    if classes is None:
        classes = sorted(set(cells), key=_class_order(cells))
    index = {name: k for k, name in enumerate(classes)}
    try:
        return np.array([index[c] for c in cells], dtype=np.int64), list(classes)
    except KeyError:
        i = next(i for i, c in enumerate(cells) if c not in index)
        raise DataError(
            f"{shown(path)}, line {lines[i]}, column {column!r}: class {cells[i]!r} is not one of the run's "
            f"classes ({', '.join(classes)})"
        ) from None


def _class_order(cells):
    try:
        for c in set(cells):
            float(c)
    except ValueError:
        return str
    return float


def csv_table(config, classes=None):
    """The CSV of ``config.data``: features and target columns by name; class labels where the loss classifies.

    A single target column holds class labels (any strings) for a loss that classifies (categorical
    cross-entropy; binary cross-entropy); the target columns hold numbers otherwise (a regression
    loss, or one column per output unit).
    """
    d = config.data
    path = d.path
    header, rows, lines = read_csv(path)
    targets = [d.target] if isinstance(d.target, str) else list(d.target)
    _require_columns(path, header, targets, "target")
    if d.features is None:
        features = [c for c in header if c not in targets]
    else:
        _require_columns(path, header, d.features, "feature")
        features = list(d.features)
        both = [c for c in features if c in targets]
        if both:
            raise DataError(f"{shown(path)}: column {both[0]!r} is both a feature and the target")
    if not features:
        raise DataError(f"{shown(path)}: no feature columns; the only columns are the target's ({', '.join(targets)})")
    x = numeric_columns(path, header, rows, lines, features)
    if len(targets) == 1 and loss_class(config.loss).classifies:
        k = header.index(targets[0])
        y, names = class_labels(path, [row[k] for row in rows], lines, targets[0], classes)
        return Table(x, y, features, targets, names, labels=True, origin=shown(path))
    y = numeric_columns(path, header, rows, lines, targets)
    return Table(x, y, features, targets, origin=shown(path))


def _require_columns(path, header, columns, what):
    for column in columns:
        if column not in header:
            raise DataError(f"{shown(path)}: no {what} column {column!r}; the columns are: {', '.join(header)}")
