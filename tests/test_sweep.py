import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nntrain
from conftest import group_ended, run_cli as run, signal_once_completed
from nntrain.errors import NNTrainWarning, RunError, UsageError
from nntrain.training.fit import fit, resume
from nntrain.runs.store import read_summary, read_weights
from nntrain.sweep import SweepInterrupted, plan_sweep, pools, run_sweep
from nntrain.sweep._forkserver import PRELOAD

XOR = Path(__file__).parent.parent / "configs" / "xor.yaml"


def same_weights(a, b):
    wa, wb = read_weights(a), read_weights(b)
    return sorted(wa) == sorted(wb) and all(wa[k].tobytes() == wb[k].tobytes() for k in wa)


def sweep_json(path):
    return json.loads((Path(path) / "sweep.json").read_text())


# Tests that reach a Dask scheduler need the client, nntrain[dask]; without it they are skipped.
needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="needs Dask's distributed (pip install 'nntrain[dask]')"
)


# --------------------------------------------------------------------------------------------------
# The package, its pools and its forkserver


def test_the_package_exports_the_sweep_api_from_its_modules():
    from nntrain import sweep
    from nntrain.sweep import execute, plan

    assert sweep.plan_sweep is plan.plan_sweep is nntrain.plan_sweep
    assert sweep.run_sweep is execute.run_sweep is nntrain.run_sweep
    assert (sweep.SweepInterrupted, sweep.SweepResult) == (execute.SweepInterrupted, execute.SweepResult)
    with pytest.raises(AttributeError, match="module 'nntrain.sweep' has no attribute 'plan_sweeps'"):
        _ = sweep.plan_sweeps


def test_the_forkserver_preloads_what_a_local_worker_needs():
    code = f"import importlib, sys; importlib.import_module({PRELOAD!r}); print(*sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    worker_needs = {"nntrain.sweep._worker", "nntrain.training.fit", "multiprocessing.popen_forkserver",
                    "multiprocessing.sharedctypes", "multiprocessing.synchronize", "multiprocessing.queues"}  # fmt: skip
    assert worker_needs <= set(loaded)


def test_a_dask_scheduler_without_dask_installed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    with pytest.raises(UsageError) as e:
        pools.DaskCluster("tcp://127.0.0.1:8786")
    assert str(e.value) == "--scheduler needs Dask: pip install 'nntrain[dask]'"


# --------------------------------------------------------------------------------------------------
# Local sweeps


def test_local_sweep_gives_the_same_weights_with_1_and_2_workers_as_plain_fits(tmp_path):
    plan = plan_sweep(XOR, ["optimizer.lr=0.1,0.01", "model.layers.0.keep_prob=1,0.8"], overrides=["training.epochs=30"])
    one = run_sweep(plan, sweep_dir=tmp_path / "one", workers=1)
    two = run_sweep(plan, sweep_dir=tmp_path / "two", workers=2)
    assert one.status == two.status == "completed"
    for variant in plan.variants:
        alone = fit(variant.config, run_dir=tmp_path / "alone" / variant.dirname).run_dir
        assert same_weights(one.sweep_dir / variant.dirname, alone)
        assert same_weights(two.sweep_dir / variant.dirname, alone)
    run_dir = two.sweep_dir / "optimizer.lr=0.01,model.layers.0.keep_prob=0.8"
    assert {"config.yaml", "metrics.csv", "weights.npz", "summary.json"} <= {p.name for p in run_dir.iterdir()}
    assert "sweep: null" in (run_dir / "config.yaml").read_text()
    assert "keep_prob: 0.8" in (run_dir / "config.yaml").read_text()
    doc = sweep_json(two.sweep_dir)
    assert doc["status"] == "completed" and doc["counts"] == {"completed": 4}
    assert doc["backend"] == {"kind": "local", "workers": 2}
    assert doc["grid"] == {"optimizer.lr": [0.1, 0.01], "model.layers.0.keep_prob": [1, 0.8]}
    assert [r["dir"] for r in doc["runs"]] == [v.dirname for v in plan.variants]
    entry = doc["runs"][3]
    assert entry["values"] == {"optimizer.lr": 0.01, "model.layers.0.keep_prob": 0.8}
    assert entry["status"] == "completed" and entry["final"]["accuracy"] == read_summary(run_dir)["final"]["accuracy"]



