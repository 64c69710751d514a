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
    assert bad.exit_code == 2 and "--threads 0: training.threads: Input should be greater than or equal to 1" in bad.stderr
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
