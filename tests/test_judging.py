"""nntrain.runs.judging and ``nntrain eval``: a run judged on a split -- metrics, per-class table,
confusion matrix, threshold, pictures -- against scikit-learn on the same predictions; and
``predict --threshold``."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from conftest import make_config, run_cli
from nntrain.errors import DataError, UsageError
from nntrain.runs.evalplots import CONFUSION, PREDICTED, RELIABILITY, RESIDUALS, ROC
from nntrain.runs.inference import load_predictor, predict
from nntrain.runs.judging import judge_run
from nntrain.training.fit import fit

SPECIES = ["ant", "bee", "cat"]


def write_classes(path, n=240, seed=0):
    """A CSV of two numbers, a category and a class that depends on them (imperfectly)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    colour = rng.choice(["red", "blue"], n)
    score = x[:, 0] + 0.5 * x[:, 1] + 0.8 * (colour == "red") + rng.normal(0, 0.6, n)
    label = np.digitize(score, [-0.3, 0.9])
    lines = ["a,b,colour,species"] + [f"{x[i, 0]:.4f},{x[i, 1]:.4f},{colour[i]},{SPECIES[label[i]]}" for i in range(n)]
    Path(path).write_text("\n".join(lines) + "\n")


def table_run(tmp_path, loss="categorical_crossentropy", units=3, activation="softmax", target="species", name="r", **changes):
    data = {"source": "csv", "path": str(tmp_path / "t.csv"), "target": target, "split": {"val": 0.25, "test": 0.25}, "batch_size": 16}
    data.update(changes.pop("data", {}))
    config = make_config(
        data=data,
        model={"layers": [{"units": 8, "activation": "tanh"}, {"units": units, "activation": activation}]},
        loss=loss,
        training={"epochs": 30},
        **changes,
    )
    return fit(config, run_dir=tmp_path / name, plots=False).run_dir


def sklearn_predictions(run_dir, split):
    """(labels, probabilities) of a classifier run's split, as predict gives them on its raw rows."""
    from nntrain.data.prepare import load_data
    from nntrain.runs.inference import read_data_meta

    predictor = load_predictor(run_dir)
    data = load_data(predictor.config, np.random.default_rng(predictor.config.seed), meta=read_data_meta(run_dir), split=split)
    part = data.splits[split]
    return part.y, predictor.model.predict(part.x).astype(np.float64)


@pytest.fixture
def classes_run(tmp_path):
    write_classes(tmp_path / "t.csv")
    return table_run(tmp_path, metrics=["accuracy", {"name": "f1", "average": "weighted"}])


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")  # float32 rows, to 1e-7
def test_a_classifier_is_judged_as_scikit_learn_judges_its_predictions(classes_run):
    report = judge_run(classes_run, "test")
    y, p = sklearn_predictions(classes_run, "test")
    predicted = p.argmax(axis=1)
    m = report["metrics"]
    assert list(m)[:3] == ["loss", "accuracy", "f1_weighted"]  # the run's own, then the usual ones
    expected = {
        "accuracy": sk.accuracy_score(y, predicted),
        "f1_weighted": sk.f1_score(y, predicted, average="weighted"),
        "balanced_accuracy": sk.balanced_accuracy_score(y, predicted),
        "precision": sk.precision_score(y, predicted, average="macro", zero_division=0),
        "recall": sk.recall_score(y, predicted, average="macro"),
        "f1": sk.f1_score(y, predicted, average="macro"),
        "log_loss": sk.log_loss(y, p, labels=range(3)),
        "roc_auc": sk.roc_auc_score(y, p, multi_class="ovr"),
        "average_precision": sk.average_precision_score(y, p),
    }
    for name, value in expected.items():
        assert m[name] == pytest.approx(value, rel=1e-6), name  # float32 network outputs
    assert report["classes"] == SPECIES and report["examples"] == len(y)
    assert report["confusion_matrix"] == sk.confusion_matrix(y, predicted, labels=range(3)).tolist()
    precision, recall, f1, support = sk.precision_recall_fscore_support(y, predicted, labels=range(3), zero_division=0)
    for k, row in enumerate(report["per_class"]):
        assert row["class"] == SPECIES[k] and row["support"] == support[k]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((precision[k], recall[k], f1[k]), rel=1e-12)
    assert "threshold" not in report and "plots" not in report


