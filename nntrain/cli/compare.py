from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console, print_json


@command()
def compare(
    runs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN", help="Run directories, folders of runs, or globs such as 'runs/xor-*'.", show_default=False
        ),
    ],
    metric: Annotated[
        Optional[str], typer.Option(help="The metrics.csv column to rank by; default: a validation metric.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the comparison as CSV.")] = False,
    plot: Annotated[
        Optional[Path], typer.Option(help="Also draw the runs' curves of the metric, overlaid, into this PNG.")
    ] = None,
):
    """Runs side by side: the config values that differ, then best and final metric, parameters, time.

    Runs that did not log the metric are shown last and reported on stderr (exit code 2).
    """
    from nntrain.runs.catalog import expand, load_run
    from nntrain.runs.compare import compare_runs, to_csv

    from ._tables import render
    from nntrain.errors import NNTrainError

    if as_json and as_csv:
        raise NNTrainError("--json and --csv: choose one")
    if plot is not None and plot.suffix.lower() != ".png":
        raise NNTrainError(f"--plot {plot}: the plot is a PNG; give a file name ending in .png")
    loaded = [load_run(path, config=True) for path in expand(runs)]
    result = compare_runs(loaded, metric)
    if as_json:
        print_json(result)
    elif as_csv:
        typer.echo(to_csv(result), nl=False)
    else:
        render(result, console())
    if plot is not None:
        from nntrain.runs.compare import curves
        from nntrain.runs.plots import plot_overlay

        plot_overlay(curves(loaded, result), result["metric"], plot)
        typer.echo(f"plot: {plot}", err=as_json or as_csv)
    if result["missing"]:
        missing, shared = ", ".join(result["missing"]), ", ".join(result["shared"]) or "nothing"
        message = f"{result['metric']} is not logged by {missing} (shown last); every run logged: {shared}"
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2)
