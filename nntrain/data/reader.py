"""Reading tables -- CSV, TSV and Parquet files -- with pyarrow, into one NumPy array per column.

pyarrow parses a CSV on every core and keeps strings in its own buffers, not as Python objects: a
million rows of twenty numbers and a string column read in about the time ``pandas.read_csv`` takes,
in less memory (benchmarks/tables.py); and it reads Parquet too. It is imported only when a table is
read. Each column comes back as a ``Column``:

- ``number``: float64 values, NaN where a cell is missing (blank, or one of ``NA_VALUES`` or the
  config's ``data.na_values``);
- ``boolean``: a column of true/false cells, as 0/1 values (NaN where missing);
- ``text``: any other column, as integer codes into its distinct strings (``levels``, whitespace
  trimmed; code -1 where missing).

CSV and TSV specifics -- delimiter, header, types from a sample, line numbers -- are
``nntrain.data.csvfile``'s. What each column *is* (a number, a category) is decided later from the
training split (``nntrain.data.columns``). Errors name the file, and where it helps the line and column.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .csvfile import csv_table, data_row_line
from .table import check_file, parallel_map, shown

# The spellings of a missing cell, as pandas and pyarrow read them; data.na_values adds more (e.g. "?").
NA_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
             "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


@dataclass
class Column:
    """One column of a table: see the module's docstring for ``kind``."""

    name: str
    kind: str  # "number", "boolean" or "text"
    values: np.ndarray | None = None  # number, boolean: float64, NaN where missing
    codes: np.ndarray | None = None  # text: int32 index into levels, -1 where missing
    levels: list = field(default_factory=list)  # text: its distinct strings

    def missing(self):
        """Boolean mask of the missing cells."""
        return self.codes < 0 if self.kind == "text" else np.isnan(self.values)

    def take(self, index):
        if self.kind == "text":
            return Column(self.name, self.kind, codes=self.codes[index], levels=self.levels)
        return Column(self.name, self.kind, values=self.values[index])


@dataclass
class Columns:
    """The columns of a table, or some of its rows, with what it takes to name a cell's line.

    ``rows``: the data row (0-based, below the header) each row came from, for messages. Some rows of
    a table (``take``) share its columns: a column's cells are gathered only when it is asked for, so
    the splits of a large table are never copied whole.
    """

    path: Path
    names: list  # every column of the file, in its order
    columns: dict  # name -> Column: those read, all their rows
    rows: np.ndarray
    delimiter: str | None = None  # a CSV's
    index: np.ndarray | None = None  # these rows' positions in the columns (None: all of them)

    @property
    def origin(self):
        return shown(self.path)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, name):
        column = self.columns[name]
        return column if self.index is None else column.take(self.index)

    def take(self, index):
        """These rows ``index`` (an int array or a boolean mask), their cells not gathered yet."""
        positions = np.arange(len(self))[index] if self.index is None else self.index[index]
        return Columns(self.path, self.names, self.columns, self.rows[index], self.delimiter, positions)

    def select(self, names):
        """These rows of the columns ``names`` only."""
        return Columns(self.path, self.names, {name: self.columns[name] for name in names}, self.rows, self.delimiter, self.index)

    def gathered(self, name=None):
        """These rows of column ``name`` (default: of every column) gathered once, for what reads them
        several times."""
        names = list(self.columns) if name is None else [name]
        gathered = parallel_map(self.__getitem__, names, len(self)) if self.index is not None else map(self.__getitem__, names)
        return Columns(self.path, self.names, dict(zip(names, gathered)), self.rows, self.delimiter)

    def where(self, row, column=None):
        """"file, line N, column 'c'" of row ``row`` of these rows, for a message."""
        line = data_row_line(self.path, self.delimiter, int(self.rows[row])) if self.delimiter else None
        place = f"{self.origin}, line {line}" if line else f"{self.origin}, row {int(self.rows[row]) + 1}"
        return place if column is None else f"{place}, column {column!r}"


