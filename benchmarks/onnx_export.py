"""The ONNX export of every shipped config: how long it takes, and how far onnxruntime's answers are from
``nntrain predict``'s on the run's test rows (every row where a run has no test split).

    python benchmarks/onnx_export.py                 # each config briefly (20 epochs), float32 and float64
    python benchmarks/onnx_export.py --epochs 0      # each config's own epochs

Each config is trained with ``--set training.epochs=N`` (and ``dtype=float64`` for the second row) into
a temporary folder, exported with ``nntrain.export.onnx.export`` (timed: building the graph, the full
checker, writing the file), then run by onnxruntime on the raw test rows -- a table's as its file has
them, strings and NA cells included; other data's test split with its standardisation undone -- and
compared with what ``Predictor`` (the code behind ``nntrain predict``) answers for the same rows:
the largest absolute and relative difference of the probabilities (a regressor's values, in their
units) and how many predicted labels agree. Needs ``nntrain[onnx]``, onnxruntime and scikit-learn.
"""

import argparse
import csv
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import load_average  # noqa: E402

ROOT = Path(__file__).parent.parent
CONFIGS = ["xor", "moons", "sine", "iris", "penguins", "digits", "diabetes_residual"]


def test_rows(run, workdir):
    """(onnxruntime's feeds, the encoded rows predict takes) for the run's test rows (all its rows
    without a test split)."""
    from nntrain.data.csvfile import read_rows
    from nntrain.export.onnx import feeds
    from nntrain.runs.inference import _input_table, load_predictor, load_split

    predictor = load_predictor(run)
    config, _, data = load_split(run, "train", whole=lambda config: True)
    names = ["test"] if "test" in data.splits else list(data.splits)
    if predictor.table:
        header, rows = read_rows(config.data.path, config.data.delimiter)
        path = workdir / f"{run.name}-rows.csv"
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows[i] for name in names for i in data.rows[name])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            encoded = predictor.encoding.transform(_input_table(predictor, path))
        return feeds(run, path), encoded
    x = np.concatenate([np.asarray(data.splits[name].x, np.float64) for name in names])
    raw = np.asarray(predictor.raw(x), predictor.model.dtype)
    return {"input": raw}, raw


def measure(name, dtype, epochs, workdir):
    import onnxruntime as ort

    from nntrain.config import load_config
    from nntrain.export.onnx import export
    from nntrain.runs.inference import load_predictor
    from nntrain.training.fit import fit

    overrides = [f"dtype={dtype}"] + ([f"training.epochs={epochs}"] if epochs else [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = fit(load_config(ROOT / "configs" / f"{name}.yaml", overrides), run_dir=workdir / f"{name}-{dtype}").run_dir
    started = time.perf_counter()
    export([run])
    seconds = time.perf_counter() - started
    path = run / "model.onnx"
    feed, encoded = test_rows(run, workdir)
    predictor = load_predictor(run)
    want = predictor.outputs(encoded)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)
    diff = np.abs(got[0] - want)
    relative = diff / np.maximum(1.0, np.abs(want))
    if predictor.kind == "regression":
        labels = "-"
    else:
        expected = (want > 0.5).astype(np.int64) if predictor.kind == "multilabel" else np.array(predictor.label(want))
        labels = f"{int(np.sum(np.asarray(got[1]) == expected))}/{expected.size}"
    return {
        "config": name, "dtype": dtype, "task": predictor.kind, "rows": len(want), "kB": path.stat().st_size / 1000,
        "export_s": seconds, "max_abs": float(diff.max()), "max_rel": float(relative.max()), "labels": labels,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="training.epochs of every config (0: the config's own)")
    parser.add_argument("--configs", nargs="*", default=CONFIGS)
    args = parser.parse_args()
    started = time.perf_counter()
    import onnx.checker  # noqa: F401  (once per process: not part of an export's time below)

    print(f"load average {load_average()}; epochs {args.epochs or 'as configured'}; import onnx: {time.perf_counter() - started:.2f} s")
    print(f"{'config':<18} {'dtype':<8} {'task':<10} {'rows':>5} {'model':>9} {'export':>8} {'max |ort - predict|':>20} {'max rel.':>9} {'labels':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            for dtype in ("float32", "float64"):
                r = measure(name, dtype, args.epochs, Path(tmp))
                print(
                    f"{r['config']:<18} {r['dtype']:<8} {r['task']:<10} {r['rows']:>5} {r['kB']:>6.1f} kB {r['export_s']:>6.3f} s "
                    f"{r['max_abs']:>20.2e} {r['max_rel']:>9.2e} {r['labels']:>9}"
                )


if __name__ == "__main__":
    main()
