import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console, print_json


@command()
def runs(
    root: Annotated[
        Path, typer.Argument(metavar="DIR", help="A folder of runs (searched recursively).")
    ] = Path("runs"),
    metric: Annotated[
        Optional[str],
        typer.Option(metavar="NAME", help="The metrics.csv column shown as final and best; default: a validation metric."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON record per run.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Show long names whole (the table may be wider than the terminal).")] = False,
):
    """The runs in a folder, newest first: status, epochs, parameters, final and best metric, wall time.

    A run directory that cannot be read is reported on stderr (exit code 2) after the others are shown.
    """
    from nntrain.runs.compare import list_runs

    records, errors = list_runs(root, metric)
    if as_json:
        print_json(records)
    elif records:
        _table(records, root, wide)
    else:
        typer.echo(f"no runs in {root}")
    if errors:
        from nntrain.errors import RunError

        raise RunError("\n".join(errors))  # printed as one error line each


def _table(records, root, wide):
    from ._tables import count_text, duration_text, fitted_table, number_text, plural

    out = console(wide)
    metric = records[0]["metric"]
    this_year = all((r["started"] or "")[:4] == time.strftime("%Y") for r in records)
    columns = [("run", "left", True), ("started", "left", False), ("status", "left", False)]
    columns += [(name, "right", False) for name in ("epochs", "params", "final", "best", "time")]
    rows = [
        [
            _relative(r["run"], root),
            _started(r["started"], this_year),
            r["status"] or "—",
            number_text(r["epochs"]),
            count_text(r["parameters"]),
            number_text(r["final"]),
            number_text(r["best"]),
            duration_text(r["wall_time_s"]),
        ]
        for r in records
    ]
    title = f"{plural(len(records), 'run')} in {root}, newest first; metric: {metric}"
    out.print(fitted_table(title, columns, rows, out.width))
    if any(r["status"] == "stale" for r in records):
        typer.echo(
            "stale: its process ended without a word (killed, or the machine went down); "
            "nntrain fit --resume RUN continues it from its last checkpoint"
        )


def _relative(run, root):
    path = Path(run)
    return str(path.relative_to(root)) if path != root and path.is_relative_to(root) else str(path)


def _started(stamp, this_year=False):
    """2026-11-26T18:53:59+0000 -> 2026-11-26 18:53 (``this_year``: 11-26 18:53)."""
    if not stamp:
        return "—"
    return stamp[5 if this_year else 0 : 16].replace("T", " ")
