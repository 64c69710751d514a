"""Metrics of regressors, per target and averaged over the targets, in the targets' own units."""

from collections import namedtuple

import numpy as np

from .base import EPS, REGRESSION, Metric

# A regression metric's stats by name, each (targets,): weights, and the weighted sums of d^2, |d|,
# |d| / max(|y|, eps), y and y^2 (d = a - y).
Sums = namedtuple("Sums", "n squares absolute relative ys y_squares")


class Regression(Metric):
    """Stats: ``Sums`` as one (6, targets) array; ``per_target(sums)`` the value of each target."""

    classifies = False
    tasks = (REGRESSION,)

    def stats(self, batch):
        weight = self.weights(batch)
        a, y = np.asarray(batch.prediction, np.float64), np.asarray(batch.y, np.float64)
        d = a - y
        terms = [d * d, np.abs(d), np.abs(d) / np.maximum(np.abs(y), EPS), y, y * y]
        if weight is None:
            return np.array([np.full(a.shape[1], len(a), np.float64), *(t.sum(axis=0) for t in terms)])
        return np.array([np.full(a.shape[1], weight.sum()), *(weight @ t for t in terms)])

    def zeros(self):
        return np.zeros((6, self.n))

    def result(self, stats):
        return {self.key: float(np.mean(self.per_target(Sums(*stats))))}


class MSE(Regression):
    name = "mse"
    higher_is_better = False
    per_target = staticmethod(lambda s: s.squares / s.n)


class RMSE(Regression):
    name = "rmse"
    higher_is_better = False
    per_target = staticmethod(lambda s: np.sqrt(s.squares / s.n))


class MAE(Regression):
    name = "mae"
    higher_is_better = False
    per_target = staticmethod(lambda s: s.absolute / s.n)


class MAPE(Regression):
    """Mean |a - y| / |y| (a fraction, not percent; |y| at least eps, as scikit-learn's)."""

    name = "mape"
    higher_is_better = False
    per_target = staticmethod(lambda s: s.relative / s.n)


class R2(Regression):
    """1 - SSE / SST per target; 1 for a perfect fit of a constant target, 0 for an imperfect one."""

    name = "r2"

    @staticmethod
    def per_target(s):
        total = np.maximum(s.y_squares - s.ys * s.ys / s.n, 0.0)
        safe = np.where(total > 0, total, 1.0)
        return np.where(total > 0, 1.0 - s.squares / safe, np.where(s.squares == 0, 1.0, 0.0))
