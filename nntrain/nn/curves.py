"""Curves of a binary classifier's scores, as scikit-learn defines them: ROC, precision-recall, calibration.

``y``: the true classes (n,), True (or 1) for the positive class; ``score``: a score per row (n,) that is
higher for the positive class (a probability); ``weight``: optional sample weights (n,). Every point
is a distinct score taken as the threshold: rows with a score >= the threshold are predicted positive.
The metrics ``roc_auc`` and ``average_precision`` (``nntrain.nn.metrics``) are areas under these curves.
"""

import numpy as np


def _counts(y, score, weight=None):
    """(false positives, true positives, thresholds) at each distinct score, from the highest down:
    scikit-learn's ``_binary_clf_curve``."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(score, kind="mergesort")[::-1]
    score, y = score[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(score)), y.size - 1]  # the last row of each distinct score
    if weight is None:
        tps = np.cumsum(y, dtype=np.float64)[ends]
        fps = 1 + ends - tps
    else:
        weight = np.asarray(weight, dtype=np.float64)[order]
        tps = np.cumsum(y * weight)[ends]
        fps = np.cumsum(~y * weight)[ends]
    return fps, tps, score[ends]


def roc_curve(y, score, weight=None):
    """(false positive rate, true positive rate, thresholds), from (0, 0) at threshold inf to (1, 1)."""
    fps, tps, thresholds = _counts(y, score, weight)
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    return fps / fps[-1], tps / tps[-1], np.r_[np.inf, thresholds]


def precision_recall_curve(y, score, weight=None):
    """(precision, recall, thresholds), recall decreasing to the point (precision 1, recall 0) that
    ends the curve (it has no threshold)."""
    fps, tps, thresholds = _counts(y, score, weight)
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def roc_auc(y, score, weight=None):
    """The area under the ROC curve (trapezoids)."""
    fpr, tpr, _ = roc_curve(y, score, weight)
    return float(np.trapezoid(tpr, fpr))


def average_precision(y, score, weight=None):
    """Precision averaged over the recall steps: sum of (R_k - R_k-1) P_k, without interpolation."""
    precision, recall, _ = precision_recall_curve(y, score, weight)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def calibration_curve(y, probability, bins=10):
    """(mean predicted probability, fraction of positives, rows) of each of ``bins`` equal-width bins of
    [0, 1] that holds rows: the points of a reliability diagram (scikit-learn's ``calibration_curve``,
    strategy "uniform", with the bins' counts)."""
    y = np.asarray(y).astype(np.float64)
    probability = np.asarray(probability, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.searchsorted(edges[1:-1], probability)
    totals = np.bincount(index, minlength=bins)
    sums = np.bincount(index, weights=probability, minlength=bins)
    positives = np.bincount(index, weights=y, minlength=bins)
    held = totals != 0
    return sums[held] / totals[held], positives[held] / totals[held], totals[held]
