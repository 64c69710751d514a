import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nntrain.sweep.execute as sweep_module
from conftest import run_cli as run
from nntrain.errors import ConfigError, NNTrainWarning, RunError
from nntrain.training.fit import fit, resume
from nntrain.runs.store import read_summary, read_weights
from nntrain.sweep.execute import SweepInterrupted, parse_grid, plan_sweep, run_sweep

XOR = Path(__file__).parent.parent / "configs" / "xor.yaml"


def same_weights(a, b):
    wa, wb = read_weights(a), read_weights(b)
    return sorted(wa) == sorted(wb) and all(wa[k].tobytes() == wb[k].tobytes() for k in wa)


def sweep_json(path):
    return json.loads((Path(path) / "sweep.json").read_text())


# --------------------------------------------------------------------------------------------------
# Grids and plans: no run starts


def test_parse_grid_reads_the_values_as_yaml():
    assert parse_grid("optimizer.lr=0.1, 1e-3") == ("optimizer.lr", ["0.1", "1e-3"])
    assert parse_grid("model.layers.0.init={name: normal, scale: 0.1},he_normal") == (
        "model.layers.0.init",
        ["{name: normal, scale: 0.1}", "he_normal"],
    )
    assert parse_grid('name="a,b",c') == ("name", ['"a,b"', "c"])


@pytest.mark.parametrize(
    "item,message",
    [
        ("optimizer.lr", "--grid 'optimizer.lr': expected KEY=V1,V2,..., e.g. optimizer.lr=0.1,0.01"),
        ("=0.1", "--grid '=0.1': expected KEY=V1,V2,..."),
        ("optimizer.lr=", "--grid optimizer.lr=: no values; expected KEY=V1,V2,..., e.g. optimizer.lr=0.1,0.01"),
        ("optimizer.lr=0.1,,0.2", "--grid optimizer.lr=0.1,,0.2: cannot read the values as a comma-separated list"),
    ],
)
def test_parse_grid_errors(item, message):
    with pytest.raises(ConfigError) as e:
        parse_grid(item)
    assert str(e.value).startswith(message)


def test_plan_is_the_cartesian_product_in_grid_order_with_seeds_last():
    plan = plan_sweep(XOR, ["optimizer.lr=0.1,0.01", "model.layers.0.activation=tanh,relu"], seeds=2)
    assert [v.dirname for v in plan.variants] == [
        f"optimizer.lr={lr},model.layers.0.activation={act},seed={seed}"
        for lr in ("0.1", "0.01")
        for act in ("tanh", "relu")
        for seed in (0, 1)
    ]
    assert plan.grid == {"optimizer.lr": [0.1, 0.01], "model.layers.0.activation": ["tanh", "relu"], "seed": [0, 1]}
    last = plan.variants[-1]
    assert last.values == {"optimizer.lr": 0.01, "model.layers.0.activation": "relu", "seed": 1}
    assert (last.config.optimizer.lr, last.config.model.layers[0].activation, last.config.seed) == (0.01, "relu", 1)
    assert all(v.config.sweep is None for v in plan.variants)
    assert plan.name == "xor"


def test_plan_from_the_config_sweep_section_and_the_command_line(tmp_path):
    config = tmp_path / "grid.yaml"
    config.write_text(
        XOR.read_text()
        + "sweep:\n  grid:\n    optimizer.lr: [0.1, 0.01]\n"
        + "    model.layers.0.init: [{name: normal, scale: 0.1}, he_normal]\n  seeds: 2\n"
    )
    plan = plan_sweep(config)
    assert len(plan.variants) == 8
    assert plan.variants[0].dirname == "optimizer.lr=0.1,model.layers.0.init=_name_normal_scale_0.1_,seed=0"
    assert plan.variants[0].values["model.layers.0.init"] == {"name": "normal", "scale": 0.1}
    assert plan.variants[2].values["model.layers.0.init"] == {"name": "he_normal", "scale": None}
    # --grid replaces the same key of the file's grid, --seeds its seeds; the other keys stay.
    plan = plan_sweep(config, ["optimizer.lr=0.5"], seeds=1)
    assert [v.dirname for v in plan.variants] == [
        "optimizer.lr=0.5,model.layers.0.init=_name_normal_scale_0.1_,seed=0",
        "optimizer.lr=0.5,model.layers.0.init=he_normal,seed=0",
    ]


def test_plan_applies_set_overrides_to_every_run():
    plan = plan_sweep(XOR, ["seed=3,4"], overrides=["training.epochs=7"])
    assert [(v.dirname, v.config.seed, v.config.training.epochs) for v in plan.variants] == [("seed=3", 3, 7), ("seed=4", 4, 7)]


