"""Pictures of runs: learning curves, the decision regions of a 2-D classifier, many runs' curves overlaid.

Drawn with matplotlib's object-oriented API on an Agg canvas -- no pyplot, no display, no global
state -- and matplotlib is imported inside the functions, so importing nntrain stays fast. Sizes are
fixed in pixels whatever the content: ``curves.png`` is one PANEL per plotted quantity side by side,
``decision_boundary.png`` is BOUNDARY, a comparison's overlay is OVERLAY.
"""

from pathlib import Path

import numpy as np

from ..errors import NNTrainError
from ..nn.metrics import metric_of

DPI = 100
PANEL = (480, 360)  # pixels (width, height)
BOUNDARY = (560, 480)
OVERLAY = (720, 480)
CURVES, DECISION_BOUNDARY = "curves.png", "decision_boundary.png"
MAX_POINTS = 2000  # training points drawn on a decision boundary


def write_run_plots(run_dir, *, predict=None, x=None, y=None, features=None, classes=None):
    """Write a run's pictures into its directory; returns the paths written.

    - ``curves.png`` from metrics.csv (if it has a row): loss and each metric, train and validation.
    - ``decision_boundary.png`` when ``predict`` (raw input rows (n, 2) -> class probabilities
      (n, units)), the training inputs ``x`` (n, 2) and targets ``y`` (labels (n,), or (n, units)
      0/1 rows) are given: a classifier's, which the caller knows it has (``losses.classifies``);
      ``features`` names its axes, ``classes`` its labels (the run's data.json, default: the run's).
    """
    from .store import read_columns

    run_dir = Path(run_dir)
    written = []
    metrics = read_columns(run_dir)
    if len(metrics.get("epoch", ())):
        plot_curves(metrics, run_dir / CURVES, title=run_dir.name)
        written.append(run_dir / CURVES)
    if features is None or classes is None:
        meta = _data_names(run_dir)
        features = features or meta.get("features")
        classes = classes or meta.get("classes")
    two_inputs = x is not None and tuple(getattr(x, "shape", np.shape(x)))[1:] == (2,)
    if predict is not None and two_inputs and y is not None:
        plot_decision_boundary(predict, x, y, run_dir / DECISION_BOUNDARY, title=run_dir.name, features=features,
                               split="training", classes=classes)  # fmt: skip
        written.append(run_dir / DECISION_BOUNDARY)
    return written


