from pathlib import Path
from typing import Annotated, Optional

import typer

from ._tables import number_text
from ._app import command, overrides


@command()
def fit(
    config: Annotated[Optional[Path], typer.Argument(help="YAML experiment config.", show_default=False)] = None,
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", help="Override a config value by dotted path, e.g. optimizer.lr=0.01 (repeatable)."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the config's seed.")] = None,
    run_dir: Annotated[
        Optional[Path], typer.Option("--run-dir", help="Write the run exactly here (must not exist yet).")
    ] = None,
    runs_root: Annotated[Path, typer.Option("--runs", help="Where new run directories go.")] = Path("runs"),
    resume: Annotated[
        Optional[Path], typer.Option("--resume", help="Continue this interrupted run in its own directory.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Write no curves.png or decision_boundary.png.")] = False,
):
    """Train the network a YAML config describes and write a run directory.

    Ctrl-C (or SIGTERM) finishes the current step, saves a checkpoint and exits; --resume RUN_DIR
    continues to the very weights the run would have reached uninterrupted.
    """
    if resume is not None:
        epochs, start = _resume(resume, config, set_, seed, run_dir, not no_plots)
    else:
        epochs, start = _fit(config, overrides(set_, seed), run_dir, runs_root, not no_plots)
    if quiet:
        result = start(None)
    else:
        with _progress(epochs) as on_epoch:
            result = start(on_epoch)
    _report(result)


def _resume(run_dir, config, set_, seed, new_run_dir, plots):
    """(epochs, start) of ``--resume RUN_DIR``; ``start(on_epoch)`` trains and returns the FitResult."""
    from nntrain.errors import UsageError
    from nntrain.runs.store import load_run_config
    from nntrain.training.fit import check_begun, resume

    if config is not None or set_ or seed is not None or new_run_dir is not None:
        raise UsageError("--resume continues a run with its own config; give no CONFIG, --set, --seed or --run-dir")
    check_begun(run_dir)
    epochs = load_run_config(run_dir).training.epochs
    _announce(run_dir)
    return epochs, lambda on_epoch: resume(run_dir, on_epoch=on_epoch, plots=plots)


def _fit(config, items, run_dir, runs_root, plots):
    """(epochs, start) of a new run of the CONFIG file with its overrides (``items``)."""
    from nntrain.config import load_config
    from nntrain.errors import UsageError
    from nntrain.training.fit import fit

    if config is None:
        raise UsageError("give a CONFIG file to train, or --resume RUN_DIR")
    cfg = load_config(config, items)
    return cfg.training.epochs, lambda on_epoch: fit(
        cfg, run_dir=run_dir, runs_root=runs_root, on_start=_announce, on_epoch=on_epoch, plots=plots
    )


def _report(result):
    """What the run came to; a diverged run raises Diverged (exit code 1) after saying so."""
    from nntrain.errors import Diverged

    summary = result.summary
    if not result.trained:
        typer.echo(f"the run is already completed ({summary['epochs']} epochs); nothing to do")
        return
    final = ", ".join(f"{k} {number_text(v)}" for k, v in summary["final"].items() if k != "epoch_time_s")
    typer.echo(f"{summary['status']}: {summary['epochs']} epochs in {summary['wall_time_s']:.2f} s; {final}")
    if summary.get("stopped_early"):
        typer.echo(f"stopped early; restored the weights of epoch {summary['best_epoch']}")
    if summary.get("advice"):
        typer.echo(summary["advice"], err=True)
    if result.status == "diverged":
        raise Diverged(summary["message"])


def _announce(run_dir):
    """The first line of output, as soon as the run directory exists: where the run goes."""
    typer.echo(f"run: {run_dir}")


class _progress:
    """A rich progress bar on stderr showing the epoch and the latest loss."""

    def __init__(self, epochs):
        self.epochs = epochs
        self.task = None

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[logs]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.progress.__enter__()
        self.task = self.progress.add_task("fit", total=self.epochs, logs="")
        return self.update

    def update(self, epoch, logs):
        shown = "  ".join(f"{k} {number_text(v)}" for k, v in logs.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy"))
        self.progress.update(self.task, completed=epoch, logs=shown)

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)
