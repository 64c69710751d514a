import numpy as np
import pytest

from nntrain.config import AdamConfig, SGDConfig
from nntrain.nn.optimizers import SGD, Adam, clip_by_global_norm, make_optimizer


def test_sgd_plain_step():
    w, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    SGD(lr=0.1).step([w], [g])
    np.testing.assert_allclose(w, [0.95, -2.025])


def test_sgd_momentum_by_hand():
    w = np.array([1.0])
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step([w], [np.array([1.0])])  # v = -0.1; w = 0.9
    opt.step([w], [np.array([2.0])])  # v = 0.9 * -0.1 - 0.2 = -0.29; w = 0.61
    np.testing.assert_allclose(w, [0.61])


def test_sgd_nesterov_by_hand():
    w = np.array([1.0])
    opt = SGD(lr=0.1, momentum=0.9, nesterov=True)
    opt.step([w], [np.array([1.0])])  # v = -0.1; w += 0.9 * -0.1 - 0.1 = -0.19 -> 0.81
    np.testing.assert_allclose(w, [0.81])
    opt.step([w], [np.array([2.0])])  # v = -0.29; w += 0.9 * -0.29 - 0.2 = -0.461 -> 0.349
    np.testing.assert_allclose(w, [0.349])


def test_adam_by_hand():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w = np.array([1.0, -1.0])
    opt = Adam(lr=lr, beta1=b1, beta2=b2, eps=eps)
    expected = w.copy()
    m = v = np.zeros(2)
    for t, g in enumerate([np.array([0.5, -2.0]), np.array([0.1, 3.0]), np.array([-1.0, 0.0])], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        expected = expected - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        opt.step([w], [g])
        np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_adam_first_step_moves_each_weight_by_lr():
    w = np.array([3.0, -7.0])
    Adam(lr=0.01).step([w], [np.array([123.0, -0.001])])
    np.testing.assert_allclose(w, [2.99, -6.99], rtol=1e-5)


@pytest.mark.parametrize("opt", [SGD(lr=0.1), SGD(lr=0.05, momentum=0.9), SGD(lr=0.05, momentum=0.9, nesterov=True), Adam(lr=0.1)])
def test_minimises_the_lectures_quadratic(opt):
    # w^2 - 10 w + 25 = (w - 5)^2, gradient 2 w - 10.
    w = np.array([0.0])
    for _ in range(2000):
        opt.step([w], [2 * w - 10])
    assert w[0] == pytest.approx(5.0, abs=1e-4)


def test_works_on_several_arrays_of_any_shape(rng):
    params = [rng.normal(size=(3, 2)), rng.normal(size=5)]
    opt = Adam(lr=0.1)
    for _ in range(500):
        opt.step(params, [2 * p for p in params])  # minimise sum p^2
    assert max(np.abs(p).max() for p in params) < 1e-2


def test_make_optimizer_passes_the_config_fields():
    opt = make_optimizer(SGDConfig(name="sgd", lr=0.2, momentum=0.5, nesterov=True))
    assert (type(opt), opt.lr, opt.momentum, opt.nesterov) == (SGD, 0.2, 0.5, True)
    opt = make_optimizer(AdamConfig(name="adam", lr=0.003, beta1=0.8))
    assert (type(opt), opt.lr, opt.beta1, opt.beta2) == (Adam, 0.003, 0.8, 0.999)


def test_clip_by_global_norm():
    grads = [np.array([3.0]), np.array([[4.0]])]
    assert clip_by_global_norm(grads, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose([grads[0][0], grads[1][0, 0]], [0.6, 0.8])
    unchanged = [np.array([0.3, 0.4])]
    assert clip_by_global_norm(unchanged, 1.0) == pytest.approx(0.5)
    np.testing.assert_allclose(unchanged[0], [0.3, 0.4])


def test_rmsprop_by_hand():
    w, lr, rho, eps = np.array([1.0]), 0.01, 0.9, 1e-7
    opt = __import__("nntrain.nn.optimizers", fromlist=["RMSprop"]).RMSprop(lr=lr, rho=rho, eps=eps)
    v, expected = 0.0, 1.0
    for g in [0.5, -2.0, 1.0]:
        v = rho * v + (1 - rho) * g * g
        expected -= lr * g / (np.sqrt(v) + eps)
        opt.step([w], [np.array([g])])
        assert w[0] == pytest.approx(expected, rel=1e-12)


def test_adagrad_by_hand():
    from nntrain.nn.optimizers import Adagrad

    w, lr, eps = np.array([1.0]), 0.1, 1e-7
    opt = Adagrad(lr=lr, initial_accumulator=0.1, eps=eps)
    s, expected = 0.1, 1.0
    for g in [0.5, -2.0, 1.0]:
        s += g * g
        expected -= lr * g / (np.sqrt(s) + eps)
        opt.step([w], [np.array([g])])
        assert w[0] == pytest.approx(expected, rel=1e-12)


def test_adamw_decays_then_steps_like_adam():
    from nntrain.nn.optimizers import AdamW

    lr, wd = 0.01, 0.1
    w, reference = np.array([2.0]), np.array([2.0])
    opt, adam = AdamW(lr=lr, weight_decay=wd), Adam(lr=lr)
    for g in [1.0, -0.5]:
        opt.step([w], [np.array([g])])
        reference *= 1 - lr * wd
        adam.step([reference], [np.array([g])])
        assert w[0] == pytest.approx(reference[0], rel=1e-12)
    assert AdamW(lr=lr, weight_decay=0.0).weight_decay == 0.0


def test_clip_by_value():
    from nntrain.nn.optimizers import clip_by_value

    grads = [np.array([-3.0, 0.5]), np.array([[2.0]])]
    assert clip_by_value(grads, 1.0)
    np.testing.assert_array_equal(grads[0], [-1.0, 0.5])
    np.testing.assert_array_equal(grads[1], [[1.0]])
    assert not clip_by_value([np.array([0.1, -0.2])], 1.0)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_state_dict_round_trip_continues_exactly(name, rng):
    from nntrain.nn.optimizers import OPTIMIZERS

    options = {"momentum": 0.9} if name == "sgd" else {}
    params = [rng.normal(size=(3, 2)), rng.normal(size=4)]
    grads = [[rng.normal(size=p.shape) for p in params] for _ in range(4)]
    a = OPTIMIZERS[name](**options)
    for g in grads[:2]:
        a.step(params, g)
    copy = [p.copy() for p in params]
    b = OPTIMIZERS[name](**options)
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()}, copy)
    for g in grads[2:]:
        a.step(params, g)
        b.step(copy, g)
    for p, q in zip(params, copy):
        assert p.tobytes() == q.tobytes()
