"""A run: config -> data -> model -> epochs of batches -> a run directory.

``fit`` is what ``nntrain fit`` calls, and works the same from Python::

    from nntrain.config import load_config
    from nntrain.training.fit import fit
    result = fit(load_config("configs/xor.yaml"), runs_root="runs")

Everything random -- data, initial weights, shuffling, dropout -- draws from one generator seeded with
the config's seed, in that order, so the same config and seed give the same weights bit for bit; and
since a checkpoint stores that generator's state, ``resume`` continues an interrupted run to the very
weights it would have reached uninterrupted. The BLAS uses one thread unless the config says otherwise
(``nntrain.training.threads``: the weights depend on the count). The session around the epochs (``nntrain.training.session``)
writes the run's files, checkpoints, and stops cleanly on SIGINT, SIGTERM and SIGHUP.
"""

import time
import warnings
from pathlib import Path

import numpy as np

from ..config import dump_config
from ..data.columns import inputs_of
from ..errors import Interrupted, NNTrainError, NNTrainWarning, RunError, stopped_by
from ..nn.losses import classifies
from ..runs.store import (
    CONFIG,
    DATA,
    SUMMARY,
    create_run_dir,
    iso_time,
    load_run_config,
    read_metrics,
    read_summary,
    write_json,
    write_text,
    writing,
)
from .checkpoint import load_checkpoint
from .session import FitResult, Session
from .threads import blas_threads, threads_of
from .trainer import prepare

__all__ = ["FitResult", "Interrupted", "fit", "resume"]  # Interrupted: what fit and resume raise on a signal

def fit(config, *, run_dir=None, runs_root="runs", on_start=None, on_epoch=None, on_step=None, plots=False):
    """Train ``config`` (an ExperimentConfig) and write the run directory; returns a FitResult.

    ``run_dir``: exactly this new directory; else ``runs_root/<name>-<time>``. ``on_start(run_dir)`` is
    called once the run directory exists (the CLI says where the run goes), ``on_epoch(epoch, logs)``
    is called after each epoch (the CLI's progress bar), ``on_step(epoch, step)`` after each step (both
    1-based). A non-finite loss stops training with status "diverged" and keeps the last finite weights.
    SIGINT / SIGTERM / SIGHUP finish the current step, write a checkpoint and raise Interrupted. ``plots``:
    write curves.png (and decision_boundary.png for 2-D classifiers) at the end -- about a second of
    matplotlib, so off by default here; the CLI turns it on unless --no-plots.
    """
    started = time.time()
    _check_extras(config)
    rng, data, trainer = prepare(config)
    path = create_run_dir(config.name, run_dir, runs_root)
    with writing(path):
        write_text(path / CONFIG, dump_config(config))
        if data.meta:
            write_json(path / DATA, data.meta)
        summary = {"status": "running", "name": config.name, "seed": config.seed, "started": iso_time(started)}
        summary.update(inputs_of(trainer.model, data.meta), threads=threads_of(config))
        write_json(path / SUMMARY, summary)
        if on_start is not None:
            on_start(path)
        session = Session(path, config, data, trainer, rng, summary)
        with blas_threads(threads_of(config)):
            result = session.run(started, on_epoch=on_epoch, on_step=on_step)
        if plots:
            _write_plots(path, config, trainer.model, data)
    return result


def check_begun(path):
    """RunError for a run killed while it wrote its first files (its config.yaml or summary.json is
    still a temporary file, or the directory is still empty): nothing to resume, and how to start over."""
    if path.is_dir() and not any(path.iterdir()):
        raise RunError(f"{path}: the run stopped before it wrote its first files (the directory is empty): nothing to resume; start it over with: nntrain fit CONFIG")
    for name in (CONFIG, SUMMARY):
        # A temporary file left half written, or a config.yaml without the summary written after it.
        stopped = (path / f".{name}.tmp").exists() or (name == SUMMARY and (path / CONFIG).is_file())
        if path.is_dir() and not (path / name).is_file() and stopped:
            again = f"nntrain fit {path / CONFIG}" if (path / CONFIG).is_file() else "nntrain fit CONFIG"
            raise RunError(f"{path}: the run stopped while it wrote its first files (no {name}): nothing to resume; start it over with: {again}")


def resume(run_dir, *, on_epoch=None, on_step=None, plots=False):
    """Continue an interrupted (or killed) run in its own directory up to its configured epochs.

    The final weights are bit-identical to those of the same run never interrupted. A completed run
    is returned as it is.
    """
    started = time.time()
    path = Path(run_dir)
    check_begun(path)
    config = load_run_config(path)
    _check_extras(config)
    with writing(path):
        summary = read_summary(path)
        if summary.get("status") == "completed":
            return FitResult(path, summary, read_metrics(path), trained=False)
        if summary.get("status") == "diverged":
            raise RunError(f"{path}: the run diverged; resuming would repeat it (change the config and fit anew)")
        state, groups = load_checkpoint(path)
        rng, data, trainer = prepare(config)
        session = Session(path, config, data, trainer, rng, summary)
        session.restore(state, groups)
        summary.update(status="running", resumed=summary.get("resumed", 0) + 1)
        write_json(path / SUMMARY, summary)
        with blas_threads(threads_of(config)):
            result = session.run(started, state=state, on_epoch=on_epoch, on_step=on_step)
        if plots:
            _write_plots(path, config, trainer.model, data)
    return result


def _check_extras(config):
    """UsageError, before anything is written, for an optional extra the config needs and this
    installation lacks (training.tensorboard: nntrain[tensorboard]; training.live: nntrain[report])."""
    if config.training.tensorboard:
        from ..export.tensorboard import require

        require()
    if config.training.live:
        from ..report import require

        require()


def _write_plots(path, config, model, data):
    """curves.png, and for a classifier of 2-D inputs decision_boundary.png in raw input units; a
    failure only warns. Ctrl-C here (the run's summary is final by now) raises Interrupted, saying
    that the run completed."""
    try:
        from ..runs.inference import Predictor
        from ..runs.plots import write_run_plots

        if data.n_features != 2 or not classifies(config.loss):
            write_run_plots(path)
            return
        predictor = Predictor(config, model, data.meta)
        x = predictor.raw(np.asarray(data.train.x))
        write_run_plots(path, predict=predictor.outputs, x=x, y=data.train.y)
    except NNTrainError as e:
        warnings.warn(f"plots not written: {e}", NNTrainWarning, stacklevel=2)
    except BaseException as e:
        signum = None if isinstance(e, SystemExit) else stopped_by(e)
        if signum is None:
            raise
        status = read_summary(path).get("status")
        raise Interrupted(f"interrupted while drawing the plots; the run itself is {status}: {path}", signum) from None
