"""The error types and the exit codes the command line ends with, all from nntrain.errors."""

import signal

import pytest

from nntrain.errors import (
    EXIT_FAILED,
    EXIT_USER_ERROR,
    ConfigError,
    DataError,
    Diverged,
    Failed,
    Interrupted,
    NNTrainError,
    RunError,
    UsageError,
    signal_exit_code,
)


@pytest.mark.parametrize("error", [ConfigError, DataError, RunError, UsageError])
def test_every_user_mistake_is_an_nntrain_error_with_exit_code_2(error):
    assert issubclass(error, NNTrainError) and error("x").exit_code == EXIT_USER_ERROR == 2


def test_work_that_did_not_succeed_exits_with_1_and_is_no_user_mistake():
    assert Diverged().exit_code == Failed().exit_code == EXIT_FAILED == 1
    assert not issubclass(Failed, NNTrainError)


def test_a_signal_exits_as_a_shell_reports_it():
    assert signal_exit_code(signal.SIGINT) == 130 and signal_exit_code(signal.SIGTERM) == 143
    stopped = Interrupted("interrupted; go on with: nntrain fit --resume r", signal.SIGTERM, run_dir="r")
    assert (stopped.exit_code, stopped.signum, stopped.run_dir, str(stopped)) == (
        143, signal.SIGTERM, "r", "interrupted; go on with: nntrain fit --resume r"
    )
    assert Interrupted("stopped").exit_code == 130
    assert not issubclass(Interrupted, (NNTrainError, Failed))


def test_what_a_stop_signal_is_behind(monkeypatch):
    import signal

    from nntrain import errors

    monkeypatch.setattr(errors, "_received", [])
    assert errors.stopped_by(ValueError("Invalid bounding box")) is None  # a bug's error
    assert errors.stopped_by(KeyboardInterrupt()) == signal.SIGINT
    wrapped = RuntimeError("Error calling __set_name__")  # Python wraps one raised while a class is made
    wrapped.__cause__ = errors.SignalReceived(signal.SIGHUP)
    assert errors.stopped_by(wrapped) == signal.SIGHUP
    # Once a stop signal has arrived, C code it interrupted may raise an error of its own instead.
    errors._received.append(signal.SIGTERM)
    assert errors.stopped_by(ValueError("Invalid bounding box")) == signal.SIGTERM


def test_typers_silent_exit_on_a_ctrl_c_is_seen_as_the_interruption():
    import signal

    import typer

    from nntrain import errors

    try:
        try:
            raise errors.SignalReceived(signal.SIGTERM)
        except KeyboardInterrupt as e:
            raise typer.Exit(130) from e  # what Typer does with a Ctrl-C it meets outside a command
    except typer.Exit as exit_:
        assert errors.interrupt_in(exit_) == signal.SIGTERM
    assert errors.interrupt_in(SystemExit(2)) is None
