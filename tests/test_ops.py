import numpy as np
import pytest

from conftest import gradient_errors
from nntrain.nn.ops import BatchNorm, Dense, Dropout


def check_op(op, x, rng):
    """Relative errors of the op's input gradient and each parameter gradient (float64)."""
    upstream = rng.normal(size=op.forward(x.copy(), training=True).shape)

    def objective():
        out = op.forward(x, training=True)
        penalty = op.penalty() if hasattr(op, "penalty") else 0.0
        return float(np.sum(upstream * out)) + penalty

    def gradients():
        dx = op.backward(upstream.copy())
        return {**op.grads, **({} if dx is None else {"x": dx})}

    return gradient_errors(objective, gradients, {**op.params, "x": x})


@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.1, 0.0), (0.0, 0.3), (0.05, 0.2)])
@pytest.mark.parametrize("batch", [1, 5])
def test_dense_gradients_with_penalties(l1, l2, batch, rng):
    op = Dense(rng.normal(size=(3, 4)), rng.normal(size=3), l1=l1, l2=l2)
    errors = check_op(op, rng.normal(size=(batch, 4)), rng)
    assert set(errors) == {"W", "b", "x"}
    assert max(errors.values()) < 1e-6, errors


def test_dense_is_Wx_plus_b_with_W_units_by_inputs():
    W = np.array([[20.0, -20.0], [-20.0, 20.0]])
    op = Dense(W, np.array([-10.0, -10.0]))
    z = op.forward(np.array([[0.0, 1.0]]), training=False)
    np.testing.assert_array_equal(z, [[-30.0, 10.0]])


def test_dense_penalty_value():
    op = Dense(np.array([[1.0, -2.0]]), np.zeros(1), l1=0.5, l2=0.25)
    assert op.penalty() == pytest.approx(0.5 * 3 + 0.25 * 5)


def test_first_layer_skips_the_input_gradient(rng):
    op = Dense(rng.normal(size=(2, 3)), np.zeros(2), input_grad=False)
    op.forward(rng.normal(size=(4, 3)), training=True)
    assert op.backward(np.ones((4, 2))) is None
    np.testing.assert_allclose(op.grads["b"], [4.0, 4.0])


def test_dropout_mean_is_preserved_over_many_units():
    rng = np.random.default_rng(0)
    x = np.ones((1, 100_000))
    out = Dropout(0.8, rng).forward(x, training=True)
    assert abs(out.mean() - 1.0) < 0.01
    kept = out != 0
    assert abs(kept.mean() - 0.8) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.8)


def test_dropout_is_exactly_the_lecture_formula():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    keep_prob = 0.6
    op = Dropout(keep_prob, np.random.default_rng(7))
    out = op.forward(x, training=True).copy()
    d = np.random.default_rng(7).random(x.shape) < keep_prob  # the lecture: d = rand < keep_prob
    expected = np.multiply(x, d) / keep_prob
    np.testing.assert_array_equal(out, expected)


def test_dropout_is_identity_at_inference(rng):
    x = rng.normal(size=(4, 5))
    assert Dropout(0.5, rng).forward(x, training=False) is x


def test_dropout_gradient_with_a_fixed_mask(rng):
    op = Dropout(0.7, rng)
    x = rng.normal(size=(6, 5))
    op.forward(x, training=True)
    op.frozen = True
    errors = check_op(op, x, rng)
    assert errors["x"] < 1e-6


@pytest.mark.parametrize("batch", [3, 8])  # with 2 rows the output no longer depends on x
def test_batchnorm_gradients(batch, rng):
    op = BatchNorm(3, np.float64)
    op.params["gamma"][:] = rng.normal(size=3)
    op.params["beta"][:] = rng.normal(size=3)
    errors = check_op(op, rng.normal(2.0, 3.0, size=(batch, 3)), rng)
    assert set(errors) == {"gamma", "beta", "x"}
    assert max(errors.values()) < 1e-6, errors


def test_batchnorm_matches_a_hand_computation(rng):
    op = BatchNorm(2, np.float64, momentum=0.1, eps=1e-5)
    op.params["gamma"][:] = [2.0, 0.5]
    op.params["beta"][:] = [1.0, -1.0]
    x1 = rng.normal(3.0, 2.0, size=(6, 2))
    x2 = rng.normal(-1.0, 0.5, size=(6, 2))
    out1 = op.forward(x1, training=True).copy()
    op.forward(x2, training=True)
    mean, var = x1.mean(0), x1.var(0)
    np.testing.assert_allclose(out1, [2.0, 0.5] * (x1 - mean) / np.sqrt(var + 1e-5) + [1.0, -1.0])
    running_mean = 0.9 * (0.9 * 0 + 0.1 * mean) + 0.1 * x2.mean(0)
    running_var = 0.9 * (0.9 * 1 + 0.1 * x1.var(0, ddof=1)) + 0.1 * x2.var(0, ddof=1)
    np.testing.assert_allclose(op.state["running_mean"], running_mean)
    np.testing.assert_allclose(op.state["running_var"], running_var)
    x3 = rng.normal(size=(3, 2))
    inference = op.forward(x3, training=False)
    np.testing.assert_allclose(inference, [2.0, 0.5] * (x3 - running_mean) / np.sqrt(running_var + 1e-5) + [1.0, -1.0])


@pytest.mark.parametrize("make", ["dense", "dropout", "batchnorm"])
def test_float32_in_float32_out(make, rng):
    f32 = np.float32
    op = {
        "dense": lambda: Dense(rng.normal(size=(3, 4)).astype(f32), np.zeros(3, f32), l1=0.1, l2=0.1),
        "dropout": lambda: Dropout(0.5, rng),
        "batchnorm": lambda: BatchNorm(4, f32),
    }[make]()
    x = rng.normal(size=(5, 4)).astype(f32)
    out = op.forward(x, training=True)
    dx = op.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == f32
    assert all(g.dtype == f32 for g in op.grads.values())
