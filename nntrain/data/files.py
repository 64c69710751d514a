"""Table files -- CSV, TSV, Parquet -- as the ``Table`` of a config: the feature columns as they are
(``nntrain.data.reader``; encoded only once the training split is drawn, by ``nntrain.data.columns``)
and the target, read as class labels where the loss classifies and as numbers otherwise.

Rows whose target is missing are left out (and counted); so are rows with a missing cell in a column
whose ``missing`` is ``drop``; ``missing: error`` stops at the first missing cell.
"""

import warnings

import numpy as np

from ..errors import DataError, NNTrainWarning
from ..nn.losses import loss_class
from .columns import CATEGORY, CATEGORY_LIMIT, IGNORE, column_settings, level_numbers, sorted_levels
from .reader import read_table
from .table import Table


def table_file(config, classes=None):
    """The Table of ``config.data`` (a table source): x the feature ``Columns``, y the target.

    ``classes``: a run's class names, to label the target the same way (eval).
    """
    d = config.data
    targets = _targets(d)
    table = read_config_table(config)
    features = _features(table, d, targets, _ignored(d))
    table, dropped = _complete_rows(table, config, features, targets)
    x = table.select(features)
    weight = row_weights(table, d.weight) if d.weight is not None else None
    if _classifies(config):
        y, names = class_labels(table, targets[0], classes)
        return Table(x, y, features, targets, names, labels=True, origin=table.origin, dropped=dropped, weight=weight)
    return Table(x, _target_values(table, targets), features, targets, origin=table.origin, dropped=dropped, weight=weight)


def row_weights(table, name):
    """The weight column ``name`` as float64 (n,): numbers >= 0, none missing, not all 0."""
    column = table[name]
    if column.kind == "text":  # some cell is not a number: name the first
        words = [k for k, level in enumerate(column.levels) if not _is_number(level)]
        row = int(np.flatnonzero(np.isin(column.codes, words))[0])
        raise DataError(f"{table.where(row, name)}: data.weight: expected numbers, got {column.levels[column.codes[row]]!r}")
    w = np.asarray(column.values, dtype=np.float64)
    bad = np.flatnonzero(~(w >= 0) | ~np.isfinite(w))  # NaN (missing), negative, infinite
    if len(bad):
        row = int(bad[0])
        what = "missing value" if np.isnan(w[row]) else f"{w[row]:g}"
        raise DataError(f"{table.where(row, name)}: data.weight: {what}; weights must be numbers >= 0")
    if not w.any():
        raise DataError(f"{table.origin}: data.weight: every weight in {name!r} is 0")
    return w


def read_config_table(config, exclude=None):
    """The Columns of ``config.data``'s file as training reads it: declared categories (and a
    classifier's target) as text. ``exclude``: the columns not to read; default the ignored ones."""
    d = config.data
    declared = d.columns or {}
    text = [c for c, spec in declared.items() if spec.type == CATEGORY] + (_targets(d) if _classifies(config) else [])
    return read_table(
        d.path, d.source, delimiter=d.delimiter, decimal=d.decimal, na_values=d.na_values, text=text,
        exclude=_ignored(d) if exclude is None else exclude,
    )


def _targets(d):
    return [d.target] if isinstance(d.target, str) else list(d.target)


def _ignored(d):
    return [c for c, spec in (d.columns or {}).items() if spec.type == IGNORE and c not in _targets(d)]


def _classifies(config):
    """Whether the target is a class column: one column, and a loss that classifies."""
    return len(_targets(config.data)) == 1 and loss_class(config.loss).classifies


def _features(table, d, targets, ignored):
    """The feature columns: ``d.features``, or every column but the target and the ignored ones;
    every column named in the config checked against the file's."""
    names, origin = table.names, table.origin
    for column in d.columns or {}:
        if column not in names:
            raise DataError(f"{origin}: data.columns names {column!r}, which is not a column; the columns are: {', '.join(names)}")
    _require(origin, names, targets, "target")
    weight = [d.weight] if d.weight is not None else []
    _require(origin, names, weight, "weight")
    if d.features is None:
        features = [c for c in names if c not in targets and c not in ignored and c not in weight]
    else:
        _require(origin, names, d.features, "feature")
        features = list(d.features)
    _one_role(origin, features, targets, weight)
    if not features:
        raise DataError(f"{origin}: no feature columns; the only columns are the target's ({', '.join(targets)})")
    return features


