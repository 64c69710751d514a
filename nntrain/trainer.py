"""Training: config -> data -> model -> epochs of batches -> a run directory.

``fit`` is what ``nntrain fit`` calls, and works the same from Python::

    from nntrain.config import load_config
    from nntrain.trainer import fit
    result = fit(load_config("configs/xor.yaml"), runs_root="runs")

One step: forward, loss (+ kernel penalties), backward, clip_value, clip_norm, optimizer update.
Everything random -- data, initial weights, shuffling, dropout -- draws from one generator seeded with
the config's seed, in that order, so the same config and seed give the same weights bit for bit; and
since a checkpoint stores that generator's state, ``resume`` continues an interrupted run to the very
weights it would have reached uninterrupted.
"""

import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .callbacks import EarlyStopping
from .checkpoint import load_checkpoint, remove_checkpoint, save_checkpoint
from .config import dump_config
from .data import Loader, load_data
from .diagnostics import Diagnostics, advice
from .errors import NNTrainError, RunError
from .layers import BatchNorm
from .losses import classifies, make_loss, pairing_warning
from .metrics import METRICS
from .model import build_model
from .optimizers import clip_by_global_norm, clip_by_value, make_optimizer
from .runs import (
    CONFIG,
    DATA,
    DIAGNOSTICS,
    METRICS as METRICS_FILE,
    SUMMARY,
    WEIGHTS,
    create_run_dir,
    load_run_config,
    read_metrics,
    read_summary,
    write_json,
    write_metrics,
    write_text,
    write_arrays,
)
from .schedules import learning_rate

# Without training.checkpoint_every, a checkpoint is written at the end of an epoch once this many
# seconds have passed since the last one (and always when a run is interrupted).
CHECKPOINT_SECONDS = 60.0


class NNTrainWarning(UserWarning):
    """Something works but is probably not what the user meant (e.g. a mismatched output/loss pair)."""


@dataclass
class FitResult:
    run_dir: Path
    summary: dict
    history: list  # one dict of logs per epoch
    trained: bool = True  # False when resume found the run already completed

    @property
    def status(self):
        return self.summary["status"]


class Interrupted(Exception):
    """Training stopped on SIGINT or SIGTERM after finishing its step; a checkpoint was written."""

    def __init__(self, signum, run_dir):
        self.signum, self.run_dir = signum, run_dir
        self.exit_code = 128 + signum
        super().__init__(f"interrupted; the run can go on with: nntrain fit --resume {run_dir}")


class Diverged(Exception):
    """A non-finite loss or weight: training stops at once."""


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

    def __init__(self, config, model):
        self.config = config
        self.model = model
        self.loss = make_loss(config.loss, model.output_activation)
        self.logits = self.loss.from_logits
        self.optimizer = make_optimizer(config.optimizer)
        self.clip_norm = config.training.clip_norm
        self.clip_value = config.training.clip_value
        self.metrics = {name: METRICS[name].fn for name in config.metrics}
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
    inputs = data.n_features
    if config.model.inputs is not None and config.model.inputs != inputs:
        raise config.error(("model", "inputs"), f"the data has {inputs} features, not {config.model.inputs}")
    model = build_model(config, inputs, rng)
    _check_batches(config, len(data.train), model)
    trainer = Trainer(config, model)
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
    if not any(isinstance(op, BatchNorm) for op in model.ops):
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


