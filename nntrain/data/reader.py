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

What each column *is* (a number, a category) is decided later from the training split
(``nntrain.data.columns``). Errors name the file, and where it helps the line and column.
"""

import contextvars
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .table import shown

# The spellings of a missing cell, as pandas and pyarrow read them; data.na_values adds more (e.g. "?").
NA_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
             "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
TRUE_VALUES, FALSE_VALUES = ("true", "True", "TRUE"), ("false", "False", "FALSE")
DELIMITERS = ",;\t|"
# A number as pyarrow parses it (surrounding spaces allowed), with a decimal point or comma.
NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf|infinity|Infinity|Inf)\s*")
DECIMAL_COMMA_NUMBER = re.compile(r"\s*[-+]?(\d+,?\d*([eE][-+]?\d+)?|,\d+([eE][-+]?\d+)?|inf|infinity|Infinity|Inf)\s*")
SAMPLE_BYTES, SAMPLE_LINES, MAX_SAMPLE_BYTES = 1 << 16, 50, 1 << 24  # what the header, delimiter and types are read from
# How reading a large file shows its progress: a callable (file name, bytes read, bytes in all), set by
# the caller (the CLI draws a bar); None: silent. Files below PROGRESS_BYTES are read without it.
PROGRESS = contextvars.ContextVar("reading_progress", default=None)
PROGRESS_BYTES = 32 << 20


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
        table, names, delimiter = _csv(path, source, delimiter, decimal, na, text, exclude)
    if table.num_rows == 0:
        raise DataError(f"{shown(path)}: no data rows below the header")
    pool = pa.default_memory_pool()
    pool.release_unused()  # what pyarrow's allocator kept of its parsing (as much again as the table)
    n, columns, na = table.num_rows, {}, set(na)
    for name, array in zip(table.column_names, table.columns):  # (by name, pyarrow looks for each in turn)
        if name in text and not pa.types.is_string(array.type):
            array = array.cast(pa.string())
        columns[name] = _column(name, array, na)
    del table, array
    pool.release_unused()
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
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    parts = []
    for chunk in chunks:
        n, (validity, data) = len(chunk), chunk.buffers()[:2]
        values = np.frombuffer(data, dtype=dtype, count=n, offset=chunk.offset * dtype.itemsize)
        if chunk.null_count:
            values = values.copy()
            values[_bits(validity, chunk.offset, n) == 0] = fill
        parts.append(values)
    if len(parts) == 1:
        return parts[0]  # pyarrow's own buffer, read-only: no copy
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


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

    _check_file(path, "a Parquet file")
    try:
        return pq.read_schema(path).names
    except pa.ArrowInvalid:
        raise DataError(f"{shown(path)}: not a Parquet file") from None
    except OSError as e:
        raise DataError(f"{shown(path)}: cannot read: {e}") from None


def _check_file(path, expected):
    if not path.exists():
        raise DataError(f"{shown(path)}: no such file")
    if path.is_dir():
        raise DataError(f"{shown(path)}: is a directory, expected {expected}")


# --------------------------------------------------------------------------------------------------
# CSV and TSV


def _csv(path, source, delimiter, decimal, na, text, exclude):
    """(pyarrow table, header, delimiter) of a CSV file."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    _check_file(path, "a CSV file")
    sample = _sample(path)
    if delimiter is None:
        delimiter = "\t" if source == "tsv" or path.suffix.lower() == ".tsv" else _sniff(sample)
    raw, header = _header(path, sample, delimiter, source)
    # pyarrow knows the columns by their names as written; nntrain by their trimmed names.
    written = dict(zip(header, raw))
    include = [written[c] for c in header if c not in exclude]
    types = _sample_types(sample, delimiter, decimal, set(na), len(header))
    types = {written[c]: kind for c, kind in zip(header, types) if kind is not None and c not in exclude}
    types.update({written[c]: pa.string() for c in text if c in written and c not in exclude})
    convert = dict(
        column_types=types, null_values=na, strings_can_be_null=True, true_values=list(TRUE_VALUES),
        false_values=list(FALSE_VALUES), include_columns=include, timestamp_parsers=[], decimal_point=decimal,
    )
    table = _parse(path, delimiter, raw, convert)
    return table.rename_columns([c.strip() for c in table.column_names]), header, delimiter


