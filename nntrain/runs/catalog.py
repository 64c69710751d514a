"""Run directories found and read back whole: ``find_runs`` and ``expand`` turn folders, globs and
paths into run directories, ``load_run`` reads one into a ``Run`` (summary, metrics by column, config).

A run directory is recognised by its files (see ``nntrain.runs.store.is_run_dir``); folders are searched
recursively, so the runs of a sweep in a sub-folder are found with the rest, and the search never
descends into a run.

A cv directory (``nntrain cv``; recognised by its ``cv.json``) holds one run per fold. ``find_runs``
finds those runs like a sweep's; ``expand`` -- what ``nntrain compare`` is given -- takes the cv
directory as one entry instead, which ``load_run`` reads as one ``Run`` of held-out results.
"""

import glob
import os
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import RunError
from .store import (
    CONFIG,
    METRICS,
    SUMMARY,
    TIME_FORMAT,
    being_written,
    is_run_dir,
    read_columns,
    read_json,
    read_summary,
    read_text,
)

CV = "cv.json"  # what makes a folder a cv directory (see nntrain.sweep.cv)
STALE = "stale"  # a run whose summary says "running" but that no process writes: nntrain fit --resume continues it


@dataclass
class Run:
    """One run directory read back.

    ``metrics``: metrics.csv by column (see ``nntrain.runs.store.read_columns``; empty before the first epoch ends);
    ``config``: the resolved config as a plain nested dict, or None when it was not asked for.
    ``held_out``: a cv directory's results (``load_cv``), else None.
    """

    path: Path
    summary: dict
    metrics: dict
    config: dict | None = None
    held_out: dict | None = None  # a cv directory's: {val_<metric>: (mean, std) over its folds}

    @cached_property
    def columns(self):
        """The logged columns: metrics.csv's header without ``epoch``, in its order (a cv directory's:
        its ``held_out`` columns)."""
        if self.held_out is not None:
            return list(self.held_out)
        return [name for name in self.metrics if name != "epoch"]

    @property
    def epochs(self):
        """The epoch of each row."""
        return self.metrics.get("epoch", np.zeros(0))

    @cached_property
    def started(self):
        """The start time as a datetime, or None when the summary has none."""
        try:
            return datetime.strptime(self.summary["started"], TIME_FORMAT)
        except (KeyError, TypeError, ValueError):
            return None


# --------------------------------------------------------------------------------------------------
# Finding runs


def is_cv_dir(path):
    """Whether ``path`` is a cv directory: it holds cv.json."""
    return (Path(path) / CV).is_file()


def find_runs(root, cv=False):
    """Every run directory under ``root`` (itself, if it is one), sorted by path; never descends into a run.

    With ``cv``, a cv directory counts as one run, and the runs of its folds are not listed.
    """
    root = Path(root)
    found_here = is_run_dir if not cv else lambda path: is_run_dir(path) or is_cv_dir(path)
    if found_here(root):
        return [root]
    found = []
    for folder, subfolders, _ in os.walk(root):
        folder = Path(folder)
        if folder != root and found_here(folder):
            found.append(folder)
            subfolders.clear()
        else:
            subfolders.sort()
    return sorted(found)


def expand(args):
    """Run directories from command-line arguments: runs, folders of runs (searched recursively) or globs.

    A cv directory is one entry (``find_runs(..., cv=True)``). Keeps the order given and drops repeats. Raises RunError for a path that does not exist, a folder
    with no runs in it, or a glob that matches no run.
    """
    unique = {}
    for arg in map(str, args):
        for path in _runs_of(arg):
            unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _runs_of(arg):
    """The run directories one command-line argument names; RunError if none."""
    path = Path(arg)
    if path.is_dir():
        found = find_runs(path, cv=True)
        if not found:
            raise RunError(f"{arg}: not a run directory (no {SUMMARY} or {CONFIG}) and no run directories in it")
        return found
    if path.exists():
        raise RunError(f"{arg}: not a run directory (a file; expected a run's folder)")
    if not glob.has_magic(arg):
        raise RunError(f"{arg}: no such run directory")
    found = [run for match in sorted(glob.glob(arg)) if Path(match).is_dir() for run in find_runs(match, cv=True)]
    if not found:
        raise RunError(f"{arg}: no run directories match")
    return found


# --------------------------------------------------------------------------------------------------
# Reading a run


