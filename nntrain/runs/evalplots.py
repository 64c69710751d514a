"""The pictures with which ``nntrain eval`` judges a trained model on a split.

A classifier gets a confusion matrix, ROC and precision-recall curves and a reliability diagram; a
regressor gets predicted-against-actual and residual scatters. The curves are ``nntrain.nn.curves``'
(scikit-learn's definitions). Drawn as ``plots`` draws: matplotlib's object-oriented API on an Agg
canvas, imported inside the functions; sizes fixed in pixels: two MATRIX panels for the confusion
matrix, PANEL for a curve plot and for each target's scatter, CALIBRATION for the reliability diagram.

Conventions: ``y`` (n,) int labels 0..K-1, ``probabilities`` (n, K) rows summing to 1 (a binary
classifier as K=2, columns [1-p, p]); the predicted class is the argmax. Curves are one class versus
the rest: for K=2 the positive class (classes[1]) only, for K>2 every class.
"""

from pathlib import Path

import numpy as np

from ..errors import NNTrainError
from ..nn import curves
from .plots import DPI, _figure, _palette, _save, _set_scale

CONFUSION, ROC = "confusion_matrix.png", "roc.png"
PRECISION_RECALL, RELIABILITY = "precision_recall.png", "reliability.png"
PREDICTED, RESIDUALS = "predicted_vs_actual.png", "residuals.png"
PANEL = (480, 400)  # pixels (width, height)
MATRIX = (600, 560)  # each of the confusion matrix's two panels
CALIBRATION = (480, 560)  # the reliability diagram over its histogram
BINS = 10  # of the reliability diagram
MAX_CELL_TEXT = 30  # classes up to which the confusion matrix writes each cell's number
MAX_TICKS = 40  # class names an axis of the confusion matrix names; beyond, every other (third, ...)
MAX_SCATTER = 5000  # points drawn per regression panel
NAME_CHARS = 16  # longer class names are cut


def classifier_plots(out_dir, y, probabilities, classes, title=None):
    """Write the four pictures of a classifier into out_dir; returns the paths written, in the order
    CONFUSION, ROC, PRECISION_RECALL, RELIABILITY.

    ``y``: (n,) int labels 0..K-1; ``probabilities``: (n, K) float rows summing to 1 (a binary
    classifier comes as K=2, columns [1-p, p]); ``classes``: K class names. A class that y has no
    row of, or only rows of, has no ROC or precision-recall curve: the legend's title names it
    ("not drawn, no rows or all rows: ..."); its confusion-matrix row is blank when normalised.
    """
    y = _rows(y).astype(np.intp, copy=False)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = [_short(str(name)) for name in classes]
    paths = [Path(out_dir) / name for name in (CONFUSION, ROC, PRECISION_RECALL, RELIABILITY)]
    for path, build in zip(paths, (_confusion_figure, _roc_figure, _precision_recall_figure, _reliability_figure)):
        _save(build(y, probabilities, classes, title), path)
    return paths


def regressor_plots(out_dir, y, predicted, targets, title=None):
    """Write predicted_vs_actual.png and residuals.png into out_dir; returns the paths.

    ``y``, ``predicted``: (n, U) floats in the targets' units ((n,): one); ``targets``: U names. One PANEL per
    target side by side; at most MAX_SCATTER evenly spaced rows are drawn; non-finite values are not.
    """
    y, predicted = _rows(y), np.asarray(predicted, dtype=np.float64)
    y, predicted = y.reshape(len(y), -1).astype(np.float64, copy=False), predicted.reshape(len(predicted), -1)
    paths = [Path(out_dir) / PREDICTED, Path(out_dir) / RESIDUALS]
    for path in paths:
        _save(_scatter_figure(path.name, y, predicted, list(targets), title), path)
    return paths


def _rows(y):
    y = np.asarray(y)
    if not len(y):
        raise NNTrainError("no rows to plot")
    return y


def _short(name):
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


def _titled(title, what):
    return f"{title}: {what}" if title else what


# --------------------------------------------------------------------------------------------------
# Classifiers: each builder takes (y, probabilities, classes, title) and returns the Figure.


