"""Many runs read back: the listing of ``nntrain runs`` and the side-by-side of ``nntrain compare``.

The runs are found and read by ``nntrain.runs.catalog``. Comparing runs shows only the config values
that differ between them, flattened to dotted paths (``optimizer.lr``, ``model.layers.0.units``), then,
for one metric (a column of metrics.csv), each run's best value, the epoch of that best and the final
value.

Which way is better: as ``nntrain.nn.metrics.higher_is_better`` says (accuracy is maximised; losses,
errors and times minimised) -- the rule early stopping's ``mode: auto`` follows too (see ``goal``).

A cv directory (``nntrain cv``) is one entry, not one per fold: its metric is the mean over its folds
of the value on the held-out fold, shown with its std. The held-out fold is the validation of
cross-validation, so a cv directory answers for the validation columns: its held-out ``accuracy`` is
its ``val_accuracy``, its held-out ``loss`` its ``val_loss``, and so on; it has no training columns
and no epochs (see ``nntrain.runs.catalog.load_cv``).
"""

import csv
import io
import math
import os
from pathlib import Path

import numpy as np

from ..errors import NNTrainError, RunError
from ..nn.metrics import higher_is_better, metric_of
from .catalog import find_runs, load_run
from .store import SUMMARY

# --------------------------------------------------------------------------------------------------
# Metrics


def goal(metric):
    """"max" if a higher value of ``metric`` (a metrics.csv column) is better, else "min"."""
    return "max" if higher_is_better(metric) else "min"


def default_metric(runs):
    """The metric to rank runs by when none is asked for.

    The first of validation metrics, ``val_loss``, training metrics, ``loss`` that every run logged
    (else the first that any run logged); metrics are the registry's (nntrain.nn.metrics) in log order.
    """
    logged = [set(run.columns) for run in runs if run.columns]
    order = logged_metrics(runs)
    metrics = [c for c in order if metric_of(c) is not None]
    held_out = [c for c in metrics if c.startswith("val_")]
    candidates = held_out + ["val_loss"] + [c for c in metrics if c not in held_out] + ["loss"]
    by_every_run = [name for name in candidates if all(name in columns for columns in logged)]
    by_any_run = [name for name in candidates if name in order]
    return next(iter(by_every_run + by_any_run + order), "loss")


def metric_stats(run, metric, goal_="min"):
    """(best, epoch of the best, final) of one metric of a Run; Nones where it was not logged.

    The best is the first epoch's of equal bests; non-finite values never count as best. The final
    value is the last logged (non-empty) one, None if that is not finite. A cv directory's best and
    final are its mean over the folds, its epoch None.
    """
    if run.held_out is not None:
        mean = run.held_out.get(metric, (None, None))[0]
        return mean, None, mean
    values = run.metrics.get(metric)
    if values is None:
        return None, None, None
    logged = np.flatnonzero(~np.isnan(values))
    final = _finite(float(values[logged[-1]])) if len(logged) else None
    finite = np.flatnonzero(np.isfinite(values))
    if not len(finite):
        return None, None, final
    k = finite[np.argmax(values[finite]) if goal_ == "max" else np.argmin(values[finite])]
    return float(values[k]), int(run.epochs[k]), final


def logged_metrics(runs):
    """Every column any of the runs logged, in order of first appearance."""
    return list(dict.fromkeys(c for run in runs for c in run.columns))


def chosen_metric(runs, metric=None):
    """``metric``, checked to be a column some run logged (else NNTrainError listing them), or ``default_metric``."""
    if metric is None:
        return default_metric(runs)
    logged = logged_metrics(runs)
    if metric not in logged:
        raise NNTrainError(
            f"unknown metric {metric!r}; the runs logged: {', '.join(logged) or 'nothing (no epochs)'}"
        )
    return metric


# --------------------------------------------------------------------------------------------------
# The listing: nntrain runs


