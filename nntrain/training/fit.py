"""A run: config -> data -> model -> epochs of batches -> a run directory.

``fit`` is what ``nntrain fit`` calls, and works the same from Python::

    from nntrain.config import load_config
    from nntrain.training.fit import fit
    result = fit(load_config("configs/xor.yaml"), runs_root="runs")

Everything random -- data, initial weights, shuffling, dropout -- draws from one generator seeded with
the config's seed, in that order, so the same config and seed give the same weights bit for bit; and
since a checkpoint stores that generator's state, ``resume`` continues an interrupted run to the very
weights it would have reached uninterrupted. The session around the epochs writes the run's files,
checkpoints, and stops cleanly on SIGINT and SIGTERM.
"""

import signal
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from .callbacks import EarlyStopping
from .checkpoint import load_checkpoint, remove_checkpoint, save_checkpoint
from ..config import dump_config
from ..data.prepare import Loader
from .diagnostics import advice
from ..errors import Diverged, Interrupted, NNTrainError, NNTrainWarning, RunError
from ..nn.losses import classifies
from ..runs.store import (
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
from .trainer import EpochTotals, held_out, prepare

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
    from ..runs.inference import Predictor
    from ..runs.plots import write_run_plots

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
        self.held_out = held_out(data)  # the splits evaluated after every epoch
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
                evaluations = {name: trainer.evaluate(self.data.splits[name]) for name in self.held_out}
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
            message = f"interrupted; the run can go on with: nntrain fit --resume {self.path}"
            raise Interrupted(message, stop.signum, self.path) from None
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
