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
