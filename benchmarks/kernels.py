"""One Adam update of an MNIST-sized MLP's parameters (269,322 in one flat array), three ways, in turns:

- NumPy's twelve passes, as ``nntrain.nn.optimizers.Adam`` makes them without the extra;
- nntrain's compiled kernel (``nntrain.nn.kernels``, Numba: the extra ``nntrain[fast]``);
- the same expressions evaluated by numexpr, the other library made for fusing elementwise work
  (timed only if it is installed: ``pip install numexpr``).

    python benchmarks/kernels.py             # a few seconds
    python benchmarks/kernels.py --steps 2000

Prints microseconds per update and the ratios to NumPy's passes, and whether each way ends with
NumPy's weights to the last bit; and what Numba costs a process: its import, the first update (the
compiled code loaded from its cache, or compiled), and the resident memory it adds.
"""

import argparse
import copy
import importlib.util
import statistics
import time

import numpy as np

from nntrain.nn import kernels
from nntrain.nn.optimizers import Adam
from _report import load_average

N_PARAMS = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10


def rss_mb():
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024


def numexpr_update():
    """An Adam whose update numexpr evaluates: the same operations, in three expressions."""
    import numexpr

    class NumexprAdam(Adam):
        def update(self, params, grads):
            d = params[0].dtype.type
            c1, c2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t
            s = d(self.lr * c2**0.5 / c1)
            e = d(self.eps * c2**0.5)
            b1, a1, b2, a2 = d(self.beta1), d(1.0 - self.beta1), d(self.beta2), d(1.0 - self.beta2)
            for p, g, m, v in zip(params, grads, self.state["m"], self.state["v"]):
                numexpr.evaluate("m * b1 + g * a1", out=m, casting="no")
                numexpr.evaluate("v * b2 + (g * g) * a2", out=v, casting="no")
                numexpr.evaluate("p - (m / (sqrt(v) + e)) * s", out=p, casting="no")

    return NumexprAdam


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=500, help="updates per way and dtype (default 500)")
    args = parser.parse_args()
    print(f"numpy {np.__version__}, load average {load_average()}; {N_PARAMS:,} parameters, medians of blocks of 50 updates")
    if importlib.util.find_spec("numba") is None:
        raise SystemExit("Numba is not installed: pip install 'nntrain[fast]'")
    before, t0 = rss_mb(), time.perf_counter()
    import numba  # noqa: F401 -- what a run that uses the kernels imports

    imported, t1 = rss_mb(), time.perf_counter()
    p = np.ones(8, np.float32)
    kernels.adam(p, p.copy(), p.copy(), p.copy(), 0.9, 0.999, 1e-8, 0.01)
    loaded, t2 = rss_mb(), time.perf_counter()
    print(f"Numba: import {t1 - t0:.3f} s, first update {t2 - t1:.3f} s (its cache loaded, or compiled);"
          f" resident memory {before:.0f} -> {imported:.0f} -> {loaded:.0f} MB")  # fmt: skip

    ways = {"NumPy passes": Adam, "Numba kernel": Adam}
    if importlib.util.find_spec("numexpr"):
        ways["numexpr"] = numexpr_update()
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        start = rng.standard_normal(N_PARAMS).astype(dtype)
        grads = [rng.standard_normal(N_PARAMS).astype(dtype) * dtype(10.0 ** k) for k in range(-4, 1)]
        sides = {}
        for name, cls in ways.items():
            opt = cls(lr=0.001)
            opt.fused = name == "Numba kernel"
            sides[name] = (opt, start.copy())
        times = {name: [] for name in sides}
        for block in range(args.steps // 50):
            for name, (opt, p) in sides.items():
                t0 = time.perf_counter()
                for k in range(50):
                    opt.step([p], [grads[k % len(grads)]])
                times[name].append((time.perf_counter() - t0) / 50)
        base = statistics.median(times["NumPy passes"])
        reference = sides["NumPy passes"][1]
        print(f"\n{np.dtype(dtype).name}: microseconds per update")
        for name, (opt, p) in sides.items():
            t = statistics.median(times[name])
            same = "NumPy's weights bit for bit" if p.tobytes() == reference.tobytes() else f"{np.mean(p != reference):.1%} of the weights differ"
            print(f"  {name:14s} {t * 1e6:8.1f}   {t / base:5.2f} x NumPy's passes   {same}")


if __name__ == "__main__":
    main()