@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts a process's threads in /proc")
def test_local_workers_have_one_thread_and_leave_the_drivers_environment_alone():
    # A BLAS thread pool in each worker would spin at its first run on the cores the others need.
    before = dict(os.environ)
    with pools.LocalPool(2) as pool:
        tasks = pool.executor.submit(os.listdir, "/proc/self/task").result()
        environ = pool.executor.submit(os.getenv, "OPENBLAS_NUM_THREADS").result()
    assert len(tasks) == 1
    assert environ == "1"
    assert dict(os.environ) == before

def test_sweep_command_runs_the_grid_and_prints_the_comparison(in_tmp):
    result = run("sweep", XOR, "--grid", "optimizer.lr=0.1,0.01", "--set", "training.epochs=20", "--workers", "2")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("sweep: runs/xor-sweep-") and first.endswith(" (2 runs on 2 local workers)")
    sweep_dir = Path(first.split()[1])
    assert sorted(p.name for p in sweep_dir.iterdir()) == ["optimizer.lr=0.01", "optimizer.lr=0.1", "plan.json", "sweep.json"]
    assert "2 runs ranked by accuracy" in result.stdout and "optimizer.lr" in result.stdout
    assert result.stdout.rstrip().endswith("2 runs: 2 completed")
    assert "runs 2/2" in result.stderr  # the progress bar
    for name in ("optimizer.lr=0.01", "optimizer.lr=0.1"):  # the plots came back with the other files
        assert (sweep_dir / name / "curves.png").read_bytes()[:4] == b"\x89PNG"
        assert (sweep_dir / name / "decision_boundary.png").is_file()


def test_a_failing_run_is_recorded_and_the_others_go_on(in_tmp):
    # model.inputs=3 validates on its own but the XOR data has 2 features: it fails when it starts.
    result = run("sweep", XOR, "--no-plots", "--grid", "model.inputs=3,2", "--set", "training.epochs=5", "-q", "--workers", "1", "--sweep-dir", "s")
    assert result.exit_code == 1
    assert "failed: model.inputs=3: model.inputs: the data has 2 features, not 3" in result.stderr
    assert result.stdout.rstrip().endswith("2 runs: 1 completed, 1 failed")
    doc = sweep_json("s")
    assert [(r["dir"], r["status"]) for r in doc["runs"]] == [("model.inputs=3", "failed"), ("model.inputs=2", "completed")]
    assert doc["runs"][0]["error"] == "model.inputs: the data has 2 features, not 3"
    assert not Path("s/model.inputs=3").exists() and read_summary("s/model.inputs=2")["status"] == "completed"


