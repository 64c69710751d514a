"""One run's report: its status, learning curves, per-layer diagnostics, decision regions, eval
plots, network summary and resolved config.

``RunView`` is what the page shows, read from a run directory (``read_run``) or, while a run trains,
kept by the live callback (``nntrain.report.live``); ``run_page`` lays it out.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import NNTrainError, UsageError
from ..runs.store import CONFIG, DIAGNOSTICS, read_columns, read_text
from . import charts
from .page import Page, esc, note, number, png, table

EVAL = "eval"  # RUN/eval/<split>/*.png: what ``nntrain eval --plots`` drew
GRID = 120  # decision regions: grid points per side
MAX_POINTS = 2000  # training points drawn over the regions


@dataclass
class RunView:
    """What a run's page shows. ``metrics`` and ``diagnostics``: {column: values per row}
    (``store.read_columns``); ``network``: ``model_summary``'s dict, or a note why there is none;
    ``regions``: the decision regions' figure, or a note why there are none; ``evals``: [(caption, PNG bytes)]."""

    path: Path
    summary: dict
    metrics: dict
    diagnostics: dict
    config_text: str
    network: dict | str
    regions: dict | str
    evals: list = field(default_factory=list)


def read_run(run_dir):
    """A run directory's RunView. RunError for a missing or damaged summary, metrics or config; what
    only some runs have (diagnostics, weights, 2-D data, eval plots) becomes a note when absent."""
    from ..runs.catalog import load_run

    run_dir = Path(run_dir)
    run = load_run(run_dir)  # the summary checked, a stale "running" told apart
    diagnostics = read_columns(run_dir, DIAGNOSTICS) if (run_dir / DIAGNOSTICS).is_file() else {}
    config_text = read_text(run_dir, CONFIG, f"not a run directory (no {CONFIG})")
    return RunView(run_dir, run.summary, run.metrics, diagnostics, config_text, _network(run_dir), _regions(run_dir), eval_plots(run_dir))


def _network(run_dir):
    from ..runs.summary import model_summary

    try:
        return model_summary(run_dir)
    except NNTrainError as e:
        return f"no summary of the network: {e}"


def _regions(run_dir):
    try:
        return decision_regions(run_dir)
    except NNTrainError as e:
        return f"no decision regions: {e}"


def decision_regions(run_dir, resolution=GRID):
    """The decision-regions figure of a run of a classifier on 2-D inputs, from its weights and its
    training split (regenerated from its config), in raw input units. UsageError for a run that is not
    a classifier of two inputs; RunError / DataError when its weights or data cannot be read."""
    from ..nn.losses import classifies
    from ..runs.inference import Predictor, load_model, load_split
    from ..runs.plots import decision_grid

    config, model = load_model(run_dir)
    if not classifies(config.loss):
        raise UsageError(f"{run_dir}: decision regions are drawn for classifiers; this run regresses (loss {config.loss.name})")
    if model.inputs != 2:
        raise UsageError(f"{run_dir}: decision regions are drawn over 2 inputs; this network takes {model.inputs}")
    config, model, data = load_split(run_dir, "train")
    predictor = Predictor(config, model, data.meta)
    x, y = predictor.raw(np.asarray(data.train.x, dtype=float)), np.asarray(data.train.y)
    if len(x) > MAX_POINTS:  # evenly spaced rows: enough to see the data
        keep = np.linspace(0, len(x) - 1, MAX_POINTS).astype(int)
        x, y = x[keep], y[keep]
    g0, g1, p = decision_grid(predictor.outputs, x, resolution)
    labels = y.astype(int) if y.ndim == 1 else (y[:, 0] > 0.5).astype(int) if y.shape[1] == 1 else y.argmax(axis=1)
    names = predictor.classes or [f"class {k}" for k in range(max(p.shape[1], 2, int(labels.max()) + 1))]
    return charts.regions(g0, g1, p, x, labels, names)


def eval_plots(run_dir):
    """[(caption "<split>: <file>", PNG bytes)] of RUN/eval/<split>/*.png, splits and files sorted."""
    found = []
    for split in sorted(p for p in (Path(run_dir) / EVAL).glob("*") if p.is_dir()):
        for file in sorted(split.glob("*.png")):
            try:
                found.append((f"{split.name}: {file.stem.replace('_', ' ')}", file.read_bytes()))
            except OSError:
                continue
    return found


# --------------------------------------------------------------------------------------------------
# The page


