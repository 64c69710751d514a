"""``nntrain`` (the console script) and ``python -m nntrain``: the command line in a process of its own.

Before a command runs, the command line is imported and built (a tenth of a second or more); a
Ctrl-C meanwhile ends the process as one during a command does -- "interrupted", exit code 130 --
rather than with a traceback, or a second Ctrl-C cutting the first one's message short. SIGTERM and
SIGHUP do the same wherever no run is training (which checkpoints on them), with exit codes 143, 129.
"""

import sys

from nntrain.errors import ignore_stop_signals, interrupt_in, signal_exit_code, stop_on_signals, stopped_by


def main():
    stop_on_signals()  # SIGTERM and SIGHUP stop the command as Ctrl-C does, with their exit codes
    try:
        from nntrain.cli import main as command_line

        command_line()
    except BaseException as e:  # SystemExit too: the process ends now either way
        ignore_stop_signals()  # first: a second Ctrl-C (or SIGTERM) changes nothing now
        # Typer turns a Ctrl-C (or SignalReceived) it meets outside a command into a silent exit 130.
        signum = interrupt_in(e) if isinstance(e, SystemExit) else stopped_by(e)
        if signum is None:
            raise
        sys.stderr.write("interrupted\n")
        sys.exit(signal_exit_code(signum))


if __name__ == "__main__":
    main()
