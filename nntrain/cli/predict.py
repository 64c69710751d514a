from pathlib import Path
from typing import Annotated

import typer

from ._app import command, console, fmt, print_json


@command()
def predict(
    source: Annotated[
        Path, typer.Argument(help="A run directory, or a config whose layers all have hand-set weights.", show_default=False)
    ],
    inputs: Annotated[
        list[str], typer.Option("--input", "-i", help="One input row, comma-separated, e.g. 0,1 (repeatable).")
    ],
    trace: Annotated[bool, typer.Option("--trace", help="Show every layer's activation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON record per input.")] = False,
):
    """The network's output (with --trace: every layer's activations) for given inputs."""
    from nntrain.inference import predict as predict_rows

    records = predict_rows(source, inputs)
    if as_json:
        print_json(records)
        return
    from rich.table import Table

    table = Table()
    table.add_column("input")
    layers = len(records[0]["layers"])
    if trace:
        for i in range(layers - 1):
            table.add_column(f"layer {i}")
    table.add_column(f"output (layer {layers - 1})" if trace else "output")
    for record in records:
        shown = record["layers"] if trace else [record["output"]]
        table.add_row(_row(record["input"]), *(_row(a) for a in shown))
    console().print(table)


def _row(values):
    return "[" + ", ".join(fmt(float(v)) for v in values) + "]"
