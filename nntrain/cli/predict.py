from pathlib import Path
from typing import Annotated, Optional

import typer

from ._tables import number_text
from ._app import command, console, print_json


@command()
def predict(
    source: Annotated[
        Path, typer.Argument(metavar="SOURCE", help="A run directory, or a config whose layers all have hand-set weights.", show_default=False)
    ],
    table: Annotated[
        Optional[Path],
        typer.Argument(metavar="CSV", help="A CSV of raw inputs with the run's feature columns (by name).", show_default=False),
    ] = None,
    inputs: Annotated[
        Optional[list[str]],
        typer.Option("--input", "-i", metavar="VALUES", help="One input row, comma-separated, e.g. 0,1 (repeatable).", show_default=False),
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="With a CSV: write the predictions here (default: stdout).")
    ] = None,
    proba: Annotated[bool, typer.Option("--proba", help="With a CSV: add each class's probability.")] = False,
    threshold: Annotated[
        Optional[float],
        typer.Option(metavar="T", help="A binary classifier says its second class where p > T (default 0.5; nntrain eval suggests one).", show_default=False),
    ] = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show every layer's activation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: one record per input row.")] = False,
):
    """The network's outputs for raw inputs: rows given with --input, or every row of a CSV file.

    With --input, --trace shows every layer's activations.
    With a CSV, each row comes back with predicted_<target> and, with --proba, p_<class> columns.
    """
    _check_options(table, inputs, output, proba, trace)
    if table is not None:
        _predict_table(source, table, output, proba, as_json, threshold)
    else:
        _predict_rows(source, inputs, trace, as_json, threshold)


def _check_options(table, inputs, output, proba, trace):
    """A CSV file or --input rows, each with only its own options."""
    from nntrain.errors import UsageError

    if (table is None) == (not inputs):
        raise UsageError(
            "give either a CSV file of inputs or --input rows (e.g. -i 0,1)"
            if table is None
            else "give either a CSV file or --input rows, not both"
        )
    if table is not None and trace:
        raise UsageError("--trace works with --input rows, not with a CSV file")
    if table is None and (output is not None or proba):
        raise UsageError(f"{'--output' if output is not None else '--proba'} works with a CSV file of inputs, not with --input")
    for row in inputs or ():
        if "," not in row and len(row.split()) > 1:
            raise UsageError(f"--input {row!r}: separate the values with commas, e.g. -i {','.join(row.split())}")


def _predict_rows(source, inputs, trace, as_json, threshold):
    from nntrain.runs.inference import predict as predict_rows

    records = predict_rows(source, inputs, threshold)
    if as_json:
        print_json(records)
        return
    from rich.table import Table

    from ._tables import add_row

    rich_table = Table()
    layers = len(records[0]["layers"])
    named = "class" in records[0]
    columns = ["input", *(f"layer {i}" for i in range(layers - 1) if trace), f"output (layer {layers - 1})" if trace else "output"]
    for name in [*columns, *(["class"] if named else [])]:
        rich_table.add_column(name, overflow="fold")
    for record in records:
        shown = record["layers"] if trace else [record["output"]]
        add_row(rich_table, _row(record["input"]), *(_row(a) for a in shown), *([str(record["class"])] if named else []))
    console().print(rich_table)


def _predict_table(source, table, output, proba, as_json, threshold):
    import json

    from nntrain.runs.inference import predict_table, table_csv
    from nntrain.runs.store import write_text

    columns, rows = predict_table(source, table, proba=proba, threshold=threshold)
    if as_json:
        text = json.dumps([dict(zip(columns, row)) for row in rows], indent=2) + "\n"
    else:
        text = table_csv(columns, rows)
    if output is None:
        typer.echo(text, nl=False)
        return
    write_text(output, text)  # RunError if it cannot be written
    typer.echo(f"{len(rows)} predictions written to {output}", err=True)


def _row(values):
    """A row of numbers, or of a table's raw cells (strings; a blank one is missing)."""
    return "[" + ", ".join(v if isinstance(v, str) else "" if v is None else number_text(float(v)) for v in values) + "]"
