"""CSV and TSV files read with pyarrow (for ``nntrain.data.reader``): the delimiter sniffed, the header
checked, each column's type taken from a sample of rows, and messages that name the file's line.

pyarrow parses on every core, but types a column by trying one type after another on every block:
for a wide file that costs more than the parsing. The sample's types (numbers, true/false, text) are
given to it instead; a cell beyond the sample that does not fit makes its column text, read again.
"""

import contextvars
import csv
import io
import re

from ..errors import DataError
from .table import check_file, shown

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


def csv_table(path, source, delimiter, decimal, na, text, exclude):
    """(pyarrow table, header, delimiter) of a CSV file: ``source`` csv or tsv; ``delimiter``: given or
    None (sniffed; a tab for TSV); ``decimal``: the numbers' decimal mark; ``na``: the spellings of a
    missing cell; ``text``: columns to read as strings; ``exclude``: columns not to read."""
    import pyarrow as pa

    check_file(path, "a CSV file")
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
