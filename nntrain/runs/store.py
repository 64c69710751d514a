"""Run directories: where every run's resolved config, metrics, weights and summary live.

A run directory holds:

- ``config.yaml``: the resolved config (every default filled in); it reproduces the run.
- ``metrics.csv``: one row per epoch (``epoch``, the loss and metrics, ``epoch_time_s``).
- ``weights.npz``: arrays ``layers.<i>.W`` (units, inputs), ``layers.<i>.b`` and batch-norm arrays.
- ``data.json`` (where the data needs it): class names, feature names, standardisation mean and std.
- ``diagnostics.csv``: per epoch and layer, gradient and weight norms, update ratios, dead / saturated units.
- ``summary.json``: status (running, completed, failed, interrupted, diverged), epochs, final metrics,
  parameter count, wall time, seed and nntrain version.
- ``checkpoint.npz`` while a run is unfinished: the state to resume from (see nntrain.training.checkpoint).

Directories are created with ``os.mkdir`` (atomic: two runs never share one) and never reused; every
file is written to a temporary name and renamed into place, so a reader never sees half a file.
"""

import contextlib
import contextvars
import csv
import io
import json
import lzma
import math
import os
import time
import tokenize
import warnings
import zipfile
import zlib
from operator import methodcaller
from pathlib import Path

import numpy as np

from ..errors import RunError, UsageError

CONFIG, METRICS, WEIGHTS, SUMMARY = "config.yaml", "metrics.csv", "weights.npz", "summary.json"
DATA, DIAGNOSTICS = "data.json", "diagnostics.csv"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # the times in summary.json and sweep.json: 2026-11-26T18:53:59+0000


def iso_time(t):
    """A time (seconds since the epoch) as the run files write it: local time with its UTC offset."""
    return time.strftime(TIME_FORMAT, time.localtime(t))


def create_run_dir(name, run_dir=None, root="runs", what="run"):
    """Make a new, empty directory: exactly ``run_dir``, or ``root/<name>-<YYYYmmdd-HHMMSS>[-k]``.

    ``what`` names it in errors: "run", or "sweep" for a sweep's directory (option ``--<what>-dir``).
    """
    if run_dir is not None:
        path = Path(run_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file stands where a parent folder should be
            blocker = next(p for p in path.parents if p.exists() and not p.is_dir())
            raise RunError(f"{path}: cannot create the {what} directory: {blocker} is a file, not a folder") from None
        except OSError as e:
            raise RunError(f"{path}: cannot create the {what} directory: {e.strerror}") from None
        try:
            path.mkdir()
        except FileExistsError:
            raise RunError(f"{path}: already exists; {what}s are never overwritten, choose a new --{what}-dir") from None
        except OSError as e:
            raise RunError(f"{path}: cannot create the {what} directory: {e.strerror}") from None
        return path
    root = Path(root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"{root}: cannot create the runs directory: {e.strerror}") from None
    for k in range(1000):
        path = root / (f"{name}-{stamp}" if k == 0 else f"{name}-{stamp}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as e:
            raise RunError(f"{path}: cannot create the {what} directory: {e.strerror}") from None
    raise RunError(f"{root}: too many runs named {name!r} in the same second")


# Whether write_bytes waits for the disk (fsync) before renaming, so that a file survives a crash of
# the machine too. Off only inside ``scratch_files()``.
_DURABLE = contextvars.ContextVar("durable", default=True)


@contextlib.contextmanager
def scratch_files():
    """Within the block (in this thread), files are written without waiting for the disk: for run
    directories that are thrown away, as a sweep worker's are once the driver has their bytes."""
    token = _DURABLE.set(False)
    try:
        yield
    finally:
        _DURABLE.reset(token)


def write_bytes(path, data):
    """Write to a temporary name, then rename: readers see the old file or the new one, never half.

    A failure (permission, full disk) leaves the previous file in place and raises RunError.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if _DURABLE.get():
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        kept = "; the previous version is kept" if path.is_file() else ""
        raise RunError(f"{path}: cannot write: {e.strerror or e}{kept}") from None


def check_output(path, force=False):
    """UsageError unless ``path`` can be a command's new output file: not a directory, in a folder that
    exists, and -- unless ``force`` -- not there yet."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; name a file")
    if not path.parent.is_dir():
        parent = path.parent
        raise UsageError(f"{path}: {parent} is not a folder" if parent.exists() else f"{path}: folder {parent} does not exist")
    if path.exists() and not force:
        raise UsageError(f"{path}: already exists; --force replaces it")


def write_text(path, text):
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2) + "\n")