def fit(config, *, run_dir=None, runs_root="runs", on_start=None, on_epoch=None, on_step=None, plots=False):
    """Train ``config`` (an ExperimentConfig) and write the run directory; returns a FitResult.

    ``run_dir``: exactly this new directory; else ``runs_root/<name>-<time>``. ``on_start(run_dir)`` is
    called once the run directory exists (the CLI says where the run goes), ``on_epoch(epoch, logs)``
    is called after each epoch (the CLI's progress bar), ``on_step(epoch, step)`` after each step (both
    1-based). A non-finite loss stops training with status "diverged" and keeps the last finite weights.
    SIGINT / SIGTERM finish the current step, write a checkpoint and raise Interrupted. ``plots``:
    write curves.png (and decision_boundary.png for 2-D classifiers) at the end -- about a second of
    matplotlib, so off by default here; the CLI turns it on unless --no-plots.
    """
    started = time.time()
    rng, data, trainer = prepare(config)
    path = create_run_dir(config.name, run_dir, runs_root)
    write_text(path / CONFIG, dump_config(config))
    if data.meta:
        write_json(path / DATA, data.meta)
    summary = {"status": "running", "name": config.name, "seed": config.seed, "started": _iso(started)}
    write_json(path / SUMMARY, summary)
    if on_start is not None:
        on_start(path)
    session = _Session(path, config, data, trainer, rng, summary, history=[], diagnostics=[])
    result = session.run(started, on_epoch=on_epoch, on_step=on_step)
    if plots:
        _write_plots(path, config, trainer.model, data)
    return result


def resume(run_dir, *, on_epoch=None, on_step=None, plots=False):
    """Continue an interrupted (or killed) run in its own directory up to its configured epochs.

    The final weights are bit-identical to those of the same run never interrupted. A completed run
    is returned as it is.
    """
    started = time.time()
    path = Path(run_dir)
    config = load_run_config(path)
    summary = read_summary(path)
    if summary.get("status") == "completed":
        return FitResult(path, summary, read_metrics(path), trained=False)
    if summary.get("status") == "diverged":
        raise RunError(f"{path}: the run diverged; resuming would repeat it (change the config and fit anew)")
    state, groups = load_checkpoint(path)
    rng, data, trainer = prepare(config)
    model = trainer.model
    problem = model.load_state_dict(groups["model"])
    if problem:
        raise RunError(f"{path}: checkpoint does not fit config.yaml: {problem}")
    history = [row for row in read_metrics(path) if row["epoch"] <= state["epoch"]]
    diagnostics = []
    if (path / DIAGNOSTICS).is_file():
        diagnostics = [row for row in read_metrics(path, DIAGNOSTICS) if row["epoch"] <= state["epoch"]]
    session = _Session(path, config, data, trainer, rng, summary, history, diagnostics)
    try:
        trainer.optimizer.load_state_dict(groups["optimizer"], [model.flat_params])
        rng.bit_generator.state = state["rng"]
        if session.early is not None and state.get("early_stopping"):
            session.early.load_state_dict(state["early_stopping"], groups["best"])
        _check_resume_state(state, config, len(session.loader))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise RunError(f"{path / 'checkpoint.npz'}: damaged checkpoint: {type(e).__name__}: {e}") from None
    if len(history) != state["epoch"]:
        raise RunError(f"{path}: metrics.csv has {len(history)} epochs, the checkpoint {state['epoch']}")
    summary.update(status="running", resumed=summary.get("resumed", 0) + 1)
    write_json(path / SUMMARY, summary)
    result = session.run(started, state=state, on_epoch=on_epoch, on_step=on_step)
    if plots:
        _write_plots(path, config, model, data)
    return result


def _write_plots(path, config, model, data):
    """curves.png, and for a classifier of 2-D inputs decision_boundary.png in raw input units; a
    failure only warns."""
    from .inference import Predictor
    from .plots import write_run_plots

    try:
        if data.n_features != 2 or not classifies(config.loss):
            write_run_plots(path)
            return
        predictor = Predictor(config, model, data.meta)
        x = predictor.raw(np.asarray(data.train.x))
        write_run_plots(path, predict=predictor.outputs, x=x, y=data.train.y)
    except NNTrainError as e:
        warnings.warn(f"plots not written: {e}", NNTrainWarning, stacklevel=2)


