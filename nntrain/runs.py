"""Run directories: where every run's resolved config, metrics, weights and summary live.

A run directory holds:

- ``config.yaml``: the resolved config (every default filled in); it reproduces the run.
- ``metrics.csv``: one row per epoch (``epoch``, the loss and metrics, ``epoch_time_s``).
- ``weights.npz``: arrays ``layers.<i>.W`` (units, inputs), ``layers.<i>.b`` and batch-norm arrays.
- ``data.json`` (where the data needs it): class names, feature names, standardisation mean and std.
- ``diagnostics.csv``: per epoch and layer, gradient and weight norms, update ratios, dead / saturated units.
- ``summary.json``: status (running, completed, failed, interrupted, diverged), epochs, final metrics,
  parameter count, wall time, seed and nntrain version.
- ``checkpoint.npz`` while a run is unfinished: the state to resume from (see nntrain.checkpoint).

Directories are created with ``os.mkdir`` (atomic: two runs never share one) and never reused; every
file is written to a temporary name and renamed into place, so a reader never sees half a file.
"""

import csv
import io
import json
import os
import time
from pathlib import Path

import numpy as np

from .errors import RunError

CONFIG, METRICS, WEIGHTS, SUMMARY = "config.yaml", "metrics.csv", "weights.npz", "summary.json"
DATA, DIAGNOSTICS = "data.json", "diagnostics.csv"


def create_run_dir(name, run_dir=None, root="runs"):
    """Make a new, empty run directory: exactly ``run_dir``, or ``root/<name>-<YYYYmmdd-HHMMSS>[-k]``."""
    if run_dir is not None:
        path = Path(run_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir()
        except FileExistsError:
            raise RunError(f"{path}: already exists; runs are never overwritten, choose a new --run-dir") from None
        except OSError as e:
            raise RunError(f"{path}: cannot create the run directory: {e.strerror}") from None
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
            raise RunError(f"{path}: cannot create the run directory: {e.strerror}") from None
    raise RunError(f"{root}: too many runs named {name!r} in the same second")


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
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise RunError(f"{path}: cannot write: {e.strerror or e}; the previous version is kept") from None


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
# Reading runs back


def is_run_dir(path):
    return (Path(path) / CONFIG).is_file()


def read_summary(run_dir):
    path = Path(run_dir) / SUMMARY
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{run_dir}: not a run directory (no {SUMMARY})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunError(f"{path}: damaged summary: {e}") from None
    if not isinstance(summary, dict):
        raise RunError(f"{path}: damaged summary: expected a JSON object")
    return summary


def read_metrics(run_dir, name=METRICS):
    """The per-epoch rows of metrics.csv (or diagnostics.csv) as dicts of floats (epoch as int)."""
    path = Path(run_dir) / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"{run_dir}: no {name} in the run directory") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: cannot read: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or reader.fieldnames[0] != "epoch":
        raise RunError(f"{path}: damaged: the first column must be 'epoch'")
    rows = []
    for line_no, row in enumerate(reader, start=2):
        try:
            rows.append({k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v not in ("", None)})
        except (TypeError, ValueError):
            raise RunError(f"{path}, line {line_no}: damaged metrics row") from None
        if "epoch" not in rows[-1] or None in row:
            raise RunError(f"{path}, line {line_no}: damaged metrics row")
    return rows


def read_arrays(path, what, text=()):
    """The arrays of an .npz, loaded without pickle; all numeric but those named in ``text``.

    ``what`` names the file in errors ("weights file"); a damaged file raises RunError.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as e:  # a damaged zip raises many kinds of errors
        raise RunError(f"{path}: damaged {what}: {e}") from None
    for key, array in arrays.items():
        if key not in text and not np.issubdtype(array.dtype, np.number):
            raise RunError(f"{path}: damaged {what}: {key} holds {array.dtype}, not numbers")
    return arrays


def read_weights(run_dir):
    """The arrays of weights.npz."""
    path = Path(run_dir) / WEIGHTS
    if not path.is_file():
        raise RunError(f"{run_dir}: no {WEIGHTS} in the run directory (did the run finish its first epoch?)")
    return read_arrays(path, "weights file")


def load_run_config(run_dir):
    """The resolved ExperimentConfig saved in a run directory."""
    from .config import load_config

    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"{run_dir}: no such run directory")
    if not (path / CONFIG).is_file():
        raise RunError(f"{run_dir}: not a run directory (no {CONFIG})")
    return load_config(path / CONFIG)
