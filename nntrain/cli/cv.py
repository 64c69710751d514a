import functools
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console, print_json
from ._runs import EveryRun, NoPlots, Quiet, Scheduler, Workers, backend_text, no_config, refuse_with_resume, run_with_progress, todo_text
from ._tables import plural


@command()
def cv(
    config: Annotated[Optional[Path], typer.Argument(help="YAML experiment config.", show_default=False)] = None,
    folds: Annotated[Optional[int], typer.Option(metavar="K", help="Number of folds (2 to 1000); each run holds one out.", show_default=False)] = None,
    repeats: Annotated[
        Optional[int], typer.Option(metavar="R", help="Cross-validate R times, with seeds seed, seed+1, ...: new folds each time.  [default: 1]", show_default=False)
    ] = None,
    set_: EveryRun = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    cv_dir: Annotated[
        Optional[Path], typer.Option("--cv-dir", metavar="DIR", help="Write the cross-validation exactly here (must not exist yet).")
    ] = None,
    runs_root: Annotated[Path, typer.Option("--runs", metavar="DIR", help="Where new cv directories go.")] = Path("runs"),
    resume: Annotated[
        Optional[Path], typer.Option("--resume", metavar="DIR", help="Go on with this stopped cross-validation.", show_default=False)
    ] = None,
    quiet: Quiet = False,
    no_plots: NoPlots = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print cv.json instead of the table.")] = False,
):
    """k-fold cross-validation: a run per fold, in parallel, each judged on the fold it held out.

    The folds are stratified for classes and drawn from the config's seed (--repeats: seed, seed+1,
    ...); each run fits its standardisation, encodings and imputation on its own training rows.
    Each run is a normal run directory inside the cv directory, which also holds cv.json (the
    held-out metrics per fold, their mean and std) and oof.csv (the out-of-fold predictions).
    Exit code 1 if a run failed or diverged. --resume DIR goes on with one that stopped, as
    `nntrain sweep --resume` does.
    """
    if scheduler is None:
        from nntrain.sweep import _forkserver as forkserver

        forkserver.start()  # it loads nntrain while this process does the same and plans the folds

    from nntrain.errors import UsageError
    from nntrain.sweep import CVInterrupted, plan_cv, resume_cv, run_cv

    if resume is not None:
        refuse_with_resume(config, **{"--folds": folds, "--repeats": repeats, "--set": set_, "--cv-dir": cv_dir, "--no-plots": no_plots})
        run = functools.partial(resume_cv, resume, workers=workers, scheduler=scheduler)
    else:
        if config is None:
            raise no_config("cv")
        if folds is None:
            raise UsageError("--folds K is missing: the number of folds (2 to 1000), e.g. --folds 5")
        plan = plan_cv(config, folds, 1 if repeats is None else repeats, set_ or ())
        run = functools.partial(run_cv, plan, cv_dir=cv_dir, runs_root=runs_root, workers=workers, scheduler=scheduler, plots=not no_plots)

    def header(path, n, backend, todo):
        what = plural(n, "run") if resume else plural(folds, "fold") + (f" x {plural(repeats, 'repeat')}" if (repeats or 1) > 1 else "")
        typer.echo(f"cv: {path} ({what} on {backend_text(backend)}){todo_text(todo)}", err=as_json)

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
    from ._tables import add_columns, add_row, number_text, plain_table

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
        add_row(table, *cells, number_text(r["examples"]), *(number_text(r["metrics"].get(n)) for n in names))
    table.add_section()
    for label in ("mean", "std"):
        cells = ["", label] if repeats else [label]
        add_row(table, *cells, "", *(number_text(doc[label][n]) for n in names))
    return table
