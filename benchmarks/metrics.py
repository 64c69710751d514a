"""What logging metrics every epoch costs: the MLP epoch of benchmarks/mlp.py with no metrics, with
accuracy alone, and with every cheap (additive) classification metric, measured in the same run.

    python benchmarks/metrics.py               # about a minute on two idle cores
    python benchmarks/metrics.py --repeats 7

The cheap metrics are accumulated from each training step's predictions (a confusion matrix, sums of
log-probabilities and of top-k hits) and turned into values once per epoch; ``roc_auc`` and
``average_precision`` need every row's score at once and are computed on held-out splits only, so
they are not part of a training epoch. The three sides train the same network on the same batches
and take turns in blocks of 1/8 epoch (``mlp.interleaved``), so each gets the same share of whatever
else the machine is doing. The issue's target: every cheap metric at most 1.05 x no metrics.
"""

import argparse
import copy
import statistics

from _report import load_average, numbers
from mlp import MLP_CONFIG, interleaved, nntrain_setup, nntrain_steps, split, stepper
from plain import BATCH, N_ROWS, mnist_like

CHEAP = [
    "accuracy", "balanced_accuracy", "precision", "recall", "f1", {"name": "f1", "average": "weighted"},
    "log_loss", {"name": "top_k_accuracy", "k": 3},
]  # fmt: skip
SIDES = {"none": [], "accuracy": ["accuracy"], "cheap": CHEAP}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per median (default 5)")
    args = parser.parse_args()
    x, y = mnist_like()
    runs = {}
    for name, metrics in SIDES.items():
        raw = {**copy.deepcopy(MLP_CONFIG), "metrics": metrics}
        trainer, loader = nntrain_setup(raw, x, y)
        runs[name] = stepper(nntrain_steps(trainer, loader, []))
    steps = -(-N_ROWS // BATCH)
    print(f"load average {load_average()}; MLP epoch, {steps} steps of {BATCH}; medians of {args.repeats} epochs")
    times, _ = interleaved(runs, split(steps, 8), args.repeats)
    print("epoch by epoch, each side against none in the same epoch (the sides took turns), then the median of those ratios")
    for name, metrics in SIDES.items():
        ratios = [t / base for t, base in zip(times[name], times["none"])]
        median = statistics.median(times[name])
        print(f"{name:9s} {len(metrics)} metrics  {median:6.3f} s  ratios {numbers(ratios, 3)}  median {statistics.median(ratios):5.3f} x none")


if __name__ == "__main__":
    main()
