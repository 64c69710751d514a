"""The layer types: dense layers and residual blocks, from the config to the built layer and back."""

import json
import os
import signal
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from conftest import make_config, step_peak_bytes
from nntrain.cli import app
from nntrain.config import LAYER_CONFIGS, dump_config, parse_config
from nntrain.errors import ConfigError
from nntrain.nn.gradcheck import check_gradients, numerical_gradient, relative_error
from nntrain.nn.layers import LAYERS
from nntrain.nn.losses import make_loss
from nntrain.nn.model import build_model, count_params, input_width
from nntrain.runs.inference import load_model
from nntrain.runs.store import read_metrics, read_weights
from nntrain.runs.summary import model_summary
from nntrain.training.fit import Interrupted, fit, resume

runner = CliRunner()


def residual(**fields):
    return {"type": "residual", "units": 4, **fields}


def network(*hidden, out=None):
    """Layers: a dense layer of 4 units, then ``hidden``, then a sigmoid output unit."""
    return {"layers": [{"units": 4, "activation": "tanh"}, *hidden, out or {"units": 1, "activation": "sigmoid"}]}


BLOCKS = {
    "batchnorm": residual(),
    "batchnorm, hidden, dropout": residual(hidden=6, keep_prob=0.7, l1=0.01, l2=0.02),
    "hidden, no batchnorm, gelu": residual(hidden=3, batchnorm=False, activation="gelu"),
    "bare: x + W act(x) + b": residual(batchnorm=False, activation="tanh"),
    "bare silu with dropout": residual(batchnorm=False, activation="silu", keep_prob=0.6),
}


def test_every_layer_type_has_its_config_section():
    assert set(LAYERS) == set(LAYER_CONFIGS) == {"dense", "residual"}


def test_a_layer_without_type_is_dense_and_its_config_stays_as_it_was():
    config = parse_config(
        textwrap.dedent(
            """\
            model:
              layers:
                - {units: 3, activation: tanh}
                - {type: dense, units: 1, activation: sigmoid}
            loss: binary_crossentropy
            """
        )
    )
    assert [layer.type for layer in config.model.layers] == ["dense", "dense"]
    resolved = yaml.safe_load(dump_config(config))["model"]["layers"]
    assert all("type" not in layer for layer in resolved)  # config.yaml as before residual blocks
    assert list(resolved[0])[:2] == ["units", "activation"]
    blocks = parse_config(dump_config(make_config(model=network(residual(hidden=2)))))
    assert yaml.safe_load(dump_config(blocks))["model"]["layers"][1]["type"] == "residual"
    assert blocks.model.layers[1].hidden == 2


@pytest.mark.parametrize("case", sorted(BLOCKS))
def test_residual_block_gradients_in_float64(case, rng):
    """The block's input gradient and every parameter's, against finite differences (masks held)."""
    config = make_config(model=network(BLOCKS[case]), dtype="float64")
    block = build_model(config, 3, rng).layers[1]
    x = rng.normal(size=(6, 4))
    upstream = rng.normal(size=(6, 4))

    def objective():
        penalty = sum(op.penalty() for op in block.ops)
        return float(np.sum(upstream * block.forward(x, training=True))) + penalty

    objective()  # draws the dropout mask, then holds it
    for op in block.ops:
        op.freeze(True)
    objective()
    dx = block.backward(upstream.copy()).copy()
    assert relative_error(dx, numerical_gradient(objective, x)) < 1e-7
    for name, op, key in block.slots():
        assert relative_error(op.grads[key].copy(), numerical_gradient(objective, op.params[key])) < 1e-7, name


def test_residual_block_is_x_plus_the_branch_and_never_writes_x(rng):
    config = make_config(model=network(residual(batchnorm=False, activation="relu")), dtype="float64")
    block = build_model(config, 3, rng).layers[1]
    W, b = block.ops[-1].params["W"], block.ops[-1].params["b"]
    x = rng.normal(size=(5, 4))
    before = x.copy()
    y = block.forward(x, training=True).copy()
    np.testing.assert_allclose(y, x + np.maximum(x, 0) @ W.T + b)
    block.backward(np.ones_like(y))
    np.testing.assert_array_equal(x, before)  # relu is in place elsewhere; here its input is x


