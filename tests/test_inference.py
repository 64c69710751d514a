import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_config, run_cli
from nntrain.errors import DataError, NNTrainNote, RunError, UsageError
from nntrain.training.fit import fit
from nntrain.runs.inference import evaluate_run, load_predictor, predict, predict_table, read_data_meta
from nntrain.runs.store import read_metrics

CONFIGS = Path(__file__).parent.parent / "configs"
IRIS = CONFIGS / "data" / "iris.csv"


def iris_config(**data):
    return make_config(
        name="iris",
        data={"source": "csv", "path": str(IRIS), "target": "species", "split": {"val": 0.2, "test": 0.2}, "standardize": True, "batch_size": 16, **data},
        model={"layers": [{"units": 16, "activation": "relu", "init": "he_normal"}, {"units": 3, "activation": "softmax"}]},
        loss="categorical_crossentropy",
        optimizer={"name": "adam", "lr": 0.01},
        training={"epochs": 60},
        metrics=["accuracy"],
    )


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    return fit(iris_config(), runs_root=tmp_path_factory.mktemp("runs")).run_dir


def test_the_run_keeps_names_and_statistics(iris_run):
    meta = json.loads((iris_run / "data.json").read_text())
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert meta["features"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert meta["targets"] == ["species"]
    assert len(meta["standardize"]["mean"]) == 4 and min(meta["standardize"]["std"]) > 0
    assert read_data_meta(iris_run) == meta


def test_eval_on_each_split_matches_what_training_logged(iris_run):
    results = {split: evaluate_run(iris_run, split) for split in ("train", "val", "test")}
    assert {s: r["examples"] for s, r in results.items()} == {"train": 90, "val": 30, "test": 30}
    last = read_metrics(iris_run)[-1]
    # The same weights on the same (regenerated, standardised) validation rows: the same numbers.
    assert results["val"]["loss"] == pytest.approx(last["val_loss"], rel=1e-6)
    assert results["val"]["accuracy"] == pytest.approx(last["val_accuracy"])
    assert results["test"]["accuracy"] >= 0.9


def test_eval_split_errors(iris_run, tmp_path):
    with pytest.raises(UsageError, match=r"^--split all: expected one of train, val, test$"):
        evaluate_run(iris_run, "all")
    run = fit(iris_config(split={"val": 0.2}), runs_root=tmp_path).run_dir
    with pytest.raises(RunError) as info:
        evaluate_run(run, "test")
    assert str(info.value) == f"{run}: the run has no test split (its data.split.test is 0); it has: train, val"


def test_predict_takes_raw_inputs_and_answers_with_class_names(iris_run):
    records = predict(iris_run, ["5.1,3.5,1.4,0.2", "6.3,3.3,6.0,2.5"])
    assert [r["class"] for r in records] == ["setosa", "virginica"]
    assert records[0]["input"] == [5.1, 3.5, 1.4, 0.2]  # shown raw
    predictor = load_predictor(iris_run)
    stats = predictor.meta["standardize"]
    scaled = (np.array([[5.1, 3.5, 1.4, 0.2]]) - stats["mean"]) / stats["std"]
    np.testing.assert_allclose(records[0]["output"], predictor.model.predict(scaled)[0], rtol=1e-5)
    assert sum(records[0]["output"]) == pytest.approx(1, abs=1e-5)


def test_predict_table_of_raw_inputs(iris_run, tmp_path):
    path = tmp_path / "flowers.csv"
    path.write_text("id,petal_width,petal_length,sepal_width,sepal_length\n1,0.2,1.4,3.5,5.1\n2,2.5,6.0,3.3,6.3\n")
    with pytest.warns(NNTrainNote, match=r"flowers.csv: not inputs of the run, passed through: id$"):
        columns, rows = predict_table(iris_run, path)
    assert columns == ["id", "petal_width", "petal_length", "sepal_width", "sepal_length", "predicted_species"]
    assert [row[0] for row in rows] == ["1", "2"] and [row[-1] for row in rows] == ["setosa", "virginica"]
    with pytest.warns(NNTrainNote):
        columns, rows = predict_table(iris_run, path, proba=True)
    assert columns[-3:] == ["p_setosa", "p_versicolor", "p_virginica"]
    for row in rows:
        p = [float(v) for v in row[-3:]]
        assert sum(p) == pytest.approx(1, abs=1e-4) and row[-4] == ["setosa", "versicolor", "virginica"][int(np.argmax(p))]


def test_predict_table_errors(iris_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("few.csv").write_text("sepal_length,sepal_width\n1,2\n")
    with pytest.raises(DataError) as info:
        predict_table(iris_run, "few.csv")
    assert str(info.value) == (
        "few.csv: no column 'petal_length'; the run's inputs are: sepal_length, sepal_width, petal_length, petal_width"
    )
    Path("bad.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n1,2,3,4\n1,2,x,4\n")
    with pytest.raises(DataError, match=r"^bad.csv, line 3, column 'petal_length': 'x' is not a number; if it means a missing value"):
        predict_table(iris_run, "bad.csv")
    Path("taken.csv").write_text("sepal_length,sepal_width,petal_length,petal_width,p_setosa\n1,2,3,4,0\n")
    with pytest.raises(DataError, match=r"^taken.csv: already has a column 'p_setosa', which the predictions would fill$"):
        with pytest.warns(NNTrainNote):
            predict_table(iris_run, "taken.csv", proba=True)


def test_predict_table_binary_and_regression(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    lines = ["u,v,label,amount"] + [f"{a},{b},{'yes' if a > 0 else 'no'},{a + 2 * b}" for a, b in x]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    base = {"source": "csv", "path": str(tmp_path / "d.csv"), "features": ["u", "v"], "standardize": True}
    binary = make_config(
        data={**base, "target": "label"}, model={"layers": [{"units": 1, "activation": "sigmoid"}]},
        loss="binary_crossentropy", optimizer={"name": "adam", "lr": 0.1}, training={"epochs": 40}, metrics=["accuracy"],
    )
    run = fit(binary, runs_root=tmp_path / "runs").run_dir
    (tmp_path / "in.csv").write_text("u,v\n2,0\n-2,0\n")
    columns, rows = predict_table(run, tmp_path / "in.csv", proba=True)
    assert columns == ["u", "v", "predicted_label", "p_yes"]  # classes sorted: no = 0, yes = 1
    assert [r[2] for r in rows] == ["yes", "no"] and float(rows[0][3]) > 0.5 > float(rows[1][3])
    regression = make_config(
        data={**base, "target": "amount"}, model={"layers": [{"units": 1, "activation": "linear"}]},
        loss="mse", optimizer={"name": "adam", "lr": 0.1}, training={"epochs": 60}, metrics=["mae"],
    )
    run = fit(regression, runs_root=tmp_path / "runs").run_dir
    columns, rows = predict_table(run, tmp_path / "in.csv")
    assert columns == ["u", "v", "predicted_amount"]
    assert [float(r[2]) for r in rows] == pytest.approx([2, -2], abs=0.1)
    with pytest.raises(UsageError, match=r"^--proba: the run regresses \(loss mse\); it has no class probabilities$"):
        predict_table(run, tmp_path / "in.csv", proba=True)


def test_a_damaged_data_description(iris_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(iris_run, copy)
    (copy / "data.json").write_text("{not json")
    with pytest.raises(RunError, match=r"data.json: damaged data description"):
        evaluate_run(copy, "test")


@pytest.mark.parametrize(
    "loss,units,activation,kind",
    [
        ("categorical_crossentropy", 3, "softmax", "classes"),
        ("binary_crossentropy", 1, "sigmoid", "binary"),
        ("binary_crossentropy", 2, "sigmoid", "multilabel"),
        ("mse", 2, "linear", "regression"),
        ("mae", 1, "linear", "regression"),
        ({"name": "huber", "delta": 0.5}, 1, "linear", "regression"),
    ],
)
def test_what_a_predictor_answers_follows_the_targets_its_loss_takes(loss, units, activation, kind):
    from nntrain.nn.model import build_model
    from nntrain.runs.inference import Predictor

    config = make_config(model={"layers": [{"units": units, "activation": activation}]}, loss=loss, metrics=[])
    assert Predictor(config, build_model(config, 2, np.random.default_rng(0)), {}).kind == kind


@pytest.mark.parametrize(
    "meta,problem",
    [
        ({"features": 5}, "features is 5, expected a list of names"),
        ({"classes": ["a", 2]}, "classes is ['a', 2], expected a list of names"),
        ({"standardize": {"mean": [0.0]}}, "standardize is not a mean and a std of numbers"),
        ({"target_scale": {"mean": ["x"], "std": [1.0]}}, "target_scale is not a mean and a std of numbers"),
        ({"class_weight": [1, True]}, "class_weight is not a list of numbers"),
        ({"columns": [{"name": "a"}]}, "columns is not a list of column encodings"),
    ],
)
def test_a_damaged_data_json_is_one_line_naming_what_is_wrong(tmp_path, meta, problem):
    run_dir = fit(make_config(training={"epochs": 2}), run_dir=tmp_path / "r").run_dir
    (run_dir / "data.json").write_text(json.dumps(meta))
    result = run_cli("predict", run_dir, "-i", "0,1")
    assert (result.exit_code, result.stderr) == (2, f"error: {run_dir / 'data.json'}: damaged data description: {problem}\n")
    assert run_cli("eval", run_dir).exit_code == 2
