"""The data side of the command line: fit on files and built-in sets, eval --split, predict on a CSV."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import run_cli as run

CONFIGS = Path(__file__).parent.parent / "configs"


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """configs/iris.yaml trained from another working directory: its data path is the config's folder's."""
    root = tmp_path_factory.mktemp("cli")
    result = run("fit", CONFIGS / "iris.yaml", "-q", "--run-dir", root / "iris")
    assert result.exit_code == 0, result.output
    return root / "iris"


def test_eval_splits(iris_run):
    test = run("eval", iris_run, "--split", "test", "--json")
    assert test.exit_code == 0, test.output
    record = json.loads(test.stdout)
    assert record["split"] == "test" and record["examples"] == 30 and record["metrics"]["accuracy"] >= 0.9
    table = run("eval", iris_run, "--split", "val")
    assert table.exit_code == 0 and table.stdout.startswith(f"{iris_run}: val split, 30 examples\n")
    assert "accuracy" in table.stdout
    train = json.loads(run("eval", iris_run, "--json").stdout)
    assert train["split"] == "train" and train["examples"] == 90


def test_eval_split_errors(iris_run, in_tmp):
    wrong = run("eval", iris_run, "--split", "validation")
    assert (wrong.exit_code, wrong.stderr) == (2, "error: --split validation: expected one of train, val, test\n")
    assert run("fit", CONFIGS / "xor.yaml", "-q", "--run-dir", "x", "--set", "training.epochs=1").exit_code == 0
    none = run("eval", "x", "--split", "val")
    assert (none.exit_code, none.stderr) == (2, "error: x: the run has no val split (its data.split.val is 0); it has: train\n")


def test_predict_a_csv(iris_run, in_tmp):
    Path("in.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.3,3.3,6.0,2.5\n5.9,2.8,4.3,1.3\n")
    out = run("predict", iris_run, "in.csv")
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        "sepal_length,sepal_width,petal_length,petal_width,predicted_species",
        "5.1,3.5,1.4,0.2,setosa",
        "6.3,3.3,6.0,2.5,virginica",
        "5.9,2.8,4.3,1.3,versicolor",
    ]
    written = run("predict", iris_run, "in.csv", "--proba", "-o", "out.csv")
    assert written.exit_code == 0 and written.stderr == "3 predictions written to out.csv\n" and written.stdout == ""
    lines = Path("out.csv").read_text().splitlines()
    assert lines[0].endswith(",predicted_species,p_setosa,p_versicolor,p_virginica") and len(lines) == 4
    records = json.loads(run("predict", iris_run, "in.csv", "--json").stdout)
    assert [r["predicted_species"] for r in records] == ["setosa", "virginica", "versicolor"]


def test_predict_inputs_show_class_names(iris_run):
    result = run("predict", iris_run, "-i", "5.1,3.5,1.4,0.2")
    assert result.exit_code == 0 and "setosa" in result.stdout and "class" in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "error: give either a CSV file of inputs or --input rows (e.g. -i 0,1)\n"),
        (["in.csv", "-i", "1,2,3,4"], "error: give either a CSV file or --input rows, not both\n"),
        (["in.csv", "--trace"], "error: --trace works with --input rows, not with a CSV file\n"),
        (["-i", "1,2,3,4", "--proba"], "error: --proba works with a CSV file of inputs, not with --input\n"),
        (["-i", "1,2,3,4", "-o", "x.csv"], "error: --output works with a CSV file of inputs, not with --input\n"),
        (["missing.csv"], "error: missing.csv: no such file\n"),
    ],
)
def test_predict_argument_errors(iris_run, in_tmp, args, message):
    Path("in.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n1,2,3,4\n")
    result = run("predict", iris_run, *args)
    assert (result.exit_code, result.stderr) == (2, message)


# --------------------------------------------------------------------------------------------------
# Bad data: exit code 2, one line naming the file and the problem, no traceback, no run directory

MODEL3 = "model: {layers: [{units: 8}, {units: 3, activation: softmax}]}\nloss: categorical_crossentropy\n"


def fit_error(config_text, name="c.yaml"):
    Path(name).write_text(config_text)
    result = run("fit", name, "-q")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not Path("runs").exists()
    assert len(result.stderr.strip().splitlines()) == 1
    return result.stderr.strip()


def test_bad_csv_files(in_tmp):
    Path("data").mkdir()
    Path("data/d.csv").write_text("a,b,kind\n1,2,x\n3,4,y\n5,,z\n")
    csv = "data: {source: csv, path: data/d.csv, target: %s}\n" + MODEL3
    assert fit_error(csv % "nope") == "error: data/d.csv: no target column 'nope'; the columns are: a, b, kind"
    Path("data/d.csv").write_text("a,b,kind\n1,2,x\n3,four,y\n5,6,z\n")
    assert fit_error(csv % "kind") == (
        "error: data/d.csv, line 3, column 'b': 'four' in a column of numbers; if it means a missing value, add it "
        "to data.na_values; if the column is a category, declare it (data.columns: {b: category})"
    )
    assert fit_error(csv.replace("data/d.csv", "data/none.csv") % "kind") == "error: data/none.csv: no such file"


def test_paths_are_relative_to_the_config_file(in_tmp):
    Path("exp").mkdir()
    Path("exp/d.csv").write_text("a,kind\n1,x\n2,y\n3,z\n")
    Path("exp/c.yaml").write_text("data: {source: csv, path: d.csv, target: kind}\n" + MODEL3 + "training: {epochs: 1}\n")
    result = run("fit", "exp/c.yaml", "-q", "--run-dir", "r")
    assert result.exit_code == 0, result.output
    assert f"path: {Path('exp/d.csv').resolve()}" in Path("r/config.yaml").read_text()  # absolute in the run


def test_bad_arrays(in_tmp):
    npz = "data: {source: npz, path: d.npz}\n" + MODEL3
    x, y = np.zeros((6, 2)), np.array([0, 1, 2] * 2)
    bad = x.copy()
    bad[4, 1] = np.inf
    np.savez("d.npz", x=bad, y=y)
    assert fit_error(npz) == "error: d.npz: array 'x' has a non-finite value (inf) in row 4 (x[4, 1])"
    np.savez("d.npz", x=x, y=y[:5])
    assert fit_error(npz) == "error: d.npz: 'x' has 6 rows but 'y' has 5"


def test_splits_and_output_units_that_do_not_fit(in_tmp):
    split = "data: {source: blobs, n_samples: 10, split: {val: 0.5, test: 0.45}}\n" + MODEL3  # 5 + ceil(4.5) rows
    assert fit_error(split) == "error: c.yaml, line 1: data.split: val 0.5 and test 0.45 of 10 examples leave no training examples"
    more = "data: {source: blobs, classes: 3}\nmodel:\n  layers:\n    - {units: 8}\n    - {units: 4, activation: softmax}\nloss: categorical_crossentropy\n"
    assert fit_error(more) == (
        "error: c.yaml, line 5: model.layers.1.units: the data has 3 classes but the output layer has 4 units; set its units to 3"
    )
    fewer = more.replace("units: 4", "units: 2")
    assert fit_error(fewer).endswith("the data has 3 classes but the output layer has 2 units; set its units to 3")
    regression = "data: {source: sine}\nmodel: {layers: [{units: 2, activation: linear}]}\nloss: mse\n"
    assert fit_error(regression) == (
        "error: c.yaml, line 2: model.layers.0.units: the data has 1 target columns but the output layer has 2 units; set its units to 1"
    )


# --------------------------------------------------------------------------------------------------
# The example configs


@pytest.mark.parametrize("name", ["moons", "sine", "iris"])  # digits: the slow test below
def test_example_configs_run(in_tmp, name):
    result = run("fit", CONFIGS / f"{name}.yaml", "-q", "--run-dir", name, "--set", "training.epochs=2")
    assert result.exit_code == 0, result.output
    assert "val_loss" in result.stdout
    assert run("eval", name, "--split", "test").exit_code == 0


@pytest.mark.slow
def test_digits_reaches_97_percent_on_its_test_split(in_tmp):
    result = run("fit", CONFIGS / "digits.yaml", "-q", "--run-dir", "digits")
    assert result.exit_code == 0, result.output
    test = json.loads(run("eval", "digits", "--split", "test", "--json").stdout)
    assert test["examples"] == 360 and test["metrics"]["accuracy"] >= 0.97


def test_the_residual_example_beats_the_mean_by_far_on_its_test_split(in_tmp):
    result = run("fit", CONFIGS / "diabetes_residual.yaml", "-q", "--run-dir", "dr", "--no-plots")
    assert result.exit_code == 0, result.output
    test = json.loads(run("eval", "dr", "--split", "test", "--json").stdout)
    assert test["examples"] == 89 and test["metrics"]["mae"] < 40  # the mean predicts with an MAE of 66


# --------------------------------------------------------------------------------------------------
# The regression losses mae and huber end to end: config, CSV targets, fit, eval, predict, summary, gradcheck

REGRESSION = """\
name: {name}
seed: 0
data: {{source: csv, path: r.csv, target: price, split: {{val: 0.25}}, standardize: true, batch_size: 16}}
model:
  layers:
    - {{units: 8, activation: tanh}}
    - {{units: 1, activation: linear}}
