"""The training step: a model, its loss and optimizer, and what one step and one epoch log.

One step: forward, loss (+ kernel penalties), backward, clip_value, clip_norm, optimizer update, with
the network's parameters and gradients as one flat array each. ``prepare`` makes the data, model and
trainer of a config, with every check done before a run directory exists; ``nntrain.training.fit`` runs the
epochs and writes the run.
"""

import math
import warnings

import numpy as np

from ..data.prepare import load_data
from .diagnostics import Diagnostics
from ..errors import Diverged, NNTrainWarning
from ..nn.losses import pairing_warning
from ..nn.metrics import METRICS
from ..nn.model import build_model, input_width
from ..nn.optimizers import clip_by_global_norm, clip_by_value, make_optimizer
from ..nn.schedules import learning_rate


class EpochTotals:
    """Batch-size-weighted sums of one epoch's data loss, penalty and metrics, so far."""

    def __init__(self, metric_names):
        self.sums = dict.fromkeys(["data_loss", "penalty", *metric_names], 0.0)
        self.seen = self.clipped = 0

    def logs(self, penalised, clipping):
        """The epoch's means: loss (data loss + penalty), [data_loss, penalty], metrics, [clipped_steps]."""
        means = {k: v / self.seen for k, v in self.sums.items()}
        data_loss, penalty = means.pop("data_loss"), means.pop("penalty")
        logs = {"loss": data_loss + penalty}
        if penalised:
            logs.update(data_loss=data_loss, penalty=penalty)
        logs.update(means)
        if clipping:
            logs["clipped_steps"] = self.clipped
        return logs

    def to_json(self):
        return {"sums": self.sums, "seen": self.seen, "clipped": self.clipped}

    @classmethod
    def from_json(cls, state):
        totals = cls([])
        totals.sums = {str(k): float(v) for k, v in state["sums"].items()}
        totals.seen, totals.clipped = int(state["seen"]), int(state["clipped"])
        return totals


class Trainer:
    """The model, its loss and optimizer, and the training step that updates them."""

    def __init__(self, config, model, target_scale=None):
        """``target_scale``: {mean, std} of regression targets trained in standard units (data.json's):
        metrics are then computed in the targets' own units; the loss stays the trained one."""
        self.config = config
        self.model = model
        self.loss = config.loss.build(model.output_activation)
        self.logits = self.loss.from_logits
        self.optimizer = make_optimizer(config.optimizer)
        self.clip_norm = config.training.clip_norm
        self.clip_value = config.training.clip_value
        self.metrics = {name: _in_units(METRICS[name].fn, target_scale) for name in config.metrics}
        self.diagnostics = Diagnostics(model) if config.training.diagnostics else None

    def new_totals(self):
        return EpochTotals(self.metrics)

    def epoch_logs(self, totals, evaluations=None, lr=None):
        """An epoch's line of metrics.csv, without epoch and epoch_time_s: the training means in
        ``totals``, each held-out split's loss and metrics (``evaluations``: split name -> the values
        of ``evaluate``), and the learning rate if a schedule sets it (``lr``)."""
        logs = totals.logs(self.model.has_penalty, self.clip_norm is not None or self.clip_value is not None)
        for split, values in (evaluations or {}).items():
            logs.update({f"{split}_{name}": v for name, v in values.items()})
        if lr is not None:
            logs["lr"] = lr
        return logs

    def logged_columns(self, data):
        """The columns of ``epoch_logs`` in a run on ``data``, known before it trains: those of an
        epoch's logs made of zeros."""
        totals = self.new_totals()
        totals.seen = 1
        evaluations = {split: _scores(self.metrics) for split in held_out(data)}
        lr = 0.0 if self.config.training.schedule is not None else None
        return list(self.epoch_logs(totals, evaluations, lr))

    def set_epoch(self, epoch):
        """Set the learning rate of ``epoch`` (0-based) from the schedule; returns it."""
        training = self.config.training
        self.optimizer.lr = learning_rate(training.schedule, self.config.optimizer.lr, epoch, training.epochs)
        return self.optimizer.lr

    def train_step(self, x, y, totals, diagnose=False):
        """One step on a batch; adds to ``totals``; returns a diagnostics row if ``diagnose``."""
        model, loss, logits = self.model, self.loss, self.logits
        # One flat array each: the optimizer (and clipping) updates the whole network in a handful of
        # array operations instead of a handful per array -- bit for bit the same weights.
        params, grads = [model.flat_params], [model.flat_grads]
        data_loss = loss.forward(model.forward(x, training=True, logits=logits), y)
        penalty = model.penalty() if model.has_penalty else 0.0
        if not math.isfinite(data_loss + penalty):
            raise Diverged
        model.backward(loss.backward(), logits=logits)
        row = self.diagnostics.before_update() if diagnose else None
        clipped = False
        if self.clip_value is not None:
            clipped = clip_by_value(grads, self.clip_value)
        if self.clip_norm is not None:
            clipped = (clip_by_global_norm(grads, self.clip_norm) > self.clip_norm) or clipped
        self.optimizer.step(params, grads)
        if diagnose:
            row.update(self.diagnostics.after_update())
        n = len(x)
        totals.seen += n
        totals.clipped += clipped
        sums = totals.sums
        sums["data_loss"] += data_loss * n
        sums["penalty"] += penalty * n
        for name, fn in self.metrics.items():
            sums[name] += fn(loss.prediction, y) * n
        return row

    def evaluate(self, split, batch_size=4096):
        """Loss and metrics of the current weights on a split, in inference mode."""
        return evaluate(self.model, self.loss, self.metrics, split, batch_size)


