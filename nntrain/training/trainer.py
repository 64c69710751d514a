"""The training step: a model, its loss and optimizer, and what one step and one epoch log.

One step: forward, loss (+ kernel penalties), backward, clip_value, clip_norm, optimizer update, with
the network's parameters and gradients as one flat array each. ``prepare`` makes the data, model and
trainer of a config, with every check done before a run directory exists; ``nntrain.training.fit`` runs the
epochs and writes the run.
"""

import math
import warnings

import numpy as np

from ..data.prepare import Loader, load_data
from .diagnostics import Diagnostics
from ..errors import Diverged, NNTrainNote, NNTrainWarning
from ..nn.losses import pairing_warning
from ..nn.metrics import BINARY, REGRESSION, Batch
from ..nn.model import build_model, input_width
from ..nn import kernels
from ..nn.optimizers import clip_by_global_norm, clip_by_value, make_optimizer
from ..nn.schedules import learning_rate


# A step keeps its predictions; the metrics' stats are taken from the pending ones once they hold this
# many rows (and at the epoch's end): a few NumPy calls on 2,048 rows instead of a few per step. The
# boundaries depend only on the epoch's batch sizes, and a checkpoint keeps the pending rows, so a
# resumed run adds the same numbers in the same groups as one never interrupted.
PENDING_ROWS = 2048


class EpochTotals:
    """One epoch's sums so far: batch-size-weighted data loss and penalty, each additive metric's
    stats (``nntrain.nn.metrics``), examples seen and steps clipped; and ``pending``, the
    (predictions, targets, weights) of the steps whose stats are not taken yet."""

    def __init__(self, metrics):
        self.sums = {"data_loss": 0.0, "penalty": 0.0, **{m.key: m.zeros() for m in metrics}}
        self.seen = self.clipped = 0
        self.pending, self.pending_rows = [], 0

    def to_json(self):
        """The sums as JSON; the pending rows are ``pending_arrays``' (a checkpoint keeps them as arrays)."""
        sums = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.sums.items()}
        return {"sums": sums, "seen": self.seen, "clipped": self.clipped}

    def pending_arrays(self):
        """{"prediction", "y"[, "w"]}: the pending rows, concatenated (empty: {})."""
        if not self.pending:
            return {}
        if len(self.pending) == 1:  # an epoch of one step, or a checkpoint's rows: nothing to join
            (prediction, y, w), = self.pending
            return {"prediction": prediction, "y": y, **({} if w is None else {"w": w})}
        predictions, ys, ws = zip(*self.pending)
        arrays = {"prediction": np.concatenate(predictions), "y": np.concatenate(ys)}
        if ws[0] is not None:
            arrays["w"] = np.concatenate(ws)
        return arrays

    @classmethod
    def from_json(cls, state, pending=None):
        """The totals of ``to_json``'s ``state`` and ``pending_arrays``' ``pending``."""
        totals = cls([])
        totals.sums = {str(k): np.asarray(v, np.float64) if isinstance(v, list) else float(v) for k, v in state["sums"].items()}
        totals.seen, totals.clipped = int(state["seen"]), int(state["clipped"])
        if pending:
            totals.pending = [(pending["prediction"], pending["y"], pending.get("w"))]
            totals.pending_rows = len(pending["prediction"])
        return totals


class Trainer:
    """The model, its loss and optimizer, and the training step that updates them."""

    def __init__(self, config, model, target_scale=None, classes=None):
        """``target_scale``: {mean, std} of regression targets trained in standard units (data.json's):
        metrics are then computed in the targets' own units; the loss stays the trained one.
        ``classes``: the class names (data.json's), which per-class metrics are named after."""
        self.config = config
        self.model = model
        self.loss = config.loss.build(model.output_activation)
        self.logits = self.loss.from_logits
        self.optimizer = make_optimizer(config.optimizer)
        self.clip_norm = config.training.clip_norm
        self.clip_value = config.training.clip_value
        self.metrics = [m.build(config.task, metric_names(config, model.outputs, classes)) for m in config.metrics]
        self.additive = [m for m in self.metrics if not m.ranking]  # logged for training too
        self.in_units = _in_units(target_scale)
        self.diagnostics = Diagnostics(model) if config.training.diagnostics else None

    def plan(self, steps):
        """Say how many steps the run takes: its optimizer then updates with compiled kernels where
        they pay (``nntrain.nn.kernels``; the same weights either way). Returns whether it does."""
        self.optimizer.fused = kernels.worth_it(self.model.flat_params.size, steps)
        return self.optimizer.fused

    def new_totals(self):
        return EpochTotals(self.additive)

    def epoch_logs(self, totals, evaluations=None, lr=None):
        """An epoch's line of metrics.csv, without epoch and epoch_time_s: the training means in
        ``totals`` -- loss (data loss + penalty), [data_loss, penalty], metrics, [clipped_steps] --,
        each held-out split's loss and metrics (``evaluations``: split name -> the values of
        ``evaluate``), and the learning rate if a schedule sets it (``lr``)."""
        self.take_stats(totals)
        sums, seen = totals.sums, totals.seen
        data_loss, penalty = sums["data_loss"] / seen, sums["penalty"] / seen
        logs = {"loss": data_loss + penalty}
        if self.model.has_penalty:
            logs.update(data_loss=data_loss, penalty=penalty)
        for metric in self.additive:
            logs.update(metric.result(sums[metric.key]))
        if self.clip_norm is not None or self.clip_value is not None:
            logs["clipped_steps"] = totals.clipped
        for split, values in (evaluations or {}).items():
            logs.update({f"{split}_{name}": v for name, v in values.items()})
        if lr is not None:
            logs["lr"] = lr
        return logs

    def logged_columns(self, data):
        """The columns of ``epoch_logs`` in a run on ``data``, known before it trains."""
        columns = ["loss"] + (["data_loss", "penalty"] if self.model.has_penalty else [])
        columns += [c for m in self.additive for c in m.columns]
        if self.clip_norm is not None or self.clip_value is not None:
            columns.append("clipped_steps")
        for split in held_out(data):
            columns += [f"{split}_{c}" for c in ["loss", *(c for m in self.metrics for c in m.columns)]]
        if self.config.training.schedule is not None:
            columns.append("lr")
        return columns

    def set_epoch(self, epoch):
        """Set the learning rate of ``epoch`` (0-based) from the schedule; returns it."""
        training = self.config.training
        self.optimizer.lr = learning_rate(training.schedule, self.config.optimizer.lr, epoch, training.epochs)
        return self.optimizer.lr

    def train_step(self, x, y, totals, diagnose=False, weight=None):
        """One step on a batch (``weight``: its rows' weights in the loss, or None); adds to
        ``totals``; returns a diagnostics row if ``diagnose``."""
        model, loss, logits = self.model, self.loss, self.logits
        # One flat array each: the optimizer (and clipping) updates the whole network in a handful of
        # array operations instead of a handful per array -- bit for bit the same weights.
        params, grads = [model.flat_params], [model.flat_grads]
        data_loss = loss.forward(model.forward(x, training=True, logits=logits), y, weight)
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
        if self.additive:
            totals.pending.append((loss.prediction.copy(), y, weight))  # a copy: the buffer is the loss's
            totals.pending_rows += n
            if totals.pending_rows >= PENDING_ROWS:
                self.take_stats(totals)
        return row

    def take_stats(self, totals):
        """Add the pending rows' stats to the sums."""
        if not totals.pending:
            return
        arrays = totals.pending_arrays()
        add_stats(totals.sums, self.additive, *self.in_units(arrays["prediction"], arrays["y"]), arrays.get("w"))
        totals.pending, totals.pending_rows = [], 0

    def evaluate(self, split, batch_size=4096):
        """Loss and metrics of the current weights on a split, in inference mode."""
        return evaluate(self.model, self.loss, self.metrics, split, batch_size, self.in_units)


