"""Metrics logged per epoch next to the loss: ``fn(prediction, y) -> float``, a mean over the batch.

``prediction`` is the network's output activations (batch, units). Targets follow the loss:
integer class labels (batch,) for categorical cross-entropy, (batch, units) arrays otherwise.
Training metrics are averaged over the epoch's batches, weighted by batch size (as Keras does).

A metric is logged under its registry name (``accuracy``, ``val_accuracy``); the loss always as
``loss``, so a metric and a loss may share a name (``metrics: [mae]`` with ``loss: mae``).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def accuracy(prediction, y):
    """Share of correct classes: argmax against labels, or each sigmoid output thresholded at 0.5."""
    # count_nonzero / size: np.mean's own overhead would be most of the cost on small batches.
    if y.ndim == 1:
        return int(np.count_nonzero(prediction.argmax(axis=1) == y)) / y.size
    return int(np.count_nonzero((prediction > 0.5) == (y > 0.5))) / y.size


def mae(prediction, y):
    """Mean absolute error."""
    return float(np.mean(np.abs(prediction - y)))


@dataclass(frozen=True)
class Metric:
    fn: Callable
    classification: bool  # needs a classification loss
    higher_is_better: bool


METRICS = {
    "accuracy": Metric(accuracy, classification=True, higher_is_better=True),
    "mae": Metric(mae, classification=False, higher_is_better=False),
}


def higher_is_better(column):
    """Whether a higher value of ``column`` (a metrics.csv column, ``val_`` prefix or not) is better.

    A registered metric says so itself. Every other column -- ``loss``, ``data_loss``, ``penalty``,
    ``epoch_time_s``, ``lr``, ... -- is better lower, except an unregistered name ending in
    ``accuracy``, which ``nntrain compare`` has always ranked higher-is-better.
    """
    base = column.removeprefix("val_")
    metric = METRICS.get(base)
    if metric is not None:
        return metric.higher_is_better
    return base.endswith("accuracy")
