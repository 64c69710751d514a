import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_config, run_cli as run
from nntrain.nn.gradcheck import check_gradients, numerical_gradient, relative_error
from nntrain.training.gradcheck import check_config
from nntrain.nn.losses import make_loss
from nntrain.nn.model import build_model

CONFIGS = Path(__file__).parent.parent / "configs"

DEEP = {
    "layers": [
        {"units": 6, "activation": "tanh", "batchnorm": True, "keep_prob": 0.5, "l1": 0.01, "l2": 0.02},
        {"units": 5, "activation": "sigmoid", "batchnorm": True, "l2": 0.1},
        {"units": 3, "activation": "softmax", "l1": 0.05},
    ]
}


def deep_model(rng):
    config = make_config(model=DEEP, loss="categorical_crossentropy", dtype="float64")
    model = build_model(config, 4, rng)
    return model, make_loss("categorical_crossentropy", model.output_activation)


def test_numerical_gradient_of_a_known_function_and_of_chosen_entries():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)
    assert x.tolist() == [[1.0, -2.0], [0.5, 3.0]]  # restored
    some = numerical_gradient(lambda: float(np.sum(x**3)), x, indices=np.array([1, 3]))
    np.testing.assert_allclose(some, [12.0, 27.0], rtol=1e-8)


def test_relative_error_is_scale_free_above_the_floor():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1000.0], [1001.0]) == pytest.approx(1 / 2001)
    assert relative_error([1e-12], [0.0]) == pytest.approx(1e-9)  # against the floor 1e-3


def test_every_tensor_of_a_deep_network_passes(rng):
    model, loss = deep_model(rng)
    checks = check_gradients(model, loss, rng.normal(size=(8, 4)), rng.integers(0, 3, 8))
    assert [c.name for c in checks] == model.param_names
    assert {c.name.split(".")[-1] for c in checks} == {"W", "b", "gamma", "beta"}
    assert all(c.checked == np.prod(c.shape) for c in checks)
    assert max(c.error for c in checks) < 1e-7, checks
    assert all(c.analytic_norm > 1e-3 for c in checks if c.name.endswith(".W"))


def test_a_wrong_derivative_is_caught_in_the_layers_below_it(rng):
    model, loss = deep_model(rng)
    act = model.layers[1][2]  # layer 1's activation: Dense, BatchNorm, Activation
    right = act.backward
    act.backward = lambda grad: right(grad) * 1.01  # a 1% error in one op's derivative
    checks = {c.name: c.error for c in check_gradients(model, loss, rng.normal(size=(8, 4)), rng.integers(0, 3, 8))}
    assert max(checks["layers.2.W"], checks["layers.2.b"]) < 1e-7  # above the bug: right
    assert checks["layers.1.W"] > 1e-3 and checks["layers.0.W"] > 1e-3  # at and below it: wrong


def test_dropout_masks_are_held_fixed_and_released(rng):
    model, loss = deep_model(rng)
    dropout = model.layers[0][-1]
    checks = check_gradients(model, loss, rng.normal(size=(8, 4)), rng.integers(0, 3, 8))
    assert max(c.error for c in checks) < 1e-7
    assert dropout.frozen is False


def relu_net(rng, l1=0.0, init="he_normal"):
    config = make_config(
        model={"layers": [{"units": 6, "activation": "relu", "init": init, "l1": l1}, {"units": 1, "activation": "sigmoid"}]},
        dtype="float64",
    )
    model = build_model(config, 2, rng)
    return model, make_loss("binary_crossentropy", "sigmoid")


XOR_X, XOR_Y = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array([[0.0], [1.0], [1.0], [0.0]])


def test_entries_at_a_relu_kink_are_left_out_not_failed(rng):
    # Input (0, 0) and zero biases put every hidden pre-activation of that row exactly on the kink:
    # a bias moved by +-eps crosses it. The weights multiply x = 0 there and stay checkable.
    model, loss = relu_net(rng)
    checks = {c.name: c for c in check_gradients(model, loss, XOR_X, XOR_Y)}
    assert (checks["layers.0.b"].checked, checks["layers.0.b"].kinks) == (0, 6)
    assert (checks["layers.0.W"].checked, checks["layers.0.W"].kinks) == (12, 0)
    assert max(c.error for c in checks.values()) < 1e-8
    # Off the kink (inputs shifted away from 0) every entry is checked.
    shifted = check_gradients(model, loss, XOR_X + 0.3, XOR_Y)
    assert all(c.kinks == 0 for c in shifted) and max(c.error for c in shifted) < 1e-8


def test_a_wrong_relu_derivative_is_still_caught(rng):
    model, loss = relu_net(rng)
    act = model.layers[0][1]
    right = act.backward
    act.backward = lambda grad: right(grad) * 0.9
    checks = {c.name: c for c in check_gradients(model, loss, XOR_X, XOR_Y)}
    assert checks["layers.0.W"].error > 1e-2