def _data_names(run_dir):
    """The feature and class names of a run's data.json, {} where it has none (or is unreadable: the
    pictures then say x1, x2 and class k)."""
    import json

    try:
        meta = json.loads((Path(run_dir) / "data.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


# --------------------------------------------------------------------------------------------------
# Learning curves


def curve_panels(columns):
    """What ``plot_curves`` draws: [(title, [column, ...])], loss first, then one panel per
    registered metric (``weighted_`` apart), its train and ``val_`` columns in log order.

    The variants of one metric -- its averages, its classes (``f1_weighted``, ``f1_<class>``) --
    share its panel, so that a per-class metric of many classes adds one panel, not one per class.
    The title is the column's name without ``val_``, or the metric's for several variants.
    """
    groups = {("loss", False): [c for c in ("loss", "val_loss") if c in columns]}
    for column in columns:
        metric = metric_of(column)
        if metric is not None:
            weighted = column.removeprefix("val_").startswith("weighted_")
            groups.setdefault((metric.name, weighted), []).append(column)
    panels = []
    for (name, weighted), names in groups.items():
        if names:
            ordered = sorted(names, key=lambda c: (c.removeprefix("val_") != c, columns.index(c)))
            variants = {c.removeprefix("val_") for c in names}
            title = variants.pop() if len(variants) == 1 else "weighted_" * weighted + name
            panels.append((title, ordered))
    return panels


def plot_curves(metrics, path, title=None):
    """Learning curves into a PNG at ``path``: one panel per quantity (PANEL pixels each), training
    solid, validation dashed; a quantity spanning more than two decades on a log scale.

    ``metrics``: {column: values per epoch} with an ``epoch`` column (what ``compare.read_columns``
    returns); non-finite values are left out.
    """
    panels = curve_panels(list(metrics))
    if not panels:
        raise NNTrainError(f"{path}: nothing to plot; no loss or metric columns")
    fig = _figure((PANEL[0] * len(panels), PANEL[1]))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (quantity, names) in zip(axes, panels):
        shown = []
        variants = {name.removeprefix("val_") for name in names}
        palette = _palette(len(variants)) if len(variants) > 1 else None
        colours = {variant: palette[k] for k, variant in enumerate(sorted(variants))} if palette else {}
        for name in names:
            epochs, values = _finite_points(metrics["epoch"], metrics[name])
            validation = name.startswith("val_")
            label = "validation" if validation else "train"
            ax.plot(
                epochs,
                values,
                linestyle="--" if validation else "-",
                marker="o" if len(epochs) <= 20 else None,
                markersize=3,
                color=colours.get(name.removeprefix("val_")),
                label=f"{name.removeprefix('val_')} ({label})" if colours else label,
            )
            shown.append(values)
        _set_scale(ax, np.concatenate(shown))
        ax.set_title(quantity)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small" if len(names) > 4 else None)
        _integer_epochs(ax)
    if title:
        fig.suptitle(title)
    _save(fig, path)


def _finite_points(epochs, values):
    epochs, values = np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    return epochs[keep], values[keep]


def _set_scale(ax, values):
    if len(values) and min(values) > 0 and max(values) / min(values) > 100:
        ax.set_yscale("log")


def _integer_epochs(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# --------------------------------------------------------------------------------------------------
# Decision boundary


def plot_decision_boundary(predict, x, y, path, title=None, resolution=200, features=None, split=None, classes=None):
    """The input plane coloured by the network's predicted class, with the data points on top.

    ``predict``: rows (n, 2) -> probabilities (n, units); one sigmoid unit is shaded by P(class 1)
    with the 0.5 contour drawn and labelled, several units by the argmax class (each its own
    colour; the points outlined in black so that they stand out from their region). ``y``: labels
    (n,) or (n, units) 0/1 rows (one unit: thresholded at 0.5; several: argmax); at most MAX_POINTS
    of them are drawn. ``features``: the axes' names (default x1, x2); ``split``: which split the
    points are (the title says it); ``classes``: the legend's names of the labels. The legend sits
    outside the axes, where it covers no data. Written as a BOUNDARY-pixel PNG.
    """
    from matplotlib.colors import ListedColormap

    if len(x) > MAX_POINTS:  # evenly spaced rows: enough to see the data, cheap to draw
        keep = np.linspace(0, len(x) - 1, MAX_POINTS).astype(int)
        x, y = x[keep], np.asarray(y)[keep]
    x = np.asarray(x, dtype=float)
    labels = _labels(np.asarray(y))
    g0, g1, p = decision_grid(predict, x, resolution)

    fig = _figure(BOUNDARY)
    ax = fig.subplots()
    n_classes = max(p.shape[1], 2, int(labels.max()) + 1)
    palette = _palette(n_classes)
    edge = "white"
    if p.shape[1] == 1:
        shade = p[:, 0].reshape(g0.shape)
        filled = ax.contourf(g0, g1, shade, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.75, vmin=0, vmax=1)
        line = ax.contour(g0, g1, shade, levels=[0.5], colors="black", linewidths=1.2)
        ax.clabel(line, fmt={0.5: "p = 0.5"}, fontsize="small")
        fig.colorbar(filled, ax=ax, label="P(class 1)")
        palette = [(0.13, 0.4, 0.67), (0.7, 0.09, 0.17)]  # the ends of RdBu_r
    else:
        regions = p.argmax(axis=1).reshape(g0.shape)
        ax.contourf(g0, g1, regions, levels=np.arange(n_classes + 1) - 0.5, cmap=ListedColormap(palette), alpha=0.35)
        edge = "black"
    size = 80 if len(x) <= 100 else 14  # thousands of points must not hide the regions
    names = list(classes) if classes is not None and len(classes) >= n_classes else None
    for k in np.unique(labels):
        mine = labels == k
        ax.scatter(
            x[mine, 0], x[mine, 1], s=size, color=palette[k], edgecolors=edge, linewidths=1.2 if edge == "white" else 0.6,
            label=names[k] if names else f"class {k}", zorder=3,
        )
    features = features if features is not None and len(features) == 2 else ("x1", "x2")
    ax.set_xlabel(features[0])
    ax.set_ylabel(features[1])
    fig.legend(loc="outside lower center", ncols=min(len(np.unique(labels)), 5), framealpha=0.9)
    what = f"decision regions, {split} points" if split else "decision regions"
    ax.set_title(f"{title}: {what}" if title else what)
    _save(fig, path)


def decision_grid(predict, x, resolution=200):
    """The network's output over a grid covering the points x (n, 2) with a 15% margin.

    Returns (g0, g1, p): g0, g1 (resolution, resolution) the grid's coordinates (``np.meshgrid``:
    rows follow x[:, 1], columns x[:, 0]), p (resolution², units) the outputs at the grid's points
    in row-major order.
    """
    x = np.asarray(x, dtype=float)
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = np.where(hi > lo, 0.15 * (hi - lo), 0.5)
    g0, g1 = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
        np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution),
    )
    p = np.asarray(predict(np.column_stack([g0.ravel(), g1.ravel()])), dtype=float)
    return g0, g1, p.reshape(len(p), -1)


def _labels(y):
    if y.ndim == 1:
        return y.astype(int)
    if y.shape[1] == 1:
        return (y[:, 0] > 0.5).astype(int)
    return y.argmax(axis=1)


def _palette(n):
    from matplotlib import colormaps

    name = "tab10" if n <= 10 else "tab20"
    cmap = colormaps[name]
    return [cmap(i % cmap.N) for i in range(n)]


# --------------------------------------------------------------------------------------------------
# Many runs


def plot_overlay(curves, metric, path):
    """One metric's curves of many runs on one plot, into an OVERLAY-pixel PNG at ``path``.

    ``curves``: [(label, epochs, values, std)], runs of any length; ``std`` (or None): a seed
    group's spread, drawn as a band of ± std around its mean curve. Non-finite values and runs
    without values are left out. A legend names the runs when there are at most 12.
    """
    fig = _figure(OVERLAY)
    ax = fig.subplots()
    shown = []
    for label, epochs, values, std in curves:
        keep = np.isfinite(np.asarray(values, dtype=float))
        epochs, values = _finite_points(epochs, values)
        if not len(values):
            continue
        line = ax.plot(epochs, values, label=label, linewidth=1.2, marker="o" if len(values) <= 20 else None, markersize=3)
        if std is not None:
            std = np.asarray(std, dtype=float)[keep]
            ax.fill_between(epochs, values - std, values + std, color=line[0].get_color(), alpha=0.2, linewidth=0)
        shown.append(values)
    _set_scale(ax, np.concatenate(shown) if shown else [])
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} of {len(shown)} runs")
    ax.grid(alpha=0.3)
    _integer_epochs(ax)
    if 0 < len(shown) <= 12:
        ax.legend(fontsize="small")
    _save(fig, path)


