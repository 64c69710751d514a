"""Sweeps: grids of variants, planned and validated up front (``plan``), run (``execute``) on local
processes or a Dask cluster (``pools``); cross-validation as a sweep of folds (``cv``).

The public names below are loaded on first use: the CLI reaches the forkserver module (standard
library only) before anything heavy.
"""

# name -> the module that defines it
_PUBLIC = {
    "plan_sweep": "plan",
    "run_sweep": "execute",
    "resume_sweep": "execute",
    "SweepInterrupted": "execute",
    "SweepResult": "execute",
    "plan_cv": "cv",
    "run_cv": "cv",
    "resume_cv": "cv",
    "CVInterrupted": "cv",
    "CVResult": "cv",
}

__all__ = list(_PUBLIC)


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
