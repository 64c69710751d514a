from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import check_run_dir, command

# --format -> the module of nntrain.export that writes it; each has
# ``export(runs, output=None, *, force=False, tracking_uri=None, experiment=None) -> list of lines to print``.
FORMATS = {"onnx": "onnx", "tensorboard": "tensorboard", "mlflow": "mlflow"}


@command()
def export(
    runs: Annotated[list[Path], typer.Argument(help="Run directories (onnx: one).", show_default=False)],
    format_: Annotated[str, typer.Option("--format", "-f", help="onnx | tensorboard | mlflow.")] = "onnx",
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="onnx: the .onnx file (default RUN/model.onnx); tensorboard: the log directory (default: each run's own).", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="onnx: replace the file; tensorboard: replace the event files there.")] = False,
    tracking_uri: Annotated[
        Optional[str], typer.Option("--tracking-uri", help="mlflow: where runs are kept (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db).", show_default=False)
    ] = None,
    experiment: Annotated[
        Optional[str], typer.Option("--experiment", help="mlflow: the experiment's name (default: each run's config name).", show_default=False)
    ] = None,
):
    """Take runs elsewhere: the whole prediction as an ONNX model, the logs as TensorBoard event files,
    or the runs into an MLflow tracking store."""
    import importlib

    from nntrain.errors import UsageError

    if format_ not in FORMATS:
        raise UsageError(f"--format {format_}: expected one of {', '.join(FORMATS)}")
    for run in runs:
        check_run_dir(run, "RUN", "train it first (nntrain fit {path}), then export the run directory")
    module = importlib.import_module(f"nntrain.export.{FORMATS[format_]}")
    for line in module.export(runs, output, force=force, tracking_uri=tracking_uri, experiment=experiment):
        typer.echo(line)
