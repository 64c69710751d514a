import functools
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console
from ._runs import EveryRun, NoPlots, Wide, Quiet, Scheduler, Workers, backend_text, no_config, refuse_with_resume, run_with_progress, todo_text
from ._tables import plural


@command()
def sweep(
    config: Annotated[Optional[Path], typer.Argument(help="YAML experiment config.", show_default=False)] = None,
    grid: Annotated[
        Optional[list[str]],
        typer.Option(
            "--grid",
            metavar="KEY=V1,V2",
            help="A config path and its values, e.g. optimizer.lr=0.1,0.01 (repeatable; runs every combination).",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[
        Optional[int], typer.Option(metavar="N", help="Run every variant with seeds 0..N-1.", show_default=False)
    ] = None,
    set_: EveryRun = None,
    sweep_dir: Annotated[
        Optional[Path], typer.Option("--sweep-dir", metavar="DIR", help="Write the sweep exactly here (must not exist yet).")
    ] = None,
    runs_root: Annotated[Path, typer.Option("--runs", metavar="DIR", help="Where new sweep directories go.")] = Path("runs"),
    resume: Annotated[
        Optional[Path], typer.Option("--resume", metavar="DIR", help="Go on with this stopped sweep: resume its interrupted runs, start the others.", show_default=False)
    ] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    no_plots: NoPlots = False,
    wide: Wide = False,
):
    """Run every combination of grid values (and seeds) as its own run, in parallel, then compare them.

    The grid comes from --grid and --seeds, or from the config's sweep: section (--grid replaces the
    same keys there). Each run is a normal run directory inside the sweep directory, named after its
    values; sweep.json lists them with their status. Exit code 1 if a run failed or diverged.
    --resume DIR goes on with a sweep that stopped (Ctrl-C, a signal, a killed process): its
    interrupted runs resume from their checkpoints, the ones never started start, finished ones are
    kept; the runs end as they would have never stopped.
    """
    if scheduler is None:
        from nntrain.sweep import _forkserver as forkserver

        forkserver.start()  # it loads nntrain while this process does the same and plans the sweep

    from nntrain.sweep import SweepInterrupted, plan_sweep, resume_sweep, run_sweep

    if resume is not None:
        refuse_with_resume(config=config, **{"--grid": grid, "--seeds": seeds, "--set": set_, "--sweep-dir": sweep_dir, "--no-plots": no_plots})
        run = functools.partial(resume_sweep, resume, workers=workers, scheduler=scheduler)
    else:
        if config is None:
            raise no_config("sweep")
        plan = plan_sweep(config, grid or (), seeds, set_ or ())
        run = functools.partial(
            run_sweep, plan, sweep_dir=sweep_dir, runs_root=runs_root, workers=workers, scheduler=scheduler, plots=not no_plots
        )
    run_with_progress(
        run,
        quiet=quiet,
        header=lambda path, n, backend, todo: typer.echo(f"sweep: {path} ({plural(n, 'run')} on {backend_text(backend)}){todo_text(todo)}"),
        report=lambda result: _report(result, wide),
        interrupted=SweepInterrupted,
        folder=lambda result: result.sweep_dir,
    )


def _report(result, wide=False):
    """The compare table of the runs that ran, then a line per run that did not complete; True if all did."""
    from nntrain.runs.compare import compare

    from ._tables import render
    from nntrain.errors import NNTrainError

    if not result.trained:
        typer.echo(f"the sweep is already complete ({plural(len(result.runs), 'run')}); nothing to do")
    ran = [result.sweep_dir / r["dir"] for r in result.runs if r["status"] in ("completed", "diverged", "interrupted")]
    if ran:
        try:
            render(compare(ran), console(wide))
        except NNTrainError as e:  # e.g. no run got through an epoch: the lines below say why
            typer.echo(f"warning: no comparison: {e}", err=True)
    for r in result.runs:
        if r["status"] in ("failed", "diverged"):
            typer.echo(f"{r['status']}: {r['dir']}: {r.get('error') or r.get('message')}", err=True)
    counts = ", ".join(f"{result.count(s)} {s}" for s in ("completed", "diverged", "failed", "interrupted", "cancelled") if result.count(s))
    typer.echo(f"{plural(len(result.runs), 'run')}: {counts}")
    return result.count("completed") == len(result.runs)