loss: {loss}
optimizer: {{name: adam, lr: 0.02}}
training: {{epochs: 40}}
metrics: [mae]
"""


def write_regression_csv(path="r.csv"):
    """price = 3 a - 2 b + 10 (+ small noise): every target a different number, none a small integer."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, 80), rng.uniform(-1, 1, 80)
    price = 3 * a - 2 * b + 10 + rng.normal(0, 0.05, 80)
    Path(path).write_text("a,b,price\n" + "".join(f"{x:.4f},{y:.4f},{p:.4f}\n" for x, y, p in zip(a, b, price)))
    return price


@pytest.mark.parametrize("loss", ["mae", "{name: huber, delta: 0.5}"])
def test_a_regression_loss_end_to_end(in_tmp, loss):
    write_regression_csv()
    Path("c.yaml").write_text(REGRESSION.format(name="reg", loss=loss))
    fitted = run("fit", "c.yaml", "-q", "--no-plots", "--run-dir", "r")
    assert fitted.exit_code == 0, fitted.output
    saved = yaml.safe_load(Path("r/config.yaml").read_text())["loss"]
    assert saved == ("mae" if loss == "mae" else {"name": "huber", "delta": 0.5})
    assert "classes" not in json.loads(Path("r/data.json").read_text())  # the target was read as numbers

    rows = list(csv.DictReader(Path("r/metrics.csv").read_text().splitlines()))
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(rows[0])  # the mae metric beside the loss
    first, last = rows[0], rows[-1]
    assert float(first["val_mae"]) > 2 * float(last["val_mae"]) and float(last["val_mae"]) < 1  # it learnt
    # The targets are trained in standard units (scale_target, on for tables), the mae reported in theirs:
    # for the mae loss, batch by batch, the metric is the loss times the targets' std.
    scale = json.loads(Path("r/data.json").read_text())["target_scale"]
    assert scale["mean"][0] == pytest.approx(10, abs=0.5) and scale["std"][0] > 1
    if loss == "mae":
        assert float(last["loss"]) * scale["std"][0] == pytest.approx(float(last["mae"]), rel=1e-5)

    evaluated = run("eval", "r", "--split", "val", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    record = json.loads(evaluated.stdout)
    assert record["examples"] == 20 and record["metrics"]["mae"] == pytest.approx(float(last["val_mae"]), rel=1e-5)

    Path("in.csv").write_text("a,b\n0.5,0.25\n-0.5,0.5\n")
    predicted = run("predict", "r", "in.csv")
    assert predicted.exit_code == 0, predicted.output
    lines = predicted.stdout.splitlines()
    assert lines[0] == "a,b,predicted_price"
    values = [float(line.split(",")[2]) for line in lines[1:]]
    assert values == pytest.approx([11.0, 7.5], abs=1.0)  # 3 a - 2 b + 10, roughly, after 40 epochs
    proba = run("predict", "r", "in.csv", "--proba")
    name = "mae" if loss == "mae" else "huber"
    assert (proba.exit_code, proba.stderr) == (2, f"error: --proba: the run regresses (loss {name}); it has no class probabilities\n")

    summary = run("summary", "r", "--json")
    assert summary.exit_code == 0 and json.loads(summary.stdout)["total_params"] == 2 * 8 + 8 + 8 + 1
    checked = run("gradcheck", "c.yaml")
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines()[-1].startswith("ok: largest relative error")


def test_a_bad_huber_delta_names_the_key_and_line(in_tmp):
    write_regression_csv()
    message = fit_error(REGRESSION.format(name="reg", loss="{name: huber, delta: -1}"))
    assert message == "error: c.yaml, line 8: loss.delta: Input should be greater than 0; got -1"
