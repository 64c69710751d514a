from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console
from ._runs import RunsProgress, backend_text
from ._tables import plural


@command()
def sweep(
    config: Annotated[Path, typer.Argument(help="YAML experiment config.", show_default=False)],
    grid: Annotated[
        Optional[list[str]],
        typer.Option(
            "--grid",
            help="A config path and its values, e.g. optimizer.lr=0.1,0.01 (repeatable; runs every combination).",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[
        Optional[int], typer.Option(help="Run every variant with seeds 0..N-1.", show_default=False)
    ] = None,
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", help="Override a config value in every run, e.g. training.epochs=50 (repeatable)."),
    ] = None,
    sweep_dir: Annotated[
        Optional[Path], typer.Option("--sweep-dir", help="Write the sweep exactly here (must not exist yet).")
    ] = None,
    runs_root: Annotated[Path, typer.Option("--runs", help="Where new sweep directories go.")] = Path("runs"),
    workers: Annotated[
        Optional[int], typer.Option(help="Parallel runs on this machine; default: one per core.", show_default=False)
    ] = None,
    scheduler: Annotated[
        Optional[str],
        typer.Option(help="Run on a Dask cluster instead: its scheduler's address, tcp://HOST:PORT.", show_default=False),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="The runs write no curves.png or decision_boundary.png.")] = False,
):
    """Run every combination of grid values (and seeds) as its own run, in parallel, then compare them.

    The grid comes from --grid and --seeds, or from the config's sweep: section (--grid replaces the
    same keys there). Each run is a normal run directory inside the sweep directory, named after its
    values; sweep.json lists them with their status. Exit code 1 if a run failed or diverged.
    """
    if scheduler is None:
        from nntrain.sweep import _forkserver as forkserver

        forkserver.start()  # it loads nntrain while this process does the same and plans the sweep

    from nntrain.sweep import SweepInterrupted, plan_sweep, run_sweep

    plan = plan_sweep(config, grid or (), seeds, set_ or ())
    progress = RunsProgress(quiet)

    def on_start(path, n, backend):
        typer.echo(f"sweep: {path} ({plural(n, 'run')} on {backend_text(backend)})")
        progress.start(n)

    try:
        with progress:
            result = run_sweep(
                plan,
                sweep_dir=sweep_dir,
                runs_root=runs_root,
                workers=workers,
                scheduler=scheduler,
                on_start=on_start,
                on_result=progress.advance,
                plots=not no_plots,
            )
    except SweepInterrupted as stop:
        from nntrain.errors import Interrupted

        _report(stop.result)
        raise Interrupted(f"interrupted; finished runs are in {stop.result.sweep_dir}") from None
    if not _report(result):
        from nntrain.errors import Failed

        raise Failed()  # _report listed the runs that did not complete


def _report(result):
    """The compare table of the runs that ran, then a line per run that did not complete; True if all did."""
    from nntrain.runs.compare import compare

    from ._tables import render
    from nntrain.errors import NNTrainError

    ran = [result.sweep_dir / r["dir"] for r in result.runs if r["status"] in ("completed", "diverged", "interrupted")]
    if ran:
        try:
            render(compare(ran), console())
        except NNTrainError as e:  # e.g. no run got through an epoch: the lines below say why
            typer.echo(f"warning: no comparison: {e}", err=True)
    for r in result.runs:
        if r["status"] in ("failed", "diverged"):
            typer.echo(f"{r['status']}: {r['dir']}: {r.get('error') or r.get('message')}", err=True)
    counts = ", ".join(f"{result.count(s)} {s}" for s in ("completed", "diverged", "failed", "interrupted", "cancelled") if result.count(s))
    typer.echo(f"{plural(len(result.runs), 'run')}: {counts}")
    return result.count("completed") == len(result.runs)
