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

from ..nn.ops import Dense

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
    """``training.threads: auto``: the run chooses between one BLAS thread and every core.

    Before the first epoch, and again when an epoch takes SLOWER times the fastest since the last
    choice, it times a step's matrix products -- the only work the BLAS threads do -- with one
    thread and with every core, taking turns for PROBE seconds. Where the cores are not MARGIN
    faster, it trains with one thread. Where they are, it makes sure on whole epochs, since so short
    a probe can be fooled on a busy machine (the scheduler lends a process that slept every core for
    a moment, and the threads' waits between products do not show): an epoch with the cores, then
    one with one thread, and the faster is kept. A run's first epoch pays for its buffers and is not
    compared. Probes take at most SHARE of the time (none sooner than PROBE / SHARE seconds after
    the last), and products too small for threads to matter (under SMALL seconds on one thread)
    keep one thread and are never probed again. The probe's arrays are its own: the run's weights,
    generator and state are untouched, so a run that keeps one count all along ends with the
    weights of ``threads: <that count>``.

    ``choices``: [[first epoch, threads], ...], the counts chosen and from which epoch on (up to
    the run's ``epochs``).
    """

    PROBE, MARGIN, SLOWER, SMALL, SHARE = 0.03, 1.1, 1.5, 2e-4, 0.03

    def __init__(self, model, batch_size, epochs, choices=(), cores=None):
        from threadpoolctl import ThreadpoolController

        self.cores = cores or _cores()
        self.controller = ThreadpoolController()
        self.products = _step_products(model, batch_size)
        self.epochs = epochs
        self.choices = [list(c) for c in choices]
        self.threads, self.fastest, self.small, self.probed = DEFAULT, np.inf, False, -np.inf
        # The epochs that make sure of the cores: "warm-up" (not compared), "cores", then "one"
        # thread; None when the count is settled. ``cores_seconds``: the cores' epoch.
        self.trial, self.cores_seconds = None, None

    @classmethod
    def start(cls, config, model, summary, done):
        """For a run whose training.threads is auto (else None): the count chosen for the epoch after
        ``done``, the choices of the epochs done kept from ``summary`` and written to it."""
        if config.training.threads != AUTO:
            return None
        kept = [c for c in summary.get("thread_choices", ()) if c[0] <= done]
        auto = cls(model, config.data.batch_size, config.training.epochs, kept)
        auto.choose(done + 1, first=done == 0)
        summary.update(threads=auto.choices[-1][1], thread_choices=auto.choices)
        return auto

    def after(self, epoch, seconds, summary):
        """``epoch_done``, and ``summary`` told the count and the choices."""
        self.epoch_done(epoch, seconds)
        summary.update(threads=self.choices[-1][1], thread_choices=self.choices)

    def choose(self, epoch, first=False):
        """Probe, and train from ``epoch`` on with one thread, or try the cores if they were faster
        (``first``: ``epoch`` is the run's first); returns the count."""
        threads = DEFAULT
        if self.cores > 1 and not self.small:
            seconds = self.probe((1, self.cores))
            self.small = seconds[1] < self.SMALL
            if not self.small and seconds[self.cores] * self.MARGIN < seconds[1]:
                threads = self.cores
        self.trial = None if threads == 1 else "warm-up" if first else "cores"
        self._use(epoch, threads)
        self.probed = time.perf_counter()
        return threads

    def epoch_done(self, epoch, seconds):
        """After ``epoch`` took ``seconds``: the trial's next epoch, or a probe if it was SLOWER than
        the fastest so far (and the last probe is long enough ago)."""
        due = not self.small and time.perf_counter() - self.probed > self.PROBE / self.SHARE
        if self.trial == "warm-up":
            self.trial = "cores"
        elif self.trial == "cores":
            self.trial, self.cores_seconds = "one", seconds
            self._use(epoch + 1, 1)
        elif self.trial == "one":
            self.trial = None
            if self.cores_seconds * self.MARGIN < seconds:
                self._use(epoch + 1, self.cores)
            self.fastest = self.cores_seconds if self.threads > 1 else seconds
        elif seconds > self.SLOWER * self.fastest and due:
            self.choose(epoch + 1)
        else:
            self.fastest = min(self.fastest, seconds)

    def _use(self, epoch, threads):
        """Train with ``threads`` from ``epoch`` on."""
        self.controller.limit(limits=threads, user_api="blas")
        if epoch <= self.epochs and (not self.choices or self.choices[-1][1] != threads):
            self.choices.append([epoch, threads])
        self.threads, self.fastest = threads, np.inf

    def probe(self, counts):
        """{count: the median time of the step's products with that many threads}, the counts taking
        turns. The median, not the fastest: beside busy processes the fastest of many tries is the
        moment they happened to leave every core free, which makes more threads look faster than
        they will be."""
        times = {n: [] for n in counts}
        end = time.perf_counter() + self.PROBE
        while True:
            for n in counts:
                self.controller.limit(limits=n, user_api="blas")
                t0 = time.perf_counter()
                for a, b in self.products:
                    np.matmul(a, b)
                times[n].append(time.perf_counter() - t0)
            if time.perf_counter() > end or times[counts[0]][-1] < self.SMALL:
                return {n: float(np.median(t)) for n, t in times.items()}


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
    for op in model.ops:
        if isinstance(op, Dense):
            W = op.params["W"]
            units, inputs = W.shape
            x, dz = np.ones((batch_size, inputs), W.dtype), np.ones((batch_size, units), W.dtype)
            products += [(x, W.T), (dz, W), (dz.T, x)]
    return products
