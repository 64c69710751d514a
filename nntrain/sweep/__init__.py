"""Sweeps: grids of variants, planned and validated up front, run on local processes or a Dask cluster.

``plan_sweep``, ``run_sweep`` and ``SweepInterrupted`` are loaded on first use: the CLI reaches the
forkserver module (standard library only) before anything heavy.
"""

_PUBLIC = {"plan_sweep", "run_sweep", "SweepInterrupted", "SweepResult"}


def __getattr__(name):
    if name in _PUBLIC:
        from . import execute

        return getattr(execute, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
