"""nntrain.nn.backprop, nntrain.training.backprop and ``nntrain backprop``: one example, op by op,
every gradient within 1e-6 (relative) of its central difference, in float64."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import XOR, make_config, run_cli
from nntrain.errors import UsageError
from nntrain.nn.backprop import trace
from nntrain.nn.losses import make_loss
from nntrain.nn.model import build_model
from nntrain.training.backprop import backprop
from nntrain.training.fit import fit

CONFIGS = Path(__file__).parent.parent / "configs"
TOLERANCE = 1e-6


def traced(layers, loss="mse", inputs=3, seed=0, target=None, l2=0.0):
    """The Trace of a random input through a float64 net of ``layers`` with random (non-trivial) batch
    norm running statistics and biases."""
    config = make_config(XOR, dtype="float64", loss=loss, metrics=[], model={"inputs": inputs, "layers": layers, "l2": l2})
    rng = np.random.default_rng(seed)
    model = build_model(config, inputs, rng)
    for name, array in model.state_dict().items():
        if name.endswith(("running_var", "gamma")):
            array[...] = rng.uniform(0.5, 2.0, array.shape)
        elif name.endswith(("running_mean", "beta", "b")):
            array[...] = rng.normal(0, 0.5, array.shape)
    x = rng.normal(size=(1, inputs))
    units = model.outputs
    if target is None:
        target = rng.normal(size=(1, units))
    return trace(model, make_loss(config.loss, model.output_activation), x, target)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "gelu", "silu"])
def test_every_activation_matches_finite_differences(activation):
    t = traced([{"units": 5, "activation": activation}, {"units": 4, "activation": activation}, {"units": 2, "activation": "linear"}])
    assert len(t.gradients) == 3 * 3 + 3  # per layer: its dense output, W, b; its activation output
    assert t.max_error < TOLERANCE, [(g.name, g.error) for g in t.gradients]


@pytest.mark.parametrize(
    "loss, output, target",
    [
        ("binary_crossentropy", "sigmoid", np.array([[1.0, 0.0]])),
        ("categorical_crossentropy", "softmax", np.array([1])),
        ("mse", "linear", None),
        ("huber", "linear", None),
        ("binary_crossentropy", "tanh", np.array([[0.3, 0.9]])),  # not fused: the loss takes the outputs
    ],
)
def test_every_output_and_loss(loss, output, target):
    units = 3 if output == "softmax" else 2
    t = traced([{"units": 4, "activation": "tanh"}, {"units": units, "activation": output}], loss=loss, target=target)
    fused = (loss, output) in (("binary_crossentropy", "sigmoid"), ("categorical_crossentropy", "softmax"))
    assert t.from_logits == fused
    assert (t.backward[0].output is None) == fused  # the fused activation's derivative is the loss's
    assert t.max_error < TOLERANCE


def test_batch_norm_in_its_inference_form_and_penalties():
    t = traced([{"units": 5, "activation": "tanh", "batchnorm": True}, {"units": 1, "activation": "linear"}], l2=0.01)
    names = [g.name for g in t.gradients]
    assert {"layers.0.gamma", "layers.0.beta", "d layers.0 batchnorm"} <= set(names)
    assert t.max_error < TOLERANCE
    # inference form: one example is not normalised to beta (as batch statistics would)
    bn = t.steps[1]
    assert bn.kind == "batchnorm" and not np.allclose(t.values[2], bn.op.params["beta"])


@pytest.mark.parametrize("block", [{"hidden": 6, "batchnorm": True}, {"batchnorm": False}, {"hidden": 3, "batchnorm": False}])
def test_residual_blocks(block):
    layers = [
        {"units": 4, "activation": "tanh"},
        {"type": "residual", "units": 4, "activation": "gelu", **block},
        {"type": "residual", "units": 4, "activation": "sigmoid", "hidden": 5},
        {"units": 1, "activation": "linear"},
    ]
    t = traced(layers)
    skips = [s for s in t.steps if s.kind == "skip"]
    assert [s.name for s in skips] == ["layers.1 + x", "layers.2 + x"]
    assert t.max_error < TOLERANCE, [(g.name, g.error) for g in t.gradients if g.error >= TOLERANCE]


def test_a_residual_block_first_takes_the_input():
    layers = [{"type": "residual", "units": 3, "activation": "relu", "hidden": 4}, {"units": 1, "activation": "linear"}]
    assert traced(layers).max_error < TOLERANCE


def test_a_deep_random_net():
    layers = [{"units": 8, "activation": a} for a in ("relu", "tanh", "silu", "sigmoid", "leaky_relu", "gelu")]
    t = traced([*layers, {"units": 3, "activation": "softmax"}], loss="categorical_crossentropy", inputs=5, target=np.array([2]))
    assert t.max_error < TOLERANCE


def test_the_lectures_network_op_by_op():
    t = backprop(CONFIGS / "xor_reference.yaml", ["0,1"], "1")
    assert [s.name for s in t.steps] == ["layers.0 dense", "layers.0 sigmoid", "layers.1 dense", "layers.1 sigmoid"]
    # the slide's hidden activations for (0, 1): sigma(-30), sigma(10)
    np.testing.assert_allclose(t.values[2][0], [9.357623e-14, 0.9999546], rtol=1e-6)
    assert t.loss == pytest.approx(-np.log(t.values[4][0, 0]), rel=1e-9)
    # dLoss/d(logits) = p - y for one example
    dense = t.backward[1]
    assert dense.output.analytic[0, 0] == pytest.approx(t.values[4][0, 0] - 1)
    assert t.max_error < TOLERANCE


def test_a_run_takes_raw_inputs_and_regression_targets_in_their_units(tmp_path):
    config = make_config(
        XOR,
        data={"source": "sine", "n_samples": 64, "batch_size": 16, "standardize": True, "scale_target": True},
        model={"layers": [{"units": 8, "activation": "tanh", "batchnorm": True}, {"units": 1, "activation": "linear"}]},
        loss="mse",
        metrics=["mae"],
        training={"epochs": 3},
    )
    run = fit(config, run_dir=tmp_path / "r").run_dir
    t = backprop(run, ["0.5"], "0.2")
    meta = json.loads((run / "data.json").read_text())
    mean, std = meta["standardize"]["mean"][0], meta["standardize"]["std"][0]
    assert t.values[0][0, 0] == pytest.approx((0.5 - mean) / std)
    ts = meta["target_scale"]
    assert t.target[0, 0] == pytest.approx((0.2 - ts["mean"][0]) / ts["std"][0])
    assert t.max_error < TOLERANCE


@pytest.mark.parametrize(
    "args, message",
    [
        (["-i", "0,1"], "error: --target: the loss (binary_crossentropy) needs the example's target, e.g. --target 1"),
        (["-i", "0,1,1", "--target", "1"], "error: --input '0,1,1': the network takes 2 inputs, got 3"),
        (["-i", "0,1", "--target", "2"], "error: --target 2: binary_crossentropy takes 0, 1 or a probability per output unit"),
        (["-i", "0,1", "--target", "1,0"], "error: --target 1,0: binary_crossentropy takes 1 comma-separated number (one per output unit)"),
        (["-i", "0,1", "-i", "1,1", "--target", "1"], "error: backprop traces one example: give one --input row, not 2"),
        ([], "error: backprop traces one example: give one --input row, not 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run_cli("backprop", CONFIGS / "xor_reference.yaml", *args)
    assert result.exit_code == 2
    assert result.stderr.strip() == message


def test_a_class_target_must_be_a_label_or_a_name(tmp_path):
    config = make_config(
        XOR,
        data={"source": "blobs", "n_samples": 60, "classes": 3, "batch_size": 20},
        model={"layers": [{"units": 4, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
        loss="categorical_crossentropy",
        training={"epochs": 1},
    )
    run = fit(config, run_dir=tmp_path / "r").run_dir
    result = run_cli("backprop", run, "-i", "0,0", "--target", "3")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --target 3: categorical_crossentropy takes a class label 0..2"
    assert run_cli("backprop", run, "-i", "0,0", "--target", "2").exit_code == 0


def test_cli_prints_both_passes_and_json():
    result = run_cli("backprop", CONFIGS / "xor_reference.yaml", "-i", "0,1", "--target", "1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "layers.0 sigmoid" in out and "fused with the loss" in out and "layers.0.W" in out
    assert "largest relative error" in out
    result = run_cli("backprop", CONFIGS / "xor_reference.yaml", "-i", "1,1", "--target", "0", "--json")
    record = json.loads(result.stdout)
    assert [f["op"] for f in record["forward"]] == ["dense", "sigmoid", "dense", "sigmoid"]
    assert record["loss"]["from_logits"] and record["max_error"] < TOLERANCE
    params = {p["name"]: p for row in record["backward"] for p in row["params"]}
    assert np.shape(params["layers.0.W"]["analytic"]) == (2, 2)


def test_the_trace_needs_float64():
    config = make_config(XOR, model={"inputs": 2, "layers": [{"units": 1, "activation": "linear"}]}, loss="mse", metrics=[])
    model = build_model(config, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="float64"):
        trace(model, make_loss("mse", "linear"), np.zeros((1, 2)), np.zeros((1, 1)))


def test_usage_error_is_raised_in_python_too():
    with pytest.raises(UsageError):
        backprop(CONFIGS / "xor_reference.yaml", ["0,1"], None)
