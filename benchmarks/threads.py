"""BLAS threads: a run's epoch with 1 and with 2 fixed threads, on an idle machine and beside one busy
process per core -- the figure behind nntrain's default of one thread (``nntrain.training.threads``).

What it measures: nntrain's own step loop (``Trainer.train_step`` over a ``Loader``, as ``fit`` runs
it, from ``benchmarks/mlp.py``) for a small net (64-256-10 on 1,797 rows, batch 32: the shape of
``configs/digits.yaml``) and the MNIST-sized MLP (784-256-256-10 on 20,000 rows, batch 128). The two
thread counts take turns in blocks of an eighth of an epoch, so that a change in the machine's load
hits both; each side's epoch is the sum of its blocks, and the figure is the median epoch. Then the
same beside ``os.cpu_count()`` busy processes (pure-Python loops).

Beside them a third side trains with ``training.threads: auto`` (``AutoThreads``): it probes before
its first epoch and again when an epoch slows down, makes sure of the cores on whole epochs, its
probes counted in its time, and trains its blocks with the count it chose. (With ``--quick``'s two
epochs, its trial of one thread against the cores falls within the measured epochs.)

The figure of issue #17: the epoch of the default (one thread) and of auto divided by the better of
the two fixed counts, idle and loaded (target <= 1.25). The default is not chosen by timing: with
OpenBLAS the weights depend on the thread count, and one thread keeps a plain fit's weights equal to
a sweep's (``tests/test_threads.py``).

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
from nntrain.training.threads import AutoThreads

SMALL = {
    **MLP_CONFIG,
    "data": {"batch_size": 32, "shuffle": True},
    "model": {"inputs": 64, "layers": [{"units": 256, "activation": "relu", "init": "he_normal"}, {"units": 10, "activation": "softmax"}]},
}


def busy():
    while True:
        pass


def epoch_times(raw, x, y, epochs):
    """{side: median seconds per epoch} of 1 and 2 fixed threads and of ``auto`` (its probes
    included), taking turns in blocks (see the module); and the counts auto chose, by epoch."""
    steps, auto = {}, None
    for side in (1, 2, "auto"):
        trainer, loader = nntrain_setup(raw, x, y)
        steps[side] = nntrain_steps(trainer, loader, [])
        if side == "auto":
            auto = AutoThreads(trainer.model, raw["data"]["batch_size"], epochs + 1)
    blocks = split(len(loader), 8)
    sides = list(steps)
    times = {side: [] for side in sides}
    turn = 0
    for epoch in range(epochs + 1):  # the first epoch warms up: not counted
        spent = dict.fromkeys(sides, 0.0)
        if epoch == 0:
            t0 = time.perf_counter()
            auto.choose(1, first=True)  # before the first epoch, as a run does
            spent["auto"] += time.perf_counter() - t0
        for block in blocks:
            for side in sides[turn % 3:] + sides[: turn % 3]:
                with threadpool_limits(limits=auto.threads if side == "auto" else side, user_api="blas"):
                    t0 = time.perf_counter()
                    for _ in range(block):
                        next(steps[side])
                    spent[side] += time.perf_counter() - t0
            turn += 1
        t0 = time.perf_counter()
        auto.epoch_done(epoch + 1, spent["auto"])  # may probe again: its time counts
        spent["auto"] += time.perf_counter() - t0
        if epoch:
            for side in sides:
                times[side].append(spent[side])
    return {side: statistics.median(t) for side, t in times.items()}, auto.choices


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
    print(f"{'load':<14} {'net':<40} {'1 thread':>9} {'2 threads':>10} {'auto':>9} {'default / best':>15} {'auto / best':>12}  auto chose")
    worst = worst_auto = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for load in ("idle", "busy"):
            procs = [multiprocessing.Process(target=busy, daemon=True) for _ in range(os.cpu_count())] if load == "busy" else []
            for p in procs:
                p.start()
            time.sleep(0.5)
            try:
                for name, (raw, x, y) in cases.items():
                    t, chose = epoch_times(raw, x, y, epochs)
                    best = min(t[1], t[2])
                    ratio, auto = t[1] / best, t["auto"] / best
                    worst, worst_auto = max(worst, ratio), max(worst_auto, auto)
                    label = "idle" if not procs else f"+{len(procs)} busy"
                    chosen = ", ".join(f"{n} from epoch {e}" for e, n in chose)
                    print(f"{label:<14} {name:<40} {t[1]:8.3f}s {t[2]:9.3f}s {t['auto']:8.3f}s {ratio:15.2f} {auto:12.2f}  {chosen}", flush=True)
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.join()
    print(f"against the better fixed count, worst case: the default (1 thread) {worst:.2f} x, auto {worst_auto:.2f} x (target <= 1.25)")
    print(f"load average {load_average()} at the end")


if __name__ == "__main__":
    main()