def test_residual_block_array_names_and_counts(rng):
    spec = residual(hidden=6)
    config = make_config(model=network(spec))
    model = build_model(config, 3, rng)
    assert [k for k in model.state_dict() if k.startswith("layers.1.")] == [
        "layers.1.norm.gamma", "layers.1.norm.beta", "layers.1.norm.running_mean", "layers.1.norm.running_var",
        "layers.1.hidden.W", "layers.1.hidden.b", "layers.1.out.W", "layers.1.out.b",
    ]
    assert model.state_dict()["layers.1.hidden.W"].shape == (6, 4) and model.state_dict()["layers.1.out.W"].shape == (4, 6)
    block = model.layers[1]
    assert block.count() == (8 + 6 * 5 + 4 * 7, 8)
    assert model.flat_params.size == model.count_params()[0] == count_params(config.model.layers, 3)


@pytest.mark.parametrize(
    "spec",
    [{"units": 5}, {"units": 5, "batchnorm": True}, residual(), residual(hidden=7), residual(batchnorm=False)],
)
def test_the_count_before_allocating_is_the_built_layers(spec, rng):
    config = make_config(model={"inputs": 4, "layers": [spec]}, loss="mse", metrics=[])
    section = config.model.layers[0]
    layer = build_model(config, 4, rng).layers[0]
    assert LAYERS[section.type].count_for(section, 4) == layer.count()


def test_a_training_step_through_residual_blocks_allocates_no_array_the_size_of_an_activation(rng):
    blocks = [residual(units=256, hidden=256, keep_prob=0.8, l1=0.01, l2=0.01), residual(units=256, batchnorm=False, activation="gelu")]
    config = make_config(model={"layers": [{"units": 256}, *blocks, {"units": 3, "activation": "softmax"}]}, loss="categorical_crossentropy")
    model = build_model(config, 32, rng)
    loss = make_loss("categorical_crossentropy", model.output_activation)
    x, y = rng.normal(size=(256, 32)).astype(np.float32), rng.integers(0, 3, 256)

    peak = step_peak_bytes(model, loss, x, y)
    assert peak < 256 * 256 * 4 / 2, f"a step allocated up to {peak} bytes"


def test_a_residual_block_of_another_width_is_an_error_naming_both_widths(rng):
    text = textwrap.dedent(
        """\
        model:
          layers:
            - {units: 8, activation: relu}
            - type: residual
              units: 16
            - {units: 1, activation: sigmoid}
        loss: binary_crossentropy
        """
    )
    config = parse_config(text, "res.yaml")
    with pytest.raises(ConfigError) as info:
        build_model(config, 2, rng)
    assert str(info.value) == "res.yaml, line 5: model.layers.1.units: a residual block keeps its input's width: 8 inputs, 16 units"
    first = make_config(model={"layers": [residual(units=3), {"units": 1, "activation": "sigmoid"}]})
    with pytest.raises(ConfigError, match=r"^model.layers.0.units: a residual block keeps its input's width: 2 inputs, 3 units$"):
        build_model(first, 2, rng)


def test_an_unknown_layer_type_names_the_known_ones():
    text = "model:\n  layers:\n    - {units: 2}\n    - {type: resnet, units: 1}\nloss: mse\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.yaml")
    assert str(info.value) == "t.yaml, line 4: model.layers.1.type: unknown layer type 'resnet'; expected one of: dense, residual"
    with pytest.raises(ConfigError, match=r"model.layers.0.type: unknown layer type 3; expected one of: dense, residual"):
        parse_config("model:\n  layers:\n    - {type: 3, units: 1}\nloss: mse\n", "t.yaml")


@pytest.mark.parametrize("entry, kind", [("relu", "a string"), ("", "nothing"), ("[4, relu]", "a list")])
def test_a_layer_that_is_not_a_mapping_says_what_a_layer_is(entry, kind):
    with pytest.raises(ConfigError) as info:
        parse_config(f"model:\n  layers:\n    - {{units: 2}}\n    - {entry}\nloss: mse\n", "t.yaml")
    assert str(info.value) == (
        f"t.yaml, line 4: model.layers.1: expected a layer, a mapping such as {{units: 4, activation: relu}}; got {kind}"
    )