def evaluate(model, loss, metrics, split, batch_size=4096):
    """Loss (with penalties) and metrics on all rows of ``split``, in inference mode and batches."""
    totals = _scores(metrics)
    for i in range(0, len(split), batch_size):
        x, y = split.x[i : i + batch_size], split.y[i : i + batch_size]
        n = len(x)
        out = model.forward(x, training=False, logits=loss.from_logits)
        totals["loss"] += loss.forward(out, y) * n
        for name, fn in metrics.items():
            totals[name] += fn(loss.prediction, y) * n
    logs = {k: v / len(split) for k, v in totals.items()}
    logs["loss"] += model.penalty()
    return logs


def _in_units(fn, target_scale):
    """Metric ``fn`` on predictions and targets taken back from standard units to their own."""
    if not target_scale:
        return fn
    mean, std = (np.asarray(target_scale[k]) for k in ("mean", "std"))
    return lambda prediction, y: fn(prediction * std + mean, y * std + mean)


def _scores(metrics):
    """The values ``evaluate`` gives, at zero."""
    return dict.fromkeys(["loss", *metrics], 0.0)


def held_out(data):
    """The splits evaluated after every epoch (the test split is kept for the end)."""
    return [name for name in data.splits if name not in ("train", "test")]


def prepare(config):
    """Data, model and trainer of a config, with every check done before anything is written.

    Draws from the run's generator in a fixed order: data first, then the initial weights.
    """
    rng = np.random.default_rng(config.seed)
    data = load_data(config, rng)
    model = build_model(config, input_width(config, data.n_features), rng)
    _check_batches(config, len(data.train), model)
    trainer = Trainer(config, model, data.meta.get("target_scale"))
    if config.training.early_stopping is not None:
        columns = trainer.logged_columns(data)
        monitor = config.training.early_stopping.monitor
        if monitor not in columns:
            raise config.error(
                ("training", "early_stopping", "monitor"),
                f"{monitor!r} is not logged by this run; logged: {', '.join(columns)}",
            )
    message = pairing_warning(config.loss, model.output_activation)
    if message:
        warnings.warn(message, NNTrainWarning, stacklevel=2)
    return rng, data, trainer


def _check_batches(config, n, model):
    if not model.needs_batch_statistics:
        return
    b = config.data.batch_size
    if b == 1 or n == 1:
        raise config.error(("data", "batch_size"), "batch norm needs at least 2 examples per training batch")
    if n % b == 1 and not config.data.drop_last:
        raise config.error(
            ("data", "batch_size"),
            f"with {n} training examples the last batch of every epoch has 1 example, which batch norm "
            "cannot normalise; set data.drop_last: true or another batch_size",
        )