def list_runs(root="runs", metric=None):
    """The runs under ``root``, newest first, as JSON-able records, and the problems met on the way.

    Returns ``(records, errors)``: ``errors`` are messages of run directories that could not be read
    (they are left out of ``records``). Each record: ``run`` (path), ``started``, ``status``,
    ``epochs``, ``epochs_planned``, ``parameters``, ``non_trainable_parameters``, ``wall_time_s``
    (from summary.json; None where absent), ``metric`` (the column of the next three), ``final``,
    ``best``, ``best_epoch`` (from metrics.csv; None where not logged).
    Raises RunError if ``root`` does not exist, NNTrainError if no run logged ``metric``.
    """
    root = Path(root)
    if not root.is_dir():
        raise RunError(f"{root}: no such directory" if not root.exists() else f"{root}: not a directory")
    runs, errors = [], []
    for path in find_runs(root):
        try:
            runs.append(load_run(path))
        except RunError as e:
            errors.append(str(e))
    if not runs:
        return [], errors
    metric = chosen_metric(runs, metric)
    runs.sort(key=_start_time, reverse=True)
    records = []
    for run in runs:
        best, best_epoch, final = metric_stats(run, metric, goal(metric))
        s = run.summary
        records.append(
            {
                "run": str(run.path),
                "started": s.get("started"),
                "status": s.get("status"),
                "epochs": s.get("epochs", len(run.epochs)),
                "epochs_planned": s.get("epochs_planned"),
                "parameters": s.get("parameters"),
                "non_trainable_parameters": s.get("non_trainable_parameters"),
                "wall_time_s": s.get("wall_time_s"),
                "metric": metric,
                "final": final,
                "best": best,
                "best_epoch": best_epoch,
            }
        )
    return records, errors


def _start_time(run):
    if run.started is not None:
        return run.started.timestamp()
    try:  # a summary without a start time: when it was written
        return (run.path / SUMMARY).stat().st_mtime
    except OSError:
        return 0.0


# --------------------------------------------------------------------------------------------------
# Comparing: nntrain compare


