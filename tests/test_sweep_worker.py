"""nntrain.sweep._worker: one resolved config in as plain data, one run out -- what the sweep driver
reads back (status, error, summary, files) for a completed, diverged, interrupted and failing run, from
a Dask worker (the files sent back) and from a local one (written into the sweep directory)."""

import io
import json
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import make_config
from nntrain.runs import store as runs
from nntrain.runs.store import read_summary, read_weights
from nntrain.sweep import _worker
from nntrain.sweep._worker import execute, execute_local
from nntrain.training.fit import fit, resume
from nntrain.training.trainer import Trainer

RUN_FILES = ["config.yaml", "diagnostics.csv", "metrics.csv", "snapshots.npz", "summary.json", "weights.npz"]  # XOR: 2-D, so snapshots

DIVERGING = {  # a ReLU net with weights of scale 10 and lr 10: non-finite within a few epochs
    "model": {"layers": [{"units": 8, "activation": "relu", "init": {"name": "normal", "scale": 10.0}}, {"units": 1, "activation": "linear"}]},
    "loss": "mse", "metrics": [], "optimizer": {"name": "sgd", "lr": 10.0}, "training": {"epochs": 50},
}  # fmt: skip


def plain(config):
    """A config as the driver sends it: JSON data, no pydantic object."""
    return json.loads(json.dumps(config.model_dump(mode="json")))


def npz(data):
    with np.load(io.BytesIO(data)) as arrays:
        return {key: arrays[key] for key in arrays.files}


def same_arrays(a, b):
    return sorted(a) == sorted(b) and all(a[k].tobytes() == b[k].tobytes() for k in a)


@pytest.fixture
def worker_tmp(tmp_path, monkeypatch):
    """The worker's temporary directory, to see what it leaves there."""
    path = tmp_path / "worker-tmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


@pytest.fixture
def synced(monkeypatch):
    """The files written durably (fsync'ed), by name."""
    names = []
    monkeypatch.setattr(runs.os, "fsync", lambda fd: names.append(runs.os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1]))
    return names


# --------------------------------------------------------------------------------------------------
# A Dask worker: the run's files come back as bytes, nothing stays behind


def test_a_completed_run_comes_back_as_its_files(worker_tmp, tmp_path):
    config = make_config()
    outcome = execute(plain(config))
    assert sorted(outcome) == ["files", "status", "summary"]  # no error
    assert outcome["status"] == "completed" == outcome["summary"]["status"]
    assert sorted(outcome["files"]) == RUN_FILES and all(isinstance(b, bytes) for b in outcome["files"].values())
    assert json.loads(outcome["files"]["summary.json"]) == outcome["summary"]
    alone = fit(config, run_dir=tmp_path / "alone").run_dir
    assert same_arrays(npz(outcome["files"]["weights.npz"]), read_weights(alone))
    assert outcome["files"]["metrics.csv"].count(b"\n") == 21
    assert list(worker_tmp.iterdir()) == []


def test_a_dask_worker_writes_its_scratch_files_without_waiting_for_the_disk(worker_tmp, synced):
    assert execute(plain(make_config()))["status"] == "completed"
    assert synced == []  # the driver writes them durably when they arrive


def test_a_diverged_run_comes_back_with_its_message_and_finite_weights(worker_tmp):
    outcome = execute(plain(make_config(**DIVERGING)))
    assert outcome["status"] == "diverged" and "error" not in outcome
    assert outcome["summary"]["message"].startswith("the loss became non-finite in epoch ")
    assert all(np.isfinite(w).all() for w in npz(outcome["files"]["weights.npz"]).values())
    assert list(worker_tmp.iterdir()) == []


def test_a_config_error_comes_back_failed_with_its_message_and_no_files(worker_tmp):
    outcome = execute(plain(make_config(model={"inputs": 3, "layers": [{"units": 1, "activation": "sigmoid"}]})))
    assert outcome == {"status": "failed", "files": {}, "error": "model.inputs: the data has 2 features, not 3"}
    assert list(worker_tmp.iterdir()) == []


