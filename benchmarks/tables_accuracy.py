"""nntrain against scikit-learn on mixed tables -- numbers, categories, missing cells -- on the same splits.

    python benchmarks/tables_accuracy.py              # a few minutes on two idle cores
    python benchmarks/tables_accuracy.py --seeds 1    # one training per side and table (quicker, noisier)
    python benchmarks/tables_accuracy.py --keep DIR   # keep the tables, configs and runs in DIR

Each table is split once (seeded shuffle, 80 % train.csv / 20 % test.csv; test rows without a
target are left out). Both sides learn from train.csv as it is, blanks included, and are scored on
test.csv:

- nntrain: ``nntrain fit`` of a plain config (generated here: the table's CSV, its target, columns
  declared only where a user must, two hidden ReLU layers of 64 with the default initialisation
  (Glorot uniform, as scikit-learn's), Adam at lr 0.001, batch 32, 50 epochs (20 for the 20,000
  rows), no validation split), then ``nntrain predict RUN test.csv``: predicted_<target> against
  the truth.
- scikit-learn: the standard pipeline -- numbers: ``SimpleImputer(add_indicator=True)`` +
  ``StandardScaler``; text columns: ``SimpleImputer(strategy="constant", fill_value="missing")`` +
  ``OneHotEncoder(handle_unknown="ignore")`` -- into ``MLPClassifier`` / ``MLPRegressor`` (the
  regressor's target standardised, as nntrain's is) with the same layers, Adam, lr, batch and
  epochs (its early stop on the training loss off); its default L2 (alpha 1e-4) kept.
- scikit-learn* (the last column): the same, but with the missing-value indicators left 0/1, as
  nntrain has them, instead of standardised with the numbers (``MissingIndicator`` beside
  ``SimpleImputer`` + ``StandardScaler``): it tells differences of encoding from differences of
  training.

The metric is test accuracy (classes) or R² (regression), averaged over ``--seeds`` trainings of
each side (seeds 0, 1, ...) on the same split. Target: nntrain within 2 points of accuracy (0.01 R²)
of scikit-learn.

The tables (nothing is downloaded): Palmer penguins (configs/data/penguins.csv, CC0, from the
palmerpenguins package); scikit-learn's breast cancer, wine and diabetes sets with 5 % of their
cells blanked (seeded) and a column turned into text (binned, or diabetes' sex as words); the cars
of ``vega_datasets`` where that package is installed (its licence is not stated, so it is not copied
here); and a generated table of 20,000 rows with text columns, blanks and a nonlinear target.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _report import load_average

HERE = Path(__file__).resolve().parent
HIDDEN, LR, BATCH = (64, 64), 0.001, 32


# -- The tables: (frame, target, task, columns nntrain must be told about) -------------------------


def penguins():
    return pd.read_csv(HERE.parent / "configs" / "data" / "penguins.csv")


def blanked(frame, target, share=0.05, seed=0):
    """``frame`` with ``share`` of its feature cells blanked at random (seeded)."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    for name in frame.columns.drop(target):
        frame[name] = frame[name].mask(rng.random(len(frame)) < share)
    return frame


def binned(values, labels):
    """A number column as text: its quantile bins named ``labels`` (blanks stay blank)."""
    return pd.qcut(values, len(labels), labels=labels).astype(object).where(values.notna())


def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.assign(target=np.array(data.target_names)[data.target])
    frame = blanked(frame, "target")
    frame["mean radius"] = binned(frame["mean radius"], ["small", "medium", "large", "very large"])
    return frame


def wine():
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = blanked(data.frame.assign(target=np.array(data.target_names)[data.target]), "target")
    frame["alcohol"] = binned(frame["alcohol"], ["low", "medium", "high"])
    return frame


def diabetes():
    from sklearn.datasets import load_diabetes

    frame = blanked(load_diabetes(scaled=False, as_frame=True).frame, "target")
    frame["sex"] = frame["sex"].map({1.0: "one", 2.0: "two"})  # which is which, the data set does not say
    return frame


