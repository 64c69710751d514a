from pathlib import Path
from typing import Annotated

import typer

from ._tables import number_text
from ._app import command, console, print_json


@command(name="eval")
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", show_default=False)],
    split: Annotated[str, typer.Option(help="Which split of the run's data: train, val or test.")] = "train",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
):
    """Loss and metrics of a run's weights on one split of its data (raw inputs, standardised as in training)."""
    from nntrain.runs.inference import evaluate_run

    logs = evaluate_run(run_dir, split)
    if as_json:
        print_json({"run": str(run_dir), "split": split, **logs})
        return
    from rich.table import Table

    examples = logs.pop("examples")
    typer.echo(f"{run_dir}: {split} split, {examples} examples")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in logs.items():
        table.add_row(name, number_text(value))
    console().print(table)