def test_a_diverged_run_is_reported(in_tmp):
    result = run(
        "sweep", XOR, "--no-plots", "--grid", "optimizer.lr=0.05,1e4", "-q", "--workers", "1", "--sweep-dir", "s",
        "--set", "optimizer={name: sgd}", "--set", "loss=mse", "--set", "model.layers.1.activation=linear",
        "--set", "metrics=[]", "--set", "training.epochs=50",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "diverged: optimizer.lr=1e4: the loss became non-finite in epoch" in result.stderr
    assert [r["status"] for r in sweep_json("s")["runs"]] == ["completed", "diverged"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--grid", "optimizer.lr=0.1,-1"], "error: --grid optimizer.lr=-1: optimizer.lr: Input should be greater than 0; got -1"),
        (["--grid", "optimizer.lrr=0.1"], "error: --grid optimizer.lrr=0.1: optimizer.lrr: unknown key 'lrr'"),
        (["--seeds", "0"], "error: --seeds 0: expected a number of seeds from 1 to 10000"),
        (["--seeds", "2", "--workers", "0"], "error: --workers 0: expected at least 1"),
        (["--seeds", "2", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "error: --workers is for sweeps on this machine"),
        pytest.param(
            ["--seeds", "2", "--scheduler", "nowhere"],
            "error: --scheduler nowhere: missing port number in address 'nowhere'; expected tcp://HOST:PORT",
            marks=needs_dask,
        ),
    ],
)
def test_sweep_command_bad_input_exits_2_before_any_run(in_tmp, args, message):
    result = run("sweep", XOR, "--no-plots", "-q", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output and not Path("runs").exists()


def test_sweep_dir_must_be_new(in_tmp):
    Path("taken").mkdir()
    result = run("sweep", XOR, "--no-plots", "--seeds", "1", "-q", "--sweep-dir", "taken")
    assert result.exit_code == 2
    assert result.stderr == "error: taken: already exists; sweeps are never overwritten, choose a new --sweep-dir\n"


@needs_dask
def test_unreachable_scheduler_is_one_line_after_a_short_timeout(in_tmp, monkeypatch):
    monkeypatch.setattr(pools, "SCHEDULER_TIMEOUT", 1.0)
    started = time.monotonic()
    result = run("sweep", XOR, "--no-plots", "--seeds", "2", "-q", "--scheduler", "tcp://127.0.0.1:1")
    assert time.monotonic() - started < 10
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --scheduler tcp://127.0.0.1:1: no Dask scheduler answered within 1 s (is `dask scheduler` running there?)\n"
    )
    assert not Path("runs").exists()


@needs_dask
def test_dask_workers_are_told_to_find_data_files_themselves(tmp_path, monkeypatch):
    monkeypatch.setattr(pools, "SCHEDULER_TIMEOUT", 0.5)
    (tmp_path / "xor.csv").write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    config = tmp_path / "csv.yaml"
    config.write_text(XOR.read_text().replace("data: {source: xor,", "data: {source: csv, path: xor.csv, target: y,"))
    plan = plan_sweep(config, seeds=2)
    with pytest.warns(NNTrainWarning, match=f"the Dask workers read {tmp_path / 'xor.csv'} themselves: it must exist"):
        with pytest.raises(RunError, match="no Dask scheduler answered within 0.5 s"):
            run_sweep(plan, sweep_dir=tmp_path / "s", scheduler="tcp://127.0.0.1:1")
    assert not (tmp_path / "s").exists()


def test_ctrl_c_cancels_what_has_not_started_and_keeps_what_finished(tmp_path):
    plan = plan_sweep(XOR, ["seed=0,1,2,3"], overrides=["training.epochs=1000"])
    seen = []

    def on_result(entry):
        seen.append(entry["dir"])
        raise KeyboardInterrupt  # as if Ctrl-C came right after the first run finished

    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(plan, sweep_dir=tmp_path / "s", workers=1, on_result=on_result)
    result = stop.value.result
    statuses = [r["status"] for r in result.runs]
    assert seen == ["seed=0"] and statuses[0] == "completed"
    # The run already handed to the worker stops after its step (or had just finished, or the stop came
    # before the worker began it); the rest never start.
    assert statuses[1] in ("interrupted", "completed", "cancelled") and statuses[2:] == ["cancelled", "cancelled"]
    doc = sweep_json(tmp_path / "s")
    assert doc["status"] == "interrupted" and [r["status"] for r in doc["runs"]] == statuses
    started = ["seed=0"] + (["seed=1"] if statuses[1] != "cancelled" else [])
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["plan.json", *started, "sweep.json"]
    if statuses[1] != "cancelled":
        assert read_summary(tmp_path / "s" / "seed=1")["status"] == statuses[1]
    assert same_weights(tmp_path / "s" / "seed=0", fit(plan.variants[0].config, run_dir=tmp_path / "alone").run_dir)


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_stops_the_sweep_and_its_workers(tmp_path):
    args = ["sweep", str(XOR), "--no-plots", "--seeds", "6", "--set", "training.epochs=4000", "--workers", "2", "--sweep-dir", "s"]
    process, out, err = signal_once_completed(args, tmp_path, tmp_path / "s" / "seed=0", signal.SIGINT)
    assert process.returncode == 130, err
    assert "interrupted; finished runs are in s" in err and "Traceback" not in err
    doc = sweep_json(tmp_path / "s")
    assert doc["status"] == "interrupted" and doc["runs"][0]["status"] == "completed"
    assert doc["counts"].get("cancelled", 0) >= 2
    for entry in doc["runs"]:  # every run that started has all its files, its status as sweep.json says
        run_dir = tmp_path / "s" / entry["dir"]
        assert run_dir.exists() == (entry["status"] != "cancelled")
        if run_dir.exists():
            assert read_summary(run_dir)["status"] == entry["status"] and (run_dir / "weights.npz").is_file()
    # A run stopped mid-way came back with its checkpoint: resumed, it ends as if never interrupted.
    interrupted = [r["dir"] for r in doc["runs"] if r["status"] == "interrupted"]
    assert interrupted, doc["runs"]
    run_dir = tmp_path / "s" / interrupted[0]
    assert (run_dir / "checkpoint.npz").is_file() and read_summary(run_dir)["status"] == "interrupted", err
    assert resume(run_dir).status == "completed"
    plan = plan_sweep(XOR, seeds=6, overrides=["training.epochs=4000"])
    variant = next(v for v in plan.variants if v.dirname == interrupted[0])
    assert same_weights(run_dir, fit(variant.config, run_dir=tmp_path / "alone").run_dir)
    assert "ranked by accuracy" in out
    assert group_ended(process.pid), "processes of the sweep are still running"  # exited ones are reaped by init


# --------------------------------------------------------------------------------------------------
# Dask


@pytest.fixture(scope="module")
def dask_scheduler():
    distributed = pytest.importorskip("distributed", reason="needs Dask's distributed (pip install 'nntrain[dask]')")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@needs_dask
def test_dask_sweep_gives_the_same_weights_as_the_local_one(in_tmp, dask_scheduler):
    result = run("sweep", XOR, "--no-plots", "--grid", "optimizer.lr=0.1,0.01", "--seeds", "2", "--set", "training.epochs=30",
                 "-q", "--scheduler", dask_scheduler, "--sweep-dir", "dask")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"sweep: dask (4 runs on Dask scheduler {dask_scheduler})\n")
    assert "4 runs: 4 completed" in result.stdout
    doc = sweep_json("dask")
    assert doc["backend"] == {"kind": "dask", "scheduler": dask_scheduler} and doc["status"] == "completed"
    plan = plan_sweep(XOR, ["optimizer.lr=0.1,0.01"], seeds=2, overrides=["training.epochs=30"])
    local = run_sweep(plan, sweep_dir="local", workers=2)
    for variant in plan.variants:
        assert same_weights(Path("dask") / variant.dirname, local.sweep_dir / variant.dirname)
        assert (Path("dask") / variant.dirname / "metrics.csv").read_text().count("\n") == 31


