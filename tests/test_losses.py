import numpy as np
import pytest

from conftest import gradient_errors
from nntrain.nn.losses import (
    BINARY,
    LABELS,
    LOSSES,
    VALUES,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    MeanAbsoluteError,
    MeanSquaredError,
    classifies,
    loss_class,
    make_loss,
    pairing_warning,
)


def gradcheck(loss, out, y):
    return gradient_errors(lambda: loss.forward(out, y), lambda: {"out": loss.backward()}, {"out": out})["out"]


@pytest.mark.parametrize("shape", [(1, 1), (6, 1), (6, 3)])
def test_mse_gradient_and_value(shape, rng):
    a, y = rng.normal(size=shape), rng.normal(size=shape)
    loss = MeanSquaredError()
    assert loss.forward(a, y) == pytest.approx(np.mean((a - y) ** 2))
    assert gradcheck(loss, a, y) < 1e-6


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("shape", [(1, 1), (8, 1), (8, 3)])
def test_binary_crossentropy_gradient_and_value(from_logits, shape, rng):
    z = rng.normal(0, 2, shape)
    p = 1 / (1 + np.exp(-z))
    y = (rng.random(shape) < 0.5).astype(float)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    loss = BinaryCrossentropy(from_logits)
    out = z if from_logits else p
    assert loss.forward(out, y) == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(loss.prediction, p)
    assert gradcheck(loss, out.copy(), y) < 1e-6


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("one_hot", [True, False])
def test_categorical_crossentropy_gradient_and_value(from_logits, one_hot, rng):
    z = rng.normal(0, 2, (7, 4))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, 7)
    y = np.eye(4)[labels] if one_hot else labels
    expected = -np.mean(np.log(p[np.arange(7), labels]))
    loss = CategoricalCrossentropy(from_logits)
    out = z if from_logits else p
    assert loss.forward(out, y) == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(loss.prediction, p)
    assert gradcheck(loss, out.copy(), y) < 1e-6


