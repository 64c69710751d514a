"""Running a planned sweep (see ``nntrain.sweep.plan``): every variant a normal run, in parallel
processes on this machine or on a Dask cluster (``nntrain.sweep.pools``).

A sweep directory holds:

- one run directory per variant, named after its values (``optimizer.lr=0.1,seed=0``), exactly what
  ``nntrain fit`` writes, with ``sweep: null`` in its config.yaml;
- ``sweep.json``: the grid, where the runs ran, and per run its directory, values (as its config has
  them), status (pending, completed, diverged, failed, interrupted, cancelled), error, wall time and
  final metrics. It is rewritten as runs finish, so an interrupted sweep still lists what it did.
- ``plan.json``: written once, before any run starts: every variant's resolved config and whether
  the runs draw their plots -- what ``resume_sweep`` needs, whatever became of the config file.

A sweep that stopped -- Ctrl-C, a signal, a killed driver, a machine gone down -- goes on with
``resume_sweep`` (``nntrain sweep --resume DIR``). Its run directories are the truth and sweep.json
their index: a run whose summary says completed, diverged or failed is kept; an interrupted run (or
a "running" one that no process writes any more) resumes from its checkpoint, exactly as ``nntrain
fit --resume`` would; a run stopped before its first checkpoint starts over in its directory; a run
that never started starts. One process drives a sweep directory at a time (its lock, as a run's).

A variant's resolved config, as the plain data its config.yaml will hold, is all a worker receives. A
local worker writes the run into the sweep directory itself, as ``nntrain fit`` would; a Dask worker
sends the run's files back to the driver, which writes them. So results do not depend on the number
of workers or the order the runs finish in, and Dask workers need no shared filesystem -- except for
data that a config reads from a file (``data.path``), which every worker must find at the same path.
"""

import contextlib
import queue
import threading
import warnings

from ..config import FILE_SOURCES
from ..errors import NNTrainWarning, UsageError
from ..runs import store as runs
from .pools import DaskCluster, LocalPool, default_workers
from .record import SweepRecord, SweepResult, reopen, saved_kind, write_plan

