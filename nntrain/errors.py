"""The project's own error types, and the exit codes of the command line: all in one place.

Every mistake a user can make (a config, a data file, a path, a damaged run, the command line itself)
raises an ``NNTrainError``; the CLI catches it once and prints its message, one line per problem, with
exit code 2. Two outcomes are not mistakes and have their own types: a run stopped by a signal raises
``Interrupted`` (exit code 128 + the signal), and a command whose work ran but did not succeed -- a
diverged run, a failed gradient check, a sweep with a failed run -- ends with ``Failed`` (exit code 1).
Anything else is a bug and keeps its traceback.
"""

import os
import signal
import sys
import threading

EXIT_FAILED = 1  # the command ran, but what it ran did not succeed (``Failed``)
EXIT_USER_ERROR = 2  # a user's mistake (``NNTrainError``); the command did nothing more


def signal_exit_code(signum):
    """128 + the signal's number, as a shell reports a process that a signal ended: SIGINT 130, SIGTERM 143."""
    return 128 + signum


class NNTrainError(Exception):
    """A user's mistake: printed as one line per problem, exit code 2."""

    exit_code = EXIT_USER_ERROR


class UsageError(NNTrainError):
    """Command-line arguments that cannot be read or do not go together (a bad --input, --split, ...)."""


class ConfigError(NNTrainError):
    """An experiment config that cannot be used as written."""


class DataError(NNTrainError):
    """Data that is missing, malformed or does not fit the model."""


class RunError(NNTrainError):
    """A run directory that is missing, incomplete, damaged or already exists."""


class Failed(Exception):
    """What a command ran did not succeed: exit code 1. The message, if any, is printed as an error;
    without one the command's output has already said what failed (a sweep's list of runs)."""

    exit_code = EXIT_FAILED


class Diverged(Failed):
    """A non-finite loss or weight: training stops at once and the run ends "diverged"."""


class Interrupted(Exception):
    """Stopped cleanly on SIGINT, SIGTERM or SIGHUP, with what was done kept (a run's checkpoint, a sweep's
    finished runs): exit code 128 + the signal. ``run_dir``: the run that can go on, if one can."""

    def __init__(self, message, signum=signal.SIGINT, run_dir=None):
        super().__init__(message)
        self.signum, self.run_dir = signum, run_dir
        self.exit_code = signal_exit_code(signum)


class SignalReceived(KeyboardInterrupt):
    """SIGTERM or SIGHUP where no run is training -- the command line's start-up, a run's plots --
    stops the command as Ctrl-C does, exit code 128 + the signal (``stop_on_signals``)."""

    def __init__(self, signum):
        super().__init__()
        self.signum = signum


_received = []  # the stop signals this process has received (stop_on_signals' handlers), in order


def stop_on_signals():
    """From now on SIGINT raises KeyboardInterrupt and SIGTERM and SIGHUP SignalReceived, each noted
    first (``stopped_by``): for a process of the command line (training and sweeps catch them
    themselves meanwhile, and give these handlers back)."""

    def received(signum, frame):
        _received.append(signum)
        raise KeyboardInterrupt if signum == signal.SIGINT else SignalReceived(signum)

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), received)
    sys.unraisablehook = _raised_again(sys.unraisablehook)


def _raised_again(hook):
    """An unraisable-exception hook that, for a stop Python could not raise where its signal landed
    (a finalizer, a callback during an import: it would print "Exception ignored in ..." with a
    traceback and go on as if nothing had happened), sends the signal again, to be raised at the
    next chance; other exceptions go to ``hook``."""

    def unraisable(args):
        if isinstance(args.exc_value, KeyboardInterrupt):
            # From another thread, a moment later: a signal sent from here would be handled -- and
            # its exception swallowed again -- inside this hook.
            signum = getattr(args.exc_value, "signum", signal.SIGINT)
            again = threading.Timer(0.001, os.kill, (os.getpid(), signum))
            again.daemon = True  # nothing to wait for at the interpreter's exit
            again.start()
            return
        hook(args)

    return unraisable


def interrupt_in(error):
    """The signal of a KeyboardInterrupt (SIGINT, or SignalReceived's own) in ``error``'s chain of
    causes, or None: Python wraps one raised while a class is made, say, in another exception, and
    Typer turns one it meets into a silent exit 130."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return getattr(error, "signum", signal.SIGINT)
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def stopped_by(error):
    """The stop signal behind ``error``, or None (a bug's error): ``interrupt_in``'s, or, for any
    error raised once a stop signal had arrived, that signal: C code that was running (matplotlib
    drawing text) may turn the interruption into an error of its own, ``ValueError: Invalid bounding
    box``, with nothing of it left to see."""
    signum = interrupt_in(error)
    if signum is None and _received:
        return _received[0]
    return signum


def ignore_stop_signals():
    """SIGINT, SIGTERM and SIGHUP ignored from now on: for a process that is ending anyway."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


class NNTrainWarning(UserWarning):
    """Something works but is probably not what the user meant (e.g. a mismatched output/loss pair)."""


class NNTrainNote(NNTrainWarning):
    """Something the user should know that is not a problem (e.g. columns predict passes through);
    the CLI shows it as ``note: ...``."""
