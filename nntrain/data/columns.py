"""A table's columns as the network's inputs: each column's type, and its encoding fitted on the
training split only.

- ``number``: the value; a missing cell takes the training split's mean (or median), and a 0/1
  indicator column ``<name>=<missing>`` follows where the training split had a missing cell.
- ``boolean``: a true/false column, as one 0/1 column, imputed like a number.
- ``category``: one 0/1 column per category of the training split, sorted (numerically when every
  category is a number); with ``max_categories`` K the K-1 most frequent are kept and the rest fold
  into ``<name>=<other>`` (as scikit-learn's ``OneHotEncoder(max_categories=K)``); a missing cell is a
  category of its own, ``<name>=<missing>``, where the training split had one. A category the
  training split never had is all zeros (or ``<other>`` where there is one), and counted.

Types are inferred from the training split unless declared (``data.columns``): a column of numbers is
a number, one of true/false a boolean, any other a category. The fitted encoding is JSON (a run's
data.json keeps it) and ``Encoding.transform`` reapplies it to new rows: eval, predict, exports.
"""

import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError, NNTrainWarning
from .table import parallel_map

NUMBER, CATEGORY, BOOLEAN, IGNORE = "number", "category", "boolean", "ignore"
TYPES = (NUMBER, CATEGORY, BOOLEAN, IGNORE)
# Distinct values an undeclared text column may have before it is more likely an id or free text
# than a category: beyond it, the user says what the column is.
CATEGORY_LIMIT = 100
MISSING, OTHER = "<missing>", "<other>"
DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+")
TRUTH = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "t": 1.0, "f": 0.0, "y": 1.0, "n": 0.0, "1": 1.0, "0": 0.0}


def level_numbers(levels):
    """Each text level as a finite float, NaN where it is not a number."""
    out = np.full(len(levels), np.nan)
    for k, s in enumerate(levels):
        try:
            value = float(s)
        except ValueError:
            continue
        if math.isfinite(value):
            out[k] = value
    return out


def sorted_levels(levels):
    """Levels sorted: as numbers when every one is a number (so "2" < "10"), else as strings."""
    numbers = level_numbers(levels)
    if len(levels) and not np.isnan(numbers).any():
        return [levels[k] for k in np.argsort(numbers, kind="stable")]
    return sorted(levels)


# --------------------------------------------------------------------------------------------------
# Encodings of one column


@dataclass
class NumberEncoding:
    """A number (or boolean) column: one value column, and an indicator where training had missing cells."""

    name: str
    fill: float
    indicator: bool
    boolean: bool = False

    @property
    def features(self):
        return [self.name] + ([f"{self.name}={MISSING}"] if self.indicator else [])

    @property
    def scaled(self):
        """Which of its columns standardisation scales: the value of a number, never a 0/1 column."""
        return [not self.boolean] + [False] * self.indicator

    def transform(self, table, out):
        out[:, 0] = numbers(table, self.name, boolean=self.boolean)
        if math.isfinite(out[:, 0].sum()):  # one pass tells there is no gap (NaN) in the column
            if self.indicator:
                out[:, 1] = 0.0
            return 0
        missing = np.isnan(out[:, 0])
        if math.isnan(self.fill):  # a run that never saw a missing cell, nor fitted a fill
            row = int(np.flatnonzero(missing)[0])
            raise DataError(f"{table.where(row, self.name)}: missing value; the run was trained on numbers without gaps")
        out[missing, 0] = self.fill
        if self.indicator:
            out[:, 1] = missing
        return 0

    def to_json(self):
        return {"name": self.name, "type": BOOLEAN if self.boolean else NUMBER, "fill": self.fill, "indicator": self.indicator}


