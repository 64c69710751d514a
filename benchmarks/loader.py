"""The batch loader's share of a training epoch, measured against the epoch itself in the same run.

    python benchmarks/loader.py                # about a minute on two idle cores
    python benchmarks/loader.py --repeats 7    # more epochs per median

The network is the MNIST-sized MLP of the performance benchmark (benchmarks/mlp.py): 784-256-256-10,
ReLU, softmax cross-entropy, Adam (lr 0.001), batch 128, 60,000 synthetic float32 rows (uniform in
[0, 1), 10 random classes), reshuffled every epoch. Nothing is downloaded.

For each way of holding the data, epochs alternate with loader-only passes (after one warm-up each),
and medians are reported:

- epoch: every batch of a ``Loader`` through ``Trainer.train_step``, as ``fit`` runs it;
- loader only: the same ``Loader`` iterated without training (the permutation and every gather);
- share: loader only / epoch -- the part of an epoch spent feeding the model (medians; and the
  fastest loader pass over the fastest epoch, which other processes on the machine disturb least);
- precomputed: the epoch's batches gathered beforehand, training only; epoch - precomputed is a
  second, independent estimate of the loader's cost (noisier: a difference of two timings).

Data holdings: in memory (``load_data`` of an .npz compressed, so read into memory), and memory-mapped
(an uncompressed .npz) with ``standardize: true``, where each batch is read, converted and standardised
as it is drawn (``Rows``).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nntrain.config import ExperimentConfig
from nntrain.data.prepare import Loader, load_data
from nntrain.data.scaling import Rows
from nntrain.nn.model import build_model
from nntrain.training.trainer import Trainer

# The network, the data and an epoch as benchmarks/mlp.py has them.
from mlp import nntrain_epoch as train
from plain import BATCH, HIDDEN, N_CLASSES, N_FEATURES, N_ROWS, mnist_like


def config(path, standardize):
    return ExperimentConfig.model_validate(
        {
            "name": "loader-benchmark",
            "dtype": "float32",
            "data": {"source": "npz", "path": str(path), "batch_size": BATCH, "shuffle": True, "standardize": standardize},
            "model": {
                "layers": [
                    {"units": HIDDEN, "activation": "relu", "init": "he_uniform"},
                    {"units": HIDDEN, "activation": "relu", "init": "he_uniform"},
                    {"units": N_CLASSES, "activation": "softmax"},
                ]
            },
            "loss": "categorical_crossentropy",
            "optimizer": {"name": "adam", "lr": 0.001},
            "metrics": ["accuracy"],
        }
    )


def setup(cfg):
    rng = np.random.default_rng(0)
    data = load_data(cfg, rng)
    trainer = Trainer(cfg, build_model(cfg, data.n_features, rng))
    loader = Loader(data.train, BATCH, shuffle=True, drop_last=False, rng=rng)
    return data, trainer, loader


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(name, cfg, repeats):
    data, trainer, loader = setup(cfg)
    lazy = isinstance(data.train.x, Rows)
    train(trainer, loader)  # warm-up: buffers, page cache
    epoch, only, pre = [], [], []
    for _ in range(repeats):
        epoch.append(timed(lambda: train(trainer, loader)))
        only.append(timed(lambda: [None for _ in loader]))
        batches = list(loader)  # gathered outside the timing
        pre.append(timed(lambda: train(trainer, batches)))
    e, o, p = (statistics.median(t) for t in (epoch, only, pre))
    print(
        f"{name:<29} epoch {e:5.2f} s   loader only {o:5.3f} s   share {o / e:5.1%} (fastest of each: "
        f"{min(only) / min(epoch):5.1%})   precomputed {p:5.2f} s   (epoch - precomputed) / epoch {(e - p) / e:5.1%}"
        + ("   [rows read per batch]" if lazy else "")
    )
    return o / e


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per median (default 3)")
    args = parser.parse_args(argv)
    x, y = mnist_like()
    print(f"{N_ROWS:,} x {N_FEATURES} float32, MLP {N_FEATURES}-{HIDDEN}-{HIDDEN}-{N_CLASSES}, batch {BATCH}, "
          f"medians of {args.repeats} epochs; numpy {np.__version__}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        compressed, stored = Path(tmp) / "compressed.npz", Path(tmp) / "stored.npz"
        np.savez_compressed(compressed, x=x, y=y)
        np.savez(stored, x=x, y=y)
        del x
        shares = [
            measure("in memory", config(compressed, False), args.repeats),
            measure("in memory, standardised", config(compressed, True), args.repeats),
            measure("memory-mapped, standardised", config(stored, True), args.repeats),
        ]
    print(f"largest loader share: {max(shares):.1%} (goal: under 5%)")


if __name__ == "__main__":
    main()