def _one_role(origin, features, targets, weight):
    """DataError for a column that is a feature and the target or the weight, or both of those."""
    for roles, (a, b) in (("a feature and the target", (features, targets)), ("a feature and the weight", (features, weight)), ("the target and the weight", (targets, weight))):
        both = [c for c in a if c in b]
        if both:
            raise DataError(f"{origin}: column {both[0]!r} is both {roles}")


def _require(origin, names, columns, what):
    for column in columns:
        if column not in names:
            raise DataError(f"{origin}: no {what} column {column!r}; the columns are: {', '.join(names)}")


def _complete_rows(table, config, features, targets):
    """(the rows to learn from, {column: rows left out for a gap in it}): the rows with a target and
    without a missing cell where ``missing`` is drop; ``missing: error`` stops at the first missing cell."""
    keep = np.ones(len(table), dtype=bool)
    dropped = {}
    for name in (*targets, *features):
        policy = column_settings(config, name)[2]
        absent = table[name].missing()
        if not absent.any():
            continue
        if policy == "error":
            row = int(np.flatnonzero(absent)[0])
            raise DataError(f"{table.where(row, name)}: missing value (data.missing is error)")
        if name in targets or policy == "drop":
            dropped[name] = int(np.count_nonzero(absent & keep))
            keep &= ~absent
    if not keep.any():
        raise DataError(f"{table.origin}: no rows left once those with missing cells are left out ({_counts(dropped)})")
    for name, n in dropped.items():
        if n:
            why = "its target" if name in targets else "a missing cell in a column whose missing is drop"
            warnings.warn(
                f"{table.origin}: left out {n} row{'s' * (n != 1)} with no value in {name!r} ({why})",
                NNTrainWarning,
                stacklevel=3,
            )
    return (table if keep.all() else table.take(keep)), {name: n for name, n in dropped.items() if n}


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _counts(dropped):
    return ", ".join(f"{n} without {name!r}" for name, n in dropped.items())


def class_labels(table, column, classes=None):
    """(labels 0..K-1, class names) of class column ``column``: names sorted (numerically when every name
    is a number, so "2" < "10"); with ``classes`` (a run's), those, and a cell outside them is an error.

    A column of numbers that are not whole, or of more distinct whole numbers than a category column
    may have, looks like a regression target; a single class cannot be learnt.
    """
    cells = table[column]
    codes = cells.codes
    present = [cells.levels[k] for k in np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(cells.levels)))]
    if classes is None:
        values = level_numbers(present)
        numeric = len(present) and not np.isnan(values).any()
        if numeric and (np.any(values != np.round(values)) or len(present) > CATEGORY_LIMIT):
            example = next((s for s, v in zip(present, values) if v != round(v)), present[0])
            raise DataError(
                f"{table.origin}, column {column!r}: holds {len(present)} distinct numbers such as {example}; it looks "
                f"like a regression target: use a regression loss (e.g. loss: mse, with a linear output layer)"
            )
        if len(present) < 2:
            raise DataError(
                f"{table.origin}, column {column!r}: every row has the class {present[0]!r}; a classifier needs two or more classes"
            )
        classes = sorted_levels(present)
    index = {name: k for k, name in enumerate(classes)}
    lookup = np.array([index.get(s, -1) for s in cells.levels], dtype=np.int64)
    labels = lookup[codes]
    if (labels < 0).any():
        row = int(np.flatnonzero(labels < 0)[0])
        raise DataError(
            f"{table.where(row, column)}: class {cells.levels[codes[row]]!r} is not one of the run's classes ({', '.join(classes)})"
        )
    return labels, list(classes)


def _target_values(table, targets):
    """The regression targets (n, len(targets)) as numbers."""
    out = np.empty((len(table), len(targets)))
    for j, name in enumerate(targets):
        column = table[name]
        if column.kind != "number":
            values = level_numbers(column.levels) if column.kind == "text" else column.values
            if column.kind == "text" and np.isnan(values).any():
                row = int(np.flatnonzero(np.isin(column.codes, np.flatnonzero(np.isnan(values))))[0])
                raise DataError(
                    f"{table.where(row, name)}: {column.levels[column.codes[row]]!r} is not a number; a regression "
                    "target holds numbers (for classes, use a classification loss)"
                )
            out[:, j] = values[column.codes] if column.kind == "text" else values
        else:
            out[:, j] = column.values
        if not np.isfinite(out[:, j]).all():
            row = int(np.flatnonzero(~np.isfinite(out[:, j]))[0])
            raise DataError(f"{table.where(row, name)}: {out[row, j]} is not a finite number")
    return out
