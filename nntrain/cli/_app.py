"""The Typer application and what every command shares: error handling and output helpers.

A command module imports only typer at load time; numpy, pydantic and the engine are imported inside
the command, so ``nntrain --help`` stays instant.
"""

import functools
import json
import sys
import warnings

import typer

from ._tables import number_text

app = typer.Typer(
    name="nntrain",
    help="Train neural networks described in YAML files, on NumPy, and keep every run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def command(name=None):
    """Register a command; a user's mistake (NNTrainError) becomes one line on stderr and exit code 2."""

    def register(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            from nntrain.errors import NNTrainError

            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.showwarning = _show_warning
                try:
                    return fn(*args, **kwargs)
                except NNTrainError as e:
                    typer.echo(f"error: {e}", err=True)
                    raise typer.Exit(e.exit_code) from None
                except KeyboardInterrupt:
                    typer.echo("interrupted", err=True)
                    raise typer.Exit(130) from None

        app.command(name=name)(wrapper)
        return fn

    return register


def _show_warning(message, category, filename, lineno, file=None, line=None):
    typer.echo(f"warning: {message}", err=True)


def print_json(obj):
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def console():
    from rich.console import Console

    return Console()


fmt = number_text  # the commands' name for it