def write_arrays(path, arrays):
    """An .npz of named arrays, atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def write_metrics(path, rows):
    """One CSV row per epoch; columns in order of first appearance."""
    columns = ["epoch"]
    for row in rows:
        columns += [c for c in row if c not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    write_text(path, out.getvalue())


def _fmt(value):
    return repr(value) if isinstance(value, float) else value


# --------------------------------------------------------------------------------------------------
# Who writes a run: a lock on its directory


@contextlib.contextmanager
def writing(run_dir, what="run"):
    """Hold the run directory's lock while this process writes the run (fit, resume; a sweep's driver
    its sweep directory, ``what`` "sweep" or "cv"): a second process gets a RunError. The lock is the kernel's (``flock`` on the directory), so it ends with
    the process however the process ends, and leaves no file behind. Without ``fcntl`` (Windows):
    no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"{run_dir}: another nntrain process is writing this {what}; let it finish or stop it first") from None
        yield
    finally:
        os.close(fd)  # releases the lock


def being_written(run_dir):
    """Whether a live process holds the run directory's lock (``writing``): a run whose summary
    says "running" but that no process writes was killed without a word -- it is stale."""
    try:
        import fcntl
    except ImportError:
        return True  # no way to tell: take the summary's word
    try:
        fd = os.open(run_dir, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------------
# Reading runs back


def is_run_dir(path):
    """Whether ``path`` is a run directory: it holds summary.json or config.yaml (fit writes the config
    first, then the summary), whatever else it lacks."""
    path = Path(path)
    return (path / SUMMARY).is_file() or (path / CONFIG).is_file()


def read_text(run_dir, name, missing):
    """The text of a run directory's file ``name``; RunError "<run_dir>: <missing>" when it is absent."""
    path = Path(run_dir) / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"{run_dir}: {missing}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: cannot read: {e}") from None


def read_json(run_dir, name, what, missing):
    """The JSON object in a run directory's file ``name``; ``what`` names it in "damaged <what>" errors."""
    path = Path(run_dir) / name
    try:
        obj = json.loads(read_text(run_dir, name, missing))
    except json.JSONDecodeError as e:
        raise RunError(f"{path}: damaged {what}: {e}") from None
    if not isinstance(obj, dict):
        raise RunError(f"{path}: damaged {what}: expected a JSON object")
    return obj


def read_summary(run_dir):
    return read_json(run_dir, SUMMARY, "summary", f"not a run directory (no {SUMMARY})")


def read_columns(run_dir, name=METRICS):
    """metrics.csv (or diagnostics.csv) by column: {name: float64 array}, ``epoch`` first; NaN where a
    row left a cell empty.

    Fast enough for hundreds of runs: the numbers are parsed by NumPy in one call (the csv module takes
    over for empty cells and damaged files, to name the line).
    """
    file = Path(run_dir) / name
    text = read_text(run_dir, name, f"no {name} in the run directory")
    if not text.strip():
        return {}
    parsed = _parse_numbers(text)
    if parsed is None:  # empty cells, quoting or damage: the csv module, cell by cell, naming a damaged line
        return _parse_cells(file, text)
    header, table = parsed
    return {name: table[:, i] for i, name in enumerate(header)}


def _parse_numbers(text):
    """The common case, fast: (header, (rows, columns) array) of a header starting with ``epoch`` over
    rows of numbers only, parsed by NumPy in one call; None for anything else.
    """
    head, _, body = text.partition("\n")
    header = head.rstrip("\r").split(",")
    lines = body.splitlines()
    if header[0] != "epoch" or not set(map(methodcaller("count", ","), lines)) <= {len(header) - 1}:
        return None  # not a number in every cell of every row
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy before 2 warns, instead of raising, on a cell it cannot read
        try:
            numbers = np.fromstring(body.replace("\n", ","), sep=",")
        except (ValueError, DeprecationWarning):
            return None
    if numbers.size != len(lines) * len(header):
        return None
    return header, numbers.reshape(len(lines), len(header))


