import numpy as np
import pytest

from conftest import gradient_errors
from nntrain.nn.activations import ACTIVATIONS, LEAKY_RELU_SLOPE
from nntrain.nn.layers import Activation


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (16, 7)])
def test_gradient_matches_finite_differences(name, shape, rng):
    z = rng.normal(0, 2, shape)
    z[np.abs(z) < 1e-3] = 0.5  # keep away from the ReLU kink
    upstream = rng.normal(size=shape)
    op = Activation(name)

    def objective():
        return float(np.sum(upstream * op.forward(z.copy(), training=True)))

    errors = gradient_errors(objective, lambda: {"z": op.backward(upstream.copy())}, {"z": z})
    assert errors["z"] < 1e-6


def test_values():
    z = np.array([[-2.0, 0.0, 3.0]])
    f = {name: ACTIVATIONS[name].forward(z.copy(), np.empty_like(z)) for name in ACTIVATIONS}
    np.testing.assert_allclose(f["sigmoid"], 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(f["tanh"], np.tanh(z))
    np.testing.assert_array_equal(f["relu"], [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(f["leaky_relu"], [[-2.0 * LEAKY_RELU_SLOPE, 0.0, 3.0]])
    np.testing.assert_array_equal(f["linear"], z)
    e = np.exp(z - z.max())
    np.testing.assert_allclose(f["softmax"], e / e.sum())
    assert LEAKY_RELU_SLOPE == 0.01


def test_sigmoid_is_exact_in_both_tails_and_never_overflows():
    z = np.array([[-1000.0, -30.0, 30.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = ACTIVATIONS["sigmoid"].forward(z.copy(), np.empty_like(z))
    np.testing.assert_allclose(a[0, 1], 1 / (1 + np.exp(30.0)), rtol=1e-15)
    assert a[0, 0] == 0.0 and a[0, 3] == 1.0
    z32 = np.array([[-100.0, 100.0]], np.float32)
    a32 = ACTIVATIONS["sigmoid"].forward(z32.copy(), np.empty_like(z32))
    assert a32.dtype == np.float32 and np.isfinite(a32).all()


def test_softmax_is_stable_for_large_logits():
    z = np.array([[1000.0, 1001.0, 1002.0]])
    a = ACTIVATIONS["softmax"].forward(z.copy(), np.empty_like(z))
    np.testing.assert_allclose(a, ACTIVATIONS["softmax"].forward(z - 1000, np.empty_like(z)))
    assert a.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float32_stays_float32(name):
    z = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    a = Activation(name).forward(z.copy(), training=True)
    assert a.dtype == np.float32


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float32_gradients_stay_float32(name):
    op = Activation(name)
    op.forward(np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4), training=True)
    assert op.backward(np.ones((3, 4), np.float32)).dtype == np.float32
