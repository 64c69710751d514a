"""What every metric is (``Metric``), the batch it reads (``Batch``), and the tasks a network's
outputs can be: see the package's docstring."""

import numpy as np

CLASSES, BINARY, MULTILABEL, REGRESSION = "classes", "binary", "multilabel", "regression"
AVERAGES = ("macro", "weighted", "micro", "binary", "per_class")
EPS = np.finfo(np.float64).eps  # scikit-learn's clip of probabilities (log_loss) and of |y| (mape)


class MissingClass(ValueError):
    """A ranking metric on rows that lack a class (its curve has no positives)."""


class Batch:
    """Predictions and targets as metrics read them, with what several metrics take from them --
    the classes, the true class's probability, the confusion matrix -- computed once.

    ``prediction``: output activations (n, units); ``y``: targets in the loss's form (labels (n,),
    or (n, units)); ``weight``: the rows' weights (n,), or None.
    """

    def __init__(self, task, prediction, y, weight=None):
        self.task, self.prediction, self.y, self.weight = task, prediction, y, weight
        self._confusion = {}

    # Computed on first use and kept: plain properties over __dict__, as functools.cached_property
    # (a lock in Python 3.11) would cost more than the arrays of a small batch.

    @property
    def true(self):
        """A classifier's true classes (n,)."""
        if "_true" not in self.__dict__:
            self._true = self.y if self.task == CLASSES else (self.y[:, 0] > 0.5).astype(np.int64)
        return self._true

    @property
    def predicted(self):
        """A classifier's predicted classes (n,): the argmax, or p > 0.5."""
        if "_predicted" not in self.__dict__:
            p = self.prediction
            self._predicted = p.argmax(axis=1) if self.task == CLASSES else (p[:, 0] > 0.5).astype(np.int64)
        return self._predicted

    @property
    def p_true(self):
        """A classifier's probability of each row's true class (n,), float64."""
        if "_p_true" not in self.__dict__:
            if self.task == CLASSES:
                self._p_true = self.prediction[np.arange(len(self.y)), self.y].astype(np.float64)
            else:
                p = self.prediction[:, 0].astype(np.float64)
                self._p_true = np.where(self.true == 1, p, 1.0 - p)
        return self._p_true

    @property
    def probabilities(self):
        """A classifier's (n, K) float64 probabilities of every class; a binary one's as [1 - p, p]."""
        p = np.asarray(self.prediction, dtype=np.float64)
        return p if self.task == CLASSES else np.column_stack([1.0 - p[:, 0], p[:, 0]])

    def confusion(self, n, weighted):
        """The (flattened) n x n confusion matrix, C[i, j] the rows (weights, if ``weighted``) of true
        class i predicted as j."""
        if weighted not in self._confusion:
            index = self.true * n + self.predicted
            counts = np.bincount(index, weights=self.weight if weighted else None, minlength=n * n)
            self._confusion[weighted] = counts.astype(np.float64)
        return self._confusion[weighted]


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
    def columns(self):
        """The metrics.csv columns it logs (before ``val_``)."""
        if self.average == "per_class":
            prefix = self.key.removesuffix("_per_class")
            return [f"{prefix}_{name}" for name in self.classes]
        return [self.key]

    def stats(self, batch):
        """Sums over the rows of a ``Batch`` (a float64 array) that ``result`` makes the values of;
        weighted by the batch's weights if the metric is ``weighted``."""
        raise NotImplementedError

    def result(self, stats):
        """{column: value} from the sums of ``stats`` over any number of batches."""
        raise NotImplementedError

    def values(self, prediction, y, weight=None):
        """{column: value} on all rows at once (``weight``: the rows' weights, which a weighted metric uses)."""
        return self.result(self.stats(Batch(self.task, prediction, y, weight)))

    def zeros(self):
        """The sums of no rows (None for a ranking metric)."""
        return np.zeros(2)  # a mean's: [sum, weights]

    def weights(self, batch):
        """The batch's weights, if the metric is weighted."""
        return batch.weight if self.weighted else None


def _sums(values, weight):
    """[sum of the values, sum of the weights]: a weighted mean's stats."""
    if weight is None:
        total = np.count_nonzero(values) if values.dtype == bool else values.sum()
        return np.array([total, values.size], dtype=np.float64)
    return np.array([np.dot(values, weight), weight.sum()], dtype=np.float64)


def _mean(stats):
    return float(stats[0] / stats[1]) if stats[1] else float("nan")
