"""Class weights on an imbalanced table: the rare class's recall with and without
``training.class_weight: balanced``, and with the plain run's F1-best threshold from ``nntrain eval``.

    python benchmarks/imbalanced.py             # about a minute
    python benchmarks/imbalanced.py --seeds 10

The table is scikit-learn's ``make_classification``: 20,000 rows, 8 features, one class at 5 % (1 %
of the labels flipped). Each setting trains the same network (8-16-1, ReLU, sigmoid + binary
cross-entropy, Adam 0.01, 30 epochs) with the same seeds; the figures are means over the seeds on
the test split (20 %), for the rare class: recall, precision, F1; and balanced accuracy and accuracy.
"""

import argparse
import statistics
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

from _report import load_average
from nntrain.config import ExperimentConfig
from nntrain.runs.judging import judge_run
from nntrain.training.fit import fit


def write_table(path):
    x, y = make_classification(
        n_samples=20_000, n_features=8, n_informative=4, weights=[0.95, 0.05], flip_y=0.01, class_sep=0.8, random_state=0
    )
    header = ",".join(f"x{j}" for j in range(x.shape[1])) + ",label"
    rows = [",".join(f"{v:.5f}" for v in row) + f",{'rare' if label else 'common'}" for row, label in zip(x, y)]
    Path(path).write_text("\n".join([header, *rows]) + "\n")
    return float(np.mean(y))


def config(path, seed, class_weight):
    return ExperimentConfig.model_validate(
        {
            "name": "imbalanced",
            "seed": seed,
            "data": {"source": "csv", "path": str(path), "target": "label", "split": {"val": 0.2, "test": 0.2}, "batch_size": 64},
            "model": {"layers": [{"units": 16, "activation": "relu"}, {"units": 1, "activation": "sigmoid"}]},
            "loss": "binary_crossentropy",
            "optimizer": {"name": "adam", "lr": 0.01},
            "training": {"epochs": 30, "class_weight": class_weight, "diagnostics": False},
        }
    )


def rare_figures(report, threshold=False):
    """recall, precision, F1 of the rare class, balanced accuracy, accuracy (at eval's threshold if asked)."""
    k = report["classes"].index("rare")
    if threshold:
        m = report["threshold"]["metrics"]
        assert k == 1  # the threshold's metrics are of the second class
        return m["recall"], m["precision"], m["f1"], float("nan"), m["accuracy"]
    row, m = report["per_class"][k], report["metrics"]
    return row["recall"], row["precision"], row["f1"], m["balanced_accuracy"], m["accuracy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        share = write_table(Path(tmp) / "t.csv")
        print(f"load average {load_average()}; rare class {share:.1%} of 20,000 rows; means over {args.seeds} seeds, test split")
        results = {"plain": [], "plain, F1-best threshold": [], "class_weight: balanced": []}
        for seed in range(args.seeds):
            for weight in (None, "balanced"):
                run = fit(config(Path(tmp) / "t.csv", seed, weight), run_dir=Path(tmp) / f"{weight}-{seed}", plots=False)
                report = judge_run(run.run_dir, "test")
                if weight is None:
                    results["plain"].append(rare_figures(report))
                    results["plain, F1-best threshold"].append(rare_figures(report, threshold=True))
                else:
                    results["class_weight: balanced"].append(rare_figures(report))
    print(f"{'':28s} {'recall':>7s} {'precision':>9s} {'F1':>6s} {'bal. acc':>8s} {'accuracy':>8s}")
    for name, rows in results.items():
        means = [statistics.mean(column) for column in zip(*rows)]
        print(f"{name:28s} " + " ".join(f"{v:{w}.3f}" if v == v else f"{'-':>{w}s}" for v, w in zip(means, (7, 9, 6, 8, 8))))


if __name__ == "__main__":
    main()
