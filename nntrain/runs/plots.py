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

    ``curves``: [(label, epochs, values)], runs of any length; non-finite values and runs without
    values are left out. A legend names the runs when there are at most 12.
    """
    fig = _figure(OVERLAY)
    ax = fig.subplots()
    shown = []
    for label, epochs, values in curves:
        epochs, values = _finite_points(epochs, values)
        if not len(values):
            continue
        ax.plot(epochs, values, label=label, linewidth=1.2, marker="o" if len(values) <= 20 else None, markersize=3)
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

