"""Going on with a sweep (or a cross-validation) that stopped: ``resume_sweep``, ``resume_cv``, and
``nntrain sweep --resume`` / ``nntrain cv --resume`` -- every run ends with the weights and metrics
it would have had never stopped."""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import CLI, group_ended, run_cli as run
from nntrain.errors import RunError
from nntrain.runs.store import read_metrics, read_summary, read_weights, writing
from nntrain.sweep import CVInterrupted, SweepInterrupted, plan_cv, plan_sweep, resume_cv, resume_sweep, run_cv, run_sweep
from nntrain.training.fit import fit

XOR = Path(__file__).parent.parent / "configs" / "xor.yaml"


def sweep_json(path):
    return json.loads((Path(path) / "sweep.json").read_text())


def as_fitted_alone(sweep_dir, plan, tmp_path):
    """Whether every run of the sweep has the weights and metrics of its config fitted alone."""
    for variant in plan.variants:
        alone = fit(variant.config, run_dir=tmp_path / "alone" / variant.dirname).run_dir
        run_dir = sweep_dir / variant.dirname
        got, expected = read_weights(run_dir), read_weights(alone)
        if sorted(got) != sorted(expected) or any(got[k].tobytes() != expected[k].tobytes() for k in got):
            return False
        strip = lambda rows: [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in rows]  # noqa: E731
        if strip(read_metrics(run_dir)) != strip(read_metrics(alone)):
            return False
    return True


def stop_in_first_files(config, run_dir):
    """A run stopped while it began, as a kill before its first checkpoint leaves it: config.yaml and a
    "running" summary, no checkpoint."""

    class Killed(Exception):
        pass

    def killed(path):
        raise Killed

    with pytest.raises(Killed):
        fit(config, run_dir=run_dir, on_start=killed)


def interrupted_mid_run(config, run_dir, at_step=40):
    """A run stopped by a signal after ``at_step`` steps: a checkpoint, "interrupted"."""
    from nntrain.errors import Interrupted

    def on_step(epoch, step):
        if epoch == at_step:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        fit(config, run_dir=run_dir, on_step=on_step)


@pytest.fixture
def stopped(tmp_path):
    """A sweep of four runs whose driver was killed without a word, each run in another state: seed=0
    completed (sweep.json never heard of it), seed=1 interrupted with a checkpoint, seed=2 stopped
    before its first checkpoint, seed=3 never started."""
    plan = plan_sweep(XOR, ["seed=0,1,2,3"], overrides=["training.epochs=100", "training.checkpoint_every=10"])
    seen = []

    def on_result(entry):
        seen.append(entry)
        raise KeyboardInterrupt

    with pytest.raises(SweepInterrupted):
        run_sweep(plan, sweep_dir=tmp_path / "s", workers=1, on_result=on_result)
    s = tmp_path / "s"
    for variant in plan.variants[1:]:
        shutil.rmtree(s / variant.dirname, ignore_errors=True)
    interrupted_mid_run(plan.variants[1].config, s / "seed=1")
    stop_in_first_files(plan.variants[2].config, s / "seed=2")
    doc = sweep_json(s)
    for entry in doc["runs"]:
        entry["status"] = "pending"  # as a driver killed before it wrote sweep.json again leaves it
    doc["status"] = "running"
    (s / "sweep.json").write_text(json.dumps(doc))
    return plan, s


def test_a_stopped_sweep_resumes_each_run_as_it_stood_and_ends_as_if_never_stopped(stopped, tmp_path):
    plan, s = stopped
    kept = []
    result = resume_sweep(s, workers=2, on_result=lambda entry: kept.append(entry["dir"]))
    assert result.todo == {"kept": 1, "resumed": 1, "restarted": 1, "started": 1}
    assert kept[0] == "seed=0" and sorted(kept) == ["seed=0", "seed=1", "seed=2", "seed=3"]  # the kept one first
    doc = sweep_json(s)
    assert doc["status"] == "completed" and doc["resumed"] == 1 and doc["counts"] == {"completed": 4}
    assert [r["status"] for r in doc["runs"]] == ["completed"] * 4 and all(r["final"] for r in doc["runs"])
    assert read_summary(s / "seed=1")["resumed"] == 1  # went on from its checkpoint, not from scratch
    assert not any((s / v.dirname / "checkpoint.npz").exists() for v in plan.variants)
    assert as_fitted_alone(s, plan, tmp_path)


