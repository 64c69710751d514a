"""Fused kernels: an optimizer's whole update in one compiled pass over its arrays, bit for bit the
weights of its NumPy passes -- with Numba, the optional extra ``nntrain[fast]``.

NumPy updates Adam's moments and the weights in twelve passes over the network's flat arrays. Each
pass is fast, but for a 784-256-256-10 MLP they are a quarter of the epoch. ``adam`` is one loop of
the same operations in the same order, which Numba compiles with strict IEEE arithmetic (no fused
multiply-add, no reordering; ``error_model="numpy"``: a division by zero gives inf, as in NumPy, and
lets the loop vectorize). It is about 5x faster on one core, and its float32 and float64 results are
NumPy's to the last bit (``tests/test_kernels.py``), so whether a run uses it changes its speed only.

Numba costs a run about 0.3 s to import and to load the compiled loop from its cache (about 1 s to
compile it the first time), so a run uses it only when it plans enough work to win that back:
``worth_it``. numexpr, the other library made for this, was measured slower than NumPy's own
passes here (benchmarks/README.md).
"""

import functools
import importlib.util

import numpy as np

# Parameter updates (parameters x planned steps) from which the kernels win back Numba's start-up:
# they save about 0.8 ns per float32 parameter and step (2 ns in float64).
MIN_UPDATES = 5e8


def worth_it(n_params, steps):
    """Whether a run of ``steps`` optimizer steps on ``n_params`` parameters should use the kernels:
    enough work, and Numba installed."""
    return n_params * steps >= MIN_UPDATES and importlib.util.find_spec("numba") is not None


def fusable(*arrays):
    """Whether the kernels can update these arrays in place: one float dtype, contiguous (so that a
    flat view is the array itself)."""
    dtype = arrays[0].dtype
    return dtype.kind == "f" and all(a.dtype == dtype and a.flags.c_contiguous for a in arrays)


def adam(p, g, m, v, beta1, beta2, eps, step_size):
    """Adam's update of ``p`` and its moments ``m``, ``v`` in place, exactly as ``optimizers.Adam``
    computes it with NumPy; the scalars are rounded to the arrays' dtype first, as NumPy does."""
    d = p.dtype.type
    _compiled(_adam)(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                     d(beta1), d(1.0 - beta1), d(beta2), d(1.0 - beta2), d(eps), d(step_size))  # fmt: skip


def _adam(p, g, m, v, b1, a1, b2, a2, eps, step):
    for i in range(p.shape[0]):
        mi = m[i] * b1 + g[i] * a1
        vi = v[i] * b2 + (g[i] * g[i]) * a2
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - (mi / (np.sqrt(vi) + eps)) * step


@functools.cache
def _compiled(kernel):
    """``kernel`` compiled by Numba (imported here, on first use), its machine code cached on disk."""
    import numba

    return numba.njit(kernel, nogil=True, error_model="numpy", cache=True)
