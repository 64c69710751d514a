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
        Optional[str], typer.Option(metavar="NAME", help="The metrics.csv column to rank by; default: a validation metric.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the comparison as CSV.")] = False,
    plot: Annotated[
        Optional[Path], typer.Option(metavar="PNG", help="Also draw the runs' curves of the metric, overlaid, into this PNG.")
    ] = None,
    wide: Annotated[bool, typer.Option("--wide", help="Show long names and values whole (the table may be wider than the terminal).")] = False,
    no_group: Annotated[bool, typer.Option("--no-group", help="Each run on its own, not runs that differ only in their seed as one.")] = False,
    plot_params: Annotated[
        Optional[Path],
        typer.Option("--plot-params", metavar="PNG", help="Draw the varied config values against the metric (parallel coordinates, and a panel per number) into this PNG.", show_default=False),
    ] = None,
):
    """Runs side by side: the config values that differ, then best and final metric, parameters, time.

    Runs that differ only in their seed are one row, their mean ± std and number (--no-group: each).

    Runs that did not log the metric are shown last and reported on stderr (exit code 2).
    """
    from nntrain.runs.catalog import expand, load_run
    from nntrain.runs.compare import compare_runs
    from nntrain.runs.groups import grouped

    _check_options(as_json, as_csv, plot, plot_params)
    loaded = [load_run(path, config=True) for path in expand(runs)]
    each = compare_runs(loaded, metric)
    result = each if no_group else grouped(each)
    _print(result, as_json, as_csv, wide)
    if plot is not None:
        from nntrain.runs.compare import curves
        from nntrain.runs.plots import plot_overlay

        plot_overlay(curves(loaded, result), result["metric"], plot)
        typer.echo(f"plot: {plot}", err=as_json or as_csv)
    if plot_params is not None:
        from nntrain.runs.plots import plot_params as draw

        draw(each, plot_params)
        typer.echo(f"plot: {plot_params}", err=as_json or as_csv)
    if result["missing"]:
        from nntrain.errors import RunError

        missing, shared = ", ".join(result["missing"]), ", ".join(result["shared"]) or "nothing"
        raise RunError(f"{result['metric']} is not logged by {missing} (shown last); every run logged: {shared}")


def _check_options(as_json, as_csv, plot, plot_params):
    from nntrain.errors import UsageError
    from nntrain.runs.store import check_output

    if as_json and as_csv:
        raise UsageError("--json and --csv: choose one")
    for option, path in (("--plot", plot), ("--plot-params", plot_params)):
        if path is not None and path.suffix.lower() != ".png":
            raise UsageError(f"{option} {path}: the plot is a PNG; give a file name ending in .png")
        if path is not None:
            check_output(path, force=True)


def _print(result, as_json, as_csv, wide):
    if as_json:
        print_json(result)
    elif as_csv:
        from nntrain.runs.compare import to_csv

        typer.echo(to_csv(result), nl=False)
    else:
        from ._tables import render

        render(result, console(wide))