def test_plots_go_into_the_run_directory_per_split(classes_run):
    report = judge_run(classes_run, "val", plots=True)
    folder = classes_run / "eval" / "val"
    assert [Path(p).name for p in report["plots"]][:2] == [CONFUSION, ROC]
    assert all(Path(p).parent == folder and Path(p).stat().st_size > 0 for p in report["plots"])
    assert (folder / RELIABILITY).is_file()


def test_eval_prints_the_per_class_table_and_the_confusion_matrix(classes_run):
    result = run_cli("eval", classes_run, "--split", "test")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "per class:" in out and "support" in out and "confusion matrix (rows: true class, columns: predicted):" in out
    assert all(name in out for name in SPECIES) and "roc_auc" in out
    as_json = json.loads(run_cli("eval", classes_run, "--split", "test", "--json").stdout)
    assert set(as_json) == {"run", "split", "examples", "metrics", "classes", "per_class", "confusion_matrix"}
    assert as_json["metrics"] == judge_run(classes_run, "test")["metrics"]


def test_a_usual_ranking_metric_that_the_split_cannot_give_is_left_out_with_a_note(tmp_path):
    write_classes(tmp_path / "t.csv", n=40, seed=3)
    run_dir = table_run(tmp_path, data={"split": {"val": 0.25, "test": 0.05}})
    y, _ = sklearn_predictions(run_dir, "test")
    missing = [SPECIES[k] for k in range(3) if k not in y]
    assert missing  # 2 test rows cannot hold 3 classes
    with pytest.warns(UserWarning) as notes:
        report = judge_run(run_dir, "test")
    assert [str(n.message) for n in notes] == [
        f"{name} left out: the test split has no rows of class '{missing[0]}'" for name in ("roc_auc", "average_precision")
    ]
    assert "roc_auc" not in report["metrics"] and "accuracy" in report["metrics"]


@pytest.mark.filterwarnings("ignore::nntrain.errors.NNTrainNote")  # the usual average_precision left out
def test_a_logged_ranking_metric_on_a_split_without_a_class_is_an_error(tmp_path):
    write_classes(tmp_path / "t.csv", n=40, seed=3)
    run_dir = table_run(tmp_path, data={"split": {"val": 0.25, "test": 0.05}}, metrics=["roc_auc"])
    with pytest.raises(DataError, match=r"roc_auc needs rows of every class; none of class '\w+' in the test split"):
        judge_run(run_dir, "test")
    result = run_cli("eval", run_dir, "--split", "test")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("error: roc_auc needs rows of every class; none of class")


def test_a_ranking_metric_needs_every_class_in_the_validation_split_before_training(tmp_path):
    write_classes(tmp_path / "t.csv", n=40, seed=3)
    config_path = tmp_path / "c.yaml"
    config_path.write_text(
        f"data: {{source: csv, path: {tmp_path / 't.csv'}, target: species, split: {{val: 0.05}}}}\n"
        "model: {layers: [{units: 3, activation: softmax}]}\nloss: categorical_crossentropy\nmetrics: [roc_auc]\n"
    )
    result = run_cli("fit", config_path, "--run-dir", tmp_path / "never", "-q")
    assert result.exit_code == 2 and not (tmp_path / "never").exists()
    assert "metrics.0: roc_auc needs every class in the val split, which has no rows of class" in result.stderr


# --------------------------------------------------------------------------------------------------
# A binary classifier's threshold


@pytest.fixture
def binary_run(tmp_path):
    folder = tmp_path / "binary"
    folder.mkdir()
    write_classes(folder / "t.csv", n=400)
    text = (folder / "t.csv").read_text().replace(",bee\n", ",ant\n").replace(",cat\n", ",bee\n")
    (folder / "t.csv").write_text(text)
    return table_run(folder, loss="binary_crossentropy", units=1, activation="sigmoid")