def _confusion_figure(y, p, classes, title):
    """Counts and row-normalised, rows the true class, columns the predicted; a cell's number up to
    MAX_CELL_TEXT classes."""
    k = p.shape[1]
    counts = np.bincount(y * k + p.argmax(axis=1), minlength=k * k).reshape(k, k)
    with np.errstate(invalid="ignore"):
        normalised = counts / counts.sum(axis=1, keepdims=True)  # nan, drawn blank: a class y has no row of
    fig = _figure((2 * MATRIX[0], MATRIX[1]))
    panels = (
        (counts, "{:.0f}", max(1, counts.max()), "counts"),
        (normalised, "{:.2f}", 1.0, "normalised by true class"),
    )
    for ax, (matrix, form, top, name) in zip(fig.subplots(1, 2), panels):
        fig.colorbar(ax.imshow(matrix, cmap="Blues", vmin=0, vmax=top), ax=ax, shrink=0.8)
        _class_ticks(ax, classes)
        if k <= MAX_CELL_TEXT:
            _cell_numbers(ax, matrix, form, top)
        ax.set(title=name, xlabel="predicted", ylabel="true")
    fig.suptitle(_titled(title, "confusion matrix"))
    return fig


def _class_ticks(ax, classes):
    k = len(classes)
    ticks = np.arange(0, k, -(-k // MAX_TICKS))
    names = [classes[i] for i in ticks]
    size = "medium" if k <= 10 else "small" if k <= 20 else 6
    slanted = k > 8 or max(map(len, classes)) > 6
    ax.set_xticks(ticks, names, fontsize=size, rotation=45 if slanted else 0, ha="right" if slanted else "center",
                  rotation_mode="anchor")
    ax.set_yticks(ticks, names, fontsize=size)


def _cell_numbers(ax, matrix, form, top):
    k = len(matrix)
    # a number like "0.12" is about 2.5 ems wide; a cell is about 3/4 of the panel's width over k
    points = min(11.0, 0.75 * MATRIX[0] / k / 2.5 * 72 / DPI)
    for (i, j), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            colour = "white" if value > top / 2 else "black"  # the dark half of Blues
            ax.text(j, i, form.format(value), ha="center", va="center", color=colour, fontsize=points)


def _one_vs_rest(y, k):
    """(classes drawn, classes left out, prevalence (K,)): the positive class(es), drawn when y
    has both positive and negative rows of them."""
    rows = np.bincount(y, minlength=k)
    candidates = [1] if k == 2 else list(range(k))
    drawn = [c for c in candidates if 0 < rows[c] < len(y)]
    return drawn, [c for c in candidates if c not in drawn], rows / len(y)


def _curve_legend(ax, drawn, left_out, classes, loc):
    names = [classes[c] for c in left_out]
    heading = None
    if names:
        listed = ", ".join(names) if len(names) <= 3 else f"{len(names)} classes"
        heading = f"not drawn, no rows or all rows: {listed}"
    handles, labels = ax.get_legend_handles_labels()  # passed on: no curve at all is no warning
    if not handles and not heading:
        return
    many = len(drawn) > 10  # one-vs-rest of many classes: a small legend in columns of 20
    ax.legend(handles, labels, loc=loc, fontsize="xx-small" if many else "small", title=heading,
              ncols=-(-len(drawn) // 20) if many else 1, title_fontsize="x-small", framealpha=0.9)


def _roc_figure(y, p, classes, title):
    fig = _figure(PANEL)
    ax = fig.subplots()
    drawn, left_out, _ = _one_vs_rest(y, p.shape[1])
    palette = _palette(p.shape[1])
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    for c in drawn:
        fpr, tpr, _ = curves.roc_curve(y == c, p[:, c])
        auc = curves.roc_auc(y == c, p[:, c])
        ax.plot(fpr, tpr, color=palette[c], linewidth=1.4, label=f"{classes[c]} (AUC {auc:.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="false positive rate", ylabel="true positive rate")
    ax.set_title(_titled(title, "ROC" if p.shape[1] == 2 else "ROC, one class versus the rest"))
    ax.grid(alpha=0.3)
    _curve_legend(ax, drawn, left_out, classes, "lower right")
    return fig


def _precision_recall_figure(y, p, classes, title):
    fig = _figure(PANEL)
    ax = fig.subplots()
    drawn, left_out, prevalence = _one_vs_rest(y, p.shape[1])
    palette = _palette(p.shape[1])
    for c in drawn:
        precision, recall, _ = curves.precision_recall_curve(y == c, p[:, c])
        ap = curves.average_precision(y == c, p[:, c])
        ax.plot(recall, precision, drawstyle="steps-post", color=palette[c], linewidth=1.4,
                label=f"{classes[c]} (AP {ap:.2f})")
        if p.shape[1] == 2:  # K>2: K chance lines would hide the curves
            ax.axhline(prevalence[c], linestyle=":", color=palette[c], label=f"chance ({prevalence[c]:.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
    ax.set_title(_titled(title, "precision-recall" if p.shape[1] == 2 else "precision-recall, one versus the rest"))
    ax.grid(alpha=0.3)
    _curve_legend(ax, drawn, left_out, classes, "lower left")
    return fig


def _reliability_figure(y, p, classes, title):
    """K=2: P(classes[1]) against the fraction of rows of classes[1]; K>2: the top-label confidence
    (max probability) against the fraction predicted right. BINS equal-width bins of [0, 1]."""
    if p.shape[1] == 2:
        score, hit, what, fraction_of = p[:, 1], y == 1, f"P({classes[1]})", "fraction of positives"
    else:
        score, hit = p.max(axis=1), p.argmax(axis=1) == y
        what, fraction_of = "confidence (top-label probability)", "fraction predicted right"
    mean, fraction, _ = curves.calibration_curve(hit, score, bins=BINS)
    fig = _figure(CALIBRATION)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    top.plot(mean, fraction, marker="o", color=_palette(1)[0], label="model")
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel=fraction_of, title=_titled(title, "reliability"))
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize="small")
    counts, _, _ = bottom.hist(score, bins=np.linspace(0, 1, BINS + 1), color="grey")
    _set_scale(bottom, counts[counts > 0])
    bottom.set(xlabel=what, ylabel="rows")
    return fig


# --------------------------------------------------------------------------------------------------
# Regressors


def _drawn_rows(n, limit=MAX_SCATTER):
    """The rows drawn of n: all, or ``limit`` evenly spaced from the first to the last (distinct:
    their spacing is more than 1), so a million-row split draws as fast as 5000 rows."""
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).astype(np.intp)


def _scatter_figure(kind, y, predicted, targets, title):
    """PREDICTED (predicted against actual, equal ranges, the line y = x) or RESIDUALS (actual -
    predicted against predicted, the zero line): one PANEL per target of y, predicted (n, U)."""
    rows = _drawn_rows(len(y))
    y, predicted = y[rows], predicted[rows]
    fig = _figure((PANEL[0] * len(targets), PANEL[1]))
    size, alpha = (16, 0.8) if len(rows) <= 500 else (4, 0.4)  # thousands of points: small and see-through
    for ax, actual, guess, name in zip(fig.subplots(1, len(targets), squeeze=False)[0], y.T, predicted.T, targets):
        if kind == PREDICTED:
            limits = _limits(actual, guess)
            ax.plot(limits, limits, linestyle="--", color="grey", linewidth=1, label="y = x")
            ax.scatter(actual, guess, s=size, alpha=alpha, linewidths=0)
            ax.set(xlim=limits, ylim=limits, aspect="equal", xlabel="actual", ylabel="predicted")
        else:
            ax.axhline(0, linestyle="--", color="grey", linewidth=1)
            ax.scatter(guess, actual - guess, s=size, alpha=alpha, linewidths=0)
            ax.set(xlabel="predicted", ylabel="actual − predicted")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    fig.suptitle(_titled(title, "predicted against actual" if kind == PREDICTED else "residuals"))
    return fig


def _limits(*values):
    """(low, high) covering the finite values with a 5% margin; (0, 1) without any."""
    values = np.concatenate(values)
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    pad = 0.05 * (high - low) if high > low else 0.5
    return low - pad, high + pad
