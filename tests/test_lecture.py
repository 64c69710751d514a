"""The lecture's claims, one test each, on the configs in configs/lecture/ (docs/lecture.md shows them).

Each test trains the config as ``nntrain fit`` would and asserts what the lecture says about it.
"""

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from nntrain.config import load_config
from nntrain.training.fit import fit
from nntrain.training.gradcheck import check_config
from nntrain.runs.inference import evaluate_run, load_model
from nntrain.nn.model import build_model, count_params
from nntrain.nn.optimizers import OPTIMIZERS
from nntrain.runs.store import DIAGNOSTICS, read_metrics, read_weights
from nntrain.training.trainer import prepare

ROOT = Path(__file__).parent.parent
LECTURE = ROOT / "configs" / "lecture"
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def train(name, runs, *overrides):
    """Fit configs/lecture/<name>.yaml (with KEY=VALUE overrides) into the folder ``runs``."""
    return fit(load_config(LECTURE / f"{name}.yaml", overrides), runs_root=runs)


def epochs_to(history, loss):
    """The first epoch whose training loss is below ``loss``, or None."""
    return next((row["epoch"] for row in history if row["loss"] < loss), None)


def first_gradient_norms(run):
    """Per layer, the norm of dLoss/dW at the first step (diagnostics.csv, epoch 1)."""
    row = read_metrics(run.run_dir, DIAGNOSTICS)[0]
    assert row["epoch"] == 1
    return [row[f"grad_norm.layer{i}"] for i in range(sum(k.startswith("grad_norm.") for k in row))]


def test_docs_show_a_generated_result_for_every_block_and_every_figure_exists():
    import re

    text = (ROOT / "docs" / "lecture.md").read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- result: ([\w-]+) -->\n(.*?)<!-- /result -->", text, re.S)
    assert len(blocks) >= 15
    assert all(body.strip() for _, body in blocks), [name for name, body in blocks if not body.strip()]
    figures = re.findall(r"!\[[^]]*\]\((lecture/[^)]+\.png)\)", text)
    assert figures and all((ROOT / "docs" / f).is_file() for f in figures)
    for config in re.findall(r"configs/lecture/(\w+\.yaml)", text):
        assert (LECTURE / config).is_file(), config


# 0 -- backpropagation is the chain rule applied op by op


@pytest.mark.parametrize("path", sorted(LECTURE.glob("*.yaml")), ids=lambda p: p.stem)
def test_0_every_lecture_network_has_the_gradient_of_its_finite_differences(path):
    result = check_config(load_config(path), max_entries=30)
    assert result.worst.error < 1e-5, result.worst
    assert sum(c.checked for c in result.tensors) > 0


def test_0_the_gradcheck_config_exercises_every_kind_of_op():
    config = load_config(LECTURE / "00_gradcheck.yaml")
    layers = config.model.layers
    assert any(l.batchnorm for l in layers) and any(l.keep_prob < 1 for l in layers)
    assert any(l.l1 for l in layers) and any(l.l2 for l in layers)
    result = check_config(config)
    assert {c.name.rsplit(".", 1)[1] for c in result.tensors} == {"W", "b", "gamma", "beta"}
    assert all(c.checked == np.prod(c.shape) for c in result.tensors)
    assert result.worst.error < 1e-7


# 1 -- XOR is not linearly separable


def test_1_without_a_hidden_layer_xor_stays_unsolved(tmp_path):
    for seed in range(3):
        run = train("01_xor_linear", tmp_path, f"seed={seed}")
        evaluation = evaluate_run(run.run_dir)
        assert evaluation["accuracy"] <= 0.75
        # The best a logistic regression can do on XOR is to output 0.5 everywhere: loss ln 2.
        assert evaluation["loss"] > 0.69


def test_1_two_stacked_logistic_regressions_solve_it(tmp_path):
    evaluation = evaluate_run(train("01_xor_two_layers", tmp_path).run_dir)
    assert evaluation["accuracy"] == 1.0 and evaluation["loss"] < 0.05


# 2 -- the hand-set network reproduces the lecture's table


def test_2_the_hand_set_network_reproduces_the_lectures_table():
    result = run_cli("predict", ROOT / "configs" / "xor_reference.yaml", "--trace", "--json", *"-i 0,0 -i 0,1 -i 1,0 -i 1,1".split())
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    # The slide's table: hidden σ(W1 x + b1) and output σ(W2 h + b2), small values to two significant
    # digits, values near 1 cut after three decimals ("0.999").
    slide = [
        ([4.5e-5, 4.5e-5], 4.5e-5),
        ([9.4e-14, 0.999], 0.999),
        ([0.999, 9.4e-14], 0.999),
        ([4.5e-5, 4.5e-5], 4.5e-5),
    ]

    def as_on_the_slide(value):
        return float(f"{value:.2g}") if value < 0.5 else np.floor(value * 1000) / 1000

    for row, (hidden, output) in zip(rows, slide):
        assert [as_on_the_slide(v) for v in row["layers"][0]] == hidden
        assert as_on_the_slide(row["output"][0]) == output


# 3 -- zero initialisation keeps the hidden units identical