def plot_params(result, path):
    """The shape of a sweep or search, into a PNG at ``path``: on top, parallel coordinates -- an axis
    per varied config key and one for the metric, a line per run coloured by its metric; below, the
    metric against each numeric key. ``result``: ``compare``'s (ungrouped), its ``differences`` the
    keys. A key of positive numbers spanning two decades or more (a log-scaled space's) gets a log
    axis. Runs without the metric are left out; UsageError when there is nothing to draw.
    """
    runs, keys, columns, numeric = _param_columns(result)
    metric = result["metric"]
    best = np.array([r["best"] for r in runs], dtype=float)
    fig = _figure((max(OVERLAY[0], 160 * (len(keys) + 1)), OVERLAY[1] + (PANEL[1] if numeric else 0)))
    top, bottom = fig.subfigures(2, 1, height_ratios=[OVERLAY[1], PANEL[1]]) if numeric else (fig, None)
    _parallel(top.subplots(), keys, columns, best, metric)
    for ax, key in zip(np.atleast_1d(bottom.subplots(1, len(numeric))) if numeric else (), numeric):
        values = np.array(columns[key], dtype=float)
        ax.scatter(values, best, s=14, c=best, cmap="viridis")
        ax.set_xscale("log" if _log_scaled(values) else "linear")
        ax.set(xlabel=key, ylabel=metric)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{metric} ({'higher' if result['goal'] == 'max' else 'lower'} is better) over {len(runs)} runs")
    _save(fig, path)


