import pytest

from conftest import make_config
from nntrain.training.diagnostics import advice, gradient_ratio
from nntrain.training.fit import fit
from nntrain.runs.store import read_metrics


def deep(activation, init, batchnorm=False):
    hidden = [{"units": 16, "activation": activation, "init": init, "batchnorm": batchnorm} for _ in range(9)]
    return make_config(
        name="deep",
        data={"source": "xor", "batch_size": 4},
        model={"layers": hidden + [{"units": 1, "activation": "sigmoid", "init": init}]},
        optimizer={"name": "sgd", "lr": 0.1},
        training={"epochs": 5},
    )


def test_a_deep_sigmoid_net_with_small_init_shows_vanishing_gradients(tmp_path):
    result = fit(deep("sigmoid", {"name": "normal", "scale": 0.01}), runs_root=tmp_path)
    rows = read_metrics(result.run_dir, "diagnostics.csv")
    assert len(rows) == 5
    first, last = rows[0]["grad_norm.layer0"], rows[0]["grad_norm.layer9"]
    assert first < last * 1e-4
    assert "Gradients vanished" in result.summary["advice"] and "he_normal" in result.summary["advice"]


def test_relu_with_he_init_keeps_gradients_within_two_orders(tmp_path):
    result = fit(deep("relu", "he_normal"), runs_root=tmp_path)
    rows = read_metrics(result.run_dir, "diagnostics.csv")
    for row in rows:
        ratio = row["grad_norm.layer0"] / row["grad_norm.layer9"]
        assert 1e-2 < ratio < 1e2
    assert "advice" not in result.summary


def test_diagnostics_columns(tmp_path):
    config = make_config(model={"layers": [{"units": 8, "activation": "relu"}, {"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]})
    rows = read_metrics(fit(config, runs_root=tmp_path).run_dir, "diagnostics.csv")
    assert set(rows[0]) == {
        "epoch",
        "grad_norm.layer0", "grad_norm.layer1", "grad_norm.layer2",
        "weight_norm.layer0", "weight_norm.layer1", "weight_norm.layer2",
        "update_ratio.layer0", "update_ratio.layer1", "update_ratio.layer2",
        "dead.layer0", "saturated.layer1",
    }
    assert all(0 <= row["dead.layer0"] <= 1 and 0 <= row["saturated.layer1"] <= 1 for row in rows)
    assert all(row["update_ratio.layer0"] > 0 for row in rows)


def test_diagnostics_are_recorded_about_100_times_at_most(tmp_path):
    rows = read_metrics(fit(make_config(training={"epochs": 1000}), runs_root=tmp_path).run_dir, "diagnostics.csv")
    assert [r["epoch"] for r in rows][:3] == [1, 10, 20] and rows[-1]["epoch"] == 1000 and len(rows) == 101


def test_diagnostics_can_be_turned_off(tmp_path):
    result = fit(make_config(training={"epochs": 2, "diagnostics": False}), runs_root=tmp_path)
    assert not (result.run_dir / "diagnostics.csv").exists()


def test_advice_on_exploding_and_quiet_otherwise():
    exploding = [{"grad_norm.layer0": 1e4, "grad_norm.layer1": 1e-1}]
    assert gradient_ratio(exploding[0]) == pytest.approx(1e5)
    assert advice(exploding).startswith("Gradients exploded") and "clip_norm" in advice(exploding)
    assert advice([{"grad_norm.layer0": 1.0, "grad_norm.layer1": 2.0}]) is None
    assert advice([{"grad_norm.layer0": 1.0}]) is None
    assert advice([]) is None


def test_advice_looks_at_the_first_epoch_not_at_a_converged_net():
    converged_later = [{"grad_norm.layer0": 1.0, "grad_norm.layer1": 2.0}] + [{"grad_norm.layer0": 1e-9, "grad_norm.layer1": 1e-3}] * 5
    assert advice(converged_later) is None
