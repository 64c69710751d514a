"""``nntrain`` (the console script) and ``python -m nntrain``: the command line in a process of its own.

Before a command runs, the command line is imported and built (a tenth of a second or more); a
Ctrl-C meanwhile ends the process as one during a command does -- "interrupted", exit code 130 --
rather than with a traceback, or a second Ctrl-C cutting the first one's message short. SIGTERM and
SIGHUP do the same wherever no run is training (which checkpoints on them), with exit codes 143, 129.

A process a signal stopped ends at once once it has said so, without the interpreter's clean-up: a
signal can cut C code short (matplotlib drawing a plot) and leave it in a state that clean-up then
trips over, ending the process with a crash instead ("Fatal Python error", SIGABRT). Every file has
been written by then.
"""

import os
import signal
import sys

from nntrain.errors import ignore_stop_signals, interrupt_in, signal_exit_code, stop_on_signals, stopped_by

# The exit codes of a command a stop signal ended: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).
STOPPED = {signal_exit_code(getattr(signal, name)) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}


def main():
    stop_on_signals()  # SIGTERM and SIGHUP stop the command as Ctrl-C does, with their exit codes
    try:
        from nntrain.cli import main as command_line

        command_line()
    except BaseException as e:  # SystemExit too: the process ends now either way
        ignore_stop_signals()  # first: a second Ctrl-C (or SIGTERM) changes nothing now
        # Typer turns a Ctrl-C (or SignalReceived) it meets outside a command into a silent exit 130.
        signum = interrupt_in(e) if isinstance(e, SystemExit) else stopped_by(e)
        if signum is not None:
            sys.stderr.write("interrupted\n")
            end_now(signal_exit_code(signum))
        if isinstance(e, SystemExit) and e.code in STOPPED:  # the command said it was stopped
            end_now(e.code)
        raise


def end_now(code):
    """End the process with ``code`` once its standard streams are flushed, skipping the interpreter's
    clean-up (see the module's docstring)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe, a closed stream: nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
