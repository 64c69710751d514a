"""The Typer application and what every command shares: error handling and output helpers.

A command module imports only typer at load time; numpy, pydantic and the engine are imported inside
the command, so ``nntrain --help`` stays instant.
"""

import functools
import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

STDOUT = Path("-")

app = typer.Typer(
    name="nntrain",
    help="Train neural networks described in YAML files, on NumPy, and keep every run.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
)


def _show_version(value):
    if value:
        from nntrain import __version__

        typer.echo(f"nntrain {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print nntrain's version and exit.")
    ] = False,
):
    """Train neural networks described in YAML files, on NumPy, and keep every run."""


def _one_metavar_style():
    """Help in one style, click's: arguments in capitals -- ``CONFIG`` required, ``[CONFIG]``
    optional, ``RUN...`` repeatable -- where Typer writes ``{run_dir}``, ``[config]``, ``{RUN}...``
    and a type beside each; a flag as ``--quiet -q``, not ``--quiet -q <bool>`` (which invites
    ``--quiet true``); an option without a metavar of its own shows its type in capitals (``INT``)."""
    from typer.core import TyperArgument, TyperOption

    TyperArgument.display_name_raw = property(lambda self: self.metavar or self.name.upper())
    TyperArgument.display_type_rich = lambda self, ctx: None

    def usage_name(self):
        name = self.display_name_raw
        return (name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")

    TyperArgument._usage_display_name = usage_name

    shown = TyperOption.display_type_rich

    def display_type_rich(self, ctx):
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return self.metavar
        text = shown(self, ctx)
        return text.strip("<>").replace("list[", "").replace("]", "").upper() if text else text

    TyperOption.display_type_rich = display_type_rich


_one_metavar_style()


def command(name=None):
    """Register a command, with the one place where what it raises becomes output and an exit code.

    A user's mistake (NNTrainError) prints each line of its message as ``error: ...`` and exits with 2;
    a run stopped by a signal (Interrupted) prints its message and exits with 128 + the signal; work
    that did not succeed (Failed: a diverged run, a failed check) prints its message, if any, as an
    error and exits with 1; a Ctrl-C anywhere else prints ``interrupted`` and exits with 130.
    """

    def register(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                # Python's own notes on files left open (a stop can cut a write short): not the user's concern.
                warnings.simplefilter("ignore", ResourceWarning)
                warnings.showwarning = _show_warning
                code = _run(_with_reading_progress(fn), args, kwargs)
            _ignore_further_stops()  # the work is done or has stopped: nothing left to interrupt
            if code:
                raise typer.Exit(code)

        app.command(name=name)(wrapper)
        return fn

    return register


# True when the command line runs in a process of its own (``nntrain.cli.main``), which ends with the
# command; False when it is called in-process (tests, CliRunner), where no process-wide state changes.
ends_with_the_process = False


def _run(fn, args, kwargs):
    """Run a command; its exit code: 0, or one of nntrain.errors' for what it raised."""
    from nntrain.errors import Failed, Interrupted, NNTrainError, signal_exit_code, stopped_by

    try:
        fn(*args, **kwargs)
    except NNTrainError as e:
        for line in str(e).splitlines() or [""]:
            typer.echo(f"error: {line}", err=True)
        return e.exit_code
    except Interrupted as e:
        _ignore_further_stops()
        typer.echo(f"{e}", err=True)
        return e.exit_code
    except Failed as e:
        if str(e):
            typer.echo(f"error: {e}", err=True)
        return e.exit_code
    except Exception as e:
        signum = stopped_by(e)
        if signum is None:  # a bug: its traceback
            raise
        _ignore_further_stops()
        typer.echo("interrupted", err=True)
        return signal_exit_code(signum)
    except KeyboardInterrupt as e:
        _ignore_further_stops()
        typer.echo("interrupted", err=True)
        return signal_exit_code(stopped_by(e))
    return 0


def _ignore_further_stops():
    """Once the command has done its work or stopped on Ctrl-C (or another signal), the process only
    says so and ends: a Ctrl-C, SIGTERM or SIGHUP then would cut that short -- no message, a
    traceback or a death by the signal."""
    import threading

    from nntrain.errors import ignore_stop_signals

    if ends_with_the_process and threading.current_thread() is threading.main_thread():
        ignore_stop_signals()


def overrides(set_, seed):
    """The --set overrides, and --seed as one more (named as the user wrote it in errors)."""
    items = list(set_ or [])
    if seed is not None:
        items.append((f"seed={seed}", f"--seed {seed}"))
    return items


def _with_reading_progress(fn):
    """``fn`` drawing a bar on the terminal while a large table file is read (not when stderr is not one)."""
    if not sys.stderr.isatty():
        return fn

    @functools.wraps(fn)
    def run(*args, **kwargs):
        from nntrain.data.csvfile import PROGRESS

        bar = _ReadingBar()
        token = PROGRESS.set(bar.report)
        try:
            return fn(*args, **kwargs)
        finally:
            PROGRESS.reset(token)
            bar.close()

    return run


class _ReadingBar:
    """A transient rich progress bar of bytes read, started at the first report."""

    progress = task = None
    done = False

    def report(self, name, done, total):
        if self.done:  # pyarrow reads on past the end
            return
        if self.progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

            self.progress = Progress(
                f"reading {name}", BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=True
            )
            self.progress.start()
            self.task = self.progress.add_task("read", total=total)
        self.progress.update(self.task, completed=done)
        if done >= total:
            self.done = True
            self.close()

    def close(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _show_warning(message, category, filename, lineno, file=None, line=None):
    from nntrain.errors import NNTrainNote

    typer.echo(f"{'note' if issubclass(category, NNTrainNote) else 'warning'}: {message}", err=True)


def write_output(output, text, force):
    """``text`` into the file ``output`` (written atomically), or to stdout when ``output`` is None or ``-``.

    Raises UsageError for a file that exists (unless ``force``), a directory, or a folder that does not exist.
    """
    if output is None or output == STDOUT:
        typer.echo(text, nl=False)
        return
    from nntrain.runs.store import check_output, write_text

    check_output(output, force)
    write_text(output, text)


def check_run_dir(path, given_as, config_hint):
    """UsageError when ``path`` -- what the user gave as ``given_as`` (``--resume``, ``RUN``) where a
    run directory is expected -- is a file: a YAML config is named as one, with ``config_hint`` (its
    ``{path}`` filled in: which command takes it)."""
    from nntrain.errors import UsageError

    if path is not None and path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):
            raise UsageError(f"{given_as} {path}: a config file, not a run directory; {config_hint.format(path=path)}")
        raise UsageError(f"{given_as} {path}: a file, not a run directory")


def print_json(obj):
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def console(wide=False):
    """A rich Console on stdout; ``wide``: as wide as what it prints (``--wide``: tables unelided,
    the terminal wrapping their lines if it must)."""
    from rich.console import Console

    return Console(width=100_000) if wide else Console()