def flatten(tree, prefix=""):
    """A nested config as {dotted path: value}; lists of mappings (layers) are indexed, other lists are values."""
    out = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(tree, list) and tree and all(isinstance(v, dict) for v in tree):
        for i, value in enumerate(tree):
            out.update(flatten(value, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = tree
    return out


_MISSING = object()


def differences(configs):
    """The dotted paths whose values are not the same in all of ``configs`` (a key some lack counts),
    each at the level where it was set: a layer's value that every config inherits from its section
    (``model.layers.0.l2`` equal to ``model.l2`` in each) is left out, the section's key says it."""
    flat = [flatten(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    differing = [k for k in keys if len({_hashable(f.get(k, _MISSING)) for f in flat}) > 1]
    return [k for k in differing if not _inherited(k, flat, differing)]


def _inherited(key, flat, differing):
    """Whether ``key`` (``model.layers.0.l2``) holds, in every config of ``flat``, the value of the same
    key of the section that holds its list (``model.l2``), itself one of the ``differing`` keys."""
    parts = key.split(".")
    for i in range(len(parts) - 2, 0, -1):
        if parts[i].isdigit():
            outer = ".".join(parts[: i - 1] + parts[-1:])
            return outer in differing and all(
                _hashable(f.get(key, _MISSING)) == _hashable(f.get(outer, _MISSING)) for f in flat
            )
    return False


def _hashable(value):
    if isinstance(value, list):
        return ("list", tuple(_hashable(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 1 and 1.0 are the same setting
    return value


def compare(paths, metric=None):
    """Compare run directories (``paths``: a list of run directories; see ``expand`` for folders and globs).

    Returns a JSON-able dict:

    - ``metric``: the metrics.csv column runs are ranked by (``default_metric`` unless given);
      ``goal``: "max" or "min", which way is better.
    - ``differences``: dotted config paths whose values differ between the runs, in the order they
      first appear in the configs.
    - ``logged``: every column any run logged (what ``metric`` may be); ``shared``: those every run logged.
    - ``runs``: one record per run, best first (runs that did not log ``metric`` last, in the order
      given): ``rank`` (1, 2, ...; None without the metric), ``run`` (the path), ``label`` (the path
      relative to the runs' common folder), ``status``, ``epochs``, ``parameters``,
      ``non_trainable_parameters``, ``inputs`` (the network's input width) and, for a table,
      ``inputs_from`` (how its columns make them), ``wall_time_s``, ``config`` ({dotted path: value} of the
      differing keys; a key the run's config lacks is left out), ``best``, ``best_epoch``, ``final``
      (of ``metric``; None where not logged or not finite), ``final_metrics`` ({column: its last
      logged value} for every column the run logged); and ``std``, ``folds``, ``repeats``: a cv
      directory's std over its folds of ``metric`` and its fold and repeat counts (None for a run).
      A cv directory's record has status ``cv``, its best and final the mean over its folds, its
      best_epoch and epochs None (see the module's docstring).
    - ``missing``: labels of the runs that did not log ``metric``.

    Raises RunError for a missing or damaged run, NNTrainError if no run logged ``metric``.
    """
    return compare_runs([load_run(p, config=True) for p in paths], metric)


def compare_runs(runs, metric=None):
    """``compare`` on runs already read with ``load_run(path, config=True)``."""
    if not runs:
        raise RunError("no runs to compare")
    metric = chosen_metric(runs, metric)
    direction = goal(metric)
    keys = differences([run.config for run in runs])
    labels = _labels([run.path for run in runs])
    records = [_compared(run, label, keys, metric, direction) for run, label in zip(runs, labels)]
    ranked = _ranked([r for r in records if r["best"] is not None], direction)
    missing = [r for r in records if r["best"] is None]
    logged = logged_metrics(runs)
    return {
        "metric": metric,
        "goal": direction,
        "differences": keys,
        "logged": logged,
        "shared": [c for c in logged if all(c in run.columns for run in runs)],
        "runs": ranked + missing,
        "missing": [r["label"] for r in missing],
    }


def _compared(run, label, keys, metric, direction):
    """A run's record in ``compare``'s ``runs`` (unranked): its differing config ``keys``, ``metric``'s stats."""
    flat = flatten(run.config)
    best, best_epoch, final = metric_stats(run, metric, direction)
    s = run.summary
    return {
        "rank": None,
        "run": str(run.path),
        "label": label,
        "status": s.get("status"),
        "epochs": s.get("epochs", len(run.epochs)),
        "parameters": s.get("parameters"),
        "non_trainable_parameters": s.get("non_trainable_parameters"),
        "inputs": s.get("inputs"),
        "inputs_from": s.get("inputs_from"),
        "wall_time_s": s.get("wall_time_s"),
        "config": {k: flat[k] for k in keys if k in flat},
        "best": best,
        "best_epoch": best_epoch,
        "final": final,
        "final_metrics": {k: metric_stats(run, k)[2] for k in run.columns},
        "std": run.held_out.get(metric, (None, None))[1] if run.held_out is not None else None,
        "folds": s.get("folds"),
        "repeats": s.get("repeats"),
    }


def _ranked(records, direction):
    """Records with a best value, best first, their ``rank`` set; ties broken by the final value, then by
    the order given (sorted is stable)."""
    sign = -1 if direction == "max" else 1
    ranked = sorted(records, key=lambda r: (sign * r["best"], sign * r["final"] if r["final"] is not None else math.inf))
    for rank, record in enumerate(ranked, start=1):
        record["rank"] = rank
    return ranked


def curves(runs, result):
    """[(label, epochs, values, std)] of the ranked metric, best first: what ``plots.plot_overlay``
    draws; a seed group's (``groups.grouped``) is its runs' mean at each epoch and their std there
    (``groups.mean_curve``); a run's std is None.

    ``runs``: the Runs that ``result`` (of ``compare_runs``, or ``grouped``) compared.
    """
    from .groups import mean_curve

    by_path = {str(run.path): run for run in runs}
    metric = result["metric"]

    def curve(path):
        run = by_path[path]
        return run.epochs, run.metrics.get(metric, np.zeros(0))

    return [
        (r["label"], *mean_curve([curve(p) for p in r["paths"]])) if r["status"] == "seeds" else (r["label"], *curve(r["run"]), None)
        for r in result["runs"]
    ]


def _finite(value):
    return value if not isinstance(value, float) or math.isfinite(value) else None


def _labels(paths):
    """Paths relative to their common folder (just the names for runs side by side in one folder)."""
    absolute = [os.path.abspath(p) for p in paths]
    if len(absolute) == 1:
        return [Path(absolute[0]).name]
    common = os.path.commonpath([os.path.dirname(p) for p in absolute])
    labels = [os.path.relpath(p, common) for p in absolute]
    return labels if len(set(labels)) == len(labels) else [str(p) for p in paths]


def value_text(value):
    """A config value as YAML writes it in flow style: null, true, 0.001, [accuracy, mae]."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def to_csv(result):
    """The comparison as CSV text: one row per run, the differing config values as columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = result["differences"]
    fields = ["best", "best_epoch", "final", "std", "parameters", "wall_time_s", "status", "epochs"]
    writer.writerow(["rank", "run", *keys, "metric", *fields])
    for r in result["runs"]:
        config = [value_text(r["config"][k]) if k in r["config"] else "" for k in keys]
        values = ["" if r[f] is None else r[f] for f in fields]
        writer.writerow([r["rank"] or "", r["run"], *config, result["metric"], *values])
    return out.getvalue()
