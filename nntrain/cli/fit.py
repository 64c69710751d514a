from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, fmt


@command()
def fit(
    config: Annotated[Path, typer.Argument(help="YAML experiment config.", show_default=False)],
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", help="Override a config value by dotted path, e.g. optimizer.lr=0.01 (repeatable)."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the config's seed.")] = None,
    run_dir: Annotated[
        Optional[Path], typer.Option("--run-dir", help="Write the run exactly here (must not exist yet).")
    ] = None,
    runs_root: Annotated[Path, typer.Option("--runs", help="Where new run directories go.")] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
):
    """Train the network a YAML config describes and write a run directory."""
    from nntrain.config import load_config
    from nntrain.trainer import fit as fit_config

    overrides = list(set_ or [])
    if seed is not None:
        overrides.append((f"seed={seed}", f"--seed {seed}"))
    cfg = load_config(config, overrides)
    if quiet:
        result = fit_config(cfg, run_dir=run_dir, runs_root=runs_root)
    else:
        with _progress(cfg.training.epochs) as on_epoch:
            result = fit_config(cfg, run_dir=run_dir, runs_root=runs_root, on_epoch=on_epoch)
    summary = result.summary
    final = ", ".join(f"{k} {fmt(v)}" for k, v in summary["final"].items() if k != "epoch_time_s")
    typer.echo(f"run: {result.run_dir}")
    typer.echo(f"{summary['status']}: {summary['epochs']} epochs in {summary['wall_time_s']:.2f} s; {final}")
    if result.status == "diverged":
        typer.echo(f"error: {summary['message']}", err=True)
        raise typer.Exit(1)


class _progress:
    """A rich progress bar on stderr showing the epoch and the latest loss."""

    def __init__(self, epochs):
        self.epochs = epochs

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
        shown = "  ".join(f"{k} {fmt(v)}" for k, v in logs.items() if k != "epoch_time_s")
        self.progress.update(self.task, completed=epoch, logs=shown)

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)
