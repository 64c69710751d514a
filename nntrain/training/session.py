"""One stretch of training of a run directory: the epochs, checkpoints, signals and the run's files.

A ``Session`` is what ``fit`` and ``resume`` (``nntrain.training.fit``) hand a prepared run to. Its
pieces: the epoch (its steps, then the held-out splits and the epoch's logs); the replay that puts an
epoch interrupted mid-way back where it stopped; the checkpoint policy (every
``training.checkpoint_every`` epochs, else once a minute, and always on a signal); signal handling
(SIGINT / SIGTERM / SIGHUP finish the step, checkpoint and raise Interrupted; a second SIGINT stops at once);
and the end of a run (early stopping's best weights, the status, the final files).
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..data.prepare import Loader
from ..errors import Diverged, Interrupted, RunError
from ..runs.store import (
    DIAGNOSTICS,
    METRICS as METRICS_FILE,
    SUMMARY,
    WEIGHTS,
    iso_time,
    read_metrics,
    write_arrays,
    write_json,
    write_metrics,
)
from .callbacks import RUN_CALLBACKS, EarlyStopping
from .threads import AutoThreads
from ..nn.model import arrays_problem
from .checkpoint import CHECKPOINT, array_shape, optimizer_problem, remove_checkpoint, save_checkpoint
from .diagnostics import advice
from .signals import StopSignals
from .trainer import PENDING_ROWS, EpochTotals, held_out

FINAL = ("completed", "diverged", "pruned")  # statuses that end a run for good: no checkpoint is kept

# Without training.checkpoint_every, a checkpoint is written at the end of an epoch once this many
# seconds have passed since the last one (and always when a run is interrupted).
CHECKPOINT_SECONDS = 60.0


@dataclass
class FitResult:
    run_dir: Path
    summary: dict
    history: list  # one dict of logs per epoch
    trained: bool = True  # False when resume found the run already completed

    @property
    def status(self):
        return self.summary["status"]


class _StopRequested(Exception):
    def __init__(self, signum):
        self.signum = signum


class Session:
    """One stretch of training of a run directory: the epoch loop, checkpoints, signals, final files.

    ``summary`` is the run's summary.json as a dict, updated in place; ``history`` and
    ``diagnostics`` the rows of metrics.csv and diagnostics.csv so far (``restore`` reads them back).
    """

    def __init__(self, path, config, data, trainer, rng, summary, history=(), diagnostics=()):
        self.path, self.config, self.data, self.trainer, self.rng = path, config, data, trainer, rng
        self.summary, self.history, self.diagnostics = summary, list(history), list(diagnostics)
        training = config.training
        self.early = None if training.early_stopping is None else EarlyStopping(**training.early_stopping.model_dump())
        self.loader = Loader(data.train, config.data.batch_size, config.data.shuffle, config.data.drop_last, rng)
        summary["kernels"] = "numba" if trainer.plan(training.epochs * len(self.loader)) else "numpy"
        self.held_out = held_out(data)  # the splits evaluated after every epoch
        self.stops = StopSignals()
        self.last_checkpoint = time.monotonic()
        self.callbacks = []  # run()'s RUN_CALLBACKS that the config asks for
        self.threads = None  # run()'s AutoThreads, for training.threads: auto

    # ----------------------------------------------------------------------------------------------
    # The run, start to end

    def run(self, started, state=None, on_epoch=None, on_step=None):
        """Train from ``state`` (a restored checkpoint's; None: from the first epoch) to the end; a FitResult.

        ``started``: the time.time() this stretch began, for the wall time. The summary ends
        "completed", "diverged", "interrupted" (Interrupted or KeyboardInterrupt raised), "failed"
        (the exception raised) or what ``on_epoch`` returned (it ends the run then, e.g. "pruned");
        the run's files are written whatever happens.
        """
        summary = self.summary
        previous_wall = summary.get("wall_time_s", 0.0) if state else 0.0
        self.stops.catch()
        try:
            columns, done = self.trainer.logged_columns(self.data), state["epoch"] if state else 0
            self.callbacks = [c for c in (kind.start(self.path, self.config, columns, done) for kind in RUN_CALLBACKS) if c is not None]
            self.threads = AutoThreads.start(self.config, self.trainer.model, summary, done)  # None: a fixed count
            self._epochs(state, on_epoch, on_step)
            self._complete()
        except _StopRequested as stop:
            summary["status"] = "interrupted"
            message = f"interrupted; the run can go on with: nntrain fit --resume {self.path}"
            raise Interrupted(message, stop.signum, self.path) from None
        except KeyboardInterrupt:
            summary["status"] = "interrupted"
            raise
        except BaseException as e:
            summary.update(status="failed", message=f"{type(e).__name__}: {e}")
            raise
        finally:
            self.stops.release()
            self._finish(started, previous_wall)
            for callback in self.callbacks:
                callback.end(summary["status"])
        return FitResult(self.path, summary, self.history)

    def _epochs(self, state, on_epoch, on_step):
        """The epochs after ``state``'s (the first one from its step, if it stopped mid-epoch) until the
        configured number, early stopping or divergence."""
        epochs = self.config.training.epochs
        epoch = state["epoch"] if state else 0  # epochs done
        mid_epoch = state if state is not None and state["step"] else None
        while epoch < epochs:
            logs = self._epoch(epoch, mid_epoch, on_step)
            mid_epoch = None
            if logs is None:  # diverged
                return
            epoch += 1
            self.history.append({"epoch": epoch, **logs})
            if self.threads is not None:
                self.threads.after(epoch, logs["epoch_time_s"], self.summary)
            for callback in self.callbacks:
                callback.epoch(epoch, logs, self.trainer, self.diagnostics[-1:], self._diagnose_epoch(epoch))
            ended = on_epoch(epoch, logs) if on_epoch is not None else None
            if ended:  # the caller ends the run here, with this status (a search: "pruned")
                self.summary["status"] = ended
                return
            if self.early is not None and self.early.update(epoch, logs, self.trainer.model):
                self.summary["stopped_early"] = True
                return
            if self._checkpoint_due(epoch) and epoch < epochs:
                self._checkpoint(epoch, 0, None, None)

    def _complete(self):
        """A run that reached its end (its epochs, or early stopping) is completed, with early stopping's
        best weights; a diverged one keeps its status."""
        summary = self.summary
        if summary["status"] != "running":
            return
        summary["status"] = "completed"
        if self.early is not None:
            self.early.restore(self.trainer.model)
            summary.update(best_epoch=self.early.best_epoch, best={self.early.monitor: self.early.best})

    # ----------------------------------------------------------------------------------------------
    # One epoch

    def _epoch(self, epoch, mid_epoch, on_step):
        """Epoch ``epoch`` (0-based; from where ``mid_epoch``, a checkpoint's state, stopped in it): its
        steps, then the held-out splits. Its logs, or None if it diverged."""
        trainer = self.trainer
        lr = trainer.set_epoch(epoch)
        snapshot = {k: v.copy() for k, v in trainer.model.state_dict().items()}
        epoch_start = self.rng.bit_generator.state
        batches = iter(self.loader)
        totals, first_step = trainer.new_totals(), 0
        if mid_epoch is not None:
            epoch_start, totals, first_step = self._replay(batches, mid_epoch)
        t0 = time.perf_counter()
        diverged_at = self._steps(epoch, batches, first_step, epoch_start, totals, on_step)
        if diverged_at is not None:
            self._diverged(epoch + 1, diverged_at, snapshot)
            return None
        evaluations = {name: trainer.evaluate(self.data.splits[name]) for name in self.held_out}
        logs = trainer.epoch_logs(totals, evaluations, lr if self.config.training.schedule is not None else None)
        logs["epoch_time_s"] = time.perf_counter() - t0
        return logs

    def _replay(self, batches, state):
        """Mid-epoch: replay the epoch's shuffle from its starting state, skip the batches already done,
        then continue from the generator's state at the interruption. (epoch_start, totals, first_step)."""
        self.rng.bit_generator.state = state["rng_epoch_start"]
        for _ in range(state["step"]):
            next(batches)
        self.rng.bit_generator.state = state["rng"]
        return state["rng_epoch_start"], EpochTotals.from_json(state["totals"], state.get("pending")), state["step"]

    def _steps(self, epoch, batches, first_step, epoch_start, totals, on_step):
        """The epoch's steps from ``first_step`` (0-based), adding to ``totals``. None, or the step
        (1-based) whose loss or weights became non-finite."""
        trainer = self.trainer
        last = len(self.loader) - 1
        diagnose = trainer.diagnostics is not None and self._diagnose_epoch(epoch + 1)
        step = first_step - 1
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                for step, (x, y, w) in enumerate(batches, start=first_step):
                    row = trainer.train_step(x, y, totals, diagnose=diagnose and step == last, weight=w)
                    if row is not None:
                        self.diagnostics.append({"epoch": epoch + 1, **row})
                    if on_step is not None:
                        on_step(epoch + 1, step + 1)
                    self._stop_if_asked(epoch, step + 1, epoch_start, totals)
            if not np.isfinite(trainer.model.flat_params).all():
                raise Diverged
        except Diverged:
            return step + 1
        return None

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

    # ----------------------------------------------------------------------------------------------
    # Signals

    def _stop_if_asked(self, epoch, step, epoch_start, totals):
        """After a step: if a signal came, checkpoint where the epoch stands and stop."""
        if self.stops.received is not None:
            self._checkpoint(epoch, step, epoch_start, totals)
            raise _StopRequested(self.stops.received)

    # ----------------------------------------------------------------------------------------------
    # Checkpoints

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
        pending = totals.pending_arrays() if totals is not None else {}
        # The checkpoint's invariant (see nntrain.training.checkpoint): its logs are written first.
        self._write_logs()
        for callback in self.callbacks:
            callback.checkpoint()
        save_checkpoint(
            self.path, state, model=trainer.model.state_dict(), optimizer=trainer.optimizer.state_dict(), best=best, pending=pending
        )
        self.summary["checkpoint"] = {"epoch": epoch, "step": step}
        write_json(self.path / SUMMARY, self.summary)
        self.last_checkpoint = time.monotonic()

    def restore(self, state, groups):
        """Put the run back as it was at a checkpoint -- ``load_checkpoint``'s state and array groups:
        the model, the optimizer, the generator, early stopping, and the logs up to its epoch.

        RunError if the checkpoint does not fit the run's config, its files or itself; nothing is
        restored but the model's weights then.
        """
        model = self.trainer.model
        problem = model.load_state_dict(groups["model"])
        if problem:
            raise RunError(f"{self.path}: checkpoint does not fit config.yaml: {problem}")
        problem = self._checkpoint_problem(state, groups)
        if problem:
            raise RunError(f"{self.path / CHECKPOINT}: damaged checkpoint: {problem}")
        self._read_logs(state["epoch"], mid_epoch=state["step"] > 0)
        state["pending"] = groups["pending"]  # for the replay of the interrupted epoch
        self.trainer.optimizer.load_state_dict(groups["optimizer"], [model.flat_params])
        self.rng.bit_generator.state = state["rng"]
        if self._restores_early_stopping(state):
            self.early.load_state_dict(state["early_stopping"], groups["best"])

    def _pending_problem(self, pending):
        """Whether a checkpoint's pending rows fit the run: as many predictions (n, outputs) as
        targets and weights, fewer than a batch more than PENDING_ROWS; or None."""
        if not pending:
            return None
        n = len(pending.get("prediction", ()))
        trainer, split = self.trainer, self.data.train
        if not self.trainer.additive or set(pending) - {"prediction", "y", "w"} or ("w" in pending) != (split.w is not None):
            return f"{', '.join(sorted(pending))}, not what this run keeps"
        expected = {"prediction": (n, trainer.model.outputs), "y": (n, *split.y.shape[1:]), "w": (n,)}
        wrong = [k for k, v in pending.items() if v.shape != expected[k]]
        if wrong or not 0 < n < PENDING_ROWS + self.config.data.batch_size:
            return f"{wrong[0] if wrong else 'prediction'} of shape {pending[wrong[0] if wrong else 'prediction'].shape}"
        return None

    def _checkpoint_problem(self, state, groups):
        """What in a well-formed checkpoint (``load_checkpoint`` checked its form) does not fit this
        run: its position, its epoch's partial sums, the optimizer's state, the best weights. Or None."""
        epoch, step = state["epoch"], state["step"]
        if not (0 <= epoch <= self.config.training.epochs and 0 <= step <= len(self.loader)):
            return f"epoch {epoch}, step {step} out of range"
        if step and _shapes(state["totals"]["sums"]) != _shapes(self.trainer.new_totals().to_json()["sums"]):
            return f"totals: sums of {', '.join(state['totals']['sums'])}, not of the run's loss and metrics"
        problem = step and self._pending_problem(groups["pending"])
        if problem:
            return f"pending rows: {problem}"
        model = self.trainer.model
        problem = optimizer_problem(groups["optimizer"], self.trainer.optimizer, [model.flat_params])
        if problem:
            return f"optimizer state: {problem}"
        if self._restores_early_stopping(state) and groups["best"]:
            problem = arrays_problem(groups["best"], {k: v.shape for k, v in model.state_dict().items()})
            if problem:
                return f"early stopping's best weights: {problem}"
        return None

    def _restores_early_stopping(self, state):
        return self.early is not None and bool(state.get("early_stopping"))

    def _read_logs(self, epochs, mid_epoch=False):
        """metrics.csv and diagnostics.csv up to ``epochs`` epochs, which metrics.csv must have (rows of
        later epochs, written before a newer checkpoint was, are dropped: they come again); in
        ``mid_epoch``, also the diagnostics of the next epoch's steps already done."""
        self.history = [row for row in read_metrics(self.path) if row["epoch"] <= epochs]
        self.diagnostics = []
        if (self.path / DIAGNOSTICS).is_file():
            last = epochs + 1 if mid_epoch else epochs
            self.diagnostics = [row for row in read_metrics(self.path, DIAGNOSTICS) if row["epoch"] <= last]
        if len(self.history) != epochs:
            raise RunError(f"{self.path}: metrics.csv has {len(self.history)} epochs, the checkpoint {epochs}")

    # ----------------------------------------------------------------------------------------------
    # The run's files

    def _write_files(self):
        self._write_logs()
        write_json(self.path / SUMMARY, self.summary)

    def _write_logs(self):
        """metrics.csv, diagnostics.csv and weights.npz as they are now."""
        write_metrics(self.path / METRICS_FILE, self.history)
        if self.diagnostics:
            write_metrics(self.path / DIAGNOSTICS, self.diagnostics)
        write_arrays(self.path / WEIGHTS, self.trainer.model.state_dict())

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
            finished=iso_time(time.time()),
            nntrain_version=__version__,
        )
        if tip:
            summary["advice"] = tip
        if summary["status"] == "interrupted" and "checkpoint" in summary:
            # Files as of the checkpoint were written with it; only the summary changes.
            write_json(self.path / SUMMARY, summary)
            return
        self._write_files()
        if summary["status"] in FINAL:
            remove_checkpoint(self.path)
            summary.pop("checkpoint", None)
            write_json(self.path / SUMMARY, summary)


def _shapes(sums):
    """{name: shape} of an epoch's sums (as JSON has them): what a checkpoint's must match."""
    return {name: array_shape(value) for name, value in sums.items()}