def test_labels_and_one_hot_give_the_same_loss_and_gradient(rng):
    z = rng.normal(size=(5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    a, b = CategoricalCrossentropy(), CategoricalCrossentropy()
    assert a.forward(z, labels) == pytest.approx(b.forward(z, np.eye(3)[labels]))
    np.testing.assert_allclose(a.backward(), b.backward())


def test_from_logits_is_stable_for_extreme_logits():
    z = np.array([[-800.0], [800.0]])
    y = np.array([[1.0], [0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = BinaryCrossentropy(True).forward(z, y)
    assert value == pytest.approx(800.0)
    zc = np.array([[900.0, -900.0]])
    with np.errstate(over="raise"):
        assert CategoricalCrossentropy(True).forward(zc, np.array([1])) == pytest.approx(1800.0)


def test_pairing_decides_from_logits_and_warns_on_a_mismatch():
    assert make_loss("binary_crossentropy", "sigmoid").from_logits
    assert not make_loss("binary_crossentropy", "tanh").from_logits
    assert make_loss("categorical_crossentropy", "softmax").from_logits
    assert pairing_warning("mse", "linear") is None
    assert pairing_warning("binary_crossentropy", "sigmoid") is None
    message = pairing_warning("mse", "sigmoid")
    assert "output activation 'sigmoid' does not match loss 'mse'" in message
    assert "linear" in message


def test_categorical_crossentropy_of_soft_targets(rng):
    z = rng.normal(0, 2, (5, 3))
    y = rng.dirichlet(np.ones(3), size=5)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = CategoricalCrossentropy()
    assert loss.forward(z, y) == pytest.approx(-(y * log_p).sum() / 5, rel=1e-12)
    assert gradcheck(loss, z.copy(), y) < 1e-6


@pytest.mark.parametrize("name", ["mse", "binary_crossentropy", "categorical_crossentropy"])
def test_float32_in_float32_out_into_reused_buffers(name, rng):
    out = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.integers(0, 3, 8) if name == "categorical_crossentropy" else (rng.random((8, 3)) < 0.5).astype(np.float32)
    loss = make_loss(name, {"mse": "linear", "binary_crossentropy": "sigmoid", "categorical_crossentropy": "softmax"}[name])
    loss.forward(out, y)
    prediction, grad = loss.prediction.copy(), loss.backward()
    assert loss.prediction.dtype == grad.dtype == np.float32
    # The metrics read the prediction after backward: backward must leave it alone.
    np.testing.assert_array_equal(loss.prediction, prediction)
    first_prediction = loss.prediction
    out *= 2  # the next step's output, in the model's (reused) output buffer
    loss.forward(out, y)
    assert loss.backward() is grad and loss.prediction is first_prediction  # the same buffers, step after step


def test_binary_crossentropy_keeps_small_losses_in_float32():
    z = np.array([[20.0], [-20.0], [10.0]], np.float32)
    y = np.array([[1.0], [0.0], [1.0]], np.float32)
    exact = np.log1p(np.exp(-np.array([20.0, 20.0, 10.0]))).mean()
    assert BinaryCrossentropy(True).forward(z, y) == pytest.approx(exact, rel=1e-6)


def test_classifies_by_the_output_a_loss_pairs_with():
    from nntrain.nn.losses import classifies

    assert classifies("binary_crossentropy") and classifies("categorical_crossentropy")
    assert not classifies("mse")


# --------------------------------------------------------------------------------------------------
# The regression losses MAE and Huber, and what every loss says about itself


def away_from(rng, shape, kinks, margin=0.05):
    """Differences d = a - y, uniform in [-3, 3] but at least ``margin`` from every kink (the finite
    difference is wrong within eps of one)."""
    d = rng.uniform(-3, 3, shape)
    for kink in kinks:
        near = np.abs(d - kink) < margin
        d[near] = kink + np.where(d[near] < kink, -margin, margin)
    return d


@pytest.mark.parametrize("shape", [(1, 1), (6, 1), (6, 3)])
def test_mae_gradient_and_value(shape, rng):
    # |d| has a kink at d = 0: the check keeps every d at least 0.05 from it.
    y = rng.normal(size=shape)
    a = y + away_from(rng, shape, kinks=[0.0])
    loss = MeanAbsoluteError()
    assert loss.forward(a, y) == pytest.approx(np.mean(np.abs(a - y)), rel=1e-12)
    assert gradcheck(loss, a, y) < 1e-8


def test_mae_gradient_is_zero_at_the_target():
    loss = MeanAbsoluteError()
    loss.forward(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0]]))
    np.testing.assert_array_equal(loss.backward(), [[0.0, 0.5]])


def huber_reference(d, delta):
    return np.mean(np.where(np.abs(d) <= delta, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta)))


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("shape", [(1, 1), (6, 1), (6, 3)])
def test_huber_gradient_and_value(delta, shape, rng):
    # Both pieces are checked; d keeps away from +-delta, where the second derivative jumps.
    y = rng.normal(size=shape)
    a = y + away_from(rng, shape, kinks=[-delta, delta])
    loss = Huber(delta)
    assert loss.forward(a, y) == pytest.approx(huber_reference(a - y, delta), rel=1e-12)
    assert gradcheck(loss, a, y) < 1e-8


def test_huber_is_half_mse_near_the_target_and_delta_times_mae_beyond():
    y = np.zeros((4, 1))
    small, large = np.full((4, 1), 0.5), np.full((4, 1), 10.0)
    assert Huber(1.0).forward(small, y) == pytest.approx(0.5 * MeanSquaredError().forward(small, y))
    assert Huber(2.0).forward(large, y) == pytest.approx(2.0 * (10.0 - 1.0))
    huber = Huber(2.0)
    huber.forward(large, y)
    np.testing.assert_allclose(huber.backward(), np.full((4, 1), 2.0 / 4))  # the pull is capped at delta


@pytest.mark.parametrize("delta", [0.0, -1.0])
def test_huber_rejects_a_delta_that_is_not_positive(delta):
    with pytest.raises(ValueError, match=rf"^delta must be greater than 0. Received: delta={delta}$"):
        Huber(delta)


@pytest.mark.parametrize("name", ["mae", "huber"])
def test_regression_losses_float32_into_reused_buffers(name, rng):
    out = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 3)).astype(np.float32)
    loss = make_loss(name, "linear")
    loss.forward(out, y)
    grad = loss.backward()
    assert loss.prediction is out and grad.dtype == np.float32
    out *= 2
    loss.forward(out, y)
    assert loss.backward() is grad


def test_every_loss_describes_itself():
    facts = {
        name: (cls.targets, cls.activation, cls.classifies, cls.fuses) for name, cls in LOSSES.items()
    }
    assert facts == {
        "mse": (VALUES, "linear", False, False),
        "binary_crossentropy": (BINARY, "sigmoid", True, True),
        "categorical_crossentropy": (LABELS, "softmax", True, True),
        "mae": (VALUES, "linear", False, False),
        "huber": (VALUES, "linear", False, False),
    }
    for cls in LOSSES.values():
        assert cls.classifies == (cls.targets != VALUES)
        assert set(cls.arguments) <= set(cls.config_arguments())  # bounds only for real arguments


