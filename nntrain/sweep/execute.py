"""Running a planned sweep (see ``nntrain.sweep.plan``): every variant a normal run, in parallel
processes on this machine or on a Dask cluster (``nntrain.sweep.pools``).

A sweep directory holds:

- one run directory per variant, named after its values (``optimizer.lr=0.1,seed=0``), exactly what
  ``nntrain fit`` writes, with ``sweep: null`` in its config.yaml;
- ``sweep.json``: the grid, where the runs ran, and per run its directory, values (as its config has
  them), status (pending, completed, diverged, failed, interrupted, cancelled), error, wall time and
  final metrics. It is rewritten as runs finish, so an interrupted sweep still lists what it did.

A variant's resolved config, as the plain data its config.yaml will hold, is all a worker receives. A
local worker writes the run into the sweep directory itself, as ``nntrain fit`` would; a Dask worker
sends the run's files back to the driver, which writes them. So results do not depend on the number
of workers or the order the runs finish in, and Dask workers need no shared filesystem -- except for
data that a config reads from a file (``data.path``), which every worker must find at the same path.
"""

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..config import FILE_SOURCES
from ..errors import NNTrainWarning, UsageError
from ..runs import store as runs
from .pools import DaskCluster, LocalPool, default_workers

SWEEP_FILE = "sweep.json"


