"""Things that watch the epochs go by: early stopping, which may end training; and the run's
callbacks (``RUN_CALLBACKS``), which the session tells of every epoch, checkpoint and end.

A run callback has ``start(path, config, columns, epochs)`` (a classmethod: the callback if the config
asks for it, else None; ``columns``: the run's logged columns; ``epochs``: those done before this
stretch, a resumed run's checkpoint -- what it wrote of later epochs is to be dropped, as metrics.csv's
rows are), ``epoch(epoch, logs, trainer, last_diagnostics, diagnostic_epoch)`` (after each epoch;
``last_diagnostics``: the run's last diagnostics row in a list, or none), ``checkpoint()`` (before a
checkpoint is written: what it keeps must be on disk by then) and ``end(status)``.
"""

import math

import numpy as np

from ..nn.metrics import higher_is_better
from ..report.live import LiveReport
from .snapshots import Snapshots


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


class TensorBoard:
    """The run's TensorBoard events as it trains (``training.tensorboard``; nntrain.export.tensorboard).

    ``epochs``: the epochs done before this stretch (a resumed run's checkpoint): the run directory's
    events of later epochs are dropped, as metrics.csv's rows are, since those epochs come again.
    ``columns``: the run's logged columns (``Trainer.logged_columns``), for the charts' layout.
    """

    def __init__(self, path, config, columns, epochs=0):
        from ..export import tensorboard

        tensorboard.require()
        self.log = tensorboard.resumed_log(path, epochs)
        self.log.hparams(config)
        self.log.layout([*columns, "epoch_time_s", "lr"], ["grad_norm", "weight_norm", "update_ratio"] if config.training.diagnostics else [])

    @classmethod
    def start(cls, path, config, columns, epochs=0):
        """The callback if the config asks for TensorBoard, else None."""
        return cls(path, config, columns, epochs) if config.training.tensorboard else None

    def epoch(self, epoch, logs, trainer, last_diagnostics, histograms):
        """After an epoch: its logs and learning rate, its row of ``last_diagnostics`` (the run's last,
        if it is this epoch's), and at a diagnostic epoch (``histograms``) the weights' histograms."""
        row = last_diagnostics[0] if last_diagnostics and last_diagnostics[0]["epoch"] == epoch else None
        weights = trainer.model.state_dict() if histograms else None
        self.log.epoch(epoch, logs, trainer.optimizer.lr, row, weights)

    def checkpoint(self):
        """Before a checkpoint: the events so far on disk."""
        self.log.flush()

    def end(self, status):
        self.log.end(status)
        self.log.close()


# The callbacks a session starts (those the config asks for), in this order.
RUN_CALLBACKS = (TensorBoard, Snapshots, LiveReport)
