import json

import numpy as np
import pytest

from conftest import make_config
from nntrain.config import load_config
from nntrain.errors import ConfigError, NNTrainWarning, RunError
from nntrain.training.fit import fit
from nntrain.runs.store import read_metrics, read_weights


def test_run_directory_contents(tmp_path):
    result = fit(make_config(), runs_root=tmp_path)
    files = sorted(p.name for p in result.run_dir.iterdir())
    assert files == ["config.yaml", "diagnostics.csv", "metrics.csv", "snapshots.npz", "summary.json", "weights.npz"]  # XOR is 2-D: snapshots
    assert result.run_dir.name.startswith("xor-")
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["epochs"] == 20 and summary["seed"] == 0 and summary["parameters"] == 4 * 2 + 4 + 4 + 1
    assert set(summary["final"]) == {"loss", "accuracy", "epoch_time_s"}
    assert summary["wall_time_s"] > 0 and summary["nntrain_version"]
    rows = read_metrics(result.run_dir)
    assert [r["epoch"] for r in rows] == list(range(1, 21))
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "epoch_time_s"}
    weights = read_weights(result.run_dir)
    assert sorted(weights) == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]
    assert weights["layers.0.W"].shape == (4, 2) and weights["layers.0.W"].dtype == np.float32
    resolved = load_config(result.run_dir / "config.yaml")
    assert resolved.model_dump() == make_config().model_dump()


def test_loss_decreases_on_xor(tmp_path):
    rows = fit(make_config(training={"epochs": 200}), runs_root=tmp_path).history
    assert rows[-1]["loss"] < rows[0]["loss"] / 3


def test_same_seed_same_weights_bit_for_bit_other_seed_different(tmp_path):
    config = make_config(model={"layers": [{"units": 4, "keep_prob": 0.8}, {"units": 1, "activation": "sigmoid"}]})
    a = read_weights(fit(config, runs_root=tmp_path).run_dir)
    b = read_weights(fit(config, runs_root=tmp_path).run_dir)
    c = read_weights(fit(make_config(config.model_dump(), seed=1), runs_root=tmp_path).run_dir)
    for key in a:
        assert a[key].tobytes() == b[key].tobytes()
    assert any(a[key].tobytes() != c[key].tobytes() for key in a)


@pytest.mark.slow
def test_the_shipped_xor_config_solves_xor_for_at_least_19_of_20_seeds(tmp_path):
    from pathlib import Path

    config = load_config(Path(__file__).parent.parent / "configs" / "xor.yaml")
    solved = 0
    for seed in range(20):
        result = fit(make_config(config.model_dump(), seed=seed), runs_root=tmp_path)
        solved += result.summary["final"]["accuracy"] == 1.0
    assert solved >= 19


def test_never_overwrites_a_run_directory(tmp_path):
    fit(make_config(), run_dir=tmp_path / "mine")
    with pytest.raises(RunError, match="mine: already exists; runs are never overwritten"):
        fit(make_config(), run_dir=tmp_path / "mine")
    first = fit(make_config(), runs_root=tmp_path / "runs").run_dir
    second = fit(make_config(), runs_root=tmp_path / "runs").run_dir
    assert first != second