def _param_columns(result):
    """(runs with the metric, the varied keys, {key: the runs' values}, the keys of numbers only)."""
    from ..errors import UsageError

    runs = [r for r in result["runs"] if r["best"] is not None]
    keys = [k for k in result["differences"] if any(k in r["config"] for r in runs)]
    if not keys or len(runs) < 2:
        raise UsageError("--plot-params: the runs vary no config value, or fewer than two logged the metric: nothing to draw")
    columns = {k: [r["config"].get(k) for r in runs] for k in keys}
    numeric = [k for k in keys if all(_is_number(v) for v in columns[k])]
    return runs, keys, columns, numeric


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parallel(ax, keys, columns, best, metric):
    """Parallel coordinates: each key's values scaled to [0, 1] (log where ``_log_scaled``; categories
    in the order they come), the metric last; a line per run coloured by the metric."""
    from matplotlib import colormaps

    axes, ticks = [], []
    for key in [*keys, metric]:
        values = best if key == metric else columns[key]
        scaled, labels = _scaled(values)
        axes.append(scaled)
        ticks.append(labels)
    data = np.array(axes).T
    low, high = np.nanmin(best), np.nanmax(best)
    colours = colormaps["viridis"]((best - low) / (high - low) if high > low else np.zeros_like(best))
    for row, colour in zip(data, colours):
        ax.plot(range(len(axes)), row, color=colour, alpha=0.7, linewidth=1.2)
    for i, labels in enumerate(ticks):
        ax.axvline(i, color="0.6", linewidth=0.8)
        for y, text in labels:
            ax.text(i, y, f" {text}", fontsize="x-small", va="center", ha="left")
    ax.set_xticks(range(len(axes)), [*keys, metric], fontsize="small", rotation=15)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(axes) - 0.6)
    ax.set_title("parallel coordinates: a line per run, coloured by the metric", fontsize="small")


def _scaled(values):
    """(values scaled to [0, 1], [(position, label)] of the axis's ticks): numbers linearly or by
    their log, anything else as categories in the order they come."""
    if all(_is_number(v) for v in values):
        x = np.array(values, dtype=float)
        log = _log_scaled(x)
        t = np.log10(x) if log else x
        low, high = t.min(), t.max()
        scaled = (t - low) / (high - low) if high > low else np.full_like(t, 0.5)
        return scaled, [(0.0, f"{x.min():.3g}"), (1.0, f"{x.max():.3g}")] if high > low else [(0.5, f"{x.min():.3g}")]
    names = list(dict.fromkeys(str(v) for v in values))
    spots = np.linspace(0, 1, len(names)) if len(names) > 1 else np.array([0.5])
    where = dict(zip(names, spots))
    return np.array([where[str(v)] for v in values]), list(zip(spots, names))


def _log_scaled(values):
    values = np.asarray(values, dtype=float)
    return bool(np.all(values > 0)) and values.max() / values.min() >= 100


# --------------------------------------------------------------------------------------------------


def _figure(size):
    from matplotlib.figure import Figure

    return Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")


def _save(fig, path):
    """The figure as a PNG at ``path``, drawn in memory and written atomically (``store.write_bytes``):
    a stop while it is drawn or written leaves the previous picture, or none, never half of one."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from .store import write_bytes

    path = Path(path)
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NNTrainError(f"{path}: cannot write the plot: {e.strerror or e}") from None
    write_bytes(path, buffer.getvalue())