@dataclass
class CategoryEncoding:
    """A category column: one 0/1 column per kept category, then <other> and <missing> where fitted."""

    name: str
    categories: list
    other: list = field(default_factory=list)  # the training split's categories folded into <other>
    missing: bool = False

    @property
    def features(self):
        extra = [OTHER] * bool(self.other) + [MISSING] * self.missing
        return [f"{self.name}={c}" for c in [*self.categories, *extra]]

    @property
    def scaled(self):
        return [False] * len(self.features)

    def transform(self, table, out):
        """Fill ``out`` (n, width) with the one-hot rows; returns how many rows had a category (or a
        missing cell) that training never saw."""
        column = table[self.name]
        if column.kind != "text":
            raise DataError(f"{table.origin}, column {self.name!r}: holds {column.kind}s, but the run read it as categories")
        index = {c: k for k, c in enumerate(self.categories)}
        other = len(self.categories) if self.other else -1
        index.update(dict.fromkeys(self.other, other))
        missing = len(self.categories) + bool(self.other) if self.missing else -1
        lookup = np.array([index.get(s, other) for s in column.levels] + [missing], dtype=np.int64)
        columns = lookup[column.codes]  # code -1 (missing) takes the last entry
        for k in range(out.shape[1]):  # column by column: contiguous in the column-major encoding
            np.equal(columns, k, out=out[:, k], casting="unsafe")
        unseen = np.array([s not in index for s in column.levels] + [not self.missing])
        return int(np.count_nonzero(unseen[column.codes]))

    def to_json(self):
        return {"name": self.name, "type": CATEGORY, "categories": self.categories, "other": self.other, "missing": self.missing}


def numbers(table, name, boolean=False):
    """Column ``name`` of ``table`` as float64 values (NaN where missing); a cell that is not a number
    (not true/false for a boolean) is a DataError naming its line."""
    column = table[name]
    if column.kind != "text":
        values = column.values
        if not boolean and (math.isfinite(values.sum()) or not np.isinf(values).any()):
            return values  # (a finite sum: neither NaN nor infinity, in one pass)
        bad = np.flatnonzero(np.isinf(values) | (boolean & ~np.isin(values, (0.0, 1.0)) & ~np.isnan(values)))
        if len(bad):
            value = values[bad[0]]
            raise DataError(f"{table.where(bad[0], name)}: {value:g} is not {'true or false' if boolean else 'a finite number'}")
        return values
    if boolean:
        parsed = np.array([TRUTH.get(s.lower(), np.nan) for s in column.levels])
        expected = "true or false"
    else:
        parsed, expected = level_numbers(column.levels), "a number"
    bad = np.flatnonzero(np.isnan(parsed))
    if len(bad):
        rows = np.flatnonzero(np.isin(column.codes, bad))
        if len(rows):
            row = rows[0]
            raise DataError(f"{table.where(row, name)}: {column.levels[column.codes[row]]!r} is not {expected}; {_number_fix(name)}")
    return np.append(parsed, np.nan)[column.codes]


def _number_fix(name):
    return (
        f"if it means a missing value, add it to data.na_values; if the column is a category, declare it "
        f"(data.columns: {{{name}: category}})"
    )


# --------------------------------------------------------------------------------------------------
# Fitting