def test_3_zero_init_keeps_every_hidden_unit_identical_and_xor_unsolved(tmp_path):
    run = train("03_zero_init", tmp_path)
    w = read_weights(run.run_dir)
    W, b, out = w["layers.0.W"], w["layers.0.b"], w["layers.1.W"]
    assert np.abs(W).min() > 1.0  # trained: the weights moved far from 0 ...
    assert (W == W[0]).all() and (b == b[0]).all() and (out == out[0, 0]).all()  # ... all units in lockstep
    assert evaluate_run(run.run_dir)["accuracy"] <= 0.75


def test_3_small_random_init_solves_it(tmp_path):
    run = train("03_random_init", tmp_path)
    W = read_weights(run.run_dir)["layers.0.W"]
    assert len({tuple(row) for row in W}) == len(W)
    assert evaluate_run(run.run_dir)["accuracy"] == 1.0


# 4 -- different seeds, different weights, similar accuracy


@pytest.mark.slow
def test_4_ten_seeds_give_ten_different_solutions_all_correct(tmp_path):
    runs = [train("03_random_init", tmp_path, f"seed={seed}") for seed in range(10)]
    weights = [read_weights(r.run_dir)["layers.0.W"] for r in runs]
    for a, b in combinations(weights, 2):
        assert np.abs(a - b).max() > 0.1
    assert [evaluate_run(r.run_dir)["accuracy"] for r in runs] == [1.0] * 10


# 5 -- linear layers collapse


def collapse(weights):
    """W' = W3 W2 W1 and b' = W3 (W2 b1 + b2) + b3 of a three-layer stack's weights."""
    (W1, W2, W3), (b1, b2, b3) = ([weights[f"layers.{i}.{k}"] for i in range(3)] for k in "Wb")
    return W3 @ W2 @ W1, W3 @ (W2 @ b1 + b2) + b3


def test_5_a_stack_of_linear_layers_is_one_linear_map(tmp_path):
    x = np.random.default_rng(0).uniform(-3, 3, size=(100, 2))
    # Before training (Xavier weights) and after: the net's logits are W' x + b', to rounding.
    _, _, trainer = prepare(load_config(LECTURE / "05_linear_stack.yaml"))
    W_, b_ = collapse(trainer.model.state_dict())
    assert np.linalg.norm(W_) > 0.1
    np.testing.assert_allclose(trainer.model.forward(x, logits=True), x @ W_.T + b_, rtol=1e-12, atol=1e-14)
    run = train("05_linear_stack", tmp_path)
    _, model = load_model(run.run_dir)
    W_, b_ = collapse(read_weights(run.run_dir))
    np.testing.assert_allclose(model.forward(x, logits=True), x @ W_.T + b_, rtol=1e-9, atol=1e-14)
    # ... so it learns what one logistic regression learns on XOR: nothing better than 0.5 everywhere.
    evaluation = evaluate_run(run.run_dir)
    assert evaluation["accuracy"] <= 0.75 and evaluation["loss"] > 0.69


# 6 -- output activation and loss follow the target


def test_6_each_pairing_fits_its_kind_of_target(tmp_path):
    regression = evaluate_run(train("06_regression", tmp_path).run_dir, "val")
    assert regression["mae"] < 0.15  # the noise alone has a mean absolute value of 0.08
    binary = evaluate_run(train("06_binary", tmp_path).run_dir, "val")
    assert binary["accuracy"] >= 0.95
    multiclass = evaluate_run(train("06_multiclass", tmp_path).run_dir, "val")
    assert multiclass["accuracy"] >= 0.9


def test_6_the_configs_follow_the_lectures_table():
    pairs = {}
    for name in ("06_regression", "06_binary", "06_multiclass"):
        config = load_config(LECTURE / f"{name}.yaml")
        pairs[config.model.layers[-1].activation] = config.loss.name
    assert pairs == {"linear": "mse", "sigmoid": "binary_crossentropy", "softmax": "categorical_crossentropy"}


# 7 -- SGD vs Adam


def test_7_adam_reaches_the_target_loss_in_far_fewer_epochs_than_sgd(tmp_path):
    adam = epochs_to(train("07_optimizers", tmp_path).history, 0.05)
    sgd = epochs_to(train("07_optimizers", tmp_path, "optimizer.name=sgd").history, 0.05)
    assert adam is not None and adam <= 100
    assert sgd is None or sgd >= 5 * adam  # same lr (0.1), same start: SGD has not got there in 1000 epochs


# 8 -- the optimizers minimise w² − 10w + 25


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_8_every_optimizer_minimises_the_lectures_quadratic(name):
    settings = {"sgd": dict(lr=0.1), "adagrad": dict(lr=1.0), "adamw": dict(lr=0.1, weight_decay=0.0)}
    w = np.array([0.0])
    optimizer = OPTIMIZERS[name](**settings.get(name, dict(lr=0.1)))
    for _ in range(2000):
        optimizer.step([w], [2 * w - 10])  # d/dw (w² − 10w + 25)
    assert w[0] == pytest.approx(5.0, abs=1e-6)