def test_a_bad_residual_field_points_at_its_line_and_lists_the_blocks_keys():
    text = "model:\n  layers:\n    - {units: 2}\n    - type: residual\n      units: 2\n      hidden: 0\nloss: mse\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "r.yaml")
    assert str(info.value) == "r.yaml, line 6: model.layers.1.hidden: Input should be greater than 0; got 0"
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace("hidden: 0", "weights: {W: [[1]]}"), "r.yaml")
    assert str(info.value).startswith("r.yaml, line 6: model.layers.1.weights: unknown key 'weights'; expected one of: type, units, hidden,")
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace("      hidden: 0\n", "").replace("      units: 2\n", ""), "r.yaml")
    assert str(info.value) == "r.yaml, line 4: model.layers.1.units: required key is missing"


def test_dropout_inside_an_output_block_is_allowed_on_a_dense_output_it_is_not():
    make_config(model={"inputs": 2, "layers": [residual(units=2, keep_prob=0.5)]}, loss="mse", metrics=[])
    with pytest.raises(Exception, match="dropout on the output layer would drop predictions"):
        make_config(model={"layers": [{"units": 1, "keep_prob": 0.5}]}, loss="mse", metrics=[])


def test_input_width_one_rule(rng):
    config = make_config(model=network())
    assert input_width(config) is None  # only the data can tell
    assert input_width(config, 2) == 2
    with pytest.raises(ConfigError, match="model.inputs: the data has 2 features, not 3"):
        input_width(make_config(model={**network(), "inputs": 3}), 2)
    assert input_width(make_config(model={"layers": [residual(units=5), {"units": 1, "activation": "sigmoid"}]})) == 5
    hand_set = make_config(model={"layers": [{"units": 1, "activation": "sigmoid", "weights": {"W": [[1, 2, 3]]}}]})
    assert input_width(hand_set) == 3
    saved = build_model(config, 7, rng).state_dict()
    assert input_width(config, arrays=saved) == 7
    assert input_width(config, arrays={k: v for k, v in saved.items() if k != "layers.0.W"}) is None


def run(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})


RESNET = {
    "name": "resnet",
    "data": {"source": "moons", "n_samples": 64, "batch_size": 16},
    "model": {
        "layers": [
            {"type": "residual", "units": 2, "hidden": 8, "keep_prob": 0.8, "activation": "gelu"},
            {"units": 6, "activation": "relu"},
            {"type": "residual", "units": 6, "batchnorm": False, "activation": "silu", "l2": 0.01},
            {"type": "residual", "units": 6, "hidden": 4, "activation": "relu", "l1": 0.001},
            {"units": 1, "activation": "sigmoid"},
        ]
    },
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "lr": 0.01},
    "training": {"epochs": 6, "checkpoint_every": 2},
    "metrics": ["accuracy"],
}


@pytest.fixture
def resnet_yaml(tmp_path):
    path = tmp_path / "resnet.yaml"
    path.write_text(yaml.safe_dump(RESNET, sort_keys=False))
    return path


def test_fit_summary_predict_and_diagnostics_of_residual_blocks(resnet_yaml, tmp_path):
    fitted = run("fit", resnet_yaml, "--quiet", "--no-plots", "--run-dir", tmp_path / "r")
    assert fitted.exit_code == 0, fitted.output
    run_dir = tmp_path / "r"
    weights = read_weights(run_dir)
    assert "layers.0.hidden.W" in weights and "layers.2.out.W" in weights and "layers.0.W" not in weights
    # The run reads back (its input width from the first block's arrays) and predicts.
    config, model = load_model(run_dir)
    assert model.inputs == 2
    predicted = run("predict", run_dir, "-i", "0.5,0.2", "--json")
    assert predicted.exit_code == 0, predicted.output
    shown = run("summary", run_dir, "--json")
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.stdout)
    assert [layer["type"] for layer in summary["layers"]] == [
        "residual + batchnorm + hidden 8 + dropout", "dense", "residual", "residual + batchnorm + hidden 4", "dense",
    ]
    first = summary["layers"][0]
    assert (first["weights"], first["biases"], first["batchnorm_trainable"], first["batchnorm_non_trainable"]) == (32, 10, 4, 4)
    assert first["params"] == 4 + 8 * 3 + 2 * 9 + 4
    assert summary["trainable_params"] == json.loads((run_dir / "summary.json").read_text())["parameters"] == model.count_params()[0]
    assert summary == {**model_summary(resnet_yaml), "source": str(run_dir)}  # the config's counts: the same
    table = run("summary", resnet_yaml)
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[3].split() == ["0", "residual", "(None,", "2)", "gelu", "32", "10", "4", "50"]
    rows = read_metrics(run_dir, "diagnostics.csv")
    assert {"grad_norm.layer0", "weight_norm.layer2", "update_ratio.layer3", "dead.layer1", "dead.layer3"} <= set(rows[0])
    assert not any(key.endswith("layer0") and key.split(".")[0] in ("dead", "saturated") for key in rows[0])  # gelu


