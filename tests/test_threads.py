"""The BLAS threads a run trains with (``nntrain.training.threads``): one unless the config says.

With NumPy's OpenBLAS a threaded product rounds some sums differently from a single-threaded one
(float32: ~8% of a 256x64 @ 64x256 product's entries differ between 1 and 2 threads; float64 too for
some shapes), and training carries the difference into every weight; at a fixed count products
repeat exactly. So a run fixes its count: one by default, as in a sweep's workers."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from conftest import make_config, run_cli
from nntrain.runs.store import read_summary, read_weights
from nntrain.sweep._worker import execute
from nntrain.training.fit import fit


def blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def mlp(tmp_path):
    """64-256-10 on 3,000 rows in batches of 256: products big enough for OpenBLAS to use threads."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.standard_normal((3000, 64)), y=rng.integers(0, 10, 3000))
    return make_config(
        data={"source": "npz", "path": str(tmp_path / "data.npz"), "batch_size": 256},
        model={"layers": [{"units": 256, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
        loss="categorical_crossentropy",
        optimizer={"name": "adam", "lr": 0.001},
        training={"epochs": 3},
        metrics=[],
    )


def test_a_fit_trains_on_one_thread_as_a_sweeps_worker_and_ends_with_its_weights(mlp, tmp_path):
    seen = []
    with threadpool_limits(limits=2, user_api="blas"):  # the machine's two cores, as a plain process has them
        alone = fit(mlp, run_dir=tmp_path / "alone", on_step=lambda epoch, step: seen.append(blas_threads()))
        assert blas_threads() == [2] * len(blas_threads())  # the caller's limits again afterwards
    assert seen and all(counts == [1] * len(counts) for counts in seen)
    assert read_summary(alone.run_dir)["threads"] == 1
    with threadpool_limits(limits=1, user_api="blas"):  # what init_local_worker sets
        execute(mlp.model_dump(mode="json"), run_dir=tmp_path / "worker")
    got, expected = read_weights(tmp_path / "worker"), read_weights(alone.run_dir)
    assert all(got[k].tobytes() == expected[k].tobytes() for k in expected)


def test_training_threads_gives_the_run_its_threads(mlp, tmp_path):
    seen = []
    run = fit(make_config(mlp.model_dump(mode="json"), training={"epochs": 1, "threads": 2}), run_dir=tmp_path / "two",
              on_step=lambda epoch, step: seen.append(blas_threads()))  # fmt: skip
    assert all(counts == [2] * len(counts) for counts in seen) and read_summary(run.run_dir)["threads"] == 2


def test_fit_threads_on_the_command_line(tmp_path):
    from pathlib import Path

    xor = Path(__file__).parent.parent / "configs" / "xor.yaml"
    result = run_cli("fit", xor, "--threads", "2", "-q", "--no-plots", "--set", "training.epochs=2", "--run-dir", tmp_path / "r")
    assert result.exit_code == 0 and "threads: 2" in (tmp_path / "r" / "config.yaml").read_text()
    bad = run_cli("fit", xor, "--threads", "0", "--run-dir", tmp_path / "s")
    assert bad.exit_code == 2 and bad.stderr == "error: --threads 0: training.threads: expected a number of threads from 1 to 1024, or auto; got 0\n"
    for wrong in ("two", "true"):
        bad = run_cli("fit", xor, "--set", f"training.threads={wrong}", "--run-dir", tmp_path / "s")
        assert bad.exit_code == 2 and "training.threads: expected a number of threads from 1 to 1024, or auto; got " in bad.stderr
    auto = run_cli("fit", xor, "--threads", "auto", "-q", "--no-plots", "--set", "training.epochs=2", "--run-dir", tmp_path / "a")
    assert auto.exit_code == 0 and "threads: auto" in (tmp_path / "a" / "config.yaml").read_text()
    # XOR's products are far too small for threads: one, without probing again
    assert read_summary(tmp_path / "a")["thread_choices"] == [[1, 1]] and read_summary(tmp_path / "a")["threads"] == 1
    again = run_cli("fit", "--resume", tmp_path / "r", "--threads", "1")
    assert again.exit_code == 2 and "its training.threads says" in again.stderr


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_fixed_thread_count_repeats_the_products_exactly(dtype):
    """What reproducibility rests on: at one count, the same product gives the same bits."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((256, 64)).astype(dtype), rng.standard_normal((64, 256)).astype(dtype)
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            first = a @ b
            assert all(np.array_equal(first, a @ b) for _ in range(5))


# --------------------------------------------------------------------------------------------------
# training.threads: auto


class Probes:
    """A stand-in for AutoThreads.probe: each probe's {count: seconds} in turn, and how many were made."""

    def __init__(self, *results):
        self.results, self.made = list(results), 0

    def __call__(self, counts):
        self.made += 1
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]


def patch_probes(monkeypatch, threads, *results):
    probes = Probes(*results)
    monkeypatch.setattr(threads.AutoThreads, "probe", lambda auto, counts: probes(counts))
    return probes


@pytest.fixture
def two_cores(monkeypatch):
    from nntrain.training import threads

    monkeypatch.setattr(threads, "_cores", lambda: 2)
    return threads


@pytest.mark.parametrize("faster", [1, 2])
def test_auto_trains_with_the_faster_count_and_ends_with_that_counts_weights(mlp, tmp_path, two_cores, monkeypatch, faster):
    patch_probes(monkeypatch, two_cores, {1: 1.0, 2: 0.5} if faster == 2 else {1: 1.0, 2: 0.95})  # 2: not 10 % faster
    seen = []
    auto = fit(make_config(mlp.model_dump(mode="json"), training={"epochs": 2, "threads": "auto"}), run_dir=tmp_path / "auto",
               on_step=lambda epoch, step: seen.append(blas_threads()))  # fmt: skip
    fixed = fit(make_config(mlp.model_dump(mode="json"), training={"epochs": 2, "threads": faster}), run_dir=tmp_path / "fixed")
    summary = read_summary(auto.run_dir)
    assert summary["threads"] == faster and summary["thread_choices"] == [[1, faster]]
    assert seen and all(counts == [faster] * len(counts) for counts in seen)
    got, expected = read_weights(auto.run_dir), read_weights(fixed.run_dir)
    assert all(got[k].tobytes() == expected[k].tobytes() for k in expected)


def small_net():
    from nntrain.nn.model import build_model

    return build_model(make_config(model={"inputs": 64, "layers": [{"units": 256}, {"units": 10}]}), 64, np.random.default_rng(0))


@pytest.mark.parametrize("one_thread_epoch,kept", [(2.0, 2), (0.5, 1)])
def test_auto_makes_sure_of_the_cores_on_whole_epochs(two_cores, monkeypatch, one_thread_epoch, kept):
    """A probe that finds the cores faster is checked on whole epochs: the cores', then one thread's
    (the run's first epoch, with its start-up costs, apart); the faster count is kept."""
    probes = patch_probes(monkeypatch, two_cores, {1: 1.0, 2: 0.5})
    auto, summary = two_cores.AutoThreads(small_net(), 32, epochs=10), {}
    assert auto.choose(1, first=True) == 2
    auto.after(1, 5.0, summary)  # the first epoch: buffers, caches; not compared
    assert auto.threads == 2
    auto.after(2, 1.0, summary)  # the cores' epoch
    assert auto.threads == 1 and summary["thread_choices"] == [[1, 2], [3, 1]]
    auto.after(3, one_thread_epoch, summary)  # one thread's
    assert auto.threads == kept and summary["threads"] == kept and probes.made == 1
    assert summary["thread_choices"] == [[1, 2], [3, 1], [4, 2]] if kept == 2 else [[1, 2], [3, 1]]
    assert blas_threads() == [kept] * len(blas_threads())


def test_auto_probes_again_when_an_epoch_slows_down(two_cores, monkeypatch):
    probes = patch_probes(monkeypatch, two_cores, {1: 1.0, 2: 2.0}, {1: 1.0, 2: 0.5})  # busy cores, then idle ones
    auto, summary = two_cores.AutoThreads(small_net(), 32, epochs=10), {}
    assert auto.choose(1) == 1 and probes.made == 1
    for epoch, seconds in [(1, 1.0), (2, 0.9), (3, 1.3)]:  # within 1.5 x the fastest: no probe
        auto.after(epoch, seconds, summary)
    assert probes.made == 1 and summary == {"threads": 1, "thread_choices": [[1, 1]]}
    auto.after(4, 1.4, summary)  # 1.56 x the fastest (0.9), but the last probe was a moment ago
    assert probes.made == 1
    auto.probed -= auto.PROBE / auto.SHARE  # a second later: probes stay within 3 % of the time
    auto.after(5, 1.4, summary)
    assert probes.made == 2 and summary == {"threads": 2, "thread_choices": [[1, 1], [6, 2]]}  # the cores' trial epoch
    assert blas_threads() == [2] * len(blas_threads())


def test_auto_keeps_to_one_thread_where_threads_cannot_help(two_cores, monkeypatch):
    from nntrain.nn.model import build_model

    xor = build_model(make_config(), 2, np.random.default_rng(0))
    auto = two_cores.AutoThreads(xor, 4, epochs=10)
    real = auto.probe((1, 2))
    assert real[1] < auto.SMALL  # a 2-4-1 net's products take microseconds
    assert auto.choose(1) == 1 and auto.small
    probes = patch_probes(monkeypatch, two_cores, {1: 1.0, 2: 0.1})
    auto.after(1, 0.001, {})
    auto.after(2, 1.0, {})  # however slow an epoch gets, tiny products are not probed again
    assert probes.made == 0 and auto.threads == 1


def test_auto_stays_within_the_thread_cap_a_sweeps_worker_has(monkeypatch):
    from nntrain.training import threads

    for name in threads.CAPS:
        monkeypatch.delenv(name, raising=False)
    cores = len(__import__("os").sched_getaffinity(0))
    assert threads._cores() == cores
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # what a local sweep's workers and Dask's start with
    assert threads._cores() == 1
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads._cores() == min(3, cores)


def test_a_resumed_auto_run_keeps_the_choices_of_the_epochs_done_and_chooses_again(mlp, tmp_path, two_cores, monkeypatch):
    from nntrain.errors import Interrupted
    from nntrain.training.fit import resume

    config = make_config(mlp.model_dump(mode="json"), training={"epochs": 3, "threads": "auto", "checkpoint_every": 1})
    patch_probes(monkeypatch, two_cores, {1: 1.0, 2: 0.5})

    def stop_in_epoch_3(epoch, step):
        if epoch == 3:
            raise Interrupted("stop", 2)

    with pytest.raises(Interrupted):
        fit(config, run_dir=tmp_path / "r", on_step=stop_in_epoch_3)
    patch_probes(monkeypatch, two_cores, {1: 1.0, 2: 2.0})
    resume(tmp_path / "r")
    assert read_summary(tmp_path / "r")["thread_choices"] == [[1, 2], [3, 1]]
