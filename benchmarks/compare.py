"""How long ``nntrain compare`` takes over 200 runs, against the time to merely read their files.

    python benchmarks/compare.py              # 200 runs of 500 epochs each
    python benchmarks/compare.py --runs 1000 --epochs 100

The runs are written directly with nntrain's own writers (nntrain.runs.store) into a temporary folder, as
``nntrain fit`` writes them: a resolved config.yaml (a sweep over the learning rate, the hidden units
and the seed), a metrics.csv of ``--epochs`` rows (loss, accuracy, val_loss, val_accuracy,
epoch_time_s) and a summary.json. No weights: compare does not read them.

Measured, each the median of ``--repeats`` runs:

- baseline: reading every config.yaml, metrics.csv and summary.json as bytes (the I/O floor);
- ``compare()``: nntrain.runs.compare.compare over the 200 directories (read, parse, rank, diff);
- the command: ``nntrain compare DIR`` in a fresh interpreter, start-up and table included --
  what a user waits for; the target is under 2 s. Its CPU time is printed too: on a busy machine
  the wall time includes waiting for a core.

The script checks the result (every run ranked, the three swept keys found as the differences), so a
fast wrong answer cannot pass.
"""

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nntrain.runs.catalog import find_runs
from nntrain.runs.compare import compare
from nntrain.config import ExperimentConfig, dump_config
from nntrain.runs.store import CONFIG, METRICS, SUMMARY, write_json, write_metrics, write_text

BASE = {
    "name": "sweep",
    "data": {"source": "xor", "batch_size": 4},
    "model": {"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]},
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "lr": 0.05},
    "metrics": ["accuracy"],
}
SWEPT = ["seed", "model.layers.0.units", "optimizer.lr"]


def make_runs(root, n_runs, epochs, rng):
    """``n_runs`` run directories under ``root``, each with a config, a metrics.csv and a summary."""
    for i in range(n_runs):
        raw = {**BASE, "seed": i % 10}
        raw["model"] = {"layers": [{"units": 2 + i % 7, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]}
        raw["optimizer"] = {"name": "adam", "lr": [0.001, 0.003, 0.01, 0.03, 0.1][i % 5]}
        raw["training"] = {"epochs": epochs}
        config = ExperimentConfig.model_validate(raw)
        path = Path(root) / f"sweep-{i:04d}"
        path.mkdir()
        write_text(path / CONFIG, dump_config(config))
        rate = rng.uniform(0.005, 0.05)
        rows = []
        for epoch in range(1, epochs + 1):
            loss = 0.7 * math.exp(-rate * epoch) + rng.uniform(0, 0.01)
            rows.append(
                {
                    "epoch": epoch,
                    "loss": loss,
                    "accuracy": min(1.0, 0.5 + (0.7 - loss)),
                    "val_loss": loss * 1.1,
                    "val_accuracy": min(1.0, 0.45 + (0.7 - loss)),
                    "epoch_time_s": rng.uniform(1e-4, 3e-4),
                }
            )
        write_metrics(path / METRICS, rows)
        units = 2 + i % 7
        write_json(
            path / SUMMARY,
            {
                "status": "completed",
                "name": "sweep",
                "seed": i % 10,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "epochs": epochs,
                "epochs_planned": epochs,
                "final": {k: v for k, v in rows[-1].items() if k != "epoch"},
                "parameters": units * 3 + units + 1,
                "non_trainable_parameters": 0,
                "wall_time_s": round(sum(r["epoch_time_s"] for r in rows), 3),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "nntrain_version": "benchmark",
            },
        )


def read_bytes(paths):
    return sum(len((p / name).read_bytes()) for p in paths for name in (CONFIG, METRICS, SUMMARY))


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        root.mkdir()
        make_runs(root, args.runs, args.epochs, np.random.default_rng(0))
        paths = find_runs(root)
        assert len(paths) == args.runs

        baseline, n_bytes = median_time(lambda: read_bytes(paths), args.repeats)
        library, result = median_time(lambda: compare(paths), args.repeats)
        assert len(result["runs"]) == args.runs and all(r["rank"] for r in result["runs"])
        assert sorted(result["differences"]) == sorted(SWEPT), result["differences"]
        assert result["metric"] == "val_accuracy"

        command = [sys.executable, "-c", "from nntrain.__main__ import main; main()", "compare", str(root)]
        cpu = []

        def run_command():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(command, capture_output=True, text=True, env={"COLUMNS": "80", "PATH": ""})
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            assert done.returncode == 0, done.stderr
            return done.stdout

        cli, stdout = median_time(run_command, args.repeats)
        assert f"{args.runs} runs ranked by val_accuracy" in stdout

    print(f"{args.runs} runs x {args.epochs} epochs ({n_bytes / 1e6:.1f} MB of run files), median of {args.repeats}:")
    print(f"  baseline, reading the files' bytes:  {baseline * 1000:8.1f} ms")
    print(f"  compare() in this process:           {library * 1000:8.1f} ms  ({library / baseline:.1f}x the baseline)")
    print(f"  `nntrain compare DIR`, fresh process: {cli * 1000:8.1f} ms  ({cli / baseline:.1f}x the baseline)")
    print(f"    of which CPU time (median):         {statistics.median(cpu) * 1000:8.1f} ms")
    print(f"  target: under 2 s -> {'met' if cli < 2.0 else 'NOT met'}")
    load, cores = os.getloadavg()[0], os.cpu_count()
    print(f"  (load average {load:.1f} on {cores} cores: above {cores}, the wall times include waiting for a core)")


if __name__ == "__main__":
    main()
