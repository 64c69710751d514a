"""Metrics of regressors, per target and averaged over the targets, in the targets' own units."""

import numpy as np

from .base import EPS, REGRESSION, Metric

class Regression(Metric):
    """Per target u the sums [weights, weighted (d^2, |d|, |d| / max(|y|, eps), y, y^2)] of d = a - y."""

    classifies = False
    tasks = (REGRESSION,)

    def stats(self, prediction, y, weight=None):
        a, y = np.asarray(prediction, np.float64), np.asarray(y, np.float64)
        d = a - y
        terms = [d * d, np.abs(d), np.abs(d) / np.maximum(np.abs(y), EPS), y, y * y]
        if weight is None:
            return np.array([np.full(a.shape[1], len(a), np.float64), *(t.sum(axis=0) for t in terms)])
        return np.array([np.full(a.shape[1], weight.sum()), *(weight @ t for t in terms)])

    def zeros(self):
        return np.zeros((6, self.n))

    def result(self, stats):
        return {self.key: float(np.mean(self.per_target(*stats)))}


class MSE(Regression):
    name = "mse"
    higher_is_better = False

    @staticmethod
    def per_target(n, squares, absolute, relative, ys, y_squares):
        return squares / n


class RMSE(Regression):
    name = "rmse"
    higher_is_better = False

    @staticmethod
    def per_target(n, squares, absolute, relative, ys, y_squares):
        return np.sqrt(squares / n)


class MAE(Regression):
    name = "mae"
    higher_is_better = False

    @staticmethod
    def per_target(n, squares, absolute, relative, ys, y_squares):
        return absolute / n


class MAPE(Regression):
    """Mean |a - y| / |y| (a fraction, not percent; |y| at least eps, as scikit-learn's)."""

    name = "mape"
    higher_is_better = False

    @staticmethod
    def per_target(n, squares, absolute, relative, ys, y_squares):
        return relative / n


class R2(Regression):
    """1 - SSE / SST per target; 1 for a perfect fit of a constant target, 0 for an imperfect one."""

    name = "r2"

    @staticmethod
    def per_target(n, squares, absolute, relative, ys, y_squares):
        total = np.maximum(y_squares - ys * ys / n, 0.0)
        safe = np.where(total > 0, total, 1.0)
        return np.where(total > 0, 1.0 - squares / safe, np.where(squares == 0, 1.0, 0.0))
