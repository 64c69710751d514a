from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command


@command()
def report(
    runs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN_OR_DIR",
            help="A run directory, a sweep or cv directory, several runs, folders of runs or globs such as 'runs/xor-*'.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o", metavar="FILE",
            help="Where the page goes; default: RUN/report.html, DIR/report.html for a sweep or cv directory, else ./report.html.",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        Optional[str], typer.Option(metavar="NAME", help="Several runs: the metrics.csv column to rank them by; default: a validation metric.")
    ] = None,
):
    """One HTML page of a run -- curves, layer diagnostics, decision regions, eval plots, network, config --
    or of several runs compared; self-contained (plotly inlined), it opens offline in a browser."""
    from nntrain.report import build_report

    path = build_report(runs, output, metric)
    typer.echo(f"report: {path}")