def read_table(path, source="csv", *, delimiter=None, decimal=".", na_values=(), text=(), exclude=()):
    """The Columns of a CSV/TSV (``source`` "csv" or "tsv") or Parquet file.

    ``delimiter``: a CSV's (default: sniffed; a tab for TSV); ``decimal``: the decimal mark of a CSV's
    numbers; ``text``: columns to read as strings
    whatever they hold (declared categories); ``exclude``: columns not to read (ignored ones).
    """
    import pyarrow as pa

    path = Path(path)
    na = list(dict.fromkeys([*NA_VALUES, *na_values]))
    if source == "parquet":
        names = _parquet_names(path)
        table, delimiter = _parquet(path, [c for c in names if c not in exclude]), None
    else:
        table, names, delimiter = csv_table(path, source, delimiter, decimal, na, text, exclude)
    if table.num_rows == 0:
        raise DataError(f"{shown(path)}: no data rows below the header")
    n, na = table.num_rows, set(na)

    def column(item):
        name, array = item
        if name in text and not pa.types.is_string(array.type):
            array = array.cast(pa.string())
        return _column(name, array, na)

    items = list(zip(table.column_names, table.columns))  # (by name, pyarrow looks for each in turn)
    columns = dict(zip(table.column_names, parallel_map(column, items, n)))
    del table, items
    # What pyarrow's allocator kept of its parsing, as much again as the table; the columns above
    # (pyarrow's copies, combined from its blocks) reused it before.
    pa.default_memory_pool().release_unused()
    return Columns(path, names, columns, np.arange(n), delimiter)


def _column(name, array, na):
    """A Column from one pyarrow column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_boolean(kind):
        return Column(name, "boolean", values=_booleans(array))
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind) or pa.types.is_null(kind):
        return Column(name, "number", values=_numpy(array, pa.float64(), np.nan))
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        array = array.cast(pa.string())  # dates, times, ...: their text
    encoded = pc.dictionary_encode(array).combine_chunks()
    codes = _numpy(encoded.indices, pa.int32(), -1)
    raw = encoded.dictionary.to_pylist()
    # Levels are the trimmed strings; " NA" and "" after trimming are missing too.
    levels, index, remap = [], {}, np.empty(len(raw) + 1, dtype=np.int32)
    for k, s in enumerate(raw):
        s = s.strip()
        if s in na:
            remap[k] = -1
            continue
        if s not in index:
            index[s] = len(levels)
            levels.append(s)
        remap[k] = index[s]
    remap[-1] = -1
    return Column(name, "text", codes=remap[codes], levels=levels)


def _numpy(array, kind, fill):
    """A pyarrow (chunked) array as one NumPy array of pyarrow type ``kind``, ``fill`` where null.

    Read from its buffers: pyarrow's ``to_numpy``, like anything that turns Python values into its
    own, imports pandas (half a second and 50 MB).
    """
    import pyarrow as pa

    dtype = np.dtype(np.float64 if kind == pa.float64() else np.int32)
    if pa.types.is_null(array.type):
        return np.full(len(array), fill, dtype=dtype)
    if array.type != kind:
        array = array.cast(kind)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()  # (pyarrow's copy is several times faster than np.concatenate's)
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=dtype)
    validity, data = array.buffers()[:2]
    values = np.frombuffer(data, dtype=dtype, count=n, offset=array.offset * dtype.itemsize)  # read-only, no copy
    if array.null_count:
        values = values.copy()
        values[_bits(validity, array.offset, n) == 0] = fill
    return values


def _booleans(array):
    """A pyarrow boolean (chunked) array as float64 0/1, NaN where null."""
    import pyarrow as pa

    parts = []
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        n, (validity, data) = len(chunk), chunk.buffers()[:2]
        values = _bits(data, chunk.offset, n).astype(np.float64)
        if chunk.null_count:
            values[_bits(validity, chunk.offset, n) == 0] = np.nan
        parts.append(values)
    return np.concatenate(parts) if parts else np.zeros(0)


def _bits(bitmap, offset, n):
    """Bits ``offset`` .. ``offset + n`` of a pyarrow bitmap (validity, booleans) as 0/1 bytes."""
    return np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")[offset : offset + n]


def _parquet(path, include):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=include)
    except pa.ArrowInvalid as e:
        if "magic bytes" in str(e) or "Parquet" in str(e):
            raise DataError(f"{shown(path)}: not a Parquet file") from None
        raise DataError(f"{shown(path)}: cannot read as Parquet: {e}") from None
    except OSError as e:
        raise DataError(f"{shown(path)}: cannot read: {e}") from None


def _parquet_names(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_file(path, "a Parquet file")
    try:
        return pq.read_schema(path).names
    except pa.ArrowInvalid:
        raise DataError(f"{shown(path)}: not a Parquet file") from None
    except OSError as e:
        raise DataError(f"{shown(path)}: cannot read: {e}") from None
