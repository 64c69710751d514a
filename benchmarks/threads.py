"""BLAS threads: a run's epoch with 1 and with 2 fixed threads, on an idle machine and beside one busy
process per core -- the figure behind nntrain's default of one thread (``nntrain.training.threads``).

What it measures: nntrain's own step loop (``Trainer.train_step`` over a ``Loader``, as ``fit`` runs
it, from ``benchmarks/mlp.py``) for a small net (64-256-10 on 1,797 rows, batch 32: the shape of
``configs/digits.yaml``) and the MNIST-sized MLP (784-256-256-10 on 20,000 rows, batch 128). The two
thread counts take turns in blocks of an eighth of an epoch, so that a change in the machine's load
hits both; each side's epoch is the sum of its blocks, and the figure is the median epoch. Then the
same beside ``os.cpu_count()`` busy processes (pure-Python loops).

The figure of issue #17: the default's epoch (one thread) divided by the better of the two fixed
counts, idle and loaded (target <= 1.25). The default is not chosen by timing: with OpenBLAS the
weights depend on the thread count, and one thread keeps a plain fit's weights equal to a sweep's
(``tests/test_threads.py``).

    python benchmarks/threads.py [--epochs N] [--quick]
"""

import argparse
import multiprocessing
import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from _report import load_average
from mlp import MLP_CONFIG, nntrain_setup, nntrain_steps, split

SMALL = {
    **MLP_CONFIG,
    "data": {"batch_size": 32, "shuffle": True},
    "model": {"inputs": 64, "layers": [{"units": 256, "activation": "relu", "init": "he_normal"}, {"units": 10, "activation": "softmax"}]},
}


def busy():
    while True:
        pass


def epoch_times(raw, x, y, epochs):
    """{threads: median seconds per epoch} of 1 and 2 threads, taking turns in blocks (see the module)."""
    steps = {}
    for n in (1, 2):
        trainer, loader = nntrain_setup(raw, x, y)
        steps[n] = nntrain_steps(trainer, loader, [])
    blocks = split(len(loader), 8)
    times = {1: [], 2: []}
    turn = 0
    for epoch in range(epochs + 1):  # the first epoch warms up: not counted
        spent = {1: 0.0, 2: 0.0}
        for block in blocks:
            for n in (1, 2) if turn % 2 == 0 else (2, 1):
                with threadpool_limits(limits=n, user_api="blas"):
                    t0 = time.perf_counter()
                    for _ in range(block):
                        next(steps[n])
                    spent[n] += time.perf_counter() - t0
            turn += 1
        if epoch:
            for n in (1, 2):
                times[n].append(spent[n])
    return {n: statistics.median(t) for n, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs measured per case and load (after one to warm up)")
    parser.add_argument("--quick", action="store_true", help="2 epochs, fewer MLP rows: a smoke run")
    args = parser.parse_args()
    epochs, rows = (2, 5000) if args.quick else (args.epochs, 20000)
    rng = np.random.default_rng(0)
    cases = {
        "64-256-10, 1,797 rows, batch 32": (SMALL, rng.random((1797, 64), dtype=np.float32), rng.integers(0, 10, 1797)),
        f"784-256-256-10, {rows:,} rows, batch 128": (MLP_CONFIG, rng.random((rows, 784), dtype=np.float32), rng.integers(0, 10, rows)),
    }
    print(f"{os.cpu_count()} CPUs, load average {load_average()} at the start; medians of {epochs} epochs")
    print(f"{'load':<14} {'net':<40} {'1 thread':>9} {'2 threads':>10} {'default / best':>15}")
    worst = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for load in ("idle", "busy"):
            procs = [multiprocessing.Process(target=busy, daemon=True) for _ in range(os.cpu_count())] if load == "busy" else []
            for p in procs:
                p.start()
            time.sleep(0.5)
            try:
                for name, (raw, x, y) in cases.items():
                    t = epoch_times(raw, x, y, epochs)
                    ratio = t[1] / min(t.values())
                    worst = max(worst, ratio)
                    label = "idle" if not procs else f"+{len(procs)} busy"
                    print(f"{label:<14} {name:<40} {t[1]:8.3f}s {t[2]:9.3f}s {ratio:15.2f}", flush=True)
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.join()
    print(f"the default (1 thread) against the better fixed count, worst case: {worst:.2f} x (target <= 1.25)")
    print(f"load average {load_average()} at the end")


if __name__ == "__main__":
    main()