def cars():
    """The cars of vega_datasets (406, 8 without MPG, 6 without horsepower), or None if not installed."""
    try:
        from importlib.resources import files

        path = files("vega_datasets") / "_data" / "cars.json"
        return pd.read_json(path.open())
    except (ImportError, FileNotFoundError):
        return None


def generated(n=20_000, seed=0):
    """Numbers and text columns with blanks; the class is a nonlinear function of both, with noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6))
    city = rng.choice(["Oslo", "Lyon", "Porto", "Graz", "Turku", "Gent", "Brno", "Cork"], n)
    plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])
    channel = rng.choice(["web", "shop", "phone", "partner", "mail"], n)
    city_effect = dict(zip(sorted(set(city)), rng.normal(0, 1, 8)))
    plan_slope = {"basic": -1.0, "plus": 0.5, "pro": 2.0}
    score = (2 * np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + np.array([city_effect[c] for c in city])
             + np.array([plan_slope[p] for p in plan]) * x[:, 3] + np.abs(x[:, 4]) - 0.8
             + 0.5 * (channel == "web") + 0.5 * rng.standard_normal(n))
    frame = pd.DataFrame({f"x{j + 1}": np.round(x[:, j], 4) for j in range(6)})
    frame = frame.assign(city=city, plan=plan, channel=channel, churn=np.where(score > 0, "yes", "no"))
    return blanked(frame, "churn", 0.04, seed + 1)


# name, loader, target, task, epochs, columns declared for nntrain (and left out for scikit-learn)
TABLES = [
    ("penguins: species", penguins, "species", "classes", 50, {}),
    ("penguins: species, sex ignored", penguins, "species", "classes", 50, {"sex": "ignore"}),
    ("penguins: sex", penguins, "sex", "classes", 50, {}),
    ("breast cancer, 5 % blank", breast_cancer, "target", "classes", 50, {}),
    ("wine, 5 % blank", wine, "target", "classes", 50, {}),
    ("diabetes, 5 % blank", diabetes, "target", "regression", 50, {}),
    ("cars: miles per gallon", cars, "Miles_per_Gallon", "regression", 50, {"Name": "ignore"}),
    ("generated, 20,000 rows", generated, "churn", "classes", 20, {}),
]


def split(frame, target, folder, seed=0):
    """train.csv and test.csv in ``folder``: a seeded shuffle, 80/20; test rows without a target left out."""
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(0.8 * len(frame))
    train, test = frame.iloc[order[:cut]], frame.iloc[order[cut:]]
    test = test[test[target].notna()]
    folder.mkdir(parents=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder / "train.csv", folder / "test.csv"


# -- nntrain ---------------------------------------------------------------------------------------


def nntrain_config(train_csv, target, task, classes, epochs, declared):
    if task == "regression":
        output, loss, metrics = {"units": 1, "activation": "linear"}, "mse", ["mae"]
    elif classes == 2:
        output, loss, metrics = {"units": 1, "activation": "sigmoid"}, "binary_crossentropy", ["accuracy"]
    else:
        output, loss, metrics = {"units": classes, "activation": "softmax"}, "categorical_crossentropy", ["accuracy"]
    data = {"source": "csv", "path": train_csv.name, "target": target, "split": {"val": 0}, "batch_size": BATCH}
    if declared:
        data["columns"] = declared
    return {
        "name": "tables-accuracy",
        "seed": 0,
        "data": data,
        "model": {"layers": [*({"units": u, "activation": "relu"} for u in HIDDEN), output]},
        "loss": loss,
        "optimizer": {"name": "adam", "lr": LR},
        "training": {"epochs": epochs, "diagnostics": False},
        "metrics": metrics,
    }


def nntrain_command():
    exe = shutil.which("nntrain")
    return [exe] if exe else [sys.executable, "-c", "from nntrain.__main__ import main; main()"]


def nntrain_side(folder, train_csv, test_csv, target, config, seed, notes):
    """nntrain's predictions for test.csv, and its run's column types {number: n, category: n, ...};
    the warnings of fit and predict go to ``notes``."""
    config_file = folder / "nntrain.yaml"
    config_file.write_text(json.dumps(config, indent=2))  # JSON is YAML
    run_dir, predictions = folder / f"run-seed{seed}", folder / f"predictions-seed{seed}.csv"
    nntrain = nntrain_command()
    for args in (["fit", str(config_file), "--seed", str(seed), "--quiet", "--no-plots", "--run-dir", str(run_dir)],
                 ["predict", str(run_dir), str(test_csv), "-o", str(predictions)]):
        for line in call(nntrain + args).splitlines():
            # test.csv holds the target, which predict passes through (and says so): expected.
            if line.startswith("warning:") and "passed through" not in line:
                notes.setdefault(f"nntrain {args[0]}: {line.removeprefix('warning: ').replace(str(folder) + os.sep, '')}")
    columns = json.loads((run_dir / "data.json").read_text())["columns"]
    types = pd.Series([c["type"] for c in columns]).value_counts().to_dict()
    return pd.read_csv(predictions, keep_default_na=False)[f"predicted_{target}"], types


def call(cmd):
    """Run ``cmd``; its stderr."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}")
    return done.stderr


