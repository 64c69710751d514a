"""Metrics logged per epoch next to the loss: ``fn(prediction, y) -> float``, a mean over the batch.

``prediction`` is the network's output activations (batch, units). Targets follow the loss:
integer class labels (batch,) for categorical cross-entropy, (batch, units) arrays otherwise.
Training metrics are averaged over the epoch's batches, weighted by batch size (as Keras does).
"""

from dataclasses import dataclass
from typing import Callable

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


METRICS = {
    "accuracy": Metric(accuracy, classification=True),
    "mae": Metric(mae, classification=False),
}