def test_8_momentum_and_decoupled_weight_decay_on_the_quadratic():
    for options in (dict(momentum=0.9), dict(momentum=0.9, nesterov=True)):
        w = np.array([0.0])
        optimizer = OPTIMIZERS["sgd"](lr=0.1, **options)
        for _ in range(2000):
            optimizer.step([w], [2 * w - 10])
        assert w[0] == pytest.approx(5.0, abs=1e-6)
    # AdamW's weight decay pulls towards 0 outside the gradient: it settles just below 5.
    w = np.array([0.0])
    optimizer = OPTIMIZERS["adamw"](lr=0.1, weight_decay=0.01)
    for _ in range(2000):
        optimizer.step([w], [2 * w - 10])
    assert 4.9 < w[0] < 5.0 - 1e-3


# 9 -- vanishing gradients, and what fixes them


def test_9_gradients_vanish_in_a_deep_sigmoid_net_with_small_weights(tmp_path):
    run = train("09_vanishing", tmp_path)
    norms = first_gradient_norms(run)
    assert len(norms) == 9
    assert norms[0] / norms[-1] < 1e-12  # seventeen orders of magnitude, in fact
    assert all(a < b for a, b in zip(norms, norms[1:]))  # shrinking layer by layer, back from the output
    assert evaluate_run(run.run_dir)["accuracy"] <= 0.75
    assert "vanished" in run.summary["advice"]


@pytest.mark.parametrize("name", ["09_relu_he", "09_batchnorm"])
def test_9_relu_with_he_init_or_batch_norm_keeps_them_alive(tmp_path, name):
    run = train(name, tmp_path)
    norms = first_gradient_norms(run)
    assert min(norms) / max(norms) > 1e-2
    assert evaluate_run(run.run_dir)["accuracy"] == 1.0


# 10 -- exploding gradients, and clipping


def test_10_large_weights_explode_and_clipping_keeps_the_run_finite(tmp_path):
    wild = train("10_exploding", tmp_path)
    assert min(first_gradient_norms(wild)) > 100
    assert wild.status == "diverged"
    clipped = train("10_exploding", tmp_path, "training.clip_norm=1")
    assert clipped.status == "completed"
    assert clipped.history[0]["clipped_steps"] == 1
    assert np.isfinite([row["loss"] for row in clipped.history]).all()
    assert evaluate_run(clipped.run_dir)["accuracy"] == 1.0


# 11 -- standardised inputs


def test_11_standardised_inputs_converge_in_far_fewer_epochs(tmp_path):
    raw = epochs_to(train("11_unscaled", tmp_path).history, 0.2)
    scaled = train("11_unscaled", tmp_path, "data.standardize=true")
    assert epochs_to(scaled.history, 0.2) <= 10
    assert raw is None or raw >= 5 * epochs_to(scaled.history, 0.2)
    assert evaluate_run(scaled.run_dir, "val")["accuracy"] >= 0.95


# 12 -- batch normalisation converges faster


def test_12_batch_norm_makes_a_deep_net_converge_faster(tmp_path):
    # 200 of the configs' 1,000 epochs: enough to see the difference (docs/lecture.md has the full runs).
    plain = epochs_to(train("12_deep_sigmoid", tmp_path, "training.epochs=200").history, 0.05)
    normalised = epochs_to(train("12_deep_sigmoid_batchnorm", tmp_path, "training.epochs=200").history, 0.05)
    assert normalised is not None and normalised <= 100
    assert plain is None or plain >= 2 * normalised


# 13 -- overfitting, L2 and dropout


def generalisation_gap(run):
    """Validation loss minus training loss, both on the final weights in inference mode."""
    return evaluate_run(run.run_dir, "val")["loss"] - evaluate_run(run.run_dir)["loss"]


@pytest.mark.slow
def test_13_a_large_net_overfits_a_small_data_set_and_l2_or_dropout_shrink_the_gap(tmp_path):
    plain = train("13_overfitting", tmp_path)
    assert plain.history[-1]["loss"] < 0.01 and generalisation_gap(plain) > 0.5
    l2 = train("13_overfitting", tmp_path, "model.layers.0.l2=0.01", "model.layers.1.l2=0.01")
    dropout = train("13_overfitting", tmp_path, "model.layers.0.keep_prob=0.5", "model.layers.1.keep_prob=0.5")
    assert generalisation_gap(l2) < generalisation_gap(plain) / 2
    assert generalisation_gap(dropout) < generalisation_gap(plain) / 2


# 14 -- parameter count


def test_14_a_500_to_500_layer_has_250500_parameters(tmp_path):
    config = load_config(LECTURE / "14_parameters.yaml")
    model = build_model(config, 2, np.random.default_rng(0))
    dense = model.layers[1][0]
    assert dense.params["W"].shape == (500, 500)
    assert dense.params["W"].size + dense.params["b"].size == 250_500
    assert count_params(config.model.layers, 2) == model.count_params()[0] == 1_500 + 250_500 + 501
    run = fit(config, runs_root=tmp_path)
    assert run.summary["parameters"] == 252_501
    assert evaluate_run(run.run_dir)["accuracy"] == 1.0  # a quarter of a million parameters for four examples
