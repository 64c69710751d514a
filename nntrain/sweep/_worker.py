"""What runs in a sweep's worker processes: one resolved config in (as plain data, the dict that
``model_dump(mode="json")`` gives), one run out -- written into the sweep directory by a local worker,
sent back to the driver as files by a Dask worker.

``execute`` is the whole job of a worker, local or on Dask. The local pool's workers are forked from
a server process that imported this module (see ``nntrain.sweep._forkserver``), so what every run needs is
loaded here, once, rather than in every worker: numpy's generators, threadpoolctl, and the config's
validator, which pydantic otherwise builds at a process's first validation (tens of milliseconds,
about as long as a whole 500-epoch XOR run takes to train).
"""

import contextlib
import math
import queue
import signal
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy.random  # noqa: F401  (imported here, not at each run's first generator)
from threadpoolctl import threadpool_limits

from ..runs import store as runs
from ..config import ExperimentConfig
from ..errors import NNTrainError, NNTrainWarning, RunError
from ..training.fit import Interrupted, fit, resume as resume_run

ExperimentConfig.model_rebuild()  # the validator, built now (see the module's docstring)


REPORT_SECONDS = 0.5  # a local run's progress, at most this often (see ``reporting``)


def execute(config, plots=False, should_stop=None, run_dir=None, resume=False, files=None, trial=None, report=None):
    """Run one resolved config; returns its status, error, summary and files.

    With ``run_dir`` (a local worker, which shares the driver's disk) the run is written there, exactly
    as ``nntrain fit`` writes one, and ``files`` is empty. Without it (a Dask worker) the run goes to a
    temporary directory and ``files`` maps each of its files (relative POSIX path) onto its bytes, for
    the driver to write; nothing is left on the worker. ``resume``: go on with the stopped run in
    ``run_dir``, as ``nntrain fit --resume`` does; a Dask worker gets the run's ``files`` instead
    (they are its run to resume). ``should_stop()`` is asked after every step (main thread only).
    ``trial``: a search's pruning (``pruning``), asked after every epoch; ``report``: an ``on_epoch``
    that says how far the run is (``reporting``), called before the pruning.
    """
    on_step = None
    if should_stop is not None:

        def on_step(epoch, step):
            if should_stop():
                # fit's own stop request: finish the step, write a checkpoint, raise Interrupted. SIGTERM,
                # not SIGINT: after a Ctrl-C fit takes a second SIGINT as "stop at once, no checkpoint".
                signal.raise_signal(signal.SIGTERM)

    outcome = {"status": "failed", "files": {}}
    send_files = run_dir is None
    with contextlib.ExitStack() as stack:
        if send_files:
            run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nntrain-sweep-"))) / "run"
            # The files are read back and sent to the driver, which writes them durably: here they
            # need not wait for the disk.
            stack.enter_context(runs.scratch_files())
            if files:
                _write_files(run_dir, files)
                resume = True
        try:
            on_epoch = _in_turn(report, pruning(trial, config["training"]["epochs"]) if trial is not None else None)
            if resume:
                resume_run(run_dir, on_epoch=on_epoch, on_step=on_step, plots=plots)
            else:
                # Validated without a file name: an error names the field, not a line of a text the user never saw.
                fit(ExperimentConfig.model_validate(config), run_dir=run_dir, on_epoch=on_epoch, on_step=on_step, plots=plots)
        except (Interrupted, KeyboardInterrupt):
            pass  # the summary says "interrupted"
        except NNTrainError as e:
            outcome["error"] = str(e)
        except Exception as e:  # a bug: keep the traceback in sweep.json, let the other runs go on
            outcome["error"] = f"{type(e).__name__}: {e}"
            outcome["traceback"] = traceback.format_exc()
        if send_files and run_dir.is_dir():
            outcome["files"] = runs.read_files(run_dir)
        try:
            outcome["summary"] = runs.read_summary(run_dir)
            outcome["status"] = outcome["summary"]["status"]
        except RunError:  # fit stopped before it wrote one: a config error, say
            pass
    return outcome


