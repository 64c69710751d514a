"""``nntrain data CONFIG``: what training would see of the data -- columns, missing cells, categories,
the target's balance or range, the input width, the splits -- without training or writing anything."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import run_cli as run

CONFIGS = Path(__file__).parent.parent / "configs"

# Strings, blanks (a blank age, a whitespace-only city, an NA boolean, a blank score) and a row
# without its target (row 5, line 6), which training leaves out: 11 rows, split 5 / 3 / 3.
PEOPLE = """id,age,city,member,score,label
1,34,Paris,true,1.5,yes
2,,Lyon,false,2.5,no
3,51,Paris,true,,yes
4,29, ,false,3.0,no
5,40,Nice,true,2.0,
6,38,Paris,NA,4.5,yes
7,45,Lyon,false,1.0,no
8,22,Paris,true,2.2,yes
9,60,Nice,false,3.3,no
10,33,Lyon,true,0.5,yes
11,27,Paris,false,2.8,no
12,50,Nice,true,1.9,yes
"""

CLASSIFIER = {
    "name": "people",
    "seed": 0,
    "data": {
        "source": "csv", "path": "people.csv", "target": "label", "columns": {"id": "ignore"},
        "split": {"val": 0.2, "test": 0.2}, "batch_size": 4,
    },
    "model": {"layers": [{"units": 4, "activation": "relu"}, {"units": 2, "activation": "softmax"}]},
    "loss": "categorical_crossentropy",
    "optimizer": {"name": "adam", "lr": 0.01},
    "training": {"epochs": 2},
}

DROPPED = "warning: people.csv: left out 1 row with no value in 'label' (its target)"


def write_config(raw, name="c.yaml"):
    Path(name).write_text(yaml.safe_dump(raw, sort_keys=False))
    return name


@pytest.fixture
def people(in_tmp):
    Path("people.csv").write_text(PEOPLE)
    return write_config(CLASSIFIER)


def described(*args):
    result = run("data", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_a_table_with_strings_and_blanks(people):
    before = sorted(os.listdir("."))
    record, stderr = described(people)
    assert DROPPED in stderr.splitlines() and "error" not in stderr
    assert list(record) == [
        "source", "path", "delimiter", "rows", "splits", "columns", "target", "inputs", "standardize", "scale_target",
    ]
    assert (record["source"], record["path"], record["delimiter"]) == ("csv", "people.csv", ",")
    assert record["rows"] == {"read": 12, "used": 11, "dropped": {"label": {"rows": 1, "why": "no target"}}}
    assert record["splits"] == {"train": 5, "val": 3, "test": 3}
    columns = {c["name"]: c for c in record["columns"]}
    assert list(columns) == ["id", "age", "city", "member", "score", "label"]
    assert {name: c["type"] for name, c in columns.items()} == {
        "id": "ignore", "age": "number", "city": "category", "member": "boolean", "score": "number", "label": "target",
    }
    # Missing cells in the whole file (the blank, the lone space, NA, the row without a label), then
    # in the training split; inputs: age gets a missing indicator (its training rows have a blank),
    # city one column per category and one for <missing>.
    assert {name: (c["missing"], c["missing_train"], c["inputs"]) for name, c in columns.items()} == {
        "id": (0, 0, 0), "age": (1, 1, 2), "city": (1, 1, 4), "member": (1, 0, 1), "score": (1, 0, 1), "label": (1, 0, 0),
    }
    # The training split (seed 0): rows 4, 6, 8, 10 and 12 of the file.
    assert (columns["age"]["min"], columns["age"]["mean"], columns["age"]["max"]) == (22.0, 33.75, 50.0)
    assert (columns["member"]["min"], columns["member"]["mean"], columns["member"]["max"]) == (0.0, 0.6, 1.0)
    assert columns["score"]["mean"] == pytest.approx(2.22)
    assert columns["city"]["categories"] == 3 and (columns["city"]["kept"], columns["city"]["other"]) == (3, 0)
    assert columns["city"]["top"] == [{"value": "Paris", "count": 2}, {"value": "Lyon", "count": 1}, {"value": "Nice", "count": 1}]
    assert columns["label"]["categories"] == 2
    assert record["target"] == {
        "name": "label",
        "kind": "classes",
        "classes": [
            {"name": "no", "train": 2, "val": 1, "test": 2, "all": 5},
            {"name": "yes", "train": 3, "val": 2, "test": 1, "all": 6},
        ],
    }
    assert record["inputs"] == {
        "width": 8,
        "encoding": "8 inputs from 4 columns: 2 numbers (+1 missing indicator), 1 boolean, 1 category (4 one-hot columns)",
        "features": ["age", "age=<missing>", "city=Lyon", "city=Nice", "city=Paris", "city=<missing>", "member", "score"],
    }
    assert (record["standardize"], record["scale_target"]) == (True, False)
    assert sorted(os.listdir(".")) == before  # no runs/, nothing written


def test_its_training_split_is_the_one_training_fits_on(people):
    """The means shown are those training imputes with: the same training rows."""
    from nntrain.config import load_config
    from nntrain.data.prepare import load_data

    record, _ = described(people)
    from nntrain.errors import NNTrainWarning

    config = load_config(people)
    with pytest.warns(NNTrainWarning, match="left out 1 row"):
        data = load_data(config, np.random.default_rng(config.seed))
    fills = {c["name"]: c["fill"] for c in data.meta["columns"] if "fill" in c}
    means = {c["name"]: c["mean"] for c in record["columns"] if c["name"] in fills}
    assert means == fills
    assert record["inputs"]["features"] == data.meta["features"]
    assert record["splits"] == {name: len(split) for name, split in data.splits.items()}


def test_the_table_fits_80_columns(people):
    result = run("data", people)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[:3] == [
        "people.csv: csv, delimiter ','",
        "rows: 12 read, 11 used; left out: 1 without 'label' (no target)",
        "splits: train 5, val 3, test 3",
    ]
    rows = [line.rstrip() for line in lines]
    assert "column  type      missing  in train  inputs  values (train)" in rows
    assert "age     number          1         1       2  22 to 50, mean 33.75" in rows
    assert "city    category        1         1       4  3 categories: Paris (2), Lyon (1)," in rows
    assert "member  boolean         1         0       1  0 to 1, mean 0.6" in rows
    assert "label   target          1         0       —  2 classes: yes (3), no (2)" in rows
    assert "id      ignore          0         0       0" in rows
    assert "no     2 (40%)  1 (33%)  2 (67%)  5 (45%)" in rows
    assert "yes    3 (60%)  2 (67%)  1 (33%)  6 (55%)" in rows
    assert lines[-2:] == [
        "inputs: 8 inputs from 4 columns: 2 numbers (+1 missing indicator), 1 boolean, 1 ",
        "category (4 one-hot columns); standardised (mean 0, std 1 on the training split)",
    ]
    assert DROPPED in result.stderr.splitlines()
    assert not Path("runs").exists()


def test_set_overrides_the_config(people):
    record, _ = described(people, "--set", "data.split.test=0", "--set", "data.features=[age,city]")
    assert record["splits"] == {"train": 8, "val": 3}
    assert {c["name"]: c["type"] for c in record["columns"]} == {
        "id": "ignore", "age": "number", "city": "category", "member": "ignore", "score": "ignore", "label": "target",
    }
    assert record["inputs"]["width"] == sum(c["inputs"] for c in record["columns"])


@pytest.mark.parametrize(
    "args,message",
    [
        (["--set", "data.target=kind"], "error: people.csv: no target column 'kind'; the columns are: id, age, city, member, score, label\n"),
        (["--set", "data.missing=error"], "error: people.csv, line 6, column 'label': missing value (data.missing is error)\n"),
        (["--set", "data.split.val=1"], "error: --set data.split.val=1: data.split.val: Input should be less than 1; got 1\n"),
    ],
)
def test_mistakes_are_errors_and_write_nothing(people, args, message):
    before = sorted(os.listdir("."))
    result = run("data", people, *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)
    assert sorted(os.listdir(".")) == before


def test_a_missing_config_file(in_tmp):
    result = run("data", "nope.yaml")
    assert (result.exit_code, result.stderr) == (2, "error: nope.yaml: config file not found\n")


def test_a_regression_table_with_dropped_rows_and_other(in_tmp):
    Path("r.tsv").write_text(
        "a\tb\tkind\ty\n1\t2\tx\t0.5\n2\t\ty\t1.5\n3\t4\tz\t2.5\n4\t5\tx\t\n5\t6\tw\t4.5\n6\t7\tx\t5.5\n7\t8\ty\t6.5\n8\t9\tv\t7.5\n"
    )
    config = write_config({
        "data": {
            "source": "tsv", "path": "r.tsv", "target": "y", "split": {"val": 0.2}, "batch_size": 2,
            "columns": {"b": {"missing": "drop"}, "kind": {"type": "category", "max_categories": 3}},
        },
        "model": {"layers": [{"units": 1, "activation": "linear"}]},
        "loss": "mse",
        "optimizer": {"name": "sgd"},
    })
    record, stderr = described(config)
    assert record["delimiter"] == "\t"
    assert record["rows"] == {
        "read": 8, "used": 6, "dropped": {"y": {"rows": 1, "why": "no target"}, "b": {"rows": 1, "why": "missing: drop"}},
    }
    assert "warning: r.tsv: left out 1 row with no value in 'b' (a missing cell in a column whose missing is drop)" in stderr
    assert record["splits"] == {"train": 4, "val": 2}
    kind = record["columns"][2]
    assert (kind["type"], kind["categories"], kind["kept"], kind["other"], kind["inputs"]) == ("category", 4, 2, 2, 3)
    # Six rows keep a target (0.5, 2.5, 4.5, 5.5, 6.5, 7.5): two for validation, four to train on.
    target = record["target"]
    assert (target["name"], target["kind"]) == ("y", "values")
    train, val = target["columns"][0]["train"], target["columns"][0]["val"]
    assert train == {"min": 0.5, "mean": 4.25, "std": pytest.approx(np.std([0.5, 2.5, 6.5, 7.5])), "max": 7.5}
    assert val == {"min": 4.5, "mean": 5.0, "std": 0.5, "max": 5.5}
    assert record["scale_target"] is True
    text = run("data", config)
    assert text.exit_code == 0 and max(map(len, text.stdout.splitlines())) <= 80
    assert "y       train  0.5  4.25  2.8614  7.5" in [line.rstrip() for line in text.stdout.splitlines()]


def test_a_parquet_table(people):
    import pyarrow.csv
    import pyarrow.parquet

    pyarrow.parquet.write_table(pyarrow.csv.read_csv("people.csv"), "people.parquet")
    raw = {**CLASSIFIER, "data": {**CLASSIFIER["data"], "source": "parquet", "path": "people.parquet"}}
    record, _ = described(write_config(raw, "p.yaml"))
    csv_record, _ = described(people)
    assert (record["path"], record["delimiter"]) == ("people.parquet", None)
    assert record["columns"] == csv_record["columns"] and record["target"] == csv_record["target"]


def test_a_built_in_set():
    record, stderr = described(CONFIGS / "xor.yaml")
    assert stderr == ""
    assert (record["source"], record["path"], record["splits"]) == ("xor", None, {"train": 4})
    assert record["inputs"] == {"width": 2, "encoding": None, "features": ["x1", "x2"]}
    assert [(c["name"], c["type"], c["min"], c["mean"], c["max"]) for c in record["columns"][:2]] == [
        ("x1", "number", 0.0, 0.5, 1.0), ("x2", "number", 0.0, 0.5, 1.0),
    ]
    assert record["target"]["classes"] == [{"name": "0", "train": 2, "all": 2}, {"name": "1", "train": 2, "all": 2}]
    text = run("data", CONFIGS / "xor.yaml")
    assert text.exit_code == 0 and text.stdout.startswith("xor: built-in set\nrows: 4\nsplits: train 4\n")
    assert "inputs: 2 inputs: the features as they are" in text.stdout


def test_a_scikit_learn_set(in_tmp):
    pytest.importorskip("sklearn")
    config = write_config({
        "data": {"source": "sklearn:iris", "split": {"val": 0.2}},
        "model": {"layers": [{"units": 3, "activation": "softmax"}]},
        "loss": "categorical_crossentropy",
        "optimizer": {"name": "sgd"},
    })
    record, _ = described(config)
    assert record["splits"] == {"train": 120, "val": 30}
    features = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    assert record["inputs"] == {"width": len(features), "encoding": None, "features": features}
    assert [c["name"] for c in record["columns"]] == [*features, "class"]
    # float32 values shown as float32 holds them: 4.3, not 4.300000190734863.
    assert {c["name"]: c["type"] for c in record["columns"]}["class"] == "target"
    assert min(c["min"] for c in record["columns"][:4]) == 0.1
    assert [(c["name"], c["train"], c["val"]) for c in record["target"]["classes"]] == [
        ("setosa", 40, 10), ("versicolor", 40, 10), ("virginica", 40, 10),
    ]
    assert not Path("runs").exists()


def test_the_iris_config():
    record, _ = described(CONFIGS / "iris.yaml")
    assert record["splits"] == {"train": 90, "val": 30, "test": 30}
    assert all((c["train"], c["val"], c["test"]) == (30, 10, 10) for c in record["target"]["classes"])
    assert record["inputs"]["width"] == 4 and record["rows"] == {"read": 150, "used": 150, "dropped": {}}
    assert {c["type"] for c in record["columns"]} == {"number", "target"}


def test_a_table_with_decimal_commas(in_tmp):
    """The file is read as training reads it: data.decimal and the sniffed delimiter included."""
    Path("eu.csv").write_text("x;kind;y\n1,5;a;0\n2,5;b;1\n3,0;a;0\n4,5;b;1\n")
    config = write_config({
        "data": {"source": "csv", "path": "eu.csv", "target": "y", "decimal": ","},
        "model": {"layers": [{"units": 1, "activation": "sigmoid"}]},
        "loss": "binary_crossentropy",
        "optimizer": {"name": "sgd"},
    })
    record, _ = described(config)
    assert record["delimiter"] == ";"
    x = record["columns"][0]
    assert (x["type"], x["min"], x["mean"], x["max"]) == ("number", 1.5, 2.875, 4.5)
    assert record["target"]["classes"] == [{"name": "0", "train": 2, "all": 2}, {"name": "1", "train": 2, "all": 2}]


def test_the_weight_column_and_the_class_weights_are_shown(tmp_path):
    lines = ["a,kind,w"] + [f"{i % 7},{'ab'[i % 3 == 0]},{i % 3 + 1}" for i in range(30)]
    (tmp_path / "w.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "w.yaml").write_text(
        "data: {source: csv, path: w.csv, target: kind, weight: w}\nmodel: {layers: [{units: 2, activation: softmax}]}\n"
        "loss: categorical_crossentropy\ntraining: {class_weight: balanced}\n"
    )
    result = json.loads(run("data", tmp_path / "w.yaml", "--json").stdout)
    weight = next(c for c in result["columns"] if c["name"] == "w")
    assert (weight["type"], weight["inputs"], weight["min"], weight["max"]) == ("weight", 0, 1.0, 3.0)
    assert [(c["name"], c["all"], c["weight"]) for c in result["target"]["classes"]] == [("a", 20, 30 / 40), ("b", 10, 30 / 20)]
    text = run("data", tmp_path / "w.yaml").stdout
    assert "w       weight" in text and "weight" in text.split("classes")[-1]


@pytest.mark.parametrize("source,expected", [("csv", "a CSV file"), ("parquet", "a Parquet file"), ("npz", "an .npz file")])
def test_a_data_path_that_is_not_a_regular_file_is_refused_at_once(tmp_path, source, expected):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # read, it would wait for a writer for ever
    target = "\n  target: y" if source != "npz" else ""
    (tmp_path / "c.yaml").write_text(
        f"data:\n  source: {source}\n  path: pipe{target}\nmodel: {{layers: [{{units: 1}}]}}\nloss: mse\n"
    )
    result = run("fit", tmp_path / "c.yaml", "-q", "--run-dir", tmp_path / "r")
    assert (result.exit_code, result.stderr) == (2, f"error: {fifo}: not a regular file (a device, FIFO or socket); expected {expected}\n")
    assert not (tmp_path / "r").exists()
