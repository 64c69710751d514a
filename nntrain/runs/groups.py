"""Seed groups: runs that differ only in their seed, compared as one -- the mean and spread of what
they reached (``nntrain compare``, ``nntrain sweep``; ``--no-group`` shows each run)."""

import warnings

import numpy as np

from .compare import _hashable, _ranked


def grouped(result):
    """``compare``'s result with the runs that differ only in their seed as one record each, a seed
    group, ranked by the mean -- when some group has two runs or more; else the result as it is.

    A group's record has the fields of a run's: ``label`` (the values its runs share of the keys that
    differ: ``optimizer.lr=0.1``), ``status`` "seeds", ``n``,
    ``runs`` and ``paths`` (its runs' labels and directories), ``best`` and ``final`` the means of its runs', ``std`` and
    ``final_std`` their std (ddof=0, as cv's), ``best_epoch`` None, ``parameters`` its first run's,
    ``wall_time_s`` the sum, ``config`` without the seed. Only completed runs are grouped: the others
    (interrupted, diverged, pruned, cv directories) are ranked beside the groups on their own; runs
    without the metric come last.
    """
    if "seed" not in result["differences"]:
        return result
    groups, singles, missing = {}, [], []
    for r in result["runs"]:
        if r["best"] is None:
            missing.append(r)
        elif r["status"] != "completed":  # a group's mean is of finished runs only
            singles.append(dict(r))
        else:
            groups.setdefault(_hashable({k: v for k, v in r["config"].items() if k != "seed"}), []).append(r)
    if all(len(members) == 1 for members in groups.values()):
        return result
    records = _ranked([_group(members) for members in groups.values()] + singles, result["goal"])
    keys = [k for k in result["differences"] if k != "seed"]
    return {**result, "differences": keys, "runs": records + missing, "grouped": True}


def _group(members):
    """The record of a seed group (see ``grouped``)."""
    best = [r["best"] for r in members]
    final = [r["final"] for r in members if r["final"] is not None]
    first = members[0]
    return {
        **{k: first.get(k) for k in ("parameters", "non_trainable_parameters", "inputs", "inputs_from")},
        "rank": None,
        "run": first["run"],
        "label": _label(first),
        "status": "seeds",
        "n": len(members),
        "runs": [r["label"] for r in members],
        "paths": [r["run"] for r in members],
        "epochs": first["epochs"],
        "wall_time_s": sum(r["wall_time_s"] or 0 for r in members),
        "config": {k: v for k, v in first["config"].items() if k != "seed"},
        "best": float(np.mean(best)),
        "std": float(np.std(best)),
        "best_epoch": None,
        **_mean_and_std(final, "final"),
        "final_metrics": {},
    }


def _label(first):
    """A group's label: the values its runs share of the keys that differ (``optimizer.lr=0.1``), as a
    sweep names its runs; "all runs" when only the seed differs."""
    from .compare import value_text

    return ",".join(f"{k}={value_text(v)}" for k, v in first["config"].items() if k != "seed") or "all runs"


def _mean_and_std(values, name):
    if not values:
        return {name: None, f"{name}_std": None}
    return {name: float(np.mean(values)), f"{name}_std": float(np.std(values))}


def mean_curve(members):
    """(epochs, mean, std) of a group's curves ``members`` ([(epochs, values)]): at each epoch any of
    them reached, the mean and std (ddof=0) over those with a finite value there."""
    epochs = np.unique(np.concatenate([np.asarray(e) for e, _ in members]))
    table = np.full((len(members), len(epochs)), np.nan)
    for row, (e, v) in zip(table, members):
        row[np.searchsorted(epochs, e)] = v
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an epoch no run reached with a finite value
        return epochs, np.nanmean(table, axis=0), np.nanstd(table, axis=0)
