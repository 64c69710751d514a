"""Metrics of classifiers: of the predicted classes (accuracy, the confusion matrix's), of the
probabilities (log loss, top-k accuracy) and of the ranking of scores (ROC AUC, average precision)."""

import numpy as np

from .. import curves
from .base import BINARY, CLASSES, EPS, MULTILABEL, Batch, Metric, MissingClass, _mean, _sums

class Accuracy(Metric):
    """Share of rows whose predicted class (argmax, or p > 0.5) is the true one; with several sigmoid
    outputs, of outputs right at 0.5."""

    name = "accuracy"
    tasks = (CLASSES, BINARY, MULTILABEL)

    def stats(self, batch):
        weight = self.weights(batch)
        if self.task == MULTILABEL:
            right = (batch.prediction > 0.5) == (batch.y > 0.5)
            if weight is not None:
                return np.array([np.dot(right.sum(axis=1), weight), weight.sum() * right.shape[1]])
            return np.array([np.count_nonzero(right), right.size], dtype=np.float64)
        return _sums(batch.predicted == batch.true, weight)

    def result(self, stats):
        return {self.key: _mean(stats)}


class Confusion(Metric):
    """Metrics of the confusion matrix C (C[i, j]: rows of true class i predicted as j), per class and
    averaged over the classes that occur in the true or the predicted classes (scikit-learn's rule):
    ``macro`` the plain mean, ``weighted`` by the classes' true rows, ``micro`` from the pooled counts,
    ``binary`` the second class's (label 1, scikit-learn's positive class), ``per_class`` each class's.
    Undefined ratios (no row predicted as a class) count 0, as scikit-learn's ``zero_division``."""

    averages = ("macro", "weighted", "micro", "binary", "per_class")

    def stats(self, batch):
        return batch.confusion(self.n, self.weighted)

    def zeros(self):
        return np.zeros(self.n * self.n)

    def result(self, stats):
        c = stats.reshape(self.n, self.n)
        tp, true, predicted = np.diag(c), c.sum(axis=1), c.sum(axis=0)
        if self.average == "micro":  # the ratio of the counts pooled over the classes
            pooled = self.ratio(*(np.atleast_1d(counts.sum()) for counts in (tp, true, predicted)))
            return {self.key: float(pooled[0])}
        per_class = self.ratio(tp, true, predicted)
        if self.average == "per_class":
            return dict(zip(self.columns, per_class.tolist()))
        if self.average == "binary":
            return {self.key: float(per_class[1])}
        present = (true + predicted) > 0
        if self.average == "weighted":
            total = true[present].sum()
            return {self.key: float(np.dot(per_class[present], true[present]) / total) if total else 0.0}
        return {self.key: float(per_class[present].mean()) if present.any() else float("nan")}

    @staticmethod
    def ratio(tp, true, predicted):
        """Per class (arrays of the counts): the metric's value."""
        raise NotImplementedError


def _divide(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


class Precision(Confusion):
    name = "precision"

    @staticmethod
    def ratio(tp, true, predicted):
        return _divide(tp, predicted)


class Recall(Confusion):
    name = "recall"

    @staticmethod
    def ratio(tp, true, predicted):
        return _divide(tp, true)


class F1(Confusion):
    name = "f1"

    @staticmethod
    def ratio(tp, true, predicted):
        return _divide(2 * tp, true + predicted)


class BalancedAccuracy(Confusion):
    """The mean recall of the classes that have true rows."""

    name = "balanced_accuracy"
    averages = ()

    def result(self, stats):
        c = stats.reshape(self.n, self.n)
        true = c.sum(axis=1)
        held = true > 0
        return {self.key: float(np.mean(np.diag(c)[held] / true[held])) if held.any() else float("nan")}


class LogLoss(Metric):
    """Mean -log of the true class's probability, clipped to [eps, 1 - eps]; with several sigmoid
    outputs, the mean binary cross-entropy over outputs."""

    name = "log_loss"
    higher_is_better = False
    tasks = (CLASSES, BINARY, MULTILABEL)

    def stats(self, batch):
        if self.task == MULTILABEL:
            p = np.clip(np.asarray(batch.prediction, np.float64), EPS, 1 - EPS)
            rows = -np.mean(np.where(batch.y > 0.5, np.log(p), np.log(1 - p)), axis=1)
            return _sums(rows, self.weights(batch))
        p = np.maximum(batch.p_true, EPS)  # a new array: p_true is shared
        np.minimum(p, 1 - EPS, out=p)
        return _sums(-np.log(p, out=p), self.weights(batch))

    def result(self, stats):
        return {self.key: _mean(stats)}


class TopKAccuracy(Metric):
    """Share of rows whose true class is among the k most probable (ties: the higher label first, as
    scikit-learn's stable sort gives)."""

    name = "top_k_accuracy"
    needs_k = True
    tasks = (CLASSES,)

    def stats(self, batch):
        ranked = np.argsort(batch.prediction, axis=1, kind="mergesort")[:, ::-1][:, : self.k]
        return _sums((ranked == batch.y[:, None]).any(axis=1), self.weights(batch))

    def result(self, stats):
        return {self.key: _mean(stats)}


class Ranking(Metric):
    """An area under a curve of each class's probability (``nntrain.nn.curves``): a binary classifier's
    of the second class, several classes' one-vs-rest and averaged (macro). Every class must occur."""

    ranking = True

    def values(self, prediction, y, weight=None):
        batch = Batch(self.task, prediction, y, weight)
        absent = self.absent(y)
        if absent:
            raise MissingClass(f"{self.key} needs rows of every class; none of class {absent[0]!r}")
        ks = [1] if self.task == BINARY else range(self.n)
        p, true, weight = batch.probabilities, batch.true, self.weights(batch)
        return {self.key: float(np.mean([self.area(true == k, p[:, k], weight) for k in ks]))}

    def absent(self, y):
        """The class names without a row in ``y`` (a binary classifier: also without a negative)."""
        counts = np.bincount(Batch(self.task, None, y).true, minlength=self.n)
        return [self.classes[k] for k in np.flatnonzero(counts == 0)]

    def stats(self, batch):
        raise TypeError(f"{self.name} is computed on whole splits, not from sums")

    def zeros(self):
        return None

    area = None


class RocAuc(Ranking):
    name = "roc_auc"
    area = staticmethod(curves.roc_auc)


class AveragePrecision(Ranking):
    name = "average_precision"
    area = staticmethod(curves.average_precision)