def test_l1_penalised_weights_at_zero_are_kinks(rng):
    model, loss = relu_net(rng, l1=0.1, init="zeros")
    checks = {c.name: c for c in check_gradients(model, loss, XOR_X + 0.3, XOR_Y)}
    assert (checks["layers.0.W"].checked, checks["layers.0.W"].kinks) == (0, 12)


def test_a_sample_of_entries_per_tensor(rng):
    config = make_config(model={"layers": [{"units": 30, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]}, dtype="float64")
    model = build_model(config, 20, rng)
    loss = make_loss("binary_crossentropy", "sigmoid")
    x, y = rng.normal(size=(5, 20)), (rng.random((5, 1)) < 0.5).astype(float)
    checks = check_gradients(model, loss, x, y, max_entries=50, rng=rng)
    assert [c.checked for c in checks] == [50, 30, 30, 1]
    assert max(c.error for c in checks) < 1e-7


def test_float32_models_are_refused(rng):
    config = make_config(model=DEEP, loss="categorical_crossentropy")
    model = build_model(config, 4, rng)
    with pytest.raises(ValueError, match="float64"):
        check_gradients(model, make_loss("categorical_crossentropy", "softmax"), np.zeros((2, 4)), np.zeros(2, int))


def test_check_config_uses_the_runs_initial_weights_in_float64():
    from nntrain.config import load_config
    from nntrain.training.trainer import prepare

    config = load_config(CONFIGS / "xor.yaml")  # float32
    result = check_config(config)
    assert result.rows == 4 and [c.name for c in result.tensors] == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]
    assert result.worst.error < 1e-8
    assert config.dtype == "float32"  # the caller's config is untouched
    # The gradient is that of the float32 run's starting point (same seed, same draws), to float32 precision.
    _, data, trainer = prepare(config)
    model, loss = trainer.model, trainer.loss
    loss.forward(model.forward(data.train.x, training=True, logits=True), data.train.y)
    model.backward(loss.backward(), logits=True)
    assert result.tensors[0].analytic_norm == pytest.approx(np.linalg.norm(model.grads[0]), rel=1e-5)


def test_cli_prints_one_row_per_tensor_and_passes():
    result = run("gradcheck", CONFIGS / "xor.yaml")
    assert result.exit_code == 0, result.output
    for name in ("layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b", "relative error", "4 examples"):
        assert name in result.stdout
    assert result.stdout.count(" ok ") == 4
    assert result.stdout.strip().splitlines()[-1].startswith("ok: largest relative error ")


def test_cli_json_with_overrides():
    result = run(
        "gradcheck", CONFIGS / "xor.yaml", "--json", "--rows", "3", "--seed", "5",
        "--set", "model.layers.0.batchnorm=true", "--set", "model.layers.0.keep_prob=0.5", "--set", "model.layers.0.l2=0.1",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 3 and report["passed"] is True and report["tolerance"] == 1e-5
    names = [t["name"] for t in report["tensors"]]
    assert names == ["layers.0.W", "layers.0.b", "layers.0.gamma", "layers.0.beta", "layers.1.W", "layers.1.b"]
    assert all(t["error"] < 1e-6 for t in report["tensors"])


def test_cli_exits_1_above_the_tolerance():
    result = run("gradcheck", CONFIGS / "xor.yaml", "--tol", "1e-13")
    assert result.exit_code == 1
    assert "FAIL" in result.stdout
    assert result.stderr.startswith("error: relative error above the tolerance 1e-13: layers.0.W (")


def test_cli_reports_entries_at_a_kink():
    # ReLU after all-zero weights and biases: every pre-activation is exactly 0, on the kink.
    result = run("gradcheck", CONFIGS / "xor.yaml", "--set", "model.layers.0.activation=relu", "--set", "model.layers.0.init=zeros")
    assert result.exit_code == 0, result.output
    assert "kinks" in result.stdout and "all kinks" in result.stdout
    assert result.stdout.strip().endswith("12 entries at a kink left out")


def test_cli_user_errors_exit_2():
    one_row = run("gradcheck", CONFIGS / "xor.yaml", "--rows", "1", "--set", "model.layers.0.batchnorm=true")
    assert (one_row.exit_code, one_row.stderr) == (2, "error: a gradient check of batch norm needs at least 2 examples; got 1\n")
    missing = run("gradcheck", "no-such.yaml")
    assert (missing.exit_code, missing.stderr) == (2, "error: no-such.yaml: config file not found\n")
    bad = run("gradcheck", CONFIGS / "xor.yaml", "--set", "model.layers.0.units=0")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: --set model.layers.0.units=0: model.layers.0.units: Input should be greater than 0")