# -- scikit-learn ----------------------------------------------------------------------------------


def sklearn_side(train, test, target, task, epochs, seed, scaled_indicators=True):
    """scikit-learn's predictions for ``test``, and its column types. The standard pipeline scales the
    missing-value indicators with the numbers (``scaled_indicators``); nntrain keeps them 0/1, as the
    variant without does (``MissingIndicator`` beside the scaled numbers)."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = train[train[target].notna()]
    x = train.drop(columns=target)
    numbers = x.select_dtypes("number").columns.tolist()
    text = [c for c in x.columns if c not in numbers]
    categories = make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"), OneHotEncoder(handle_unknown="ignore"))
    if scaled_indicators:
        parts = [("numbers", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), numbers)]
    else:
        parts = [("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numbers), ("missing", MissingIndicator(), numbers)]
    prepare = ColumnTransformer([*parts, ("text", categories, text)])
    net = dict(hidden_layer_sizes=HIDDEN, solver="adam", learning_rate_init=LR, batch_size=BATCH, max_iter=epochs,
               n_iter_no_change=epochs + 1, random_state=seed)
    if task == "regression":
        model = TransformedTargetRegressor(MLPRegressor(**net), transformer=StandardScaler())
    else:
        model = MLPClassifier(**net)
    pipeline = make_pipeline(prepare, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the number of epochs here
        pipeline.fit(x, train[target])
    return pipeline.predict(test.drop(columns=target)), {"number": len(numbers), "category": len(text)}


# -- Report ----------------------------------------------------------------------------------------


def score(task, truth, predicted):
    if task == "regression":
        from sklearn.metrics import r2_score

        return r2_score(truth.astype(float), np.asarray(predicted, dtype=float))
    return float(np.mean(np.asarray(truth, dtype=str) == np.asarray(predicted, dtype=str)))


def bench(name, load, target, task, epochs, declared, folder, seeds, notes):
    frame = load()
    if frame is None:
        print(f"{name:32s} skipped: vega_datasets is not installed (pip install vega_datasets)")
        return None
    train_csv, test_csv = split(frame, target, folder)
    train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
    ignored = [c for c, kind in declared.items() if kind == "ignore"]
    classes = train[target].nunique()
    config = nntrain_config(train_csv, target, task, classes, epochs, declared)
    scores, seconds = {"nntrain": [], "sklearn": [], "unscaled": []}, {"nntrain": 0.0, "sklearn": 0.0}
    for seed in range(seeds):
        t0 = time.perf_counter()
        predicted, nn_types = nntrain_side(folder, train_csv, test_csv, target, config, seed, notes.setdefault(name, {}))
        seconds["nntrain"] += time.perf_counter() - t0
        scores["nntrain"].append(score(task, test[target], predicted))
        t0 = time.perf_counter()
        predicted, sk_types = sklearn_side(train.drop(columns=ignored), test.drop(columns=ignored), target, task, epochs, seed)
        seconds["sklearn"] += time.perf_counter() - t0
        scores["sklearn"].append(score(task, test[target], predicted))
        predicted, _ = sklearn_side(train.drop(columns=ignored), test.drop(columns=ignored), target, task, epochs, seed, False)
        scores["unscaled"].append(score(task, test[target], predicted))
    features = frame.drop(columns=[target, *ignored])
    nn, sk, unscaled = (np.mean(scores[side]) for side in ("nntrain", "sklearn", "unscaled"))
    row = {
        "table": name, "rows": len(frame), "train/test": f"{len(train)}/{len(test)}",
        "columns": f"{sk_types['number']}/{sk_types['category']}", "missing": int(features.isna().sum().sum()),
        "metric": "R²" if task == "regression" else "accuracy", "epochs": epochs,
        "nntrain": nn, "sklearn": sk, "difference": nn - sk, "unscaled": unscaled, "spread": _spread(scores),
        "seconds": seconds, "types agree": nn_types.get("number", 0) + nn_types.get("boolean", 0) == sk_types["number"],
    }
    print_row(row)
    return row


def _spread(scores):
    return {side: (min(scores[side]), max(scores[side])) for side in ("nntrain", "sklearn")}


HEADER = (f"{'table':32s} {'rows':>6s} {'train/test':>11s} {'num/cat':>7s} {'missing':>7s} {'metric':>8s} {'epochs':>6s}"
          f" {'nntrain':>7s} {'sklearn':>7s} {'diff':>6s} {'sklearn*':>8s}   range over seeds (nntrain; sklearn), seconds")


def print_row(r):
    scale = 1 if r["metric"] == "R²" else 100
    fmt = ".3f" if r["metric"] == "R²" else ".1f"
    spread = "; ".join(f"{lo * scale:{fmt}}-{hi * scale:{fmt}}" for lo, hi in r["spread"].values())
    took = ", ".join(f"{s:.0f}" for s in r["seconds"].values())
    print(f"{r['table']:32s} {r['rows']:6d} {r['train/test']:>11s} {r['columns']:>7s} {r['missing']:7d} {r['metric']:>8s}"
          f" {r['epochs']:6d} {r['nntrain'] * scale:7{fmt}} {r['sklearn'] * scale:7{fmt}} {r['difference'] * scale:+6{fmt}} {r['unscaled'] * scale:8{fmt}}"
          f"   ({spread}), {took} s" + ("" if r["types agree"] else "   [column types differ]"), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="trainings per side and table, averaged (default 3)")
    parser.add_argument("--keep", type=Path, help="write the tables, configs and runs here (a new folder) and keep them")
    parser.add_argument("--only", help="only the tables whose name contains this")
    args = parser.parse_args()
    import sklearn

    print(f"scikit-learn {sklearn.__version__}, pandas {pd.__version__}, numpy {np.__version__}, python "
          f"{sys.version.split()[0]}; load average {load_average()}")
    print(f"both sides: {'-'.join(map(str, HIDDEN))} ReLU, Adam lr {LR}, batch {BATCH}; mean of {args.seeds} seeds;"
          " accuracy in %, R² as is\n")
    print(HEADER)
    root, notes = args.keep or Path(tempfile.mkdtemp(prefix="tables-accuracy-")), {}
    try:
        rows = [bench(*table, root / _slug(table[0]), args.seeds, notes) for table in TABLES if not args.only or args.only in table[0]]
    finally:
        if not args.keep:
            shutil.rmtree(root)
    rows = [r for r in rows if r]
    print("\nsklearn*: the same pipeline with its missing-value indicators left 0/1, as nntrain has them"
          " (MissingIndicator beside the scaled numbers) instead of standardised with them")
    print("\nwhat nntrain warned about (besides passing test.csv's target through):")
    for name, lines in notes.items():
        for line in lines:
            print(f"  {name}: {line}")
    print()
    for metric, margin, scale in (("accuracy", 0.02, 100), ("R²", 0.01, 1)):
        worst = min((r for r in rows if r["metric"] == metric), key=lambda r: r["difference"], default=None)
        if worst:
            print(f"{metric}: smallest difference nntrain - sklearn {worst['difference'] * scale:+.3g} ({worst['table']}); "
                  f"target >= {-margin * scale:g}: {'met' if worst['difference'] >= -margin else 'NOT met'}")


def _slug(name):
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


if __name__ == "__main__":
    main()