PRUNE_WARMUP = 0.1  # a trial is not judged in its first tenth of epochs: early curves cross


def pruning(trial, epochs):
    """``on_epoch`` of a search's trial with pruning: Optuna's MedianPruner, in a study of this worker's
    own that holds the curves of the trials finished before this one's batch (``trial["history"]``:
    [{epoch: value}]), judges the trial's metric after every epoch past the first tenth of its
    ``epochs`` -- so the verdict depends on nothing that is still running, and the run ends "pruned"
    at the end of the epoch it falls behind in."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner(n_warmup_steps=int(PRUNE_WARMUP * epochs))
    study = optuna.create_study(direction=trial["direction"], pruner=pruner)
    for curve in trial["history"]:
        if curve:
            last = curve[max(curve)]
            study.add_trial(optuna.trial.create_trial(value=last, intermediate_values=curve, params={}, distributions={}))
    judged = study.ask()
    metric = trial["metric"]

    def on_epoch(epoch, logs):
        value = logs.get(metric)
        if value is None or not math.isfinite(value):
            return None
        judged.report(value, epoch)
        return "pruned" if judged.should_prune() else None

    return on_epoch


def reporting(progress, name, epochs, metric=None, clock=time.monotonic, every=REPORT_SECONDS):
    """``on_epoch`` that puts ``(name, epoch, epochs, metric, value)`` on ``progress`` (a queue the driver
    drains) after the first epoch, then at most every ``every`` seconds: the run ``name`` has done
    ``epoch`` of its ``epochs``, and its latest ``metric`` (None: val_loss if it logs one, else loss) is
    ``value``. It never waits: a report that finds the queue full is dropped -- the next one tells more."""
    last = -math.inf

    def on_epoch(epoch, logs):
        nonlocal last
        now = clock()
        if now - last < every:
            return None
        last = now
        shown = metric or ("val_loss" if "val_loss" in logs else "loss")
        value = logs.get(shown)
        try:
            progress.put_nowait((name, epoch, epochs, shown, None if value is None else float(value)))
        except queue.Full:
            pass
        return None

    return on_epoch


def _in_turn(first, second):
    """One ``on_epoch`` calling ``first`` then ``second`` (either may be None), with ``second``'s verdict."""
    if first is None or second is None:
        return first or second

    def on_epoch(epoch, logs):
        first(epoch, logs)
        return second(epoch, logs)

    return on_epoch


def _write_files(run_dir, files):
    """A run's files ({relative POSIX path: bytes}) into ``run_dir``, to go on with it."""
    for name, data in files.items():
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_bytes(data)


_STOP = None  # the local pool's stop flag (shared memory), in each worker process
_PROGRESS = None  # the local pool's progress queue (see ``reporting``), or None


def init_local_worker(stop, progress=None):
    """Set up a worker of the local pool, once, before its first run (``progress``: the queue its runs
    report to)."""
    global _STOP, _PROGRESS
    _STOP, _PROGRESS = stop, progress
    if progress is not None:
        progress.cancel_join_thread()  # a worker that ends never waits for reports nobody reads
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    # One BLAS thread per worker: the workers already fill the cores, and the same thread count
    # whatever the number of workers keeps the arithmetic, and so the weights, the same (Dask's
    # workers do the same by default).
    threadpool_limits(1)
    # The driver warns once per sweep about what every run would warn about.
    warnings.filterwarnings("ignore", category=NNTrainWarning)


def execute_local(config, plots, run_dir, resume=False, trial=None, metric=None):
    """A run in the local pool, written to ``run_dir`` (``resume``: the stopped run there goes on;
    ``trial``: a search's pruning; ``metric``: the one its progress reports, see ``reporting``):
    "cancelled" if the driver asked to stop before it started."""
    if _STOP.value:
        return {"status": "cancelled", "files": {}}
    report = None
    if _PROGRESS is not None:
        report = reporting(_PROGRESS, Path(run_dir).name, config["training"]["epochs"], metric)
    return execute(config, plots, should_stop=lambda: _STOP.value, run_dir=run_dir, resume=resume, trial=trial, report=report)