@dataclass
class Encoding:
    """The encodings of a table's feature columns, in order: what turns raw rows into the network's inputs."""

    columns: list

    @property
    def features(self):
        return [f for c in self.columns for f in c.features]

    @property
    def width(self):
        return len(self.features)

    @property
    def scaled(self):
        return np.array([s for c in self.columns for s in c.scaled], dtype=bool)

    @property
    def raw(self):
        """The table columns it reads."""
        return [c.name for c in self.columns]

    def transform(self, table, origin=None, dtype=np.float64, scale=None):
        """The network's inputs (n, width) for the rows of ``table``, column-major (each column written
        whole), in ``dtype``; warns once per column about categories the training split never had.

        ``scale(j, values)``: what a number's column ``j`` becomes before the cast to ``dtype``, given
        its float64 values (standardisation, ``nntrain.data.prepare``); 0/1 columns stay as they are.
        """
        out = np.empty((len(table), self.width), dtype=dtype, order="F")

        def encode(item):  # one column of the table into its columns of out; how many rows were unseen
            encoding, start = item
            width = len(encoding.features)
            if isinstance(encoding, CategoryEncoding):  # 0/1: exact in any dtype
                return encoding.transform(table, out[:, start : start + width])
            values = np.empty((len(table), width), order="F")  # numbers: float64 until scaled
            unseen = encoding.transform(table, values)
            for k, scaled in enumerate(encoding.scaled):
                column = values[:, k]
                out[:, start + k] = scale(start + k, column) if scale is not None and scaled else column
            return unseen

        starts = np.cumsum([0] + [len(c.features) for c in self.columns[:-1]])
        unseen = parallel_map(encode, list(zip(self.columns, starts.tolist())), len(table))
        for encoding, count in zip(self.columns, unseen):  # in the columns' order, whatever the threads did
            if count:
                self._warn(encoding, count, origin or table.origin)
        return out

    @staticmethod
    def _warn(encoding, unseen, origin):
        what = OTHER if getattr(encoding, "other", None) else "all zeros"
        warnings.warn(
            f"{origin}, column {encoding.name!r}: {unseen} {'rows hold' if unseen != 1 else 'row holds'} a category "
            f"(or a missing cell) the training split never had; encoded as {what}",
            NNTrainWarning,
            stacklevel=3,
        )

    def to_json(self):
        return [c.to_json() for c in self.columns]

    @classmethod
    def from_json(cls, records):
        columns = []
        for r in records:
            if r["type"] == CATEGORY:
                columns.append(CategoryEncoding(r["name"], list(r["categories"]), list(r["other"]), bool(r["missing"])))
            else:
                columns.append(NumberEncoding(r["name"], float(r["fill"]), bool(r["indicator"]), r["type"] == BOOLEAN))
        return cls(columns)

    @classmethod
    def plain(cls, names):
        """The encoding of a run whose inputs are numbers as they are (no missing values allowed)."""
        return cls([NumberEncoding(name, math.nan, False) for name in names])

    def describe(self):
        """E.g. "9 inputs from 6 columns: 4 numbers (+1 missing indicator), 2 categories (5 columns)"."""
        kinds = {}
        for c in self.columns:
            kind = CATEGORY if isinstance(c, CategoryEncoding) else (BOOLEAN if c.boolean else NUMBER)
            n, width = kinds.get(kind, (0, 0))
            kinds[kind] = (n + 1, width + len(c.features))
        parts = []
        for kind, label in ((NUMBER, "number"), (BOOLEAN, "boolean"), (CATEGORY, "categor")):
            if kind not in kinds:
                continue
            n, width = kinds[kind]
            plural = ("ies" if n != 1 else "y") if kind == CATEGORY else "s" * (n != 1)
            extra = width - n
            if kind == CATEGORY:
                parts.append(f"{n} {label}{plural} ({width} one-hot column{'s' * (width != 1)})")
            else:
                parts.append(f"{n} {label}{plural}" + (f" (+{extra} missing indicator{'s' * (extra != 1)})" if extra else ""))
        cols = len(self.columns)
        return f"{self.width} input{'s' * (self.width != 1)} from {cols} column{'s' * (cols != 1)}: {', '.join(parts)}"


def inputs_of(model, meta):
    """The network's input width and, for a table (a run's data.json ``meta`` with its encodings), how
    its columns make them: what summary.json, ``nntrain summary`` and ``compare`` show."""
    record = {"inputs": int(model.inputs)}
    if "columns" in meta:
        record["inputs_from"] = Encoding.from_json(meta["columns"]).describe()
    return record


def column_settings(config, name):
    """(declared type or None, max_categories or None, missing policy) of column ``name``."""
    d = config.data
    spec = (d.columns or {}).get(name)
    if spec is None:
        return None, d.max_categories, d.missing
    return spec.type, spec.max_categories if spec.max_categories is not None else d.max_categories, spec.missing or d.missing


