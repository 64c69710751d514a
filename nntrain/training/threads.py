"""How many threads the BLAS behind NumPy's matrix products (OpenBLAS, MKL) may use while a run
trains: one, unless ``training.threads`` (``fit --threads N``) says otherwise.

Why one. With OpenBLAS a threaded product splits its sums differently from a single-threaded one,
so the last bits of a product -- and so a run's weights -- depend on the thread count
(``tests/test_threads.py``). A thread count chosen by timing, or left to the machine's cores, would
make the same config and seed end with other weights on a busier or larger machine, and a plain
``fit`` differ from the same run in a sweep's workers (one thread each). One thread is also what a
busy machine wants: beside a busy process per core a second thread made epochs 1.8-2.3x slower,
while on an idle machine it saved at most about 14 % of an MNIST-sized MLP's epoch and nothing on
smaller nets (``benchmarks/threads.py``). A run that asks for N threads gets them, and its summary
says so: its weights then match runs with the same count only.
"""

import contextlib

DEFAULT = 1


def threads_of(config):
    """The BLAS threads a run of ``config`` trains with."""
    return config.training.threads or DEFAULT


@contextlib.contextmanager
def blas_threads(n):
    """Within the block the BLAS uses ``n`` threads; the previous limits come back after it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield
