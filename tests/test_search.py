"""Searches: Optuna's TPE and random samplers over a space of config values, with median pruning,
each trial a normal run (``nntrain.sweep.search``; ``nntrain sweep --search``)."""

import json
import sys
from pathlib import Path

import pytest

from conftest import run_cli as run
from nntrain.config import load_config
from nntrain.errors import ConfigError, UsageError
from nntrain.runs.store import read_metrics, read_summary, read_weights
from nntrain.sweep import SweepInterrupted, resume_sweep
from nntrain.sweep.search import parse_space, plan_search, run_search
from nntrain.training.fit import fit

pytest.importorskip("optuna")

XOR = Path(__file__).parent.parent / "configs" / "xor.yaml"
SPACE = ["optimizer.lr=loguniform(1e-3,1e-1)", "model.layers.0.units=int(2,8)", "model.layers.0.activation=choice(tanh,relu)"]


def search(tmp_path, name, trials=4, workers=1, **settings):
    plan = plan_search(XOR, trials=trials, space=SPACE, overrides=["training.epochs=60"], **settings)
    return plan, run_search(plan, sweep_dir=tmp_path / name, workers=workers)


def sweep_json(path):
    return json.loads((Path(path) / "sweep.json").read_text())


def outcomes(result):
    return [(r["values"], r["status"], r.get("objective")) for r in result.runs]


def test_space_on_the_command_line():
    assert parse_space("optimizer.lr=loguniform(1e-4,1e-1)") == ("optimizer.lr", {"loguniform": [1e-4, 0.1]})
    assert parse_space("model.layers.0.units=int(4, 128, log)") == ("model.layers.0.units", {"int": [4, 128], "log": True})
    assert parse_space("model.layers.0.activation=choice(relu,tanh)") == ("model.layers.0.activation", {"choice": ["relu", "tanh"]})
    assert parse_space("model.layers.0.init=choice({name: normal, scale: 0.1},he_normal)")[1] == {"choice": [{"name": "normal", "scale": 0.1}, "he_normal"]}


def test_the_space_in_the_config_round_trips(tmp_path):
    text = XOR.read_text() + (
        "sweep:\n  search: {method: random, trials: 3, prune: median, seed: 7}\n"
        "  space:\n    optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}\n    model.layers.0.units: {int: [4, 128], log: true}\n"
    )
    (tmp_path / "s.yaml").write_text(text)
    config = load_config(tmp_path / "s.yaml")
    dumped = config.sweep.model_dump(mode="json")
    assert dumped["space"] == {"optimizer.lr": {"loguniform": [1e-4, 0.1]}, "model.layers.0.units": {"int": [4, 128], "log": True}}
    assert dumped["search"]["method"] == "random" and dumped["search"]["seed"] == 7
    plan = plan_search(tmp_path / "s.yaml", trials=2)  # the command line replaces a key, the rest stays
    assert (plan.search.method, plan.search.trials, plan.search.prune, plan.metric) == ("random", 2, "median", "loss")


def test_each_trial_is_a_normal_run_with_the_values_it_was_asked(tmp_path):
    plan, result = search(tmp_path, "s", trials=3)
    assert [r["dir"] for r in result.runs] == ["trial=0", "trial=1", "trial=2"] and result.status == "completed"
    for entry in result.runs:
        run_dir = tmp_path / "s" / entry["dir"]
        config = load_config(run_dir / "config.yaml")
        assert config.optimizer.lr == entry["values"]["optimizer.lr"] and 1e-3 <= config.optimizer.lr <= 0.1
        assert config.model.layers[0].units == entry["values"]["model.layers.0.units"] and config.model.layers[0].activation in ("tanh", "relu")
        assert entry["objective"] == min(row["loss"] for row in read_metrics(run_dir))  # the best epoch's metric
        alone = fit(config, run_dir=tmp_path / "alone" / entry["dir"]).run_dir
        assert read_weights(run_dir)["layers.0.W"].tobytes() == read_weights(alone)["layers.0.W"].tobytes()
    assert (tmp_path / "s" / "study.journal").is_file()


def test_the_same_seed_and_workers_give_the_same_search(tmp_path):
    _, one = search(tmp_path, "one", trials=5, workers=2, method="tpe", seed=3)
    _, two = search(tmp_path, "two", trials=5, workers=2, method="tpe", seed=3)
    _, other = search(tmp_path, "other", trials=5, workers=2, method="tpe", seed=4)
    assert outcomes(one) == outcomes(two)
    assert [r["values"] for r in one.runs] != [r["values"] for r in other.runs]
    assert [r["batch"] for r in one.runs] == [0, 0, 1, 1, 2]  # asked two at a time: one per worker


def test_median_pruning_stops_trials_that_fall_behind_and_keeps_their_files(tmp_path):
    plan = plan_search(XOR, trials=12, space=["optimizer.lr=loguniform(1e-4,3e-1)"], prune="median", seed=1, overrides=["training.epochs=80"])
    result = run_search(plan, sweep_dir=tmp_path / "s", workers=2)
    pruned = [r for r in result.runs if r["status"] == "pruned"]
    assert pruned and all(r["status"] in ("completed", "pruned") for r in result.runs)
    assert all(r["batch"] >= 3 for r in pruned)  # Optuna's MedianPruner waits for 5 finished trials
    for entry in pruned:
        summary = read_summary(tmp_path / "s" / entry["dir"])
        assert summary["status"] == "pruned" and not (tmp_path / "s" / entry["dir"] / "checkpoint.npz").exists()
        assert 8 <= summary["epochs"] < 80  # not judged in its first tenth of epochs: early curves cross
    assert sweep_json(tmp_path / "s")["counts"]["pruned"] == len(pruned)


def test_a_stopped_search_resumes_to_the_results_of_one_never_stopped(tmp_path):
    _, whole = search(tmp_path, "whole", trials=5, workers=1, prune="median")
    plan = plan_search(XOR, trials=5, space=SPACE, overrides=["training.epochs=60"], prune="median")
    seen = []

    def stop_after_two(entry):
        seen.append(entry)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(SweepInterrupted):
        run_search(plan, sweep_dir=tmp_path / "s", workers=1, on_result=stop_after_two)
    assert len(sweep_json(tmp_path / "s")["runs"]) < 5
    resumed = resume_sweep(tmp_path / "s", workers=1)  # a search directory: resume_sweep hands it on
    assert resumed.status == "completed" and outcomes(resumed) == outcomes(whole)
    again = run("sweep", "--resume", tmp_path / "s", "-q")
    assert again.exit_code == 0 and "the sweep is already complete (5 runs); nothing to do" in again.stdout


def test_a_trial_that_fails_is_recorded_and_the_others_go_on(tmp_path):
    # A residual block keeps its input's width (2 here, not 4): a trial that draws one fails.
    plan = plan_search(XOR, trials=4, space=["model.layers.0.type=choice(dense,residual)"], overrides=["training.epochs=5"], method="random")
    result = run_search(plan, sweep_dir=tmp_path / "s", workers=1)
    statuses = {r["values"]["model.layers.0.type"]: r["status"] for r in result.runs}
    assert statuses == {"dense": "completed", "residual": "failed"} and len(result.runs) == 4
    failed = next(r for r in result.runs if r["status"] == "failed")
    assert "a residual block keeps its input's width: 2 inputs, 4 units" in failed["error"]


@pytest.mark.parametrize(
    "settings,message",
    [
        (dict(space=["optimzer.lr=uniform(0.1,0.2)"]), "optimzer: unknown key"),
        (dict(space=["optimizer.lr=uniform(0.2,0.1)"]), "--space optimizer.lr=uniform(0.2,0.1): low 0.2 must be below high 0.1 (reversed?)"),
        (dict(space=["optimizer.lr=uniform(0.1,0.1)"]), "low 0.1 must be below high 0.1 (an empty range)"),
        (dict(space=["model.layers.0.units=int(0,8,log)"]), "a log scale needs bounds above 0; got [0, 8]"),
        (dict(space=["optimizer.lr=loguniform(0,1)"]), "a log scale needs bounds above 0; got [0, 1]"),
        (dict(space=["model.layers.0.activation=choice()"]), "no values to choose from"),
        (dict(space=["model.layers.0.activation=choice(tanh,sigmod)"]), "model.layers.0.activation: Input should be"),
        (dict(space=["optimizer.lr=normal(0,1)"]), "--space optimizer.lr=normal(0,1): expected uniform(LOW,HIGH), loguniform(LOW,HIGH), int(LOW,HIGH[,log]) or choice(A,B,...)"),
        (dict(space=["optimizer.lr=uniform(1)"]), "uniform takes two bounds, LOW,HIGH; got 1 values"),
        (dict(space=SPACE, trials=0), "--trials 0: Input should be greater than or equal to 1"),
        (dict(space=SPACE, metric="val_accuracy"), "--metric: the runs do not log val_accuracy; they log loss, accuracy"),
        (dict(), "nothing to search: give --space KEY=loguniform(LOW,HIGH), ... or a sweep.space section"),
    ],
)
def test_bad_searches_are_refused_before_any_trial(settings, message):
    with pytest.raises((ConfigError, UsageError)) as info:
        plan_search(XOR, **settings)
    assert message in str(info.value)


def test_a_search_without_optuna_says_what_to_install(tmp_path, monkeypatch):
    plan = plan_search(XOR, trials=1, space=SPACE)
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(UsageError, match=r"^a search needs Optuna: pip install 'nntrain\[search\]'$"):
        run_search(plan, sweep_dir=tmp_path / "s", workers=1)
    assert not (tmp_path / "s").exists()


def test_sweep_command_searches(in_tmp):
    result = run("sweep", XOR, "--search", "random", "--trials", "3", "--space", "optimizer.lr=loguniform(1e-3,1e-1)",
                 "--set", "training.epochs=30", "--workers", "1", "--sweep-dir", "s", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "sweep: s (3 runs on 1 local worker)" and lines[-1] == "3 runs: 3 completed"
    assert "ranked by loss" in result.stdout and "optimizer.lr" in result.stdout
    assert [r["dir"] for r in sweep_json("s")["runs"]] == ["trial=0", "trial=1", "trial=2"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--search", "bayes", "--space", SPACE[0]], "--search bayes: expected tpe, random or grid"),
        (["--space", SPACE[0], "--grid", "seed=0,1"], "--grid is not for a search; a search draws each run's values from --space"),
        (["--grid", "seed=0,1", "--trials", "3"], "--trials is not for a grid sweep; they are a search's (--search tpe)"),
        (["--search", "tpe", "--space", SPACE[0], "--prune", "mean"], "--prune mean: Input should be 'median' or 'none'"),
        (["--resume", "s", "--trials", "3"], "--resume goes on with the runs as they were planned; give no --trials"),
        (["--resume", "s", "--search-seed", "0"], "--resume goes on with the runs as they were planned; give no --search-seed"),
    ],
)
def test_sweep_command_bad_search_exits_2(in_tmp, args, message):
    result = run("sweep", *([] if "--resume" in args else [XOR]), *args)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert not Path("runs").exists()