def _check_resume_state(state, config, steps_per_epoch):
    """The checkpoint's own numbers must make sense before training continues from them."""
    epoch, step = state["epoch"], state["step"]
    if not (isinstance(epoch, int) and isinstance(step, int)):
        raise TypeError("epoch and step must be integers")
    if not (0 <= epoch <= config.training.epochs and 0 <= step <= steps_per_epoch):
        raise ValueError(f"epoch {epoch}, step {step} out of range")
    if step:
        np.random.default_rng().bit_generator.state = state["rng_epoch_start"]
        EpochTotals.from_json(state["totals"])


class _StopRequested(Exception):
    def __init__(self, signum):
        self.signum = signum


class _Session:
    """One stretch of training of a run directory: the epoch loop, checkpoints, signals, final files."""

    def __init__(self, path, config, data, trainer, rng, summary, history, diagnostics):
        self.path, self.config, self.data, self.trainer, self.rng = path, config, data, trainer, rng
        self.summary, self.history, self.diagnostics = summary, history, diagnostics
        training = config.training
        self.early = None if training.early_stopping is None else EarlyStopping(**training.early_stopping.model_dump())
        self.loader = Loader(data.train, config.data.batch_size, config.data.shuffle, config.data.drop_last, rng)
        self.signal = None
        self.last_checkpoint = time.monotonic()

    def run(self, started, state=None, on_epoch=None, on_step=None):
        config, trainer, model = self.config, self.trainer, self.trainer.model
        summary = self.summary
        previous_wall = summary.get("wall_time_s", 0.0) if state else 0.0
        epoch = state["epoch"] if state else 0  # epochs done
        handlers = self._catch_signals()
        try:
            while epoch < config.training.epochs:
                lr = trainer.set_epoch(epoch)
                snapshot = {k: v.copy() for k, v in model.state_dict().items()}
                epoch_start = self.rng.bit_generator.state
                batches = iter(self.loader)
                totals, first_step = trainer.new_totals(), 0
                if state is not None and state["step"]:
                    # Mid-epoch: replay the epoch's shuffle from its starting state, skip the batches
                    # already done, then continue from the generator's state at the interruption.
                    epoch_start = state["rng_epoch_start"]
                    self.rng.bit_generator.state = epoch_start
                    for _ in range(state["step"]):
                        next(batches)
                    self.rng.bit_generator.state = state["rng"]
                    totals, first_step = EpochTotals.from_json(state["totals"]), state["step"]
                state = None
                t0 = time.perf_counter()
                last = len(self.loader) - 1
                diagnose = trainer.diagnostics is not None and self._diagnose_epoch(epoch + 1)
                try:
                    with np.errstate(over="ignore", invalid="ignore"):
                        for step, (x, y) in enumerate(batches, start=first_step):
                            row = trainer.train_step(x, y, totals, diagnose=diagnose and step == last)
                            if row is not None:
                                self.diagnostics.append({"epoch": epoch + 1, **row})
                            if on_step is not None:
                                on_step(epoch + 1, step + 1)
                            if self.signal is not None:
                                self._checkpoint(epoch, step + 1, epoch_start, totals)
                                raise _StopRequested(self.signal)
                    if not np.isfinite(model.flat_params).all():
                        raise Diverged
                except Diverged:
                    self._diverged(epoch + 1, step + 1, snapshot)
                    break
                evaluations = {name: trainer.evaluate(self.data.splits[name]) for name in held_out(self.data)}
                logs = trainer.epoch_logs(totals, evaluations, lr if config.training.schedule is not None else None)
                logs["epoch_time_s"] = time.perf_counter() - t0
                epoch += 1
                self.history.append({"epoch": epoch, **logs})
                if on_epoch is not None:
                    on_epoch(epoch, logs)
                if self.early is not None and self.early.update(epoch, logs, model):
                    summary["stopped_early"] = True
                    break
                if self._checkpoint_due(epoch) and epoch < config.training.epochs:
                    self._checkpoint(epoch, 0, None, None)
            if summary["status"] == "running":
                summary["status"] = "completed"
                if self.early is not None:
                    self.early.restore(model)
                    summary.update(best_epoch=self.early.best_epoch, best={self.early.monitor: self.early.best})
        except _StopRequested as stop:
            summary["status"] = "interrupted"
            raise Interrupted(stop.signum, self.path) from None
        except KeyboardInterrupt:
            summary["status"] = "interrupted"
            raise
        except BaseException as e:
            summary.update(status="failed", message=f"{type(e).__name__}: {e}")
            raise
        finally:
            self._restore_signals(handlers)
            self._finish(started, previous_wall)
        return FitResult(self.path, summary, self.history)

    def _diverged(self, epoch, step, snapshot):
        model = self.trainer.model
        if not all(np.isfinite(v).all() for v in model.state_dict().values()):
            model.load_state_dict(snapshot)
        self.summary.update(
            status="diverged",
            diverged_at={"epoch": epoch, "step": step},
            message=(
                f"the loss became non-finite in epoch {epoch}, step {step}; try a lower learning rate, "
                "training.clip_norm, or standardised inputs (data.standardize: true)"
            ),
        )

    def _diagnose_epoch(self, epoch):
        """Diagnostics in the first and last epoch and about 100 epochs between: their cost stays small."""
        epochs = self.config.training.epochs
        return epoch == 1 or epoch == epochs or epoch % max(1, epochs // 100) == 0

    def _checkpoint_due(self, epoch):
        every = self.config.training.checkpoint_every
        if every is not None:
            return epoch % every == 0
        return time.monotonic() - self.last_checkpoint >= CHECKPOINT_SECONDS

    def _checkpoint(self, epoch, step, epoch_start, totals):
        """Save everything to continue after ``epoch`` epochs and ``step`` steps of the next one."""
        trainer = self.trainer
        state = {
            "epoch": epoch,
            "step": step,
            "rng": self.rng.bit_generator.state,
            "rng_epoch_start": epoch_start,
            "totals": totals.to_json() if totals is not None else None,
        }
        best = {}
        if self.early is not None:
            state["early_stopping"], best = self.early.state_dict()
        save_checkpoint(
            self.path, state, model=trainer.model.state_dict(), optimizer=trainer.optimizer.state_dict(), best=best
        )
        self.summary["checkpoint"] = {"epoch": epoch, "step": step}
        self._write_files()
        self.last_checkpoint = time.monotonic()

    def _write_files(self):
        write_metrics(self.path / METRICS_FILE, self.history)
        if self.diagnostics:
            write_metrics(self.path / DIAGNOSTICS, self.diagnostics)
        write_arrays(self.path / WEIGHTS, self.trainer.model.state_dict())
        write_json(self.path / SUMMARY, self.summary)

    def _finish(self, started, previous_wall):
        summary, model = self.summary, self.trainer.model
        trainable, non_trainable = model.count_params()
        tip = advice(self.diagnostics)
        summary.update(
            epochs=len(self.history),
            epochs_planned=self.config.training.epochs,
            final={k: v for k, v in self.history[-1].items() if k != "epoch"} if self.history else {},
            parameters=trainable,
            non_trainable_parameters=non_trainable,
            wall_time_s=round(previous_wall + time.time() - started, 3),
            finished=_iso(time.time()),
            nntrain_version=__version__,
        )
        if tip:
            summary["advice"] = tip
        if summary["status"] == "interrupted" and "checkpoint" in summary:
            # Files as of the checkpoint were written with it; only the summary changes.
            write_json(self.path / SUMMARY, summary)
            return
        self._write_files()
        if summary["status"] in ("completed", "diverged"):
            remove_checkpoint(self.path)
            summary.pop("checkpoint", None)
            write_json(self.path / SUMMARY, summary)

    def _catch_signals(self):
        """SIGINT / SIGTERM set a flag that the step loop checks; a second SIGINT interrupts at once."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def request_stop(signum, frame):
            self.signal = signum
            signal.signal(signal.SIGINT, signal.default_int_handler)

        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _restore_signals(self, handlers):
        for sig, handler in (handlers or {}).items():
            signal.signal(sig, handler)


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))