def _parse_cells(file, text):
    """metrics.csv by column, read by the csv module: empty cells become NaN; RunError names a damaged line."""
    try:
        header, *rows = csv.reader(io.StringIO(text))
    except csv.Error as e:
        raise RunError(f"{file}: damaged metrics file: {e}") from None
    if header[:1] != ["epoch"]:
        raise RunError(f"{file}: damaged: the first column must be 'epoch'")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise RunError(f"{file}, line {line}: damaged metrics row: {len(row)} values for {len(header)} columns")
    columns = {}
    for i, name in enumerate(header):
        cells = [row[i] for row in rows]
        try:
            columns[name] = np.array([float(c) if c else math.nan for c in cells], dtype=float)
        except ValueError:
            line = next(k for k, c in enumerate(cells, start=2) if not _is_number(c))
            raise RunError(f"{file}, line {line}: damaged metrics row: {name} is {cells[line - 2]!r}") from None
    return columns


def _is_number(text):
    try:
        float(text or "nan")
        return True
    except ValueError:
        return False


COUNTS = ("epoch", "clipped_steps")  # the columns of whole numbers: written back as they were, 13 not 13.0


def read_metrics(run_dir, name=METRICS):
    """The rows of metrics.csv (or diagnostics.csv) as dicts: epoch and the other COUNTS ints, the rest
    floats, empty cells left out."""
    columns = read_columns(run_dir, name)
    epochs = columns.get("epoch", np.zeros(0))
    if not np.isfinite(epochs).all() or (epochs != np.round(epochs)).any():
        raise RunError(f"{Path(run_dir) / name}: damaged: an epoch that is not a whole number")
    rows = []
    for i, epoch in enumerate(epochs):
        row = {"epoch": int(epoch)}
        row.update({k: int(v[i]) if k in COUNTS else float(v[i]) for k, v in columns.items() if k != "epoch" and not math.isnan(v[i])})
        rows.append(row)
    return rows


def read_arrays(path, what, text=()):
    """The arrays of an .npz, loaded without pickle; all numeric but those named in ``text``.

    ``what`` names the file in errors ("weights file"); a damaged file raises RunError.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (
        # The zip: not one, cut short, a bad CRC, a member unreadable (an unknown or encrypted
        # compression: NotImplementedError, RuntimeError) or damaged in its compression; or the file
        # itself unreadable (OSError, also bz2's damaged stream).
        OSError, EOFError, zipfile.BadZipFile, RuntimeError, zlib.error, lzma.LZMAError,
        # A member's .npy header: malformed (ValueError, also for refused pickled data and bad UTF-8;
        # TypeError, OverflowError, tokenize.TokenError), or an array too large to allocate.
        ValueError, TypeError, OverflowError, tokenize.TokenError, MemoryError,
    ) as e:
        raise RunError(f"{path}: damaged {what}: {e}") from None
    for key, array in arrays.items():
        if key not in text and not np.issubdtype(array.dtype, np.number):
            raise RunError(f"{path}: damaged {what}: {key} holds {array.dtype}, not numbers")
    return arrays


def read_files(run_dir):
    """Every file of a run directory as {relative POSIX path: bytes}: a run to send to another machine."""
    run_dir = Path(run_dir)
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def read_weights(run_dir):
    """The arrays of weights.npz."""
    path = Path(run_dir) / WEIGHTS
    if not path.is_file():
        raise RunError(f"{run_dir}: no {WEIGHTS} in the run directory (did the run finish its first epoch?)")
    return read_arrays(path, "weights file")


def load_run_config(run_dir):
    """The resolved ExperimentConfig saved in a run directory."""
    from ..config import load_config

    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"{run_dir}: no such run directory")
    if not (path / CONFIG).is_file():
        raise RunError(f"{run_dir}: not a run directory (no {CONFIG})")
    return load_config(path / CONFIG)