def test_gradcheck_checks_every_array_of_the_blocks(resnet_yaml):
    result = run("gradcheck", resnet_yaml, "--json", "--rows", "12")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    names = [t["name"] for t in report["tensors"]]
    config = parse_config(resnet_yaml.read_text())
    assert names == build_model(config, 2, np.random.default_rng(0)).param_names
    assert "layers.0.norm.gamma" in names and "layers.3.hidden.W" in names and "layers.2.out.b" in names
    assert report["passed"] and all(t["error"] < 1e-6 and t["checked"] > 0 for t in report["tensors"])


def test_kinks_of_a_relu_block_are_left_out(rng):
    # Zero weights: the block's relu sees BN's output beta = 0 for every row, on the kink.
    config = make_config(model=network(residual(hidden=3, init="zeros")), dtype="float64")
    model = build_model(config, 2, rng)
    loss = make_loss("binary_crossentropy", model.output_activation)
    checks = {c.name: c for c in check_gradients(model, loss, rng.normal(size=(6, 2)), np.ones((6, 1)))}
    assert checks["layers.1.hidden.b"].kinks == 3 and checks["layers.1.hidden.b"].checked == 0
    assert max(c.error for c in checks.values()) < 1e-7


def test_batch_norm_inside_a_block_needs_two_examples_per_batch(tmp_path):
    config = make_config(model=network(residual()), data={"source": "xor", "batch_size": 1})
    with pytest.raises(ConfigError, match="data.batch_size: batch norm needs at least 2 examples per training batch"):
        fit(config, runs_root=tmp_path)


@pytest.mark.parametrize("global_step", [3, 8])  # 4 steps per epoch: 3 is mid-epoch
def test_interrupt_and_resume_of_residual_blocks_is_bit_identical(global_step, tmp_path):
    config = make_config(**{k: v for k, v in RESNET.items() if k != "name"})
    reference = fit(config, run_dir=tmp_path / "reference").run_dir

    def on_step(epoch, step):
        if (epoch - 1) * 4 + step == global_step:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        fit(config, run_dir=tmp_path / "run", on_step=on_step)
    resumed = resume(tmp_path / "run")
    assert resumed.status == "completed" and resumed.summary["resumed"] == 1
    expected, got = read_weights(reference), read_weights(tmp_path / "run")
    assert sorted(expected) == sorted(got)
    assert all(expected[key].tobytes() == got[key].tobytes() for key in expected)


def test_a_config_without_type_still_fits_as_before(tmp_path):
    configs = Path(__file__).parent.parent / "configs"
    result = run("fit", configs / "xor.yaml", "--quiet", "--no-plots", "--run-dir", tmp_path / "r", "--set", "training.epochs=3")
    assert result.exit_code == 0, result.output
    layers = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())["model"]["layers"]
    assert all("type" not in layer for layer in layers)


def test_layer_errors_on_the_command_line_exit_2(tmp_path):
    xor = Path(__file__).parent.parent / "configs" / "xor.yaml"
    unknown = run("fit", xor, "--set", "model.layers.0.type=resnet", "--runs", tmp_path)
    assert (unknown.exit_code, unknown.stderr) == (
        2, "error: --set model.layers.0.type=resnet: model.layers.0.type: unknown layer type 'resnet'; expected one of: dense, residual\n"
    )
    narrow = run("fit", xor, "-q", "--set", "model.layers.0.type=residual", "--runs", tmp_path)
    assert narrow.exit_code == 2
    assert narrow.stderr == f"error: {xor}, line 11: model.layers.0.units: a residual block keeps its input's width: 2 inputs, 4 units\n"
    assert not any(tmp_path.iterdir())  # nothing written
