"""Planning a sweep (nntrain.sweep.plan): grids, variants and their validation; no run starts."""

from pathlib import Path

import pytest

import nntrain.sweep.plan as plan_module
from nntrain.errors import ConfigError, NNTrainWarning, UsageError
from nntrain.sweep import plan_sweep
from nntrain.sweep.plan import parse_grid

XOR = Path(__file__).parent.parent / "configs" / "xor.yaml"


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
    with pytest.raises(UsageError) as e:
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
    "grid,seeds,message,error",
    [
        (["optimizer.lrr=0.1"], None, "--grid optimizer.lrr=0.1: optimizer.lrr: unknown key 'lrr'; expected one of: name, lr", ConfigError),
        (["optimizer.lr=0.1,-1"], None, "--grid optimizer.lr=-1: optimizer.lr: Input should be greater than 0; got -1", ConfigError),
        (["model.layers.5.units=3"], None, "--grid model.layers.5.units=3: model.layers is a list of 2, no index '5'", ConfigError),
        (
            ["model.layers.0.activation=relu", "optimizer.lr=0.1,0.2", "model.layers.0.activation=sigmod"],
            None,
            "--grid model.layers.0.activation=sigmod: model.layers.0.activation is already swept by an earlier --grid",
            UsageError,
        ),
        (["model.layers.0.activation=relu,sigmod"], None, "--grid model.layers.0.activation=sigmod: model.layers.0.activation: Input should be 'sigmoid'", ConfigError),
        (["seed=0,1"], 2, "--seeds 2 and --grid seed=...: give the seeds one way, not both", ConfigError),
        (["seed=1,1"], None, "--grid seed=1: seed lists 1 twice", ConfigError),
        (["sweep.seeds=2"], None, "--grid sweep.seeds=2: the sweep section itself cannot be swept", ConfigError),
        ([], None, f"{XOR}: nothing to sweep: give --grid KEY=V1,V2 or --seeds N, or a sweep: section in the config", ConfigError),
    ],
)
def test_plan_errors_name_the_key_and_the_value(grid, seeds, message, error):
    with pytest.raises(error) as e:
        plan_sweep(XOR, grid, seeds)
    assert str(e.value).startswith(message)


def test_plan_errors_in_the_config_sweep_section(tmp_path):
    config = tmp_path / "grid.yaml"
    config.write_text(XOR.read_text() + "sweep:\n  grid:\n    optimizer.lr: [0.1, 0]\n")
    with pytest.raises(ConfigError) as e:
        plan_sweep(config)
    assert str(e.value) == f"{config}: sweep.grid: optimizer.lr=0: optimizer.lr: Input should be greater than 0; got 0"


def test_plan_refuses_a_grid_of_too_many_runs(monkeypatch):
    monkeypatch.setattr(plan_module, "MAX_RUNS", 5)
    with pytest.raises(ConfigError) as e:
        plan_sweep(XOR, ["optimizer.lr=0.1,0.2,0.3"], seeds=2)
    assert str(e.value) == "the grid makes 3 (optimizer.lr) x 2 (seed) = 6 runs; a sweep has at most 5"


def test_plan_warns_once_about_a_mismatched_output_and_loss():
    with pytest.warns(NNTrainWarning) as caught:
        plan_sweep(XOR, ["model.layers.1.activation=tanh"], seeds=3)
    assert len(caught) == 1 and "output activation 'tanh' does not match loss 'binary_crossentropy'" in str(caught[0].message)


def test_plan_names_a_residual_output_by_the_activation_its_outputs_come_out_of(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {source: sine, n_samples: 20}\n"
        "model: {layers: [{units: 1, activation: linear}, {type: residual, units: 1, activation: tanh}]}\n"
        "loss: binary_crossentropy\noptimizer: {name: adam}\n"
    )
    with pytest.warns(NNTrainWarning) as caught:
        plan_sweep(config, ["optimizer.lr=0.1,0.2"])
    assert len(caught) == 1 and "output activation 'linear' does not match loss 'binary_crossentropy'" in str(caught[0].message)
