"""nntrain's command line: one module per command, each parsing its arguments, calling one library
function and printing the result. A new command goes into ``nntrain/cli/<command>.py`` and is imported
here."""

from ._app import app
from . import evaluate, fit, predict  # noqa: F401  (registers the commands)


def main():
    app()
