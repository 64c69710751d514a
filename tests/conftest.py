"""What the test modules share: a config from a dict, the command line in-process, gradient checks.

pytest puts tests/ on sys.path (rootdir conftest), so test modules import these helpers with
``from conftest import make_config, run_cli, gradient_errors``.
"""

import copy
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from nntrain.cli import app
from nntrain.errors import RunError
from nntrain.runs.store import read_summary
from nntrain.config import ExperimentConfig
from nntrain.nn.gradcheck import numerical_gradient, relative_error

XOR = {
    "name": "xor",
    "seed": 0,
    "data": {"source": "xor", "batch_size": 4},
    "model": {"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]},
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "lr": 0.05},
    "training": {"epochs": 20},
    "metrics": ["accuracy"],
}


def make_config(base=XOR, **changes):
    """An ExperimentConfig from a dict, with top-level keys replaced."""
    raw = copy.deepcopy(base)
    raw.update(copy.deepcopy(changes))
    return ExperimentConfig.model_validate(raw)


def run_cli(*args):
    """``nntrain *args`` in-process (arguments may be paths): click's Result, with ``exit_code``,
    ``stdout``, ``stderr`` and ``output`` (both). The terminal is 80 columns wide whatever the one
    running the tests, so rich tables wrap the same everywhere."""
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})


def gradient_errors(objective, gradients, wrt):
    """Relative errors of analytic gradients against central finite differences, by name (float64).

    ``objective()``: a float computed from the arrays of ``wrt`` (name -> float64 array), which are
    perturbed in place one entry at a time and restored. ``gradients()``: name -> d objective / d
    wrt[name] at the current point; called once, after one ``objective()`` call (a backward pass
    needs its forward); names it leaves out are not checked. The finite differences are
    ``nntrain.nn.gradcheck.numerical_gradient``'s -- itself checked against a known derivative in
    test_gradcheck -- and the error is its ``relative_error``.
    """
    objective()
    # Copies: an op's backward writes into buffers that the forward passes below may reuse.
    analytic = {name: np.array(grad, dtype=np.float64) for name, grad in gradients().items()}
    return {name: relative_error(grad, numerical_gradient(objective, wrt[name])) for name, grad in analytic.items()}


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in a fresh temporary directory (so runs/ goes there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def step_peak_bytes(model, loss, x, y):
    """The most memory (bytes, tracemalloc) one training step through ``model`` and ``loss`` allocates
    once a first step has made the buffers: what the hot path allocates per step."""
    import tracemalloc

    logits = loss.from_logits

    def step():
        loss.forward(model.forward(x, training=True, logits=logits), y) + model.penalty()
        model.backward(loss.backward(), logits=logits)

    step()
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------------------------------
# Commands in a process of their own, stopped by a signal


CLI = [sys.executable, "-c", "from nntrain.__main__ import main; main()"]


def completed(run_dir):
    """Whether a run directory's summary says completed (a local worker writes the run as it goes)."""
    try:
        return read_summary(run_dir)["status"] == "completed"
    except RunError:  # not there yet
        return False


def signal_once_completed(args, cwd, run_dir, sig, group=True, settle=0.0):
    """``nntrain *args`` in a session of its own (a terminal of its own), sent ``sig`` once ``run_dir``
    has completed (within 60 s) and ``settle`` seconds more: to the whole session, as Ctrl-C in a
    terminal reaches the driver and its workers alike, or (``group=False``) to the driver alone.
    (process, stdout, stderr) once it ended; a process still running after 60 s is killed."""
    process = subprocess.Popen([*CLI, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not completed(run_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(settle)
        os.killpg(process.pid, sig) if group else process.send_signal(sig)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return process, out, err


def group_ended(group, seconds=10):
    """Whether every process of the process group ``group`` ends within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False

