"""Several runs' report -- a sweep's, a cross-validation's folds, any runs given: the compare table
(``nntrain.runs.compare``), their curves overlaid, seed groups as mean ± std bands, and the varied
config keys against the metric in parallel coordinates.

Seed groups: runs whose compared config values are equal but for ``seed`` (``nntrain.runs.groups``).
"""

import numpy as np

from ..runs.catalog import load_run
from ..runs.compare import compare_runs, curves, value_text
from . import charts
from .page import Page, esc, note, number, table

SEED = "seed"


def many_page(paths, title, metric=None, held_out=None):
    """The Page of several run directories ``paths``; ``title``: the page's; ``metric``: the column to
    rank by (compare's default when None); ``held_out``: a cv directory's Run (``load_cv``), whose
    held-out means and stds head the page."""
    runs = [load_run(path, config=True) for path in paths]
    result = compare_runs(runs, metric)
    page = Page(title)
    if held_out is not None:
        page.section("Held-out folds", _held_out(held_out))
    page.section("Runs", _compare_table(result))
    page.section("Curves", _overlays(page, runs, result))
    page.section("Seeds", _seed_bands(page, runs, result))
    page.section("Varied keys", _parallel(page, result))
    return page, result


def _held_out(run):
    rows = [[esc(name), number(mean), number(std)] for name, (mean, std) in run.held_out.items()]
    s = run.summary
    return f"<p>{s.get('folds')} folds × {s.get('repeats')} repeats; mean ± std of each metric on the held-out fold</p>" + table(
        ["metric", "mean", "std"], rows, numeric=(1, 2)
    )


def _compare_table(result):
    keys = result["differences"]
    header = ["rank", "run", *map(esc, keys), f"best {esc(result['metric'])}", "epoch of best", "final", "status", "epochs", "params", "wall time (s)"]
    rows = [
        [
            number(r["rank"]),
            esc(r["label"]),
            *(esc(value_text(r["config"][k])) if k in r["config"] else "" for k in keys),
            number(r["best"]) + (f" ± {number(r['std'])}" if r["std"] is not None else ""),
            number(r["best_epoch"]),
            number(r["final"]),
            esc(r["status"]),
            number(r["epochs"]),
            number(r["parameters"]),
            number(r["wall_time_s"]),
        ]
        for r in result["runs"]
    ]
    n = len(keys)
    intro = f"<p>ranked by {esc(result['metric'])} ({'higher' if result['goal'] == 'max' else 'lower'} is better); only the config values that differ are shown</p>"
    if result["missing"]:
        intro += note(f"did not log {result['metric']}: {', '.join(result['missing'])}")
    return intro + table(header, rows, numeric=(0, *range(n + 2, n + 5), n + 6, n + 7, n + 8))


def shown_metrics(result):
    """The columns overlaid: the ranked metric, its train / validation twin, the loss and val_loss."""
    metric = result["metric"]
    twin = metric.removeprefix("val_") if metric.startswith("val_") else f"val_{metric}"
    wanted = [metric, twin, "val_loss", "loss"]
    return [c for c in dict.fromkeys(wanted) if c in result["logged"]]


def _overlays(page, runs, result):
    if not any(len(run.epochs) for run in runs):
        return note("no run has finished an epoch")
    html_ = []
    for column in shown_metrics(result):
        html_.append(page.chart(charts.overlay(column, curves(runs, result | {"metric": column}))))
    return '<div class="charts">' + "".join(html_) + "</div>"


def _seed_bands(page, runs, result):
    """Each seed group's (``nntrain.runs.groups``) mean curve in a band of ± std, for the first two
    shown metrics."""
    from ..runs.groups import grouped, mean_curve

    groups = [r for r in grouped(result)["runs"] if r["status"] == "seeds" and r["n"] > 1]
    if not groups:
        return note("no runs that differ only in their seed")
    by_path = {str(run.path): run for run in runs}
    html_ = []
    for column in shown_metrics(result)[:2]:
        data = []
        for g in groups:
            epochs, mean, std = mean_curve([(by_path[p].epochs, by_path[p].metrics.get(column, np.zeros(0))) for p in g["paths"]])
            keep = np.isfinite(mean)
            if keep.any():
                data.append((g["label"], epochs[keep], mean[keep], std[keep], g["n"]))
        if data:
            html_.append(page.chart(charts.bands(column, data)))
    return '<div class="charts">' + "".join(html_) + "</div>" if html_ else note("no epochs logged")


def _parallel(page, result):
    keys = [k for k in result["differences"] if k != SEED]
    if not keys:
        return note("the runs differ in no config value but the seed")
    rows = [(r["config"], r["best"]) for r in result["runs"] if r["best"] is not None]
    if not rows:
        return note(f"no run logged {result['metric']}")
    intro = note(f"one line per run: its values of the varied keys and its best {result['metric']}; drag along an axis to select")
    return intro + page.chart(charts.parallel(keys, rows, result["metric"], result["goal"]), wide=True)