def fit_encoding(rows, features, config):
    """The Encoding of columns ``features`` fitted on ``rows`` (Columns: the training split's)."""
    return Encoding(parallel_map(lambda name: _fit_column(rows.gathered(name), name, config), features, len(rows)))


def _fit_column(table, name, config):
    """The encoding of column ``name`` fitted on ``table`` (the training split's rows of it)."""
    declared, limit, missing = column_settings(config, name)
    absent = table[name].missing()
    if absent.all():
        where = "the training split" if len(table) else table.origin
        raise DataError(
            f"{table.origin}, column {name!r}: every cell of {where} is missing; "
            f"leave the column out (data.columns: {{{name}: ignore}})"
        )
    kind = declared or infer_type(table, name)
    if kind == CATEGORY:
        return _fit_category(table, name, limit, declared)
    values = numbers(table, name, boolean=kind == BOOLEAN)
    present = values[~absent]
    fill = float(np.median(present) if missing == "median" else present.mean())
    return NumberEncoding(name, fill, bool(absent.any()), kind == BOOLEAN)


def infer_type(table, name):
    """number, boolean or category, from the column's cells in ``table`` (the training split)."""
    column = table[name]
    if column.kind != "text":
        return BOOLEAN if column.kind == "boolean" else NUMBER
    used = np.flatnonzero(np.bincount(column.codes[column.codes >= 0], minlength=len(column.levels)))
    levels = [column.levels[k] for k in used]
    parsed = level_numbers(levels)
    numeric = int(np.count_nonzero(~np.isnan(parsed)))
    if numeric == len(levels):
        return NUMBER
    if numeric and 2 * numeric >= len(levels):
        text_levels = used[np.isnan(parsed)]
        row = int(np.flatnonzero(np.isin(column.codes, text_levels))[0])
        raise DataError(
            f"{table.where(row, name)}: {column.levels[column.codes[row]]!r} in a column of numbers; "
            f"{_number_fix(name)}"
        )
    if all(s.lower() in ("true", "false") for s in levels):
        return BOOLEAN
    if all(DECIMAL_COMMA.fullmatch(s) for s in levels):
        row = int(np.flatnonzero(column.codes >= 0)[0])
        raise DataError(
            f"{table.where(row, name)}: {column.levels[column.codes[row]]!r} looks like a number with a decimal comma; "
            "if the file's numbers are written so, set data.decimal: ','"
        )
    return CATEGORY


def _fit_category(table, name, limit, declared):
    column = table[name]
    codes = column.codes
    counts = np.bincount(codes[codes >= 0], minlength=len(column.levels))
    present = sorted_levels([column.levels[k] for k in np.flatnonzero(counts)])
    if limit is None and declared is None and len(present) > CATEGORY_LIMIT:
        raise DataError(
            f"{table.origin}, column {name!r}: {len(present)} distinct values in the training split, too many "
            f"categories to one-hot encode; leave it out (data.columns: {{{name}: ignore}}) or keep the most "
            f"frequent (data.columns: {{{name}: {{type: category, max_categories: 20}}}})"
        )
    other = []
    if limit is not None and len(present) >= limit:
        # As scikit-learn's OneHotEncoder(max_categories=limit): the limit counts the <other> column,
        # so limit - 1 are kept (and one is folded even when there are just `limit`); the least
        # frequent go first, ties in sorted order.
        index = {s: k for k, s in enumerate(column.levels)}
        order = np.argsort([counts[index[s]] for s in present], kind="stable")
        folded = set(order[: len(present) - (limit - 1)].tolist())
        other = [s for k, s in enumerate(present) if k in folded]
        present = [s for k, s in enumerate(present) if k not in folded]
    return CategoryEncoding(name, present, other, bool((codes < 0).any()))
