import functools
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console, print_json
from ._runs import EveryRun, NoPlots, Quiet, Scheduler, Workers, backend_text, run_with_progress
from ._tables import plural


@command()
def cv(
    config: Annotated[Path, typer.Argument(help="YAML experiment config.", show_default=False)],
    folds: Annotated[int, typer.Option(help="Number of folds (2 to 1000); each run holds one out.", show_default=False)],
    repeats: Annotated[
        int, typer.Option(help="Cross-validate R times, with seeds seed, seed+1, ...: new folds each time.")
    ] = 1,
    set_: EveryRun = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    cv_dir: Annotated[
        Optional[Path], typer.Option("--cv-dir", help="Write the cross-validation exactly here (must not exist yet).")
    ] = None,
    runs_root: Annotated[Path, typer.Option("--runs", help="Where new cv directories go.")] = Path("runs"),
    quiet: Quiet = False,
    no_plots: NoPlots = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print cv.json instead of the table.")] = False,
):
    """k-fold cross-validation: a run per fold, in parallel, each judged on the fold it held out.

    The folds are stratified for classes and drawn from the config's seed (--repeats: seed, seed+1,
    ...); each run fits its standardisation, encodings and imputation on its own training rows.
    Each run is a normal run directory inside the cv directory, which also holds cv.json (the
    held-out metrics per fold, their mean and std) and oof.csv (the out-of-fold predictions).
    Exit code 1 if a run failed or diverged.
    """
    if scheduler is None:
        from nntrain.sweep import _forkserver as forkserver

        forkserver.start()  # it loads nntrain while this process does the same and plans the folds

    from nntrain.sweep import CVInterrupted, plan_cv, run_cv

    plan = plan_cv(config, folds, repeats, set_ or ())

    def header(path, n, backend):
        times = f" x {plural(repeats, 'repeat')}" if repeats > 1 else ""
        typer.echo(f"cv: {path} ({plural(folds, 'fold')}{times} on {backend_text(backend)})", err=as_json)

    run = functools.partial(run_cv, plan, cv_dir=cv_dir, runs_root=runs_root, workers=workers, scheduler=scheduler, plots=not no_plots)
    run_with_progress(
        run,
        quiet=quiet,
        header=header,
        report=lambda result: _report(result, as_json),
        interrupted=CVInterrupted,
        folder=lambda result: result.cv_dir,
    )


def _report(result, as_json):
    """The table of the folds (or cv.json), then a line per fold that did not complete; True if all did."""
    doc = result.doc
    if as_json:
        print_json(doc)
    elif any(r["status"] == "completed" for r in doc["runs"]):
        console().print(_table(doc))
    for r in doc["runs"]:
        if r["status"] in ("failed", "diverged"):
            typer.echo(f"{r['status']}: {r['dir']}: {r.get('error')}", err=True)
    statuses = ("completed", "diverged", "failed", "interrupted", "cancelled")
    counts = ", ".join(f"{result.count(s)} {s}" for s in statuses if result.count(s))
    typer.echo(f"{plural(len(doc['runs']), 'run')}: {counts}", err=as_json)
    return result.count("completed") == len(doc["runs"])


def _table(doc):
    """A row per fold -- its repeat (with repeats), fold, held-out examples and metrics -- then the
    mean and std over the completed folds."""
    from ._tables import add_columns, number_text, plain_table

    names = list(doc["mean"])
    repeats = doc["repeats"] > 1
    times = f" x {plural(doc['repeats'], 'repeat')}" if repeats else ""
    done = sum(r["status"] == "completed" for r in doc["runs"])
    table = plain_table(
        f"{plural(doc['folds'], 'fold')}{times}: held-out metrics", caption=f"mean, std (ddof=0) of {plural(done, 'run')}"
    )
    add_columns(table, ["repeat", "fold"] if repeats else ["fold"], ["examples", *names])
    for r in doc["runs"]:
        fold = str(r["fold"]) + ("" if r["status"] == "completed" else f" ({r['status']})")
        cells = [str(r["repeat"]), fold] if repeats else [fold]
        table.add_row(*cells, number_text(r["examples"]), *(number_text(r["metrics"].get(n)) for n in names))
    table.add_section()
    for label in ("mean", "std"):
        cells = ["", label] if repeats else [label]
        table.add_row(*cells, "", *(number_text(doc[label][n]) for n in names))
    return table
