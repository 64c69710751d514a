"""Where a sweep's runs run: a local process pool or a Dask cluster, behind one small interface.

A pool is a context manager with ``description`` (sweep.json's ``backend``), ``size`` (its workers),
``submit(config, plots, run_dir, resume, trial, metric)`` -> a future of the worker's outcome (see ``nntrain.sweep._worker.execute``),
``as_completed(futures)``, ``cancel(futures)`` -> the futures that will never run, and ``progress``: a
queue of the running runs' reports (see ``nntrain.sweep._worker.reporting``), or None where the runs
report nothing until they finish (Dask).

The local pool's workers are forked from a server that imported this module (see
``nntrain.sweep._forkserver``): so it imports what a local worker needs, the worker's own module and
what the worker unpickles.
"""

# What a local worker unpickles: loaded once in the forkserver rather than in every worker.
import multiprocessing.popen_forkserver
import multiprocessing.queues
import multiprocessing.sharedctypes
import multiprocessing.synchronize  # noqa: F401
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from ..errors import RunError, UsageError
from ..runs.store import read_files
from . import _forkserver as forkserver
from ._worker import execute, execute_local, init_local_worker

SCHEDULER_TIMEOUT = 5.0  # seconds to reach a Dask scheduler


def default_workers():
    """The cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class LocalPool:
    """``workers`` processes on this machine, forked from a server process that loaded what every run
    needs once (see nntrain.sweep._forkserver).

    Idle workers ignore SIGINT: Ctrl-C is the driver's. The driver sets a flag that a queued run
    sees before it starts (it comes back "cancelled") and a running one after each step: fit then
    writes a checkpoint and stops, as on SIGTERM (it comes back "interrupted", with its files).
    The running runs report how far they are to ``progress``, a queue the driver drains.
    """

    PROGRESS_SIZE = 256  # reports waiting at most (a few kB: the workers' writes never fill the pipe)

    def __init__(self, workers):
        context = forkserver.start()
        # A flag in shared memory, read without a lock: every step of every run reads it, and a lock
        # shared by all workers would make them wait for each other.
        self.stop = context.RawValue("b", 0)
        self.progress = context.Queue(self.PROGRESS_SIZE)
        self.executor = ProcessPoolExecutor(
            workers, mp_context=context, initializer=init_local_worker, initargs=(self.stop, self.progress)
        )
        self.description = {"kind": "local", "workers": workers}
        self.size = workers

    def submit(self, config, plots, run_dir, resume=False, trial=None, metric=None):
        """Run ``config`` in a worker, which writes its run to ``run_dir`` itself (``resume``: goes on
        with the run there; ``trial``: a search's pruning; ``metric``: the one its progress reports)."""
        return self.executor.submit(execute_local, config, plots, run_dir, resume, trial, metric)

    def as_completed(self, futures):
        return as_completed(futures)

    def cancel(self, futures):
        """Stop everything; returns the futures that never started."""
        self.stop.value = 1
        return [f for f in futures if f.cancel()]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.value = 1
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.progress.close()


class DaskCluster:
    """The workers of a Dask distributed scheduler (``tcp://HOST:PORT``); needs ``nntrain[dask]`` here and
    nntrain on the workers. Its runs report nothing until they finish (``progress`` is None)."""

    progress = None

    def __init__(self, address):
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs Dask: pip install 'nntrain[dask]'") from None
        try:
            self.client = Client(address, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
        except ValueError as e:  # a malformed address
            raise UsageError(f"--scheduler {address}: {e}; expected tcp://HOST:PORT") from None
        except (OSError, TimeoutError):
            raise RunError(
                f"--scheduler {address}: no Dask scheduler answered within {SCHEDULER_TIMEOUT:g} s "
                "(is `dask scheduler` running there?)"
            ) from None
        self.description = {"kind": "dask", "scheduler": address}
        self.size = len(self.client.scheduler_info().get("workers", {})) or 1  # a search's batch

    def submit(self, config, plots, run_dir, resume=False, trial=None, metric=None):
        """Run ``config`` on a worker, which sends the run's files back (``run_dir`` is this machine's;
        ``resume``: its files go to the worker, which goes on with the run; ``metric``: unused, the
        run reports nothing until it finishes)."""
        files = read_files(run_dir) if resume else None
        return self.client.submit(execute, config, plots, files=files, trial=trial, pure=False)

    def as_completed(self, futures):
        from distributed import as_completed as dask_as_completed

        return dask_as_completed(futures, loop=self.client.loop)

    def cancel(self, futures):
        """Cancel every run that has not finished (one already running on a worker is abandoned)."""
        running = [f for f in futures if not f.done()]
        self.client.cancel(running)
        return running

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()
