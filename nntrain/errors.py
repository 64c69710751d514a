"""The project's own error types.

Every mistake a user can make (a config, a data file, a path, a damaged run) raises an ``NNTrainError``;
the CLI catches it once and prints its message in one or two lines with exit code 2. Anything else is a
bug and keeps its traceback.
"""


class NNTrainError(Exception):
    """A user's mistake: printed as one or two lines, exit code 2."""

    exit_code = 2


class ConfigError(NNTrainError):
    """An experiment config that cannot be used as written."""


class DataError(NNTrainError):
    """Data that is missing, malformed or does not fit the model."""


class RunError(NNTrainError):
    """A run directory that is missing, incomplete, damaged or already exists."""


class NNTrainWarning(UserWarning):
    """Something works but is probably not what the user meant (e.g. a mismatched output/loss pair)."""