def load_run(path, config=False):
    """Read a run directory: its summary, metrics and (with ``config=True``) resolved config.

    Raises RunError naming the missing or damaged file. A run still running may have no metrics.csv
    yet. A cv directory is read by ``load_cv``.
    """
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such run directory")
    if is_cv_dir(path):
        return load_cv(path, config)
    summary = read_summary(path)
    _check_summary(path / SUMMARY, summary)
    if summary.get("status") == "running" and not being_written(path):
        summary["status"] = STALE  # its process ended without saying so (killed, or the machine went down)
    if (path / METRICS).is_file() or summary.get("status") not in ("running", STALE):
        metrics = read_columns(path)
    else:
        metrics = {}
    return Run(path, summary, metrics, _read_config(path) if config else None)


# What the summary's fields must be when present: a damaged file is an error, not a crash later.
_SUMMARY_TYPES = {
    "status": str,
    "started": str,
    "epochs": int,
    "epochs_planned": int,
    "parameters": int,
    "non_trainable_parameters": int,
    "wall_time_s": (int, float),
    "final": dict,
}


def _check_summary(file, summary, what="summary"):
    for key, kind in _SUMMARY_TYPES.items():
        value = summary.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise RunError(f"{file}: damaged {what}: {key} is {value!r}")


def _read_config(path):
    """config.yaml as a plain nested dict, not validated: hundreds of configs may be read to compare them."""
    import yaml

    from ..config import LOADER, yaml_error  # libyaml's loader where PyYAML has it
    from ..config.bounds import yaml_problem

    file = path / CONFIG
    text = read_text(path, CONFIG, f"not a run directory (no {CONFIG})")
    problem = yaml_problem(text)
    if problem:
        raise RunError(f"{file}: damaged config: {problem}")
    try:
        config = yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as e:
        raise RunError(f"{file}{yaml_error(e)}") from None
    if not isinstance(config, dict):
        raise RunError(f"{file}: damaged config: expected a mapping of config keys")
    return config


def load_cv(path, config=False):
    """A cv directory read as one Run of held-out results, the way ``nntrain compare`` shows it.

    ``held_out``: {``val_<metric>``: (mean, std)} of cv.json's held-out-fold metrics -- the held-out
    fold is cross-validation's validation split, so its ``accuracy`` answers for ``val_accuracy`` and
    its ``loss`` for ``val_loss``; no metrics by epoch. The summary: status ``cv``, ``folds``,
    ``repeats``, cv.json's start and wall time, and the first completed fold's parameters and
    inputs. The config (``config=True``): the first completed fold's, with ``data.split.fold`` null,
    as every fold shares it but that (and, with repeats, the seed: the first repeat's).
    Raises RunError for a damaged cv.json or one without a completed fold.
    """
    doc = read_json(path, CV, "cv record", f"no {CV}")
    completed, held_out, counts = _cv_results(path, doc)
    if not completed:
        raise RunError(f"{path}: no fold of the cross-validation completed (see {CV})")
    fold = read_summary(completed[0])
    _check_summary(completed[0] / SUMMARY, fold)
    summary = {
        "status": "cv",
        **counts,
        "epochs": None,  # the folds' own: early stopping may end them apart
        "started": doc.get("started"),
        "wall_time_s": doc.get("wall_time_s"),
        **{key: fold.get(key) for key in ("parameters", "non_trainable_parameters", "inputs", "inputs_from")},
    }
    _check_summary(path / CV, summary, "cv record")
    shared = None
    if config:
        shared = _read_config(completed[0])
        shared.get("data", {}).get("split", {})["fold"] = None
    return Run(path, summary, {}, shared, held_out)


def _cv_results(path, doc):
    """(the completed folds' run directories, ``held_out``, {"folds", "repeats"}) of a cv.json;
    RunError if it lacks them or a mean or std is not a number."""
    try:
        completed = [path / r["dir"] for r in doc["runs"] if r["status"] == "completed"]
        held_out = {f"val_{name}": (value, doc["std"][name]) for name, value in doc["mean"].items()}
        counts = {"folds": doc["folds"], "repeats": doc["repeats"]}
    except (KeyError, TypeError, AttributeError):
        raise RunError(f"{path / CV}: damaged cv record: expected runs, mean, std, folds and repeats") from None
    numbers = [v for pair in held_out.values() for v in pair if v is not None] + list(counts.values())
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        raise RunError(f"{path / CV}: damaged cv record: a mean, std or count that is not a number")
    return completed, held_out, counts