def run_page(view):
    """The Page of one run."""
    s = view.summary
    name = s.get("name") or view.path.name
    page = Page(view.path.name if name == view.path.name else f"{name}: {view.path.name}")
    page.section("Run", _overview(view))
    page.section("Learning curves", _curves(page, view.metrics))
    page.section("Layers", _layers(page, view.diagnostics))
    regions = view.regions
    page.section("Decision regions", page.chart(regions, square=True) if isinstance(regions, dict) else note(regions))
    if view.evals:
        page.section("Evaluation", "".join(png(data, caption) for caption, data in view.evals))
    page.section("Network", _network_html(view.network))
    page.section("Config", f"<pre>{esc(view.config_text)}</pre>")
    return page


def subtitle(view):
    s = view.summary
    status = s.get("status", "unknown")
    planned = s.get("epochs_planned")
    epochs = len(view.metrics.get("epoch", ()))
    done = f"{epochs} / {planned} epochs" if planned else f"{epochs} epochs"
    return f'{esc(view.path)} · <span class="status-{esc(status)}">{esc(status)}</span> · {done}'


def _overview(view):
    s = view.summary
    rows = [
        ("status", esc(s.get("status", "unknown"))),
        ("started", esc(s.get("started", "—"))),
        ("finished", esc(s.get("finished", "—"))),
        ("epochs", f"{len(view.metrics.get('epoch', ()))} of {number(s.get('epochs_planned'))}"),
        ("parameters", number(s.get("parameters"))),
        ("wall time", f"{number(s.get('wall_time_s'))} s" if s.get("wall_time_s") is not None else "—"),
        ("seed", number(s.get("seed"))),
    ]
    for key in ("best_epoch", "message", "advice"):
        if s.get(key) is not None:
            rows.append((key.replace("_", " "), esc(s[key])))
    html_ = table(None, rows)
    final = _final(view.metrics)
    if final:
        names = list(final)
        html_ += "<h3>Final epoch</h3>" + table([esc(n) for n in names], [[number(final[n]) for n in names]], range(len(names)))
    return html_


def _final(metrics):
    """{column: its last logged value} of metrics.csv, but epoch."""
    out = {}
    for name, column in metrics.items():
        if name == "epoch":
            continue
        logged = column[~np.isnan(column)]
        out[name] = float(logged[-1]) if len(logged) else None
    return out


def _curves(page, metrics):
    from ..runs.plots import curve_panels

    if not len(metrics.get("epoch", ())):
        return note("no epoch finished yet")
    columns = [c for c in metrics if c != "epoch"]
    charts_ = [page.chart(charts.curve(title, metrics["epoch"], {n: metrics[n] for n in names})) for title, names in curve_panels(columns)]
    for extra in ("lr", "epoch_time_s"):
        if extra in metrics:
            charts_.append(page.chart(charts.curve(extra, metrics["epoch"], {extra: metrics[extra]})))
    return f'<div class="charts">{"".join(charts_)}</div>'


def _layers(page, diagnostics):
    if not len(diagnostics.get("epoch", ())):
        return note("no diagnostics (training.diagnostics: false, or no epoch finished yet)")
    kinds = [k for k in charts.LAYER_CHARTS if any(c.split(".")[0] in (("dead", "saturated") if k == "units" else (k,)) for c in diagnostics)]
    intro = note(
        "At the first and last epoch and about 100 between, on the epoch's last batch. Gradient norms that fall by "
        "orders of magnitude towards the first layer vanish; ones that grow explode."
    )
    return intro + '<div class="charts">' + "".join(page.chart(charts.layers(k, diagnostics)) for k in kinds) + "</div>"


def _network_html(network):
    if isinstance(network, str):
        return note(network)
    header = ["layer", "type", "output shape", "activation", "weights", "biases", "batch norm", "params"]
    rows = [
        [
            str(layer["index"]),
            esc(layer["type"] + (f" + dropout {layer['keep_prob']:g}" if layer["keep_prob"] < 1 else "")),
            f"(None, {layer['output_shape'][1]})",
            esc(layer["activation"]),
            number(layer["weights"]),
            number(layer["biases"]),
            number(layer["batchnorm_trainable"]) if layer["batchnorm_trainable"] else "—",
            number(layer["params"]),
        ]
        for layer in network["layers"]
    ]
    totals = (
        f"<p>{network['inputs']} inputs, {esc(network['dtype'])} · total params {network['total_params']:,} "
        f"(trainable {network['trainable_params']:,}, non-trainable {network['non_trainable_params']:,})</p>"
    )
    if "inputs_from" in network:
        totals += f"<p>inputs: {esc(network['inputs_from'])}</p>"
    return table(header, rows, numeric=(4, 5, 6, 7)) + totals


def run_report(run_dir, refresh=False):
    """The report page of a run directory, as UTF-8 bytes."""
    view = read_run(run_dir)
    return run_page(view).render(subtitle(view), refresh=refresh)

