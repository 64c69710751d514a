"""Run directories found and read back whole: ``find_runs`` and ``expand`` turn folders, globs and
paths into run directories, ``load_run`` reads one into a ``Run`` (summary, metrics by column, config).

A run directory is recognised by its files (see ``nntrain.runs.store.is_run_dir``); folders are searched
recursively, so the runs of a sweep in a sub-folder are found with the rest, and the search never
descends into a run.
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
    is_run_dir,
    read_columns,
    read_summary,
    read_text,
)


@dataclass
class Run:
    """One run directory read back.

    ``metrics``: metrics.csv by column (see ``nntrain.runs.store.read_columns``; empty before the first epoch ends);
    ``config``: the resolved config as a plain nested dict, or None when it was not asked for.
    """

    path: Path
    summary: dict
    metrics: dict
    config: dict | None = None

    @cached_property
    def columns(self):
        """The logged columns: metrics.csv's header without ``epoch``, in its order."""
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


def find_runs(root):
    """Every run directory under ``root`` (itself, if it is one), sorted by path; never descends into a run."""
    root = Path(root)
    if is_run_dir(root):
        return [root]
    found = []
    for folder, subfolders, _ in os.walk(root):
        folder = Path(folder)
        if folder != root and is_run_dir(folder):
            found.append(folder)
            subfolders.clear()
        else:
            subfolders.sort()
    return sorted(found)


def expand(args):
    """Run directories from command-line arguments: runs, folders of runs (searched recursively) or globs.

    Keeps the order given and drops repeats. Raises RunError for a path that does not exist, a folder
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
        found = find_runs(path)
        if not found:
            raise RunError(f"{arg}: not a run directory (no {SUMMARY} or {CONFIG}) and no run directories in it")
        return found
    if path.exists():
        raise RunError(f"{arg}: not a run directory (a file; expected a run's folder)")
    if not glob.has_magic(arg):
        raise RunError(f"{arg}: no such run directory")
    found = [run for match in sorted(glob.glob(arg)) if Path(match).is_dir() for run in find_runs(match)]
    if not found:
        raise RunError(f"{arg}: no run directories match")
    return found


# --------------------------------------------------------------------------------------------------
# Reading a run


def load_run(path, config=False):
    """Read a run directory: its summary, metrics and (with ``config=True``) resolved config.

    Raises RunError naming the missing or damaged file. A run still running may have no metrics.csv yet.
    """
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such run directory")
    summary = read_summary(path)
    _check_summary(path, summary)
    if (path / METRICS).is_file() or summary.get("status") != "running":
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


def _check_summary(path, summary):
    for key, kind in _SUMMARY_TYPES.items():
        value = summary.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise RunError(f"{path / SUMMARY}: damaged summary: {key} is {value!r}")


def _read_config(path):
    """config.yaml as a plain nested dict, not validated: hundreds of configs may be read to compare them."""
    import yaml

    from ..config import LOADER, yaml_error  # libyaml's loader where PyYAML has it

    file = path / CONFIG
    text = read_text(path, CONFIG, f"not a run directory (no {CONFIG})")
    try:
        config = yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as e:
        raise RunError(f"{file}{yaml_error(e)}") from None
    if not isinstance(config, dict):
        raise RunError(f"{file}: damaged config: expected a mapping of config keys")
    return config