def test_the_threshold_maximises_f1_on_the_validation_split(binary_run):
    report = judge_run(binary_run, "test")
    threshold = report["threshold"]
    assert threshold["chosen_on"] == "val" and 0 < threshold["value"] < 1
    y_val, p_val = sklearn_predictions(binary_run, "val")
    f1 = lambda t: sk.f1_score(y_val[:, 0], p_val[:, 0] > t)  # noqa: E731
    candidates = np.unique(p_val[:, 0]) - 1e-9
    assert f1(threshold["value"]) == pytest.approx(max(f1(t) for t in candidates), rel=1e-12)
    y, p = sklearn_predictions(binary_run, "test")
    said = p[:, 0] > threshold["value"]
    assert threshold["metrics"] == pytest.approx(
        {"precision": sk.precision_score(y[:, 0], said, zero_division=0), "recall": sk.recall_score(y[:, 0], said),
         "f1": sk.f1_score(y[:, 0], said), "accuracy": sk.accuracy_score(y[:, 0], said)}, rel=1e-12
    )  # fmt: skip
    assert report["classes"] == ["ant", "bee"] and len(report["confusion_matrix"]) == 2
    assert report["metrics"]["roc_auc"] == pytest.approx(sk.roc_auc_score(y[:, 0], p[:, 0]), rel=1e-6)


def test_predict_with_a_threshold(binary_run, tmp_path):
    rows = ["0.1,0.2,red", "-1.5,-1,blue", "2,1,red"]
    p = np.array([r["output"][0] for r in predict(binary_run, rows)])
    t = float(np.sort(p)[1])  # the middle probability: the rows above it say "bee"
    records = predict(binary_run, rows, threshold=t)
    assert [r["class"] for r in records] == ["bee" if v > t else "ant" for v in p]
    (tmp_path / "in.csv").write_text("a,b,colour\n" + "\n".join(rows) + "\n")
    result = run_cli("predict", binary_run, tmp_path / "in.csv", "--threshold", t)
    assert result.stdout.splitlines()[1:] == [f"{row},{'bee' if v > t else 'ant'}" for row, v in zip(rows, p)]


def test_a_threshold_is_a_binary_classifiers_between_0_and_1(binary_run, classes_run):
    with pytest.raises(UsageError, match=r"--threshold 1.5: expected a probability between 0 and 1"):
        load_predictor(binary_run, threshold=1.5)
    result = run_cli("predict", classes_run, "-i", "0,0,red", "--threshold", "0.3")
    assert (result.exit_code, result.stderr) == (2, "error: --threshold 0.3: the run is not a binary classifier (one sigmoid output unit)\n")


# --------------------------------------------------------------------------------------------------
# Regressors


def test_a_regressor_is_judged_in_its_targets_units(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    price = 1000 + 300 * x[:, 0] - 100 * x[:, 1] + rng.normal(0, 30, 200)
    (tmp_path / "t.csv").write_text("a,b,price\n" + "".join(f"{a:.4f},{b:.4f},{p:.2f}\n" for (a, b), p in zip(x, price)))
    run_dir = table_run(tmp_path, loss="mse", units=1, activation="linear", target="price", metrics=["mae"])
    report = judge_run(run_dir, "test", plots=True)
    predictor = load_predictor(run_dir)
    from nntrain.data.prepare import load_data
    from nntrain.runs.inference import read_data_meta

    data = load_data(predictor.config, np.random.default_rng(0), meta=read_data_meta(run_dir), split="test")
    part = data.splits["test"]
    predicted = predictor.in_units(predictor.model.predict(part.x).astype(np.float64))
    actual = predictor.in_units(part.y.astype(np.float64))
    m = report["metrics"]
    assert list(m) == ["loss", "mae", "mse", "rmse", "r2", "mape"]
    assert m["mae"] == pytest.approx(sk.mean_absolute_error(actual, predicted), rel=1e-5)
    assert m["r2"] == pytest.approx(sk.r2_score(actual, predicted), rel=1e-5)
    assert m["mape"] == pytest.approx(sk.mean_absolute_percentage_error(actual, predicted), rel=1e-5)
    assert "per_class" not in report and "threshold" not in report
    assert [Path(p).name for p in report["plots"]] == [PREDICTED, RESIDUALS]


def test_a_value_that_is_not_finite_is_reported_as_none():
    from nntrain.runs.judging import defined

    assert defined({"loss": 0.5, "weighted_recall": float("nan"), "r2": float("-inf")}) == {"loss": 0.5, "weighted_recall": None, "r2": None}