def evaluate(model, loss, metrics, split, batch_size=4096, in_units=None):
    """Loss (with penalties; weighted by the split's weights where it has them) and metrics on all
    rows of ``split``, in inference mode and batches. ``in_units``: (prediction, y) -> the same in
    the targets' units, for the metrics."""
    in_units = in_units or _in_units(None)
    loss_sum = weights = 0.0
    additive = [m for m in metrics if not m.ranking]
    ranked = [m for m in metrics if m.ranking]
    sums = {m.key: m.zeros() for m in additive}
    outputs, targets = [], []
    for x, y, w in Loader(split, batch_size, shuffle=False, drop_last=False, rng=None):
        out = model.forward(x, training=False, logits=loss.from_logits)
        batch_weight = len(x) if w is None else float(w.sum())
        loss_sum += loss.forward(out, y, w) * batch_weight
        weights += batch_weight
        prediction, y = in_units(loss.prediction, y)
        if additive:
            add_stats(sums, additive, prediction, y, w)
        if ranked:
            outputs.append(np.array(prediction))  # a copy: the loss's buffer is reused by the next batch
            targets.append(y)
    logs = {"loss": loss_sum / weights + model.penalty()}
    for metric in metrics:
        if metric.ranking:
            logs.update(metric.values(np.concatenate(outputs), np.concatenate(targets), split.w))
        else:
            logs.update(metric.result(sums[metric.key]))
    return logs


def add_stats(sums, metrics, prediction, y, weight):
    """Add each additive metric's stats of a batch to ``sums`` (metric key -> array); what metrics
    share (the classes, the confusion matrix) is computed once (``Batch``)."""
    batch = Batch(metrics[0].task, prediction, y, weight)
    for metric in metrics:
        sums[metric.key] += metric.stats(batch)


def metric_names(config, units, classes=None):
    """What a run's metrics are named after: its class names (a binary classifier's two; default
    0, 1, ...), or for regression its targets."""
    task = config.task
    if task == REGRESSION:
        return [f"y{j + 1}" for j in range(units)] if units > 1 else ["y"]
    n = 2 if task == BINARY else units
    return list(classes) if classes and len(classes) == n else [str(k) for k in range(n)]


def _in_units(target_scale):
    """(prediction, y) -> (prediction, y) taken back from standard units to the targets' own."""
    if not target_scale:
        return lambda prediction, y: (prediction, y)
    mean, std = (np.asarray(target_scale[k]) for k in ("mean", "std"))
    return lambda prediction, y: (prediction * std + mean, y * std + mean)


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
    trainer = Trainer(config, model, data.meta.get("target_scale"), data.meta.get("classes"))
    _check_ranking(config, trainer, data)
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


def _check_ranking(config, trainer, data):
    """A ranking metric (roc_auc, ...) is computed on the held-out splits, which need every class:
    a ConfigError if one lacks a class, a note if there is no held-out split (eval computes it)."""
    splits = held_out(data)
    for i, metric in enumerate(trainer.metrics):
        if not metric.ranking:
            continue
        if not splits:
            warnings.warn(
                f"{metric.key} is logged for held-out splits, and this run has none (set data.split.val); nntrain eval computes it",
                NNTrainNote,
                stacklevel=3,
            )
        for split in splits:
            absent = metric.absent(data.splits[split].y)
            if absent:
                raise config.error(
                    ("metrics", i),
                    f"{metric.key} needs every class in the {split} split, which has no rows of class {absent[0]!r}; "
                    f"a larger data.split.{split} may hold one",
                )


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