def _sample_types(sample, delimiter, decimal, na, width):
    """The pyarrow type of each column from the sample's rows: float64 where every cell present is a
    number, boolean where every one is true or false, else string; None without a cell present.

    Given to pyarrow, they spare its own inference, which costs as much per column as parsing a
    hundred rows. A cell beyond the sample that does not fit makes its column text (``_parse``).
    """
    import pyarrow as pa

    limit = max(5, min(SAMPLE_LINES, 100_000 // width))  # cells enough to tell, few enough to be quick
    rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r][1 : limit + 1]
    if any(len(r) != width for r in rows):
        return [None] * width  # a malformed row: pyarrow's parse will name it
    number = DECIMAL_COMMA_NUMBER if decimal == "," else NUMBER
    kinds = [None] * width
    for j, column in enumerate(zip(*rows)):
        cells = [c for c in column if c not in na]  # as pyarrow sees them: " NA" is no NA
        if not cells:
            continue
        if all(c in TRUE_VALUES or c in FALSE_VALUES for c in cells):
            kinds[j] = pa.bool_()
        elif all(map(number.fullmatch, cells)):
            kinds[j] = pa.float64()
        else:
            kinds[j] = pa.string()
    return kinds


def _block_size(path, width):
    """Bytes per block pyarrow parses at once (in parallel): its default of 1 MB, but for a wide file
    blocks large enough that columns x blocks -- its cost per column and block -- stays small."""
    return int(min(1 << 26, max(1 << 20, path.stat().st_size * width // 5_000)))


def _parse(path, delimiter, raw, convert):
    """pyarrow's table of a CSV file (``raw``: its header as written; ``convert``: ConvertOptions').

    pyarrow types a column from its first block: a column a later block does not fit is read again
    as text (what it is is decided later). A file pyarrow cannot parse is read again allowing newlines
    in quoted values, then stops with the first row whose fields do not match the header.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    types = convert["column_types"]
    for multiline in (False, True):
        while True:
            try:
                return pcsv.read_csv(
                    _source(path),
                    read_options=pcsv.ReadOptions(block_size=_block_size(path, len(raw))),
                    parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=multiline),
                    convert_options=pcsv.ConvertOptions(**convert),
                )
            except pa.ArrowInvalid as e:
                message = str(e)
            if "UTF8" in message:
                raise DataError(f"{shown(path)}: not UTF-8 text; expected a CSV file")
            column = re.search(r"In CSV column #(\d+): CSV conversion error", message)
            if column is None:
                break
            types[raw[int(column.group(1))]] = pa.string()
    raise _malformed(path, delimiter, [c.strip() for c in raw], message)


class _Counted(io.RawIOBase):
    """A file that tells PROGRESS how much of it has been read."""

    def __init__(self, path, report):
        self.file, self.report, self.name = open(path, "rb", buffering=0), report, shown(path)
        self.total, self.done = path.stat().st_size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.file.readinto(buffer)
        self.done += n or 0
        self.report(self.name, self.done, self.total)
        return n

    def close(self):
        self.file.close()
        super().close()


def _source(path):
    """What pyarrow reads: the path, or for a large file with PROGRESS set, a file that reports."""
    report = PROGRESS.get()
    if report is None or path.stat().st_size < PROGRESS_BYTES:
        return path
    return io.BufferedReader(_Counted(path, report), 1 << 20)


def _sample(path):
    """The start of a file as text, whole lines: at least SAMPLE_BYTES and SAMPLE_LINES lines (a wide
    file's header alone may be longer), at most MAX_SAMPLE_BYTES."""
    try:
        with open(path, "rb") as f:
            raw = f.read(SAMPLE_BYTES)
            while raw.count(b"\n") < SAMPLE_LINES and len(raw) < MAX_SAMPLE_BYTES:
                more = f.read(len(raw))
                if not more:
                    break
                raw += more
            complete = not f.read(1)
    except OSError as e:
        raise DataError(f"{shown(path)}: cannot read: {e.strerror}") from None
    if not complete and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n") + 1]
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{shown(path)}: not UTF-8 text; expected a CSV file") from None


def _sniff(sample):
    """The delimiter of a CSV sample (one of DELIMITERS), a comma when the sample does not say."""
    lines = [line for line in sample[:SAMPLE_BYTES].splitlines() if line.strip()][:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _header(path, sample, delimiter, source):
    """(the column names as written, trimmed): the first non-blank row, each checked."""
    name = shown(path)
    record = next((r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r and any(c.strip() for c in r)), None)
    if record is None:
        raise DataError(f"{name}: empty file; expected a header row of column names, then data rows")
    header = [c.strip() for c in record]
    if len(header) == 1:
        _check_delimiter(name, header[0], delimiter, source)
    seen = set()
    for i, column in enumerate(header):
        if not column:
            raise DataError(f"{name}: column {i + 1} of the header has no name")
        if column in seen:
            raise DataError(f"{name}: two columns are named {column!r}")
        seen.add(column)
    return record, header


def _check_delimiter(name, header, delimiter, source):
    """A header of one column that another delimiter would split: the delimiter is wrong."""
    other = next((d for d in DELIMITERS if d != delimiter and d in header), None)
    if other is not None:
        fix = "read it as source: csv" if source == "tsv" else f"set data.delimiter: {other!r}"
        raise DataError(
            f"{name}: the delimiter {delimiter!r} splits nothing (the header is one column, {header[:40]!r}); "
            f"the file seems to use {other!r}: {fix}"
        )


def _records(path, delimiter):
    """(line, record) of each non-blank row of a CSV file, the header first (the slow reader, for
    messages only)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        start = 1
        for record in reader:
            if record:
                yield start, record
            start = reader.line_num + 1


def read_rows(path, delimiter=None):
    """(header, rows of strings) of a CSV file as it is, for passing its cells through (predict)."""
    records = _records(path, delimiter or _sniff(_sample(path)))
    try:
        header = [c.strip() for c in next(records)[1]]
        return header, [record for _, record in records]
    except (StopIteration, csv.Error, UnicodeDecodeError, OSError) as e:
        raise DataError(f"{shown(path)}: cannot read: {e}") from None


def data_row_line(path, delimiter, row):
    """The file line on which data row ``row`` (0-based, below the header) starts, or None."""
    try:
        for i, (line, _) in enumerate(_records(path, delimiter)):
            if i == row + 1:
                return line
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _malformed(path, delimiter, header, message):
    """The DataError of a CSV pyarrow cannot parse: the first row with the wrong number of fields."""
    name = shown(path)
    try:
        for line, record in _records(path, delimiter):
            if len(record) != len(header):
                return DataError(f"{name}, line {line}: {len(record)} fields, but the header has {len(header)}")
    except csv.Error as e:
        return DataError(f"{name}: malformed CSV: {e}")
    return DataError(f"{name}: malformed CSV: {message.removeprefix('CSV parse error: ')}")
