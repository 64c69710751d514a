from pathlib import Path
from typing import Annotated, Optional

import typer

from ._tables import number_text
from ._app import check_run_dir, command, overrides


@command()
def fit(
    config: Annotated[Optional[Path], typer.Argument(metavar="CONFIG", help="YAML experiment config.", show_default=False)] = None,
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", metavar="KEY=VALUE", help="Override a config value by dotted path, e.g. optimizer.lr=0.01 (repeatable)."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option(metavar="N", help="Override the config's seed.")] = None,
    run_dir: Annotated[
        Optional[Path], typer.Option("--run-dir", metavar="DIR", help="Write the run exactly here (must not exist yet).")
    ] = None,
    runs_root: Annotated[Path, typer.Option("--runs", metavar="DIR", help="Where new run directories go.")] = Path("runs"),
    resume: Annotated[
        Optional[Path], typer.Option("--resume", metavar="RUN", help="Continue this interrupted run in its own directory.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Write no curves.png or decision_boundary.png.")] = False,
    tensorboard: Annotated[
        bool, typer.Option("--tensorboard", help="Also write TensorBoard event files into the run (sets training.tensorboard).")
    ] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Keep RUN/report.html up to date while training; open it in a browser (sets training.live).")
    ] = False,
    threads: Annotated[
        Optional[str],
        typer.Option(
            metavar="N|auto",
            help="BLAS threads for the matrix products, or auto: chosen by timing (sets training.threads; default 1: see the README's Speed).",
            show_default=False,
        ),
    ] = None,
):
    """Train the network a YAML config describes and write a run directory.

    Ctrl-C (or SIGTERM) finishes the current step, saves a checkpoint and exits; --resume RUN continues
    to the very weights the run would have reached uninterrupted.
    """
    switches = {"--tensorboard": ("training.tensorboard", tensorboard), "--live": ("training.live", live)}
    if resume is not None:
        switches["--threads"] = ("training.threads", threads is not None)
        epochs, monitor, start = _resume(resume, config, set_, seed, run_dir, not no_plots, switches)
    else:
        items = overrides(set_, seed) + [(f"{key}=true", flag) for flag, (key, on) in switches.items() if on]
        if threads is not None:
            items.append((f"training.threads={threads}", f"--threads {threads}"))
        epochs, monitor, start = _fit(config, items, run_dir, runs_root, not no_plots)
    with _EpochProgress(epochs, monitor, quiet) as progress:
        result = start(progress)
    _report(result)


def _resume(run_dir, config, set_, seed, new_run_dir, plots, switches):
    """(epochs, monitor, start) of ``--resume RUN``; ``start(progress)`` trains and returns the FitResult."""
    from nntrain.errors import UsageError
    from nntrain.runs.store import load_run_config
    from nntrain.training.fit import check_begun, resume

    if config is not None or set_ or seed is not None or new_run_dir is not None:
        raise UsageError("--resume continues a run with its own config; give no CONFIG, --set, --seed or --run-dir")
    for flag, (key, on) in switches.items():
        if on:
            raise UsageError(f"--resume continues a run with its own config; its {key} says whether it does what {flag} asks")
    check_run_dir(run_dir, "--resume", "nntrain fit {path} trains it")
    check_begun(run_dir)
    cfg = load_run_config(run_dir)
    _announce(run_dir, cfg)
    return cfg.training.epochs, _monitor(cfg), lambda progress: resume(
        run_dir, on_epoch=progress.on_epoch, on_step=progress.on_step, plots=plots
    )


def _fit(config, items, run_dir, runs_root, plots):
    """(epochs, monitor, start) of a new run of the CONFIG file with its overrides (``items``)."""
    from nntrain.config import load_config
    from nntrain.errors import UsageError
    from nntrain.training.fit import fit

    if config is None:
        raise UsageError("give a CONFIG file to train, or --resume RUN")
    cfg = load_config(config, items)
    return cfg.training.epochs, _monitor(cfg), lambda progress: fit(
        cfg, run_dir=run_dir, runs_root=runs_root, on_start=lambda path: _announce(path, cfg), on_epoch=progress.on_epoch, on_step=progress.on_step, plots=plots
    )


def _monitor(cfg):
    """The metric early stopping watches, or None (then the progress line leads with val_loss or loss)."""
    stopping = cfg.training.early_stopping
    return stopping.monitor if stopping is not None else None


def _report(result):
    """What the run came to; a diverged run raises Diverged (exit code 1) after saying so."""
    from nntrain.errors import Diverged

    summary = result.summary
    if not result.trained:
        typer.echo(f"the run is already completed ({summary['epochs']} epochs); nothing to do")
        return
    final = [f"{k} {number_text(v)}" for k, v in summary["final"].items() if k != "epoch_time_s"]
    head = f"{summary['status']}: {summary['epochs']} epochs in {summary['wall_time_s']:.2f} s; "
    typer.echo(_wrapped(head, final))
    if summary.get("stopped_early"):
        typer.echo(f"stopped early; restored the weights of epoch {summary['best_epoch']}")
    if summary.get("advice"):
        typer.echo(summary["advice"], err=True)
    if result.status == "diverged":
        raise Diverged(summary["message"])


def _wrapped(head, items):
    """``head`` and the ``items`` joined by ", ", broken between items (never inside one) where the line
    would pass the terminal's width; the next lines indented by two."""
    import shutil

    width = shutil.get_terminal_size().columns
    lines, line = [], head
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if line.strip() and len(line) + len(piece) > width:
            lines.append(line.rstrip())
            line = "  "
        line += piece + " "
    return "\n".join([*lines, line.rstrip()])


def _announce(run_dir, config):
    """The first line of output, as soon as the run directory exists: where the run goes (and its
    live report)."""
    typer.echo(f"run: {run_dir}")
    if config.training.live:
        typer.echo(f"report: {run_dir / 'report.html'} (live: open it in a browser)")


class _EpochProgress:
    """The epochs on stderr (see ``_progress``): from the first step on, with the metrics of the last
    epoch, the monitored one first. ``on_epoch`` and ``on_step`` are what fit and resume call."""

    def __init__(self, epochs, monitor, quiet):
        from ._progress import Progress

        self.progress = Progress("epoch", epochs, quiet=quiet)
        self.monitor = monitor
        self.on_step = None if quiet else self._step
        self.on_epoch = None if quiet else self._epoch

    def __enter__(self):
        self.progress.__enter__()
        return self

    def _step(self, epoch, step):
        if self.progress.started is None:
            self.progress.begin(epoch - 1)

    def _epoch(self, epoch, logs):
        from ._progress import metric_items

        self.progress.update(epoch, metric_items(logs, self.monitor))

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)
