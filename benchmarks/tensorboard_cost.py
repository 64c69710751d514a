"""What live TensorBoard logging (training.tensorboard) costs an MLP epoch; the target is <= 2 %.

    python benchmarks/tensorboard_cost.py               # 8 rounds of 5 epochs a side: about a minute
    python benchmarks/tensorboard_cost.py --rounds 8

The MLP of benchmarks/mlp.py -- 784-256-256-10, ReLU, softmax cross-entropy, Adam, batch 128 -- on
16,000 + 4,000 (validation) random MNIST-shaped rows, trained by ``fit`` itself from an .npz file,
with diagnostics on. The sides take turns: a fit without TensorBoard, one with, and so on; an epoch's
time is the time from one ``on_epoch`` call to the next (its steps, the validation pass, the run's
bookkeeping and, on the TensorBoard side, its events), the first epoch of each fit left out. In runs
this short every epoch is a diagnostic epoch, so every epoch also writes histograms of all 270k
weights: the worst case (a long run draws them in about 100 epochs).

Printed: the median epoch of each side and their ratio, and -- steadier on a shared machine, where
two medians differ by a few per cent by chance -- the time spent in the TensorBoard callback itself
per epoch, as a share of the median epoch without it.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nntrain.config import ExperimentConfig
from nntrain.training import callbacks, session
from nntrain.training.fit import fit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import load_average, numbers  # noqa: E402

ROWS, VAL, FEATURES, CLASSES = 16_000, 4_000, 784, 10


def config(path, epochs, tensorboard):
    return ExperimentConfig.model_validate({
        "name": "tb-cost",
        "data": {"source": "npz", "path": str(path), "batch_size": 128},
        "model": {"layers": [
            {"units": 256, "activation": "relu", "init": "he_uniform"},
            {"units": 256, "activation": "relu", "init": "he_uniform"},
            {"units": CLASSES, "activation": "softmax"},
        ]},
        "loss": "categorical_crossentropy",
        "optimizer": {"name": "adam", "lr": 0.001},
        "training": {"epochs": epochs, "tensorboard": tensorboard},
        "metrics": ["accuracy"],
    })  # fmt: skip


def epoch_times(cfg, run_dir):
    """Seconds from one epoch's end to the next's, the first epoch left out."""
    ends = []
    fit(cfg, run_dir=run_dir, on_epoch=lambda epoch, logs: ends.append(time.perf_counter()))
    return list(np.diff(ends))


class Timed(callbacks.TensorBoard):
    """The callback, timing its own epochs."""

    spent = []

    def epoch(self, *args, **kwargs):
        t0 = time.perf_counter()
        super().epoch(*args, **kwargs)
        Timed.spent.append(time.perf_counter() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5, help="per fit")
    args = parser.parse_args()
    session.TensorBoard = Timed  # the name the session calls
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "mnist_like.npz"
        np.savez(
            data,
            x=rng.random((ROWS, FEATURES), dtype=np.float32), y=rng.integers(0, CLASSES, ROWS),
            x_val=rng.random((VAL, FEATURES), dtype=np.float32), y_val=rng.integers(0, CLASSES, VAL),
        )  # fmt: skip
        times, ratios = {False: [], True: []}, []
        for round_ in range(args.rounds):
            medians = {}
            for side in (False, True):
                side_times = epoch_times(config(data, args.epochs, side), Path(tmp) / f"run-{round_}-{side}")
                times[side] += side_times
                medians[side] = statistics.median(side_times)
            ratios.append(medians[True] / medians[False])
    off, on = statistics.median(times[False]), statistics.median(times[True])
    spent = statistics.median(Timed.spent)
    print(f"load average: {load_average()}")
    print(f"MLP 784-256-256-10, {ROWS:,} rows + {VAL:,} validation, batch 128; {args.rounds} rounds of {args.epochs} epochs a side")
    print(f"epoch without TensorBoard: median {off:.3f} s ({numbers(sorted(times[False]), 3)})")
    print(f"epoch with TensorBoard:    median {on:.3f} s ({numbers(sorted(times[True]), 3)})")
    print(f"ratio of the medians: {on / off:.3f}; median of the rounds' ratios: {statistics.median(ratios):.3f} ({numbers(sorted(ratios), 3)})")
    print(f"TensorBoard callback per epoch (scalars + diagnostics + histograms of every weight): median {spent * 1000:.1f} ms "
          f"= {spent / off:.2%} of the median epoch, {spent / min(times[False]):.2%} of the fastest (target <= 2 %)")  # fmt: skip


if __name__ == "__main__":
    main()
