"""Taking runs out of nntrain: ``onnx`` (the whole prediction as one ONNX model), ``tensorboard`` (event
files of a run's logs) and ``mlflow`` (runs into an MLflow tracking store). Each needs its optional extra
(``pip install 'nntrain[onnx]'``, ...), imported only when it is used, and has
``export(runs, output=None, *, force=False, tracking_uri=None, experiment=None)`` -> the lines to print.
"""

from ..errors import RunError


def exported_run(run):
    """``run`` (a Path) if it is a run directory with logs to export; RunError naming what it lacks."""
    from ..runs.store import CONFIG, METRICS

    for name in (CONFIG, METRICS):
        if not (run / name).is_file():
            raise RunError(f"{run}: not a run directory (no {name})")
    return run
