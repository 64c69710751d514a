from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command


@command()
def plot(
    source: Annotated[
        Path, typer.Argument(help="A run directory, or a config whose layers all have hand-set weights.", show_default=False)
    ],
    animate: Annotated[
        bool, typer.Option("--animate", help="Also boundary.gif: the decision regions at every weight snapshot the run kept.")
    ] = False,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="The folder to write into; default: the run directory (a config: the current folder).", show_default=False),
    ] = None,
):
    """Draw a run's pictures again, also of an interrupted or still running run (its last checkpoint).

    curves.png; for a classifier on 2-D inputs decision_boundary.png; for 2-D inputs neurons.png (every
    unit over the input plane); network.png (the net as a graph); histograms.png (weights and
    activations at the first snapshot and the last epoch); with --animate boundary.gif (the run needs
    weight snapshots: training.snapshots, or 2-D inputs, which keep them by default).
    """
    from nntrain.runs.redraw import redraw

    for path in redraw(source, output, animate):
        typer.echo(str(path))