def test_resuming_a_complete_sweep_does_nothing(stopped):
    plan, s = stopped
    resume_sweep(s, workers=1)
    before = {p: p.stat().st_mtime_ns for p in s.rglob("*") if p.is_file() and p.name != "sweep.json"}
    again = resume_sweep(s, workers=1)
    assert not again.trained and again.todo == {"kept": 4} and again.status == "completed"
    assert before == {p: p.stat().st_mtime_ns for p in s.rglob("*") if p.is_file() and p.name != "sweep.json"}


def test_sweep_resume_command_says_what_it_does(stopped, tmp_path):
    plan, s = stopped
    result = run("sweep", "--resume", s, "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first == f"sweep: {s} (4 runs on 1 local worker); resumed: 1 kept, 1 resumed, 1 started over, 1 started"
    assert "4 runs: 4 completed" in result.stdout
    again = run("sweep", "--resume", s, "-q")
    assert again.exit_code == 0 and "the sweep is already complete (4 runs); nothing to do" in again.stdout


def test_a_run_failed_for_its_config_is_kept_as_failed(tmp_path):
    plan = plan_sweep(XOR, ["model.inputs=3,2"])
    run_sweep(plan, sweep_dir=tmp_path / "s", workers=1)
    result = resume_sweep(tmp_path / "s", workers=1)
    assert not result.trained and [r["status"] for r in result.runs] == ["failed", "completed"]
    assert "model.inputs: the data has 2 features, not 3" in result.runs[0]["error"]


def test_cv_resume_judges_every_fold_as_an_uninterrupted_cv(tmp_path):
    plan = plan_cv(XOR, 2, repeats=2, overrides=["training.epochs=200"])

    def on_result(entry):
        raise KeyboardInterrupt  # Ctrl-C right after the first fold came back

    with pytest.raises(CVInterrupted):
        run_cv(plan, cv_dir=tmp_path / "cv", workers=1, on_result=on_result)
    resumed = resume_cv(tmp_path / "cv", workers=2)
    whole = run_cv(plan, cv_dir=tmp_path / "whole", workers=2)
    assert resumed.doc["status"] == "completed" and [r["status"] for r in resumed.doc["runs"]] == ["completed"] * 4
    assert [r["metrics"] for r in resumed.doc["runs"]] == [r["metrics"] for r in whole.doc["runs"]]
    assert (resumed.doc["mean"], resumed.doc["std"]) == (whole.doc["mean"], whole.doc["std"])
    assert (tmp_path / "cv" / "oof.csv").read_text() == (tmp_path / "whole" / "oof.csv").read_text()
    out = run("cv", "--resume", tmp_path / "cv", "-q")
    assert out.exit_code == 0 and "4 runs: 4 completed" in out.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["sweep", "--resume", "s", str(XOR)], "--resume goes on with the runs as they were planned; give no CONFIG"),
        (["sweep", "--resume", "s", "--grid", "seed=0,1", "--set", "seed=1"], "give no --grid or --set"),
        (["cv", "--resume", "s", "--folds", "3"], "give no --folds"),
        (["sweep"], "give a CONFIG file, or --resume DIR to go on with a sweep that stopped"),
        (["cv", str(XOR)], "--folds K is missing: the number of folds (2 to 1000), e.g. --folds 5"),
        (["sweep", "--resume", "nowhere"], "nowhere: no such sweep directory"),
        (["cv", "--resume", "nowhere"], "nowhere: no such cv directory"),
    ],
)
def test_resume_command_bad_input(in_tmp, args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_resume_refuses_what_it_cannot_go_on_with(stopped, tmp_path):
    plan, s = stopped
    (s / "plan.json").rename(tmp_path / "plan.json")
    with pytest.raises(RunError, match="no plan.json: this sweep was written by an older nntrain and cannot be resumed; run it anew"):
        resume_sweep(s)
    (tmp_path / "plan.json").rename(s / "plan.json")
    with pytest.raises(RunError, match=r"s: a sweep directory; go on with it with: nntrain sweep --resume .*s$"):
        resume_cv(s)
    with writing(s, "sweep"):  # as the driver of the sweep, still running, holds it
        with pytest.raises(RunError, match="s: another nntrain process is writing this sweep; let it finish or stop it first"):
            resume_sweep(s)
    with writing(s / "seed=1"):  # a worker of the killed driver, still training
        with pytest.raises(RunError, match="seed=1: another nntrain process is still writing this run; let it finish or stop it, then resume"):
            resume_sweep(s)
    assert sweep_json(s)["runs"][1]["status"] == "pending"  # refused before anything changed
    (s / "seed=2" / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="seed=2: stopped before its first checkpoint, so it starts over, but it holds notes.txt, which nntrain did not write there"):
        resume_sweep(s)
    assert (s / "seed=2" / "notes.txt").read_text() == "mine"


def test_a_damaged_plan_is_one_line(stopped):
    plan, s = stopped
    saved = json.loads((s / "plan.json").read_text())
    saved["variants"][0]["config"]["optimizer"]["lr"] = -1
    (s / "plan.json").write_text(json.dumps(saved))
    with pytest.raises(RunError, match=r"plan.json: damaged config of seed=0: Input should be greater than 0$"):
        resume_sweep(s)
    (s / "plan.json").write_text("{}")
    with pytest.raises(RunError, match=r"damaged sweep.json or plan.json: no 'variants'$"):
        resume_sweep(s)


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs Dask's distributed (pip install 'nntrain[dask]')")
def test_a_sweep_resumes_on_dask_as_locally(stopped, tmp_path):
    from distributed import LocalCluster

    plan, s = stopped
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        result = resume_sweep(s, scheduler=cluster.scheduler_address)
    assert result.todo == {"kept": 1, "resumed": 1, "restarted": 1, "started": 1}
    assert sweep_json(s)["backend"]["kind"] == "dask" and [r["status"] for r in result.runs] == ["completed"] * 4
    assert not (s / "seed=1" / "checkpoint.npz").exists()  # the resumed run's files as the worker left them
    assert as_fitted_alone(s, plan, tmp_path)


@pytest.mark.slow
def test_a_sweep_killed_with_all_its_processes_resumes_as_if_never_stopped(tmp_path):
    """kill -9 to the driver, its workers and the forkserver at once -- a power cut -- in the middle
    of the sweep; then ``nntrain sweep --resume`` ends every run as it would have ended."""
    args = ["sweep", str(XOR), "--no-plots", "--seeds", "4", "--set", "training.epochs=3000", "--set", "training.checkpoint_every=100",
            "--workers", "2", "--sweep-dir", "s", "-q"]  # fmt: skip
    process = subprocess.Popen([*CLI, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("s/seed=*/checkpoint.npz")) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert group_ended(process.pid)
    assert sweep_json(tmp_path / "s")["status"] == "running"  # nobody said a word
    resumed = subprocess.run([*CLI, "sweep", "--resume", "s", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed: " in resumed.stdout and "4 runs: 4 completed" in resumed.stdout
    plan = plan_sweep(XOR, ["seed=0,1,2,3"], overrides=["training.epochs=3000", "training.checkpoint_every=100"])
    assert as_fitted_alone(tmp_path / "s", plan, tmp_path)
    assert np.all([r["status"] == "completed" for r in sweep_json(tmp_path / "s")["runs"]])
