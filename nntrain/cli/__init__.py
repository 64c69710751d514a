"""nntrain's command line: one module per command, each parsing its arguments, calling one library
function and printing the result. A new command goes into ``nntrain/cli/<command>.py``; every module
here whose name does not start with an underscore is imported, and so registered, at start-up."""

import importlib
import pkgutil

from . import _app
from ._app import app

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")


def main():
    """``nntrain``: the command line, in a process of its own (see ``_app.ends_with_the_process``)."""
    _app.ends_with_the_process = True
    app()
