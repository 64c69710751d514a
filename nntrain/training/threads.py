"""How many threads the BLAS behind NumPy's matrix products (OpenBLAS, MKL) may use while a run
trains: one, unless ``training.threads`` (``fit --threads N``) says otherwise -- a number, or
``auto`` to have them chosen by timing (``AutoThreads``).

Why one. With OpenBLAS a threaded product splits its sums differently from a single-threaded one,
so the last bits of a product -- and so a run's weights -- depend on the thread count
(``tests/test_threads.py``). A thread count chosen by timing, or left to the machine's cores, would
make the same config and seed end with other weights on a busier or larger machine, and a plain
``fit`` differ from the same run in a sweep's workers (one thread each). One thread is also what a
busy machine wants: beside a busy process per core a second thread made epochs 1.8-2.3x slower,
while on an idle machine it saved at most about 14 % of an MNIST-sized MLP's epoch and nothing on
smaller nets (``benchmarks/threads.py``). A run that asks for N threads gets them, and its summary
says so: its weights then match runs with the same count only. A run with ``auto`` says in its
summary which counts it chose from which epoch (``thread_choices``).
"""

import contextlib
import os
import time

import numpy as np

DEFAULT = 1
AUTO = "auto"


def threads_of(config):
    """The BLAS threads a run of ``config`` starts with (``auto`` starts with the default)."""
    threads = config.training.threads
    return DEFAULT if threads in (None, AUTO) else threads


@contextlib.contextmanager
def blas_threads(n):
    """Within the block the BLAS uses ``n`` threads; the previous limits come back after it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield


class AutoThreads:
    """``training.threads: auto``: before the first epoch, and again when an epoch takes SLOWER times
    the fastest since the last choice, time a step's matrix products (the only work the BLAS threads
    do) with one thread and with every core, taking turns for PROBE seconds; train with the cores if
    they are MARGIN faster, else with one. Probes take at most SHARE of the time (none sooner than
    PROBE / SHARE seconds after the last), and products too small for threads to matter (under
    SMALL seconds on one thread) are never probed again. The probe's arrays are its own: the run's
    weights, generator and state are untouched, so a run that keeps one count all along ends with
    the weights of ``threads: <that count>``.

    ``choices``: [[first epoch, threads], ...], the counts chosen and from which epoch on.
    """

    PROBE, MARGIN, SLOWER, SMALL, SHARE = 0.03, 1.1, 1.5, 2e-4, 0.03

    def __init__(self, model, batch_size, choices=(), cores=None):
        from threadpoolctl import ThreadpoolController

        self.cores = cores or _cores()
        self.controller = ThreadpoolController()
        self.products = _step_products(model, batch_size)
        self.choices = [list(c) for c in choices]
        self.threads, self.fastest, self.small, self.probed = DEFAULT, np.inf, False, -np.inf

    @classmethod
    def start(cls, config, model, summary, done):
        """For a run whose training.threads is auto (else None): the count chosen for the epoch after
        ``done``, the choices of the epochs done kept from ``summary`` and written to it."""
        if config.training.threads != AUTO:
            return None
        auto = cls(model, config.data.batch_size, [c for c in summary.get("thread_choices", ()) if c[0] <= done])
        auto.choose(done + 1)
        summary.update(threads=auto.threads, thread_choices=auto.choices)
        return auto

    def after(self, epoch, seconds, summary):
        """``epoch_done``, and ``summary`` told the count and the choices."""
        self.epoch_done(epoch, seconds)
        summary.update(threads=self.threads, thread_choices=self.choices)

    def choose(self, epoch):
        """Probe, and train from ``epoch`` on with the faster count; returns it."""
        threads = DEFAULT
        if self.cores > 1 and not self.small:
            seconds = self.probe((1, self.cores))
            self.small = seconds[1] < self.SMALL
            if not self.small and seconds[self.cores] * self.MARGIN < seconds[1]:
                threads = self.cores
        self.controller.limit(limits=threads, user_api="blas")
        if not self.choices or self.choices[-1][1] != threads:
            self.choices.append([epoch, threads])
        self.threads, self.fastest, self.probed = threads, np.inf, time.perf_counter()
        return threads

    def epoch_done(self, epoch, seconds):
        """After ``epoch`` took ``seconds``: probe again if it was SLOWER than the fastest so far (and
        the last probe is long enough ago)."""
        due = time.perf_counter() - self.probed > self.PROBE / self.SHARE
        if seconds > self.SLOWER * self.fastest and not self.small and due:
            self.choose(epoch + 1)
        else:
            self.fastest = min(self.fastest, seconds)

    def probe(self, counts):
        """{count: the fastest of the step's products timed with that many threads}, the counts taking turns."""
        best = dict.fromkeys(counts, np.inf)
        end = time.perf_counter() + self.PROBE
        while True:
            for n in counts:
                self.controller.limit(limits=n, user_api="blas")
                t0 = time.perf_counter()
                for a, b in self.products:
                    np.matmul(a, b)
                best[n] = min(best[n], time.perf_counter() - t0)
            if time.perf_counter() > end or best[counts[0]] < self.SMALL:
                return best


# What caps a BLAS's threads from a process's start (a sweep's workers, Dask's, the user's shell):
# ``auto`` stays within it, so that a sweep's workers keep one thread each.
CAPS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def _cores():
    """The cores this process may run on, within any cap of CAPS."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    caps = [int(v) for v in (os.environ.get(name, "") for name in CAPS) if v.isdigit() and int(v) > 0]
    return min([cores, *caps])


def _step_products(model, batch_size):
    """Operands shaped as a training step's matrix products: per dense op, x W^T, dz W and dz^T x."""
    products = []
    for layer in model.layers:
        for op in layer:
            W = getattr(op, "params", {}).get("W")
            if W is not None and W.ndim == 2:
                units, inputs = W.shape
                x, dz = np.ones((batch_size, inputs), W.dtype), np.ones((batch_size, units), W.dtype)
                products += [(x, W.T), (dz, W), (dz.T, x)]
    return products