def test_a_config_error_leaves_no_run_directory(tmp_path):
    config = make_config(model={"layers": [{"units": 2, "weights": {"W": [[1, 2, 3]]}}, {"units": 1, "activation": "sigmoid"}]})
    with pytest.raises(ConfigError, match="weights.W: expected shape"):
        fit(config, runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(ConfigError, match="model.inputs: the data has 2 features, not 3"):
        fit(make_config(model={"inputs": 3, "layers": [{"units": 1, "activation": "sigmoid"}]}), runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_mismatched_pairing_warns_but_trains(tmp_path):
    config = make_config(model={"layers": [{"units": 3}, {"units": 1, "activation": "sigmoid"}]}, loss="mse", metrics=[])
    with pytest.warns(NNTrainWarning, match="output activation 'sigmoid' does not match loss 'mse'"):
        result = fit(config, runs_root=tmp_path)
    assert result.status == "completed"


def test_divergence_stops_at_once_and_keeps_finite_weights(tmp_path):
    config = make_config(
        model={"layers": [{"units": 8, "activation": "relu", "init": {"name": "normal", "scale": 10.0}}, {"units": 1, "activation": "linear"}]},
        loss="mse", metrics=[], optimizer={"name": "sgd", "lr": 10.0}, training={"epochs": 50},
    )
    result = fit(config, runs_root=tmp_path)
    assert result.status == "diverged"
    summary = result.summary
    assert summary["epochs"] < 50 and summary["diverged_at"]["epoch"] == summary["epochs"] + 1
    assert "lower learning rate" in summary["message"] and "clip_norm" in summary["message"]
    assert all(np.isfinite(w).all() for w in read_weights(result.run_dir).values())


def test_clip_norm_counts_clipped_steps(tmp_path):
    result = fit(make_config(training={"epochs": 3, "clip_norm": 1e-6}), runs_root=tmp_path)
    assert [row["clipped_steps"] for row in result.history] == [1, 1, 1]


def test_penalties_are_logged_separately(tmp_path):
    config = make_config(model={"layers": [{"units": 4, "l2": 0.01}, {"units": 1, "activation": "sigmoid", "l1": 0.001}]})
    row = fit(config, runs_root=tmp_path).history[-1]
    assert row["penalty"] > 0
    assert row["loss"] == pytest.approx(row["data_loss"] + row["penalty"])


def test_interrupt_leaves_a_consistent_directory(tmp_path):
    def stop(epoch, logs):
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(make_config(), run_dir=tmp_path / "run", on_epoch=stop)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs"] == 3
    assert len(read_metrics(tmp_path / "run")) == 3
    assert sorted(read_weights(tmp_path / "run")) == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]


def test_early_stopping_restores_the_best_epoch(tmp_path):
    config = make_config(
        optimizer={"name": "sgd", "lr": 5.0},
        training={"epochs": 200, "early_stopping": {"monitor": "loss", "patience": 3, "min_delta": 0.0}},
    )
    result = fit(config, runs_root=tmp_path)
    summary = result.summary
    assert summary["stopped_early"] and summary["status"] == "completed"
    best = summary["best_epoch"]
    losses = [row["loss"] for row in result.history]
    assert len(losses) == best + 3 < 200
    assert summary["best"]["loss"] == min(losses) == losses[best - 1]


def test_early_stopping_on_a_metric_that_is_not_logged(tmp_path):
    config = make_config(training={"early_stopping": {"monitor": "val_loss"}})
    with pytest.raises(ConfigError) as info:
        fit(config, runs_root=tmp_path / "runs")
    assert str(info.value) == "training.early_stopping.monitor: 'val_loss' is not logged by this run; logged: loss, accuracy"
    assert not (tmp_path / "runs").exists()


def test_learning_rate_schedule_is_applied_and_logged(tmp_path):
    config = make_config(optimizer={"name": "sgd", "lr": 0.1}, training={"epochs": 4, "schedule": {"name": "step", "step_size": 2, "gamma": 0.5}})
    assert [row["lr"] for row in fit(config, runs_root=tmp_path).history] == [0.1, 0.1, 0.05, 0.05]


def test_clip_value_counts_clipped_steps(tmp_path):
    rows = fit(make_config(training={"epochs": 2, "clip_value": 1e-9}), runs_root=tmp_path).history
    assert [row["clipped_steps"] for row in rows] == [1, 1]


def test_a_top_level_penalty_is_every_layers_default():
    config = make_config(model={"l2": 0.01, "layers": [{"units": 4}, {"units": 1, "activation": "sigmoid", "l2": 0.5}]})
    assert [layer.l2 for layer in config.model.layers] == [0.01, 0.5]
    assert [layer.l1 for layer in config.model.layers] == [0.0, 0.0]


@pytest.mark.parametrize(
    "data,message",
    [
        ({"source": "xor", "batch_size": 1}, "data.batch_size: batch norm needs at least 2 examples per training batch"),
        ({"source": "xor", "batch_size": 3}, "data.batch_size: with 4 training examples the last batch of every epoch has 1 example"),
    ],
)
def test_batch_norm_needs_two_examples_per_batch(data, message, tmp_path):
    config = make_config(data=data, model={"layers": [{"units": 4, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}]})
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        fit(config, runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_batch_norm_with_drop_last_skips_the_single_example(tmp_path):
    config = make_config(
        data={"source": "xor", "batch_size": 3, "drop_last": True},
        model={"layers": [{"units": 4, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}]},
    )
    assert fit(config, runs_root=tmp_path).status == "completed"
