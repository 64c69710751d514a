"""Metrics: how good a network's predictions are, by name in a config's ``metrics:``, with
scikit-learn's definitions (the tests compare every value with ``sklearn.metrics``).

What a metric sees depends on the loss and the output layer (its ``task``):

- ``CLASSES``: softmax probabilities (n, K) and class labels (n,);
- ``BINARY``: one sigmoid unit, p = P(class 1) (n, 1), and 0/1 targets (n, 1): two classes;
- ``MULTILABEL``: several sigmoid units (n, U) and 0/1 targets (n, U): ``accuracy`` (per output, as
  Keras's binary accuracy) and ``log_loss`` only;
- ``REGRESSION``: regression outputs and targets (n, U), in the targets' own units; a metric of several
  targets is the mean of its value per target (scikit-learn's ``uniform_average``).

Most metrics are *additive*: ``stats(prediction, y, weight)`` is a float64 array of sums over rows (a
confusion matrix, sums of errors) that add up over batches, and ``result(stats)`` makes the values of
the metric's columns from them. They are logged for training (over each epoch's batches, as the
weights change) and for the held-out splits. *Ranking* metrics (``roc_auc``, ``average_precision``)
need every row's score at once: they are computed on whole splits -- the held-out splits every
epoch, any split in ``nntrain eval`` -- and not logged for training.

A metric's columns: its name (``f1``), with its average where not macro (``f1_weighted``, one
``f1_<class>`` per class with ``per_class``), ``top_<k>_accuracy``, and ``weighted_`` in front when
computed with the sample weights (``weighted: true``). The loss is always logged as ``loss``.

To add a metric: a ``Metric`` subclass (``base``) in ``classification`` or ``regression``, registered
in ``METRICS`` here.
"""

from .base import AVERAGES, BINARY, CLASSES, MULTILABEL, REGRESSION, Batch, Metric, MissingClass
from .classification import (
    Accuracy, AveragePrecision, BalancedAccuracy, F1, LogLoss, Precision, Recall, RocAuc, TopKAccuracy,
)
from .regression import MAE, MAPE, MSE, R2, RMSE

__all__ = ["AVERAGES", "BINARY", "Batch", "CLASSES", "METRICS", "MULTILABEL", "REGRESSION", "Metric", "MissingClass", "higher_is_better", "metric_of", "task_of"]

METRICS = {
    cls.name: cls
    for cls in (
        Accuracy, BalancedAccuracy, Precision, Recall, F1, RocAuc, AveragePrecision, LogLoss, TopKAccuracy,
        MSE, RMSE, MAE, R2, MAPE,
    )
}  # fmt: skip


def task_of(targets, units):
    """The task of a network with ``units`` outputs trained on a loss whose targets are ``targets``
    (``nntrain.nn.losses``: LABELS, BINARY, VALUES)."""
    from ..losses import BINARY as BINARY_TARGETS, LABELS

    if targets == LABELS:
        return CLASSES
    if targets == BINARY_TARGETS:
        return BINARY if units == 1 else MULTILABEL
    return REGRESSION


def metric_of(column):
    """The registered metric a metrics.csv column logs (``val_`` and ``weighted_`` prefixes, averages
    and classes after it), or None: the longest registered name the column starts with."""
    base = column.removeprefix("val_").removeprefix("weighted_")
    if base.startswith("top_") and base.endswith("_accuracy") and base[4:-9].isdigit():
        return METRICS["top_k_accuracy"]
    matches = [name for name in METRICS if base == name or base.startswith(f"{name}_")]
    return METRICS[max(matches, key=len)] if matches else None


def higher_is_better(column):
    """Whether a higher value of ``column`` (a metrics.csv column, ``val_`` prefix or not) is better.

    A registered metric says so itself. Every other column -- ``loss``, ``data_loss``, ``penalty``,
    ``epoch_time_s``, ``lr``, ... -- is better lower, except an unregistered name ending in
    ``accuracy``, which ``nntrain compare`` has always ranked higher-is-better.
    """
    metric = metric_of(column)
    if metric is not None:
        return metric.higher_is_better
    return column.endswith("accuracy")
