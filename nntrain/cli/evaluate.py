from pathlib import Path
from typing import Annotated

import typer

from ._tables import number_text
from ._app import check_run_dir, command, console, print_json

MAX_MATRIX = 12  # classes up to which the confusion matrix is printed (--json has it always)


@command(name="eval")
def evaluate(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN", help="A run directory.", show_default=False)],
    split: Annotated[str, typer.Option(metavar="SPLIT", help="Which split of the run's data: train, val or test.")] = "train",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    plots: Annotated[
        bool, typer.Option("--plots", help="Draw the confusion matrix, ROC, precision-recall and reliability (or a regressor's scatters) into RUN/eval/SPLIT/.")
    ] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Show long names and values whole (the table may be wider than the terminal).")] = False,
):
    """Loss and metrics of a run's weights on one split of its data (raw inputs, prepared as in training).

    A classifier also gets its per-class table and confusion matrix (rows: true class); a binary one
    the threshold that maximises F1 on the validation split.
    """
    from nntrain.runs.judging import judge_run

    check_run_dir(run_dir, "RUN", "train it first: nntrain fit {path}, then nntrain eval the run directory it writes")
    report = judge_run(run_dir, split, plots)
    if as_json:
        print_json({"run": str(run_dir), "split": split, **report})
        return
    from rich.table import Table

    from ._tables import add_row

    out = console(wide)
    typer.echo(f"{run_dir}: {split} split, {report['examples']} examples")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report["metrics"].items():
        add_row(table, name, number_text(value))
    out.print(table)
    if "per_class" in report:
        typer.echo("per class:")
        table = Table()
        for column in ("class", "precision", "recall", "f1", "support"):
            table.add_column(column, justify="left" if column == "class" else "right")
        for row in report["per_class"]:
            add_row(table, row["class"], *(number_text(row[k]) for k in ("precision", "recall", "f1")), str(row["support"]))
        out.print(table)
        _print_matrix(report, out)
    if "threshold" in report:
        t = report["threshold"]
        at = "  ".join(f"{k} {number_text(v)}" for k, v in t["metrics"].items())
        typer.echo(f"threshold {number_text(t['value'])} (best F1 on the {t['chosen_on']} split): {at}")
    if report.get("plots"):
        typer.echo(f"plots: {Path(report['plots'][0]).parent}/ ({', '.join(Path(p).name for p in report['plots'])})")


def _print_matrix(report, out):
    from rich.table import Table

    from ._tables import add_row, text

    classes, matrix = report["classes"], report["confusion_matrix"]
    if len(classes) > MAX_MATRIX:
        typer.echo(f"confusion matrix: {len(classes)} classes, in --json")
        return
    typer.echo("confusion matrix (rows: true class, columns: predicted):")
    table = Table()
    table.add_column("")
    for name in classes:
        table.add_column(text(name), justify="right")
    for name, row in zip(classes, matrix):
        add_row(table, name, *(str(v) for v in row))
    out.print(table)