__all__ = ["SweepInterrupted", "SweepResult", "resume_sweep", "run_sweep"]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, raised after the finished runs and sweep.json are written (``result``)."""

    def __init__(self, result):
        super().__init__()
        self.result = result


def run_sweep(
    plan,
    *,
    sweep_dir=None,
    runs_root="runs",
    workers=None,
    scheduler=None,
    on_start=None,
    on_result=None,
    on_progress=None,
    plots=False,
    kind="sweep",
):
    """Run every variant of ``plan`` and write the sweep directory; returns a SweepResult.

    Locally the runs go to ``workers`` processes (default: one per core); with ``scheduler``
    (``tcp://HOST:PORT``) to that Dask cluster. ``sweep_dir`` must not exist yet; default
    ``runs_root/<name>-<kind>-<time>``; ``kind`` ("sweep", or "cv" for ``nntrain cv``'s) also names
    the directory in errors (``--<kind>-dir``). ``on_start(sweep_dir, n_runs, backend, todo)`` is
    called once the directory exists (``backend``: sweep.json's description of where the runs go;
    ``todo``: SweepResult.todo), ``on_result(entry)`` with each run's sweep.json entry as it
    finishes. A failing run is recorded and the others go on. ``plots``: each run draws its
    curves.png (and decision_boundary.png), as ``fit(..., plots=True)``. ``on_progress(dir, epoch,
    epochs, metric, value)``: how far a running run is -- ``epoch`` of its ``epochs`` done, its latest
    ``metric`` (val_loss if it logs one, else loss; a search's metric) -- after its first epoch and
    then at most every 0.5 s, called from a thread of the driver's; local runs only (a Dask run is
    heard of when it finishes).

    Ctrl-C cancels the runs that have not started; local runs already running finish their step,
    write a checkpoint and come back "interrupted" (on Dask they are abandoned). The finished runs
    and sweep.json are written, then SweepInterrupted is raised; ``resume_sweep`` goes on.
    A script that calls this must guard its top level with ``if __name__ == "__main__":`` (the worker
    processes import the main module, as multiprocessing's do).
    """
    pool = _open_pool([v.config for v in plan.variants], len(plan.variants), workers, scheduler)  # first: an unreachable scheduler leaves no directory
    with pool:
        path = runs.create_run_dir(f"{plan.name}-{kind}", sweep_dir, runs_root, what=kind)
        with runs.writing(path, kind):
            write_plan(path, plan, plots, kind)
            record = SweepRecord.new(path, plan, pool.description)
            jobs = dict.fromkeys(range(len(plan.variants)), "start")
            return _drive(pool, record, plan, jobs, plots, on_start, on_result, on_progress)


def resume_sweep(sweep_dir, *, workers=None, scheduler=None, on_start=None, on_result=None, on_progress=None, kind="sweep"):
    """Go on with the sweep in ``sweep_dir`` that stopped (see ``nntrain.sweep.record`` for what
    becomes of each run; a search's, see ``nntrain.sweep.search``); returns a SweepResult, whose ``trained`` is False when every run had
    finished. The arguments and Ctrl-C are ``run_sweep``'s; ``on_result`` is called first with the
    entries of the runs kept. The runs end with the weights they would have had never stopped."""
    if kind == "sweep" and saved_kind(sweep_dir) == "search":
        from .search import resume_search

        return resume_search(sweep_dir, workers=workers, scheduler=scheduler, on_start=on_start, on_result=on_result, on_progress=on_progress)
    plan, plots, record = reopen(sweep_dir, kind)
    with runs.writing(record.path, kind):
        jobs = record.settle()
        if not jobs:
            record.status = "completed"
            record.close()
            return record.result()
        with _open_pool([v.config for v in plan.variants], len(jobs), workers, scheduler) as pool:
            record.reopen(pool.description)
            return _drive(pool, record, plan, jobs, plots, on_start, on_result, on_progress)


def _drive(pool, record, plan, jobs, plots, on_start, on_result, on_progress=None):
    """Run ``jobs`` ({index in the plan: "start" | "restart" | "resume"}) on ``pool`` and record them."""
    pending = _Pending(pool, record, on_progress)
    with driving(record, pending):
        if on_start is not None:
            on_start(record.path, len(plan.variants), pool.description, record.todo)
        for entry in record.kept() if on_result is not None else ():
            on_result(entry)
        pending.submit(plan.variants, jobs, plots)
        pending.collect(on_result)
    return record.result()


@contextlib.contextmanager
def driving(record, pending, on_stopped=None):
    """The end of a drive of a sweep's runs, whatever ends it: completed; on Ctrl-C the runs not
    started cancelled, the running ones collected (local ones stop after their step and come back
    interrupted; ``on_stopped(entry)`` for each), then SweepInterrupted; failed on anything else (a
    bug, the driver's disk full: sweep.json says so). sweep.json is written last in every case."""
    try:
        yield
    except KeyboardInterrupt:
        record.status = "interrupted"
        pending.cancel()
        pending.collect(on_stopped)
        raise SweepInterrupted(record.result()) from None
    except BaseException:
        record.status = "failed"
        raise
    else:
        record.status = "completed"
    finally:
        pending.abandon()
        record.close()


def _open_pool(configs, n_runs, workers, scheduler):
    """The pool ``n_runs`` runs of ``configs`` go to: ``workers`` local processes (at most one per
    run) or a Dask cluster."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: expected at least 1")
    if scheduler is None:
        return LocalPool(min(workers or default_workers(), n_runs))
    if workers is not None:
        raise UsageError("--workers is for sweeps on this machine; a Dask cluster has the workers it was started with")
    uses_files = sorted({c.data.path for c in configs if c.data.source in FILE_SOURCES})
    if uses_files:
        warnings.warn(
            f"the Dask workers read {uses_files[0]}{' and more data files' if len(uses_files) > 1 else ''} "
            "themselves: it must exist at the same path on every worker",
            NNTrainWarning,
            stacklevel=3,  # run_sweep's (resume_sweep's) caller
        )
    return DaskCluster(scheduler)


class _Pending:
    """The runs handed to a pool that have not come back: future -> the run's index in the plan.
    ``on_progress``: see ``run_sweep``; ``metric``: the one the runs report (a search's)."""

    def __init__(self, pool, record, on_progress=None, metric=None):
        self.pool = pool
        self.record = record
        self.futures = {}
        self.metric = metric
        self.watch = _Watch(pool.progress, on_progress) if pool.progress is not None and on_progress is not None else None

    def submit(self, variants, jobs, plots, trial=None):
        """``jobs``: {index: "start" | "restart" | "resume"}; ``trial``: a search's pruning (see _worker)."""
        if self.watch is not None:
            self.watch.start()
        for i, action in jobs.items():
            variant = variants[i]
            config = variant.config.model_dump(mode="json")
            run_dir = self.record.path / variant.dirname
            future = self.pool.submit(config, plots, run_dir, resume=action == "resume", trial=trial, metric=self.metric)
            self.futures[future] = i

    def collect(self, on_result=None):
        """Record each run as it comes back, until none is pending; ``on_result(entry)`` after each."""
        for future in self.pool.as_completed(list(self.futures)):
            entry = self.record.finish(self.futures[future], _outcome(future))
            del self.futures[future]  # only now: Ctrl-C while its files were written leaves it to the next collect
            if on_result is not None:
                on_result(entry)

    def cancel(self):
        """Stop the pool; the runs that never started are recorded as cancelled."""
        for future in self.pool.cancel(list(self.futures)):
            self.record.cancel(self.futures.pop(future))

    def abandon(self):
        """Give up on what has not come back (after a second Ctrl-C, say); ``SweepRecord.close`` marks
        them. No more progress is reported."""
        if self.watch is not None:
            self.watch.stop()
        if self.futures:
            self.pool.cancel(list(self.futures))


class _Watch:
    """A thread of the driver that hands each report of a running run, from ``progress`` (the pool's
    queue), to ``on_progress(dir, epoch, epochs, metric, value)``, until ``stop()``."""

    POLL = 0.1  # seconds: how soon the thread sees stop()

    def __init__(self, progress, on_progress):
        self.progress, self.on_progress = progress, on_progress
        self.stopped = threading.Event()
        self.thread = None

    def start(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._drain, name="nntrain-sweep-progress", daemon=True)
            self.thread.start()

    def _drain(self):
        while not self.stopped.is_set():
            try:
                report = self.progress.get(timeout=self.POLL)
            except queue.Empty:
                continue
            except (OSError, ValueError, EOFError):  # the queue is closed: the pool is gone
                return
            self.on_progress(*report)

    def stop(self):
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=1.0)


def _outcome(future):
    """What a worker sent back; a run whose worker failed (died, or could not run nntrain) as a failed run."""
    try:
        return future.result()
    except Exception as e:  # not hidden: the run's error in sweep.json, with its type
        return {"status": "failed", "error": f"{type(e).__name__}: {e}".strip(), "files": {}}