def test_a_bug_comes_back_failed_with_its_traceback_and_the_files_so_far(worker_tmp, monkeypatch):
    def broken(self, x, y, totals, diagnose=False, weight=None):
        raise ZeroDivisionError("a bug in the step")

    monkeypatch.setattr(Trainer, "train_step", broken)
    outcome = execute(plain(make_config()))
    assert outcome["status"] == "failed" and outcome["error"] == "ZeroDivisionError: a bug in the step"
    assert outcome["traceback"].startswith("Traceback") and "in broken" in outcome["traceback"]
    assert outcome["summary"]["message"] == "ZeroDivisionError: a bug in the step"  # fit's own record
    assert "summary.json" in outcome["files"] and "config.yaml" in outcome["files"]
    assert list(worker_tmp.iterdir()) == []


def test_a_stop_request_comes_back_interrupted_with_a_checkpoint(worker_tmp):
    asked = []
    outcome = execute(plain(make_config()), should_stop=lambda: asked.append(1) or True)
    assert asked == [1]  # after the first step
    assert outcome["status"] == "interrupted" and "error" not in outcome
    assert outcome["summary"]["checkpoint"] == {"epoch": 0, "step": 1}
    assert "checkpoint.npz" in outcome["files"]


# --------------------------------------------------------------------------------------------------
# A local worker: the run is written into the sweep directory, as `nntrain fit` writes one


def test_a_local_worker_writes_the_run_into_the_sweep_directory(tmp_path, worker_tmp, synced):
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    config = make_config()
    outcome = execute(plain(config), run_dir=sweep_dir / "optimizer.lr=0.05")
    assert outcome["files"] == {} and outcome["status"] == "completed"
    run_dir = sweep_dir / "optimizer.lr=0.05"
    assert sorted(p.name for p in run_dir.iterdir()) == RUN_FILES
    assert outcome["summary"] == read_summary(run_dir)
    assert same_arrays(read_weights(run_dir), read_weights(fit(config, run_dir=tmp_path / "alone").run_dir))
    assert ".summary.json.tmp" in synced  # durable: this is the sweep's copy
    assert list(worker_tmp.iterdir()) == []


def test_a_local_worker_records_a_diverged_and_a_failing_run(tmp_path):
    diverged = execute(plain(make_config(**DIVERGING)), run_dir=tmp_path / "diverged")
    assert diverged["status"] == "diverged" == read_summary(tmp_path / "diverged")["status"]
    assert diverged["files"] == {} and "error" not in diverged
    failed = execute(plain(make_config(model={"inputs": 3, "layers": [{"units": 1, "activation": "sigmoid"}]})), run_dir=tmp_path / "failed")
    assert failed == {"status": "failed", "files": {}, "error": "model.inputs: the data has 2 features, not 3"}
    assert not (tmp_path / "failed").exists()


def test_a_local_run_stopped_by_the_driver_resumes_to_the_same_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(_worker, "_STOP", SimpleNamespace(value=0))
    step = Trainer.train_step
    steps = []

    def third_step_then_ctrl_c(self, *args, **kwargs):
        steps.append(1)
        if len(steps) == 3:
            _worker._STOP.value = 1  # the driver's flag, in shared memory
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train_step", third_step_then_ctrl_c)
    config = make_config()  # one step per epoch
    outcome = execute_local(plain(config), False, tmp_path / "run")
    assert outcome["status"] == "interrupted" and outcome["files"] == {} and len(steps) == 3
    assert outcome["summary"]["checkpoint"] == {"epoch": 2, "step": 1}  # the step just finished
    assert resume(tmp_path / "run").status == "completed"
    assert same_arrays(read_weights(tmp_path / "run"), read_weights(fit(config, run_dir=tmp_path / "alone").run_dir))


def test_a_local_run_the_driver_cancelled_never_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(_worker, "_STOP", SimpleNamespace(value=1))
    assert execute_local(plain(make_config()), False, tmp_path / "run") == {"status": "cancelled", "files": {}}
    assert not (tmp_path / "run").exists()


def test_a_local_worker_is_set_up_once_for_its_runs():
    # In a process of its own: the set-up changes process-wide state (signals, BLAS threads, warnings).
    code = """
import multiprocessing, signal, warnings
from threadpoolctl import threadpool_info
from nntrain.errors import NNTrainWarning
from nntrain.sweep import _worker
stop = multiprocessing.RawValue("b", 0)
_worker.init_local_worker(stop)
with warnings.catch_warnings(record=True) as caught:
    warnings.warn("every run would say this", NNTrainWarning)
    warnings.warn("but not this", UserWarning)
print(_worker._STOP is stop, signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
      sorted({pool["num_threads"] for pool in threadpool_info()}), [str(w.message) for w in caught])
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True [1] ['but not this']"
