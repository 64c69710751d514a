"""The compiled optimizer kernels (``nntrain.nn.kernels``, Numba): NumPy's weights to the last bit,
used by a run only where they pay, and never needed for a correct run."""

import math

import numpy as np
import pytest

from conftest import make_config
from nntrain.nn import kernels
from nntrain.nn.optimizers import Adam, AdamW
from nntrain.runs.store import read_summary, read_weights
from nntrain.training.fit import fit

pytest.importorskip("numba")  # the extra nntrain[fast]; the test extra installs it


def gradients(n, dtype, steps, seed=1):
    """Gradients over eleven decades, with exact zeros and a few huge and tiny values among them."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        g = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 3, n)
        g[::97] = 0.0
        g[5::101] = rng.choice([1e30, -1e30, 1e-40, -1e-40], size=len(g[5::101]))
        yield g.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", [Adam(lr=0.01), Adam(lr=0.3, beta1=0.5, beta2=0.99, eps=1e-3), AdamW(lr=0.01, weight_decay=0.1)])
def test_the_fused_update_gives_numpys_weights_and_moments_bit_for_bit(dtype, optimizer):
    import copy

    start = np.random.default_rng(0).standard_normal(10_007).astype(dtype)
    results = []
    for fused in (False, True):
        opt, p = copy.deepcopy(optimizer), start.copy()
        opt.fused = fused
        with np.errstate(over="ignore"):  # 1e30 squared in float32, as a diverging run meets it
            for g in gradients(len(p), dtype, 60):
                opt.step([p], [g])
        results.append([p, *opt.state["m"], *opt.state["v"]])
    assert all(a.dtype == dtype and a.tobytes() == b.tobytes() for a, b in zip(*results))


def test_the_kernel_is_the_loop_numba_compiles():
    """The reference loop in Python gives what the compiled loop gives (the kernel is what it says)."""
    rng = np.random.default_rng(0)
    p, g, m, v = (rng.standard_normal(50) for _ in range(4))
    v = np.abs(v)
    expected = [a.copy() for a in (p, g, m, v)]
    kernels._adam(*expected, 0.9, 1 - 0.9, 0.999, 1 - 0.999, 1e-8, 0.01)
    kernels.adam(p, g, m, v, 0.9, 0.999, 1e-8, 0.01)
    assert all(a.tobytes() == b.tobytes() for a, b in zip((p, g, m, v), expected))


def test_arrays_the_kernel_cannot_update_in_place_take_numpys_passes():
    opt = Adam(lr=0.1)
    opt.fused = True
    w = np.ones((6, 4))[:, ::2]  # a strided view: a flat view of it would be a copy
    plain = Adam(lr=0.1)
    expected = w.copy()
    for _ in range(3):
        opt.step([w], [2 * w - 10])
        plain.step([expected], [2 * expected - 10])
    assert not kernels.fusable(w, w, w, w) and np.array_equal(w, expected) and not np.array_equal(w, np.ones((6, 2)))


def test_a_run_uses_the_kernels_where_they_pay_and_ends_with_the_same_weights(tmp_path, monkeypatch):
    config = make_config(optimizer={"name": "adam", "lr": 0.05}, training={"epochs": 30})
    small = fit(config, run_dir=tmp_path / "numpy")
    assert read_summary(small.run_dir)["kernels"] == "numpy"  # XOR: far too little work to pay for Numba
    monkeypatch.setattr(kernels, "MIN_UPDATES", 0)
    fused = fit(config, run_dir=tmp_path / "numba")
    assert read_summary(fused.run_dir)["kernels"] == "numba"
    expected, got = read_weights(small.run_dir), read_weights(fused.run_dir)
    assert all(expected[k].tobytes() == got[k].tobytes() for k in expected)


def test_worth_it_weighs_the_work_and_needs_numba(monkeypatch):
    mlp = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10  # 269,322 parameters
    assert kernels.worth_it(mlp, 10 * 469) and not kernels.worth_it(mlp, 469)  # ten epochs of MNIST, one
    assert not kernels.worth_it(17, 10**6)  # XOR, a million steps
    monkeypatch.setattr(kernels.importlib.util, "find_spec", lambda name: None)  # no nntrain[fast]
    assert not kernels.worth_it(mlp, 10**6)
    assert math.isclose(kernels.MIN_UPDATES, 5e8)
