"""Things that watch the epochs go by and may end training: early stopping."""

import math

import numpy as np

from ..nn.metrics import higher_is_better


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode``: "min", "max", or "auto" (max where a higher value is better: ``higher_is_better``). With
    ``restore_best`` the model ends with the weights of the best epoch.
    """

    def __init__(self, monitor="val_loss", mode="auto", patience=10, min_delta=0.0, restore_best=True):
        self.monitor, self.patience, self.min_delta, self.restore_best = monitor, patience, min_delta, restore_best
        self.mode = ("max" if higher_is_better(monitor) else "min") if mode == "auto" else mode
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.wait = 0
        self.best_weights = None

    def improved(self, value):
        """Whether ``value`` beats the best by ``min_delta``; the first finite value always counts (an
        infinite min_delta would otherwise leave no best epoch at all)."""
        if not math.isfinite(value):
            return False
        if self.best_epoch is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch, logs, model):
        """Record an epoch's logs; True when training should stop."""
        value = logs[self.monitor]
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_weights = {k: v.copy() for k, v in model.state_dict().items()}
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, model):
        if self.restore_best and self.best_weights is not None:
            model.load_state_dict(self.best_weights)

    def state_dict(self):
        """(JSON-able state, arrays) for a checkpoint."""
        state = {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}
        return state, dict(self.best_weights or {})

    def load_state_dict(self, state, arrays):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_weights = {k: np.array(v) for k, v in arrays.items()} or None
