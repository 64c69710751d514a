"""How long ``nntrain export --format mlflow`` takes: 100 runs of 500 epochs into a fresh SQLite store.

    python benchmarks/mlflow_export.py                   # about a minute
    python benchmarks/mlflow_export.py --runs 20 --epochs 100

The runs are real: the lecture's XOR net (2-4-1, batch 4) trained by ``fit`` for 500 epochs, with
diagnostics and curves.png, seeds 0..99 -- 500 rows of metrics.csv (loss, accuracy, epoch_time_s), so
1,500 metric values, 40-odd params and seven artifacts a run. Timed: the export of all of them in one
call of ``nntrain.export.mlflow.export`` (as the command runs it, the store opened once), into
``sqlite:///<tmp>/mlflow.db`` with artifacts in <tmp>/mlruns; then the same export again (each run
found and updated: nothing new to log but the artifacts).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from nntrain.config import ExperimentConfig
from nntrain.export import mlflow as export_mlflow
from nntrain.training.fit import fit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import load_average  # noqa: E402

XOR = {
    "name": "xor",
    "data": {"source": "xor", "batch_size": 4},
    "model": {"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]},
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "lr": 0.05},
    "metrics": ["accuracy"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.chdir(tmp)  # MLflow puts a SQLite store's artifacts in ./mlruns
        t0 = time.perf_counter()
        runs = []
        for seed in range(args.runs):
            config = ExperimentConfig.model_validate({**XOR, "seed": seed, "training": {"epochs": args.epochs}})
            runs.append(fit(config, run_dir=tmp / "runs" / f"xor-{seed}", plots=True).run_dir)
        made = time.perf_counter() - t0
        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        timings = []
        for _ in range(2):
            t0 = time.perf_counter()
            lines = export_mlflow.export(runs, tracking_uri=uri)
            timings.append(time.perf_counter() - t0)
        assert len(lines) == args.runs and "updated" in lines[0]
    print(f"load average: {load_average()}")
    print(f"{args.runs} runs of {args.epochs} epochs made in {made:.1f} s (not counted)")
    for what, seconds in zip(("first export (created)", "second export (updated)"), timings):
        print(f"{what}: {seconds:.1f} s in total, {seconds / args.runs:.3f} s a run")


if __name__ == "__main__":
    main()