@dataclass
class SweepResult:
    """``runs``: the sweep.json entries, in grid order."""

    sweep_dir: Path
    status: str  # completed, or interrupted (in SweepInterrupted.result)
    runs: list

    def run_dirs(self):
        """The run directories that were written (every run that started)."""
        return [self.sweep_dir / r["dir"] for r in self.runs if (self.sweep_dir / r["dir"]).is_dir()]

    def count(self, status):
        return sum(r["status"] == status for r in self.runs)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, raised after the finished runs and sweep.json are written (``result``)."""

    def __init__(self, result):
        super().__init__()
        self.result = result


def run_sweep(
    plan, *, sweep_dir=None, runs_root="runs", workers=None, scheduler=None, on_start=None, on_result=None, plots=False, kind="sweep"
):
    """Run every variant of ``plan`` and write the sweep directory; returns a SweepResult.

    Locally the runs go to ``workers`` processes (default: one per core); with ``scheduler``
    (``tcp://HOST:PORT``) to that Dask cluster. ``sweep_dir`` must not exist yet; default
    ``runs_root/<name>-<kind>-<time>``; ``kind`` ("sweep", or "cv" for ``nntrain cv``'s) also names
    the directory in errors (``--<kind>-dir``). ``on_start(sweep_dir, n_runs, backend)`` is called
    once the directory exists (``backend``: sweep.json's description of where the runs go),
    ``on_result(entry)`` with each run's sweep.json entry as it finishes. A failing run is recorded
    and the others go on. ``plots``: each run draws its curves.png (and decision_boundary.png), as
    ``fit(..., plots=True)``.

    Ctrl-C cancels the runs that have not started; local runs already running finish their step,
    write a checkpoint and come back "interrupted" (``nntrain fit --resume`` continues them; on Dask
    they are abandoned). The finished runs and sweep.json are written, then SweepInterrupted is raised.
    A script that calls this must guard its top level with ``if __name__ == "__main__":`` (the worker
    processes import the main module, as multiprocessing's do).
    """
    pool = _open_pool(plan, workers, scheduler)  # first: an unreachable scheduler leaves no directory
    with pool:
        path = runs.create_run_dir(f"{plan.name}-{kind}", sweep_dir, runs_root, what=kind)
        record = _Record(path, plan, pool.description)
        pending = _Pending(pool, record)
        try:
            if on_start is not None:
                on_start(path, len(plan.variants), pool.description)
            pending.submit(plan.variants, plots)
            pending.collect(on_result)
        except KeyboardInterrupt:
            record.status = "interrupted"
            pending.cancel()
            pending.collect()  # local runs already running stop after their step and come back marked interrupted
            raise SweepInterrupted(record.result()) from None
        except BaseException:  # a bug, or the driver's disk is full: say so in sweep.json
            record.status = "failed"
            raise
        else:
            record.status = "completed"
        finally:
            pending.abandon()
            record.close()
    return record.result()


def _open_pool(plan, workers, scheduler):
    """The pool the runs go to: ``workers`` local processes (at most one per run) or a Dask cluster."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: expected at least 1")
    if scheduler is None:
        return LocalPool(min(workers or default_workers(), len(plan.variants)))
    if workers is not None:
        raise UsageError("--workers is for sweeps on this machine; a Dask cluster has the workers it was started with")
    uses_files = sorted({v.config.data.path for v in plan.variants if v.config.data.source in FILE_SOURCES})
    if uses_files:
        warnings.warn(
            f"the Dask workers read {uses_files[0]}{' and more data files' if len(uses_files) > 1 else ''} "
            "themselves: it must exist at the same path on every worker",
            NNTrainWarning,
            stacklevel=3,  # run_sweep's caller
        )
    return DaskCluster(scheduler)


class _Pending:
    """The runs handed to a pool that have not come back: future -> the run's index in the plan."""

    def __init__(self, pool, record):
        self.pool = pool
        self.record = record
        self.futures = {}

    def submit(self, variants, plots):
        for i, variant in enumerate(variants):
            future = self.pool.submit(variant.config.model_dump(mode="json"), plots, self.record.path / variant.dirname)
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
        """Give up on what has not come back (after a second Ctrl-C, say); ``_Record.close`` marks them."""
        if self.futures:
            self.pool.cancel(list(self.futures))


def _outcome(future):
    """What a worker sent back; a run whose worker failed (died, or could not run nntrain) as a failed run."""
    try:
        return future.result()
    except Exception as e:  # not hidden: the run's error in sweep.json, with its type
        return {"status": "failed", "error": f"{type(e).__name__}: {e}".strip(), "files": {}}


class _Record:
    """sweep.json, and the run directories whose files a Dask worker sent back."""

    WRITE_EVERY_S = 1.0  # rewrite sweep.json at most this often while runs finish (and at the end)

    def __init__(self, path, plan, backend):
        self.path = path
        self.status = "running"
        self.doc = {
            "name": plan.name,
            "config": str(plan.config_path),
            "grid": plan.grid,
            "backend": backend,
            "status": self.status,
            "started": runs.iso_time(time.time()),
            "finished": None,
            "counts": {},
            "runs": [{"dir": v.dirname, "values": v.values, "status": "pending"} for v in plan.variants],
        }
        self.entries = self.doc["runs"]
        self.written = 0.0
        self.write()

    def finish(self, index, outcome):
        entry = self.entries[index]
        files = outcome.get("files") or {}
        if files:
            self._write_run(self.path / entry["dir"], files)
        summary = outcome.get("summary") or {}
        entry["status"] = outcome["status"]
        for key in ("error", "traceback"):
            if outcome.get(key):
                entry[key] = outcome[key]
        if summary.get("status") == "diverged":
            entry["message"] = summary.get("message")
        if summary:
            entry["wall_time_s"] = summary.get("wall_time_s")
            entry["final"] = summary.get("final", {})
        if time.monotonic() - self.written >= self.WRITE_EVERY_S:
            self.write()
        return entry

    @staticmethod
    def _write_run(run_dir, files):
        """The files a Dask worker sent back ({relative POSIX path: bytes}), summary.json last: a run
        directory with a final summary has all its files."""
        run_dir.mkdir(exist_ok=True)  # exists if Ctrl-C came while its files were written: write them again
        for name in sorted(files, key=lambda name: name == runs.SUMMARY):
            (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
            runs.write_bytes(run_dir / name, files[name])

    def cancel(self, index):
        self.entries[index]["status"] = "cancelled"

    def close(self):
        for entry in self.entries:
            if entry["status"] == "pending":
                # A second Ctrl-C while a run's files were written leaves a directory: say so.
                entry["status"] = "interrupted" if (self.path / entry["dir"]).exists() else "cancelled"
        self.doc["finished"] = runs.iso_time(time.time())
        self.write()

    def write(self):
        self.doc["status"] = self.status
        counts = {}
        for entry in self.entries:
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        self.doc["counts"] = counts
        runs.write_json(self.path / SWEEP_FILE, self.doc)
        self.written = time.monotonic()

    def result(self):
        return SweepResult(self.path, self.status, self.entries)