def test_config_arguments_are_the_constructors_but_from_logits():
    assert Huber.config_arguments() == {
        "delta": (float, 1.0, {"gt": 0, "description": "where the loss turns from quadratic to linear"})
    }
    for name in ("mse", "mae", "binary_crossentropy", "categorical_crossentropy"):
        assert LOSSES[name].config_arguments() == {}


def test_make_loss_passes_the_arguments_and_pairs_the_regression_losses_with_linear():
    assert make_loss("huber", "linear", delta=0.25).delta == 0.25
    assert make_loss("huber", "linear").delta == 1.0
    assert not make_loss("mae", "linear").from_logits
    assert pairing_warning("mae", "linear") is None and pairing_warning("huber", "linear") is None
    message = pairing_warning("huber", "sigmoid")
    assert message.startswith("output activation 'sigmoid' does not match loss 'huber': the lecture pairs huber with a linear output")
    assert classifies("binary_crossentropy") and not classifies("mae") and not classifies("huber")


def test_an_unknown_loss_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"^unknown loss 'l1'; known: mse, binary_crossentropy, categorical_crossentropy, mae, huber$"):
        loss_class("l1")


# --------------------------------------------------------------------------------------------------
# Weighted losses: sum(w_i l_i) / sum(w_i), l_i a row's mean over its units


def _weighted_case(name, from_logits, rng):
    """(loss, outputs, targets, each row's loss by hand) for a batch of 7 rows."""
    n = 7
    if name == "categorical_crossentropy":
        z = rng.normal(0, 2, (n, 4))
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        y = rng.integers(0, 4, n)
        return CategoricalCrossentropy(from_logits), (z if from_logits else p), y, -np.log(p[np.arange(n), y])
    if name == "binary_crossentropy":
        z = rng.normal(0, 2, (n, 3))
        p = 1 / (1 + np.exp(-z))
        y = (rng.random((n, 3)) < 0.5).astype(float)
        rows = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=1)
        return BinaryCrossentropy(from_logits), (z if from_logits else p), y, rows
    a, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    d = a - y
    if name == "mse":
        return MeanSquaredError(), a, y, np.mean(d**2, axis=1)
    if name == "mae":
        return MeanAbsoluteError(), a, y, np.mean(np.abs(d), axis=1)
    c = np.clip(d, -0.5, 0.5)
    return Huber(delta=0.5), a, y, np.mean(c * (d - c / 2), axis=1)


WEIGHTED = [("mse", False), ("mae", False), ("huber", False), ("binary_crossentropy", True),
            ("binary_crossentropy", False), ("categorical_crossentropy", True), ("categorical_crossentropy", False)]  # fmt: skip


@pytest.mark.parametrize("name,from_logits", WEIGHTED)
def test_weighted_loss_is_the_weighted_mean_of_the_rows_and_its_gradient_checks(name, from_logits, rng):
    loss, out, y, rows = _weighted_case(name, from_logits, rng)
    w = rng.uniform(0, 3, len(rows))
    assert loss.forward(out, y, w) == pytest.approx(np.dot(w, rows) / w.sum(), rel=1e-12)
    error = gradient_errors(lambda: loss.forward(out, y, w), lambda: {"out": loss.backward()}, {"out": out})["out"]
    assert error < 1e-6


@pytest.mark.parametrize("name,from_logits", WEIGHTED)
def test_equal_weights_give_the_plain_loss_and_gradient(name, from_logits, rng):
    loss, out, y, _ = _weighted_case(name, from_logits, rng)
    plain, grad = loss.forward(out, y), loss.backward().copy()
    assert loss.forward(out, y, np.full(len(out), 2.5)) == pytest.approx(plain, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), grad, rtol=1e-12)


def test_a_weight_of_zero_leaves_a_row_out_and_all_zero_weights_give_nothing(rng):
    loss, out, y, rows = _weighted_case("mse", False, rng)
    w = np.ones(len(rows))
    w[0] = 0
    assert loss.forward(out, y, w) == pytest.approx(rows[1:].mean(), rel=1e-12)
    assert not loss.backward()[0].any()
    assert loss.forward(out, y, np.zeros(len(rows))) == 0.0
    assert not loss.backward().any()