@pytest.mark.parametrize(
    "grid,seeds,message",
    [
        (["optimizer.lrr=0.1"], None, "--grid optimizer.lrr=0.1: optimizer.lrr: unknown key 'lrr'; expected one of: name, lr"),
        (["optimizer.lr=0.1,-1"], None, "--grid optimizer.lr=-1: optimizer.lr: Input should be greater than 0; got -1"),
        (["model.layers.5.units=3"], None, "--grid model.layers.5.units=3: model.layers is a list of 2, no index '5'"),
        (
            ["model.layers.0.activation=relu", "optimizer.lr=0.1,0.2", "model.layers.0.activation=sigmod"],
            None,
            "--grid model.layers.0.activation=sigmod: model.layers.0.activation is already swept by an earlier --grid",
        ),
        (["model.layers.0.activation=relu,sigmod"], None, "--grid model.layers.0.activation=sigmod: model.layers.0.activation: Input should be 'sigmoid'"),
        (["seed=0,1"], 2, "--seeds 2 and --grid seed=...: give the seeds one way, not both"),
        (["seed=1,1"], None, "--grid seed=1: seed lists 1 twice"),
        (["sweep.seeds=2"], None, "--grid sweep.seeds=2: the sweep section itself cannot be swept"),
        ([], None, f"{XOR}: nothing to sweep: give --grid KEY=V1,V2 or --seeds N, or a sweep: section in the config"),
    ],
)
def test_plan_errors_name_the_key_and_the_value(grid, seeds, message):
    with pytest.raises(ConfigError) as e:
        plan_sweep(XOR, grid, seeds)
    assert str(e.value).startswith(message)


def test_plan_errors_in_the_config_sweep_section(tmp_path):
    config = tmp_path / "grid.yaml"
    config.write_text(XOR.read_text() + "sweep:\n  grid:\n    optimizer.lr: [0.1, 0]\n")
    with pytest.raises(ConfigError) as e:
        plan_sweep(config)
    assert str(e.value) == f"{config}: sweep.grid: optimizer.lr=0: optimizer.lr: Input should be greater than 0; got 0"


def test_plan_refuses_a_grid_of_too_many_runs(monkeypatch):
    monkeypatch.setattr(sweep_module, "MAX_RUNS", 5)
    with pytest.raises(ConfigError) as e:
        plan_sweep(XOR, ["optimizer.lr=0.1,0.2,0.3"], seeds=2)
    assert str(e.value) == "the grid makes 3 (optimizer.lr) x 2 (seed) = 6 runs; a sweep has at most 5"


def test_plan_warns_once_about_a_mismatched_output_and_loss():
    with pytest.warns(NNTrainWarning) as caught:
        plan_sweep(XOR, ["model.layers.1.activation=tanh"], seeds=3)
    assert len(caught) == 1 and "output activation 'tanh' does not match loss 'binary_crossentropy'" in str(caught[0].message)


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
    with sweep_module.LocalPool(2) as pool:
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
    assert sorted(p.name for p in sweep_dir.iterdir()) == ["optimizer.lr=0.01", "optimizer.lr=0.1", "sweep.json"]
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
        (["--seeds", "2", "--scheduler", "nowhere"], "error: --scheduler nowhere: missing port number in address 'nowhere'; expected tcp://HOST:PORT"),
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


def test_unreachable_scheduler_is_one_line_after_a_short_timeout(in_tmp, monkeypatch):
    monkeypatch.setattr(sweep_module, "SCHEDULER_TIMEOUT", 1.0)
    started = time.monotonic()
    result = run("sweep", XOR, "--no-plots", "--seeds", "2", "-q", "--scheduler", "tcp://127.0.0.1:1")
    assert time.monotonic() - started < 10
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --scheduler tcp://127.0.0.1:1: no Dask scheduler answered within 1 s (is `dask scheduler` running there?)\n"
    )
    assert not Path("runs").exists()


def test_dask_workers_are_told_to_find_data_files_themselves(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_module, "SCHEDULER_TIMEOUT", 0.5)
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
    # The run already handed to the worker stops after its step (or had just finished); the rest never start.
    assert statuses[1] in ("interrupted", "completed") and statuses[2:] == ["cancelled", "cancelled"]
    doc = sweep_json(tmp_path / "s")
    assert doc["status"] == "interrupted" and [r["status"] for r in doc["runs"]] == statuses
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["seed=0", "seed=1", "sweep.json"]
    assert read_summary(tmp_path / "s" / "seed=1")["status"] == statuses[1]
    assert same_weights(tmp_path / "s" / "seed=0", fit(plan.variants[0].config, run_dir=tmp_path / "alone").run_dir)


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_stops_the_sweep_and_its_workers(tmp_path):
    command = [sys.executable, "-c", "from nntrain.cli import main; main()", "sweep", str(XOR), "--no-plots", "--seeds", "6",
               "--set", "training.epochs=4000", "--workers", "2", "--sweep-dir", "s"]  # fmt: skip
    # A session of its own stands for the terminal: Ctrl-C reaches the driver and its workers alike.
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _completed(tmp_path / "s" / "seed=0") and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
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
    assert "runs ranked by" in out
    deadline = time.monotonic() + 10  # no worker left behind (exited ones are reaped by init)
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the sweep are still running")


def _completed(run_dir):
    """Whether a run directory's summary says completed (a local worker writes the run as it goes)."""
    try:
        return read_summary(run_dir)["status"] == "completed"
    except RunError:  # not there yet
        return False


# --------------------------------------------------------------------------------------------------
# Dask


@pytest.fixture(scope="module")
def dask_scheduler():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


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


def test_dask_sweep_records_a_failing_run(in_tmp, dask_scheduler):
    plan = plan_sweep(XOR, ["model.inputs=3,2"], overrides=["training.epochs=5"])
    result = run_sweep(plan, sweep_dir="s", scheduler=dask_scheduler)
    assert [(r["status"], r.get("error")) for r in result.runs] == [
        ("failed", "model.inputs: the data has 2 features, not 3"),
        ("completed", None),
    ]
    assert result.run_dirs() == [Path("s/model.inputs=2")]
