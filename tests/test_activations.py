import numpy as np
import pytest

from conftest import gradient_errors
from nntrain.nn.activations import ACTIVATIONS, LEAKY_RELU_SLOPE
from nntrain.nn.ops import Activation


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


def test_gelu_is_the_tanh_approximation_within_5e_4_of_the_exact_erf_form():
    import math

    z = np.linspace(-6, 6, 1201).reshape(1, -1)
    a = ACTIVATIONS["gelu"].forward(z, np.empty_like(z))
    tanh_form = 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
    np.testing.assert_allclose(a, tanh_form, rtol=1e-14, atol=1e-15)
    exact = np.array([[0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in z[0]]])
    assert np.abs(a - exact).max() < 5e-4


def test_silu_is_z_times_sigmoid_and_finite_far_out():
    z = np.array([[-800.0, -30.0, -1.0, 0.0, 2.0, 30.0, 800.0]])
    with np.errstate(over="raise", invalid="raise"):
        a = ACTIVATIONS["silu"].forward(z, np.empty_like(z))
    np.testing.assert_allclose(a, z / (1 + np.exp(-np.clip(z, -700, 700))), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_activations_of_z_keep_z_and_write_their_own_buffer(name, rng):
    op = Activation(name)
    assert op.fn.needs_input
    z = rng.normal(0, 2, (6, 5))
    before = z.copy()
    a = op.forward(z, training=True)
    assert a is not z and not np.shares_memory(a, z)
    np.testing.assert_array_equal(z, before)  # backward reads it
    assert op.forward(z, training=True) is a  # the same buffer every step


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"])
def test_activations_of_a_compute_in_place(name, rng):
    z = rng.normal(size=(4, 3))
    assert not ACTIVATIONS[name].needs_input
    assert Activation(name).forward(z, training=True) is z
    kept = rng.normal(size=(4, 3))  # in_place=False: z belongs to someone who still needs it
    before = kept.copy()
    Activation(name, in_place=False).forward(kept, training=True)
    np.testing.assert_array_equal(kept, before)


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_a_step_of_an_activation_of_z_allocates_nothing_after_the_first(name, rng):
    import tracemalloc

    op = Activation(name)
    z, grad = rng.normal(size=(256, 64)).astype(np.float32), np.ones((256, 64), np.float32)
    op.backward(op.forward(z, training=True) * 0 + grad)
    tracemalloc.start()
    try:
        op.forward(z, training=True)
        op.backward(grad)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4096, peak


def test_what_activations_say_about_themselves():
    kinked = {name for name, fn in ACTIVATIONS.items() if fn.kinked}
    assert kinked == {"relu", "leaky_relu"}
    a = np.array([[0.0, 0.5, 0.995], [0.0, 0.2, 0.3]])
    assert ACTIVATIONS["relu"].diagnostics(a) == {"dead": pytest.approx(1 / 3)}
    assert ACTIVATIONS["sigmoid"].diagnostics(a) == {"saturated": pytest.approx(3 / 6)}
    assert ACTIVATIONS["tanh"].diagnostics(a) == {"saturated": pytest.approx(1 / 6)}
    assert all(ACTIVATIONS[name].diagnostics(a) == {} for name in ("leaky_relu", "linear", "softmax", "gelu", "silu"))
