"""The server process that a local sweep's workers are forked from (multiprocessing's "forkserver").

It imports ``PRELOAD`` once, and so everything a local worker needs (see ``nntrain.sweep._worker``); each
worker is then a fork of it, ready in about 10 ms. Starting it takes as long as importing nntrain, so
``nntrain sweep`` starts it first, to load while the command itself imports and plans the sweep.

This module imports nothing but the standard library: it must be cheap to reach before the rest.
"""

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os

PRELOAD = "nntrain.sweep.pools"  # imports the worker's module and what a local worker unpickles

# What a BLAS reads at start-up for its number of threads: OpenBLAS, MKL, and OpenMP builds.
BLAS_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def start():
    """The multiprocessing context for local workers, its server started if it is not running yet
    ("spawn", with no server, where there is no forkserver)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    # The server, and so every worker, loads its BLAS with one thread: a pool of BLAS threads would
    # be made anew in every worker and spin at its first run (~0.1 s) on the cores the other workers
    # need. (A server already running in this process is used as it is.)
    with _environment(BLAS_ONE_THREAD):
        multiprocessing.forkserver.ensure_running()
    return context


@contextlib.contextmanager
def _environment(variables):
    """``os.environ`` with ``variables`` set, for the processes started inside the block."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
