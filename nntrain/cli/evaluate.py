from pathlib import Path
from typing import Annotated

import typer

from ._tables import number_text
from ._app import command, console, print_json

MAX_MATRIX = 12  # classes up to which the confusion matrix is printed (--json has it always)


@command(name="eval")
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", show_default=False)],
    split: Annotated[str, typer.Option(help="Which split of the run's data: train, val or test.")] = "train",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    plots: Annotated[
        bool, typer.Option("--plots", help="Draw the confusion matrix, ROC, precision-recall and reliability (or a regressor's scatters) into RUN/eval/SPLIT/.")
    ] = False,
):
    """Loss and metrics of a run's weights on one split of its data (raw inputs, prepared as in training).

    A classifier also gets its per-class table and confusion matrix (rows: true class); a binary one
    the threshold that maximises F1 on the validation split.
    """
    from nntrain.runs.judging import judge_run

    report = judge_run(run_dir, split, plots)
    if as_json:
        print_json({"run": str(run_dir), "split": split, **report})
        return
    from rich.markup import escape
    from rich.table import Table

    out = console()
    typer.echo(f"{run_dir}: {split} split, {report['examples']} examples")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report["metrics"].items():
        table.add_row(name, number_text(value))
    out.print(table)
    if "per_class" in report:
        typer.echo("per class:")
        table = Table()
        for column in ("class", "precision", "recall", "f1", "support"):
            table.add_column(column, justify="left" if column == "class" else "right")
        for row in report["per_class"]:
            table.add_row(escape(str(row["class"])), *(number_text(row[k]) for k in ("precision", "recall", "f1")), str(row["support"]))
        out.print(table)
        _print_matrix(report, out)
    if "threshold" in report:
        t = report["threshold"]
        at = "  ".join(f"{k} {number_text(v)}" for k, v in t["metrics"].items())
        typer.echo(f"threshold {number_text(t['value'])} (best F1 on the {t['chosen_on']} split): {at}")
    if report.get("plots"):
        typer.echo(f"plots: {Path(report['plots'][0]).parent}/ ({', '.join(Path(p).name for p in report['plots'])})")


def _print_matrix(report, out):
    from rich.markup import escape
    from rich.table import Table

    classes, matrix = report["classes"], report["confusion_matrix"]
    if len(classes) > MAX_MATRIX:
        typer.echo(f"confusion matrix: {len(classes)} classes, in --json")
        return
    typer.echo("confusion matrix (rows: true class, columns: predicted):")
    table = Table()
    table.add_column("")
    for name in classes:
        table.add_column(escape(str(name)), justify="right")
    for name, row in zip(classes, matrix):
        table.add_row(escape(str(name)), *(str(v) for v in row))
    out.print(table)
