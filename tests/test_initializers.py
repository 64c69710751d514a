import numpy as np
import pytest

from nntrain.nn.initializers import INITIALIZERS, initialize

SHAPE = (400, 300)  # (units, inputs)


@pytest.mark.parametrize(
    "name,std",
    [
        ("normal", 0.01),
        ("lecun_normal", np.sqrt(1 / 300)),
        ("lecun_uniform", np.sqrt(1 / 300)),
        ("xavier_normal", np.sqrt(2 / 700)),
        ("xavier_uniform", np.sqrt(2 / 700)),
        ("he_normal", np.sqrt(2 / 300)),
        ("he_uniform", np.sqrt(2 / 300)),
    ],
)
def test_standard_deviation_and_shape(name, std):
    W = initialize(name, SHAPE, None, np.random.default_rng(0), np.float64)
    assert W.shape == SHAPE
    assert abs(W.mean()) < 0.01 * std * 10
    assert W.std() == pytest.approx(std, rel=0.02)
    if name.endswith("uniform"):
        assert np.abs(W).max() <= np.sqrt(3) * std


def test_scale_sets_the_std_of_normal_and_the_variance_multiplier_of_the_others():
    rng = np.random.default_rng(0)
    assert initialize("normal", SHAPE, 2.0, rng, np.float64).std() == pytest.approx(2.0, rel=0.02)
    assert initialize("lecun_normal", SHAPE, 4.0, rng, np.float64).std() == pytest.approx(np.sqrt(4 / 300), rel=0.02)


def test_zeros():
    assert not initialize("zeros", (3, 2), None, np.random.default_rng(0), np.float32).any()


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_same_draws_for_every_dtype_and_seed(name):
    a = initialize(name, (5, 4), None, np.random.default_rng(3), np.float64)
    b = initialize(name, (5, 4), None, np.random.default_rng(3), np.float32)
    assert b.dtype == np.float32
    np.testing.assert_array_equal(a.astype(np.float32), b)
