"""What every metric is (``Metric``), and the tasks a network's outputs can be: see the package's docstring."""

import numpy as np

CLASSES, BINARY, MULTILABEL, REGRESSION = "classes", "binary", "multilabel", "regression"
AVERAGES = ("macro", "weighted", "micro", "binary", "per_class")
EPS = np.finfo(np.float64).eps  # scikit-learn's clip of probabilities (log_loss) and of |y| (mape)


class MissingClass(ValueError):
    """A ranking metric on rows that lack a class (its curve has no positives)."""


class Metric:
    """Base. Class attributes say what a metric is; an instance is one entry of ``metrics:``, bound
    to the run's task and classes.

    - ``classifies``: needs class probabilities (a classification loss), else regression values;
    - ``higher_is_better``: for early stopping, ``compare``, sweeps and searches;
    - ``ranking``: computed on whole splits only (see the module's docstring);
    - ``averages``: the ``average`` values it takes, its default first (none: it takes no average);
    - ``needs_k``: it takes ``k`` (``top_k_accuracy``);
    - ``tasks``: the tasks it is defined for.
    """

    name = ""
    classifies = True
    higher_is_better = True
    ranking = False
    averages = ()
    needs_k = False
    tasks = (CLASSES, BINARY)

    def __init__(self, task, classes, average=None, k=None, weighted=False):
        """``classes``: the class names (classifiers: K; a binary one: 2), or the target names."""
        self.task, self.classes, self.k, self.weighted = task, list(classes), k, weighted
        self.average = average or (self.averages[0] if self.averages else None)
        self.n = len(self.classes)

    @property
    def key(self):
        """The metric as the config lists it, e.g. ``f1_weighted``, ``top_3_accuracy``."""
        base = f"top_{self.k}_accuracy" if self.needs_k else self.name
        if self.average not in (None, "macro"):
            base = f"{base}_{self.average}"
        return f"weighted_{base}" if self.weighted else base

    @property
    def shared(self):
        """Metrics whose ``shared`` are equal have the same ``stats`` (the confusion matrix's): a step
        computes them once."""
        return self.key

    @property
    def columns(self):
        """The metrics.csv columns it logs (before ``val_``)."""
        if self.average == "per_class":
            prefix = self.key.removesuffix("_per_class")
            return [f"{prefix}_{name}" for name in self.classes]
        return [self.key]

    def stats(self, prediction, y, weight=None):
        """Sums over the rows (float64 array) that ``result`` makes the values of."""
        raise NotImplementedError

    def result(self, stats):
        """{column: value} from the sums of ``stats`` over any number of batches."""
        raise NotImplementedError

    def values(self, prediction, y, weight=None):
        """{column: value} on all rows at once."""
        return self.result(self.stats(prediction, y, weight))

    def zeros(self):
        """The sums of no rows (None for a ranking metric)."""
        return np.zeros(2)  # a mean's: [sum, weights]

    # What classifiers share: labels, predicted classes, probabilities of every class.

    def _true(self, y):
        return y if self.task == CLASSES else (y[:, 0] > 0.5).astype(np.int64)

    def _predicted(self, prediction):
        return prediction.argmax(axis=1) if self.task == CLASSES else (prediction[:, 0] > 0.5).astype(np.int64)

    def _probabilities(self, prediction):
        """(n, K) float64 probabilities of every class; a binary classifier's as [1 - p, p]."""
        p = np.asarray(prediction, dtype=np.float64)
        return p if self.task == CLASSES else np.column_stack([1.0 - p[:, 0], p[:, 0]])


def _sums(values, weight):
    """[sum of the values, sum of the weights]: a weighted mean's stats."""
    if weight is None:
        total = np.count_nonzero(values) if values.dtype == bool else np.sum(values, dtype=np.float64)
        return np.array([total, values.size], dtype=np.float64)
    return np.array([np.dot(values, weight), weight.sum()], dtype=np.float64)


def _mean(stats):
    return float(stats[0] / stats[1]) if stats[1] else float("nan")
