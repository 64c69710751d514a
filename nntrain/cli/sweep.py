import functools
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console
from ._runs import EveryRun, NoPlots, Wide, Quiet, Scheduler, Workers, backend_text, given_options, no_config, refuse_with_resume, run_with_progress, todo_text
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
    search: Annotated[
        Optional[str], typer.Option(metavar="METHOD", help="tpe | random: search the --space with Optuna; grid: run the grid.", show_default=False)
    ] = None,
    space: Annotated[
        Optional[list[str]],
        typer.Option(
            "--space",
            metavar="KEY=KIND(ARGS)",
            help="A config path and its range: uniform(0.5,1), loguniform(1e-4,1e-1), int(4,128[,log]), choice(relu,tanh) (repeatable).",
            show_default=False,
        ),
    ] = None,
    trials: Annotated[Optional[int], typer.Option(metavar="N", help="How many runs a search makes.  [default: 20]", show_default=False)] = None,
    metric: Annotated[
        Optional[str], typer.Option(metavar="COLUMN", help="What a search optimises: a logged column's best epoch.  [default: val_loss, else loss]", show_default=False)
    ] = None,
    prune: Annotated[
        Optional[str], typer.Option(metavar="median|none", help="median: stop trials that fall behind the median.  [default: none]", show_default=False)
    ] = None,
    search_seed: Annotated[Optional[int], typer.Option("--search-seed", metavar="N", help="The search's seed.  [default: 0]", show_default=False)] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    no_plots: NoPlots = False,
    wide: Wide = False,
    no_group: Annotated[bool, typer.Option("--no-group", help="In the table, each run on its own, not seeds of a variant as one.")] = False,
):
    """Run every combination of grid values (and seeds) as its own run, in parallel, then compare them.

    The grid comes from --grid and --seeds, or from the config's sweep: section (--grid replaces the
    same keys there). Each run is a normal run directory inside the sweep directory, named after its
    values; sweep.json lists them with their status. Exit code 1 if a run failed or diverged.
    --resume DIR goes on with a sweep that stopped (Ctrl-C, a signal, a killed process): its
    interrupted runs resume from their checkpoints, the ones never started start, finished ones are
    kept; the runs end as they would have never stopped.

    With --search tpe|random (or --space, or a sweep.search section) Optuna searches the space
    instead: --trials runs, each judged by --metric's best epoch, --prune median stopping those that
    fall behind; the same --search-seed and --workers repeat the same search.
    """
    if scheduler is None:
        from nntrain.sweep import _forkserver as forkserver

        forkserver.start()  # it loads nntrain while this process does the same and plans the sweep

    from nntrain.sweep import SweepInterrupted, plan_sweep, resume_sweep, run_sweep

    searching = {"--search": search, "--space": space, "--trials": trials, "--metric": metric, "--prune": prune, "--search-seed": search_seed}
    maximize = metric_of_search = None
    if resume is not None:
        refuse_with_resume(config=config, **{"--grid": grid, "--seeds": seeds, "--set": set_, "--sweep-dir": sweep_dir, "--no-plots": no_plots}, **searching)
        run = functools.partial(resume_sweep, resume, workers=workers, scheduler=scheduler)
    elif config is None:
        raise no_config("sweep")
    elif _searches(config, set_, search, space, grid, seeds):
        from nntrain.sweep.search import plan_search, run_search

        plan = plan_search(config, method=search, trials=trials, space=space or (), metric=metric, prune=prune, seed=search_seed, overrides=set_ or ())
        maximize, metric_of_search = plan.direction == "maximize", plan.metric
        run = functools.partial(
            run_search, plan, sweep_dir=sweep_dir, runs_root=runs_root, workers=workers, scheduler=scheduler, plots=not no_plots
        )
    else:
        _refuse(searching, "a grid sweep; they are a search's (--search tpe)")
        plan = plan_sweep(config, grid or (), seeds, set_ or ())
        run = functools.partial(
            run_sweep, plan, sweep_dir=sweep_dir, runs_root=runs_root, workers=workers, scheduler=scheduler, plots=not no_plots
        )
    run_with_progress(
        run,
        quiet=quiet,
        header=lambda path, n, backend, todo: typer.echo(f"sweep: {path} ({plural(n, 'run')} on {backend_text(backend)}){todo_text(todo)}"),
        report=lambda result: _report(result, wide, metric_of_search, not no_group),
        interrupted=SweepInterrupted,
        folder=lambda result: result.sweep_dir,
        maximize=maximize,
    )


def _searches(config, set_, search, space, grid, seeds):
    """Whether the command asks for a search: --search tpe|random, --space, or a config whose
    sweep.search does (unless the command line gives a grid); UsageError for a grid given with one."""
    from nntrain.errors import UsageError

    if search not in (None, "tpe", "random", "grid"):
        raise UsageError(f"--search {search}: expected tpe, random or grid")
    if search == "grid":
        return False
    if search is not None or space:
        _refuse({"--grid": grid, "--seeds": seeds}, "a search; a search draws each run's values from --space")
        return True
    if grid or seeds is not None:
        return False
    from nntrain.config import load_config

    sweep = load_config(config, set_ or ()).sweep
    return sweep is not None and sweep.search is not None and sweep.search.method != "grid"


def _refuse(options, why):
    given = given_options(options)
    if given:
        from nntrain.errors import UsageError

        raise UsageError(f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} not for {why}")


def _report(result, wide=False, metric=None, group=True):
    """The compare table of the runs that ran (ranked by ``metric``, a search's), then a line per run
    that did not complete; True if all did (a pruned trial did what it should)."""
    from nntrain.runs.compare import compare
    from nntrain.runs.groups import grouped

    from ._tables import render
    from nntrain.errors import NNTrainError

    if not result.trained:
        typer.echo(f"the sweep is already complete ({plural(len(result.runs), 'run')}); nothing to do")
    ran = [result.sweep_dir / r["dir"] for r in result.runs if r["status"] in ("completed", "diverged", "interrupted", "pruned")]
    if ran:
        try:
            compared = compare(ran, metric)
            render(grouped(compared) if group else compared, console(wide))
        except NNTrainError as e:  # e.g. no run got through an epoch: the lines below say why
            typer.echo(f"warning: no comparison: {e}", err=True)
    for r in result.runs:
        if r["status"] in ("failed", "diverged"):
            typer.echo(f"{r['status']}: {r['dir']}: {r.get('error') or r.get('message')}", err=True)
    counts = ", ".join(f"{result.count(s)} {s}" for s in ("completed", "pruned", "diverged", "failed", "interrupted", "cancelled") if result.count(s))
    typer.echo(f"{plural(len(result.runs), 'run')}: {counts}")
    return result.count("completed") + result.count("pruned") == len(result.runs)