@needs_dask
def test_dask_sweep_records_a_failing_run(in_tmp, dask_scheduler):
    plan = plan_sweep(XOR, ["model.inputs=3,2"], overrides=["training.epochs=5"])
    result = run_sweep(plan, sweep_dir="s", scheduler=dask_scheduler)
    assert [(r["status"], r.get("error")) for r in result.runs] == [
        ("failed", "model.inputs: the data has 2 features, not 3"),
        ("completed", None),
    ]
    assert result.run_dirs() == [Path("s/model.inputs=2")]


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_or_sighup_to_the_driver_alone_stops_the_sweep_as_ctrl_c_does(tmp_path, sig, code):
    args = ["sweep", str(XOR), "--no-plots", "--seeds", "6", "--set", "training.epochs=4000", "--workers", "2", "--sweep-dir", "s", "-q"]
    # To the driver only, as `timeout` or a scheduler sends it.
    process, out, err = signal_once_completed(args, tmp_path, tmp_path / "s" / "seed=0", sig, group=False)
    assert process.returncode == code, err
    assert "interrupted; finished runs are in s" in err and "Traceback" not in err
    doc = sweep_json(tmp_path / "s")
    assert doc["status"] == "interrupted" and doc["runs"][0]["status"] == "completed"
    assert "pending" not in [r["status"] for r in doc["runs"]]
    for entry in doc["runs"]:  # sweep.json says what every run is
        run_dir = tmp_path / "s" / entry["dir"]
        assert run_dir.exists() == (entry["status"] != "cancelled")
        if run_dir.exists():
            assert read_summary(run_dir)["status"] == entry["status"]
    assert group_ended(process.pid), "a worker, the forkserver or the resource tracker is still running"
