"""Tables (issue #14): CSV, TSV and Parquet files of numbers, booleans, categories and missing cells.

Type inference, encodings, imputation and indicators against hand computations and against
scikit-learn's encoders on the same data; everything fitted on the training split only; predict on
raw rows reproduces eval; every error a user can make with a table, by its message.
"""

import csv
import io
import json
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_config, run_cli
from nntrain.data.columns import Encoding, fit_encoding, infer_type
from nntrain.data.prepare import load_data
from nntrain.data.reader import NA_VALUES, read_table
from nntrain.errors import DataError, NNTrainWarning

LINEAR1 = {"layers": [{"units": 1, "activation": "linear"}]}
NA = set(NA_VALUES)


def softmax(k):
    return {"layers": [{"units": k, "activation": "softmax"}]}


def config(path, model=LINEAR1, loss="mse", **data):
    """A float64 config reading table ``path`` (target ``y``: a regression target unless the loss
    classifies), neither x nor y scaled unless asked, every row in the training split in file order."""
    data = {"source": "csv", "path": str(path), "target": "y", "standardize": False, "scale_target": False, **data}
    return make_config(data=data, model=model, loss=loss, metrics=[], dtype="float64")


def load(path, seed=0, **kw):
    return load_data(config(path, **kw), np.random.default_rng(seed))


def write_csv(path, header, rows, delimiter=","):
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows([header, *rows])
    Path(path).write_text(out.getvalue())
    return Path(path)


def by_name(data, split="train"):
    """{feature name: column} of a split's encoded x."""
    x = np.asarray(data.splits[split].x)
    return {name: x[:, j] for j, name in enumerate(data.meta["features"])}


def clean(cell):
    """A cell as a category: trimmed, NaN where missing (what sklearn gets)."""
    s = cell.strip()
    return np.nan if s in NA else s


def number(cell):
    """A cell as a number (true/false as 1/0), NaN where missing."""
    s = cell.strip()
    if s in NA:
        return np.nan
    return {"true": 1.0, "false": 0.0}[s.lower()] if s.lower() in ("true", "false") else float(s)


class caught(warnings.catch_warnings):
    """Records every warning (``always``), for their exact messages."""

    def __init__(self):
        super().__init__(record=True)

    def __enter__(self):
        records = super().__enter__()
        warnings.simplefilter("always")
        return records


def messages(records):
    return [str(w.message) for w in records if issubclass(w.category, NNTrainWarning)]


def unseen(origin, column, count, what="all zeros"):
    """The warning about ``count`` rows whose category (or missing cell) training never had."""
    rows = "row holds" if count == 1 else "rows hold"
    return f"{origin}, column {column!r}: {count} {rows} a category (or a missing cell) the training split never had; encoded as {what}"


# --------------------------------------------------------------------------------------------------
# Type inference, by hand


def test_types_from_the_cells(in_tmp):
    Path("d.csv").write_text(
        "num,flag,island,size,yn,word,y\n"
        "1, true, Biscoe,10,yes,1,1\n"
        " 2.5 ,false,Dream ,2,no,a,2\n"
        ",TRUE,Biscoe,1,yes,b,3\n"
        "NA,,n/a,2,,c,4\n"
        "7,tRue,  NULL ,10,no,d,5\n"
    )
    table = read_table("d.csv")
    kinds = {name: infer_type(table, name) for name in table.names}
    assert kinds == {
        "num": "number", "flag": "boolean", "island": "category", "size": "number", "yn": "category",
        "word": "category", "y": "number",
    }  # fmt: skip
    assert table["island"].levels == ["Biscoe", "Dream"]  # trimmed, and "n/a", " NULL " are missing
    data = load("d.csv", columns={"size": "category"})
    assert data.meta["features"] == [
        "num", "num=<missing>", "flag", "flag=<missing>", "island=Biscoe", "island=Dream", "island=<missing>",
        "size=1", "size=2", "size=10", "yn=no", "yn=yes", "yn=<missing>", "word=1", "word=a", "word=b",
        "word=c", "word=d",
    ]  # fmt: skip
    x = by_name(data)
    np.testing.assert_array_equal(x["num"], [1, 2.5, 10.5 / 3, 10.5 / 3, 7])  # mean of 1, 2.5, 7
    np.testing.assert_array_equal(x["num=<missing>"], [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(x["flag"], [1, 0, 1, 0.75, 1])  # true, false, TRUE, -, tRue
    np.testing.assert_array_equal(x["flag=<missing>"], [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(x["island=Biscoe"], [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(x["island=Dream"], [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(x["island=<missing>"], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(x["size=10"], [1, 0, 0, 0, 1])  # numeric-looking, sorted as numbers
    np.testing.assert_array_equal(x["yn=<missing>"], [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(x["word=1"], [1, 0, 0, 0, 0])  # one number among words: a category
    assert data.meta["columns"][1] == {"name": "flag", "type": "boolean", "fill": 0.75, "indicator": True}
    np.testing.assert_array_equal(data.train.y[:, 0], [1, 2, 3, 4, 5])


def test_numeric_looking_categories_and_classes_sort_as_numbers(in_tmp):
    write_csv("d.csv", ["code", "y"], [["10", "10"], ["2", "2"], ["1.5", "1"], ["2", "10"], ["-3", "2"], ["10", "1"]])
    data = load("d.csv", model=softmax(3), loss="categorical_crossentropy", columns={"code": "category"})
    assert data.meta["features"] == ["code=-3", "code=1.5", "code=2", "code=10"]
    assert data.meta["classes"] == ["1", "2", "10"]
    np.testing.assert_array_equal(data.train.y, [2, 1, 0, 2, 1, 0])
    np.testing.assert_array_equal(np.asarray(data.train.x).argmax(axis=1), [3, 2, 1, 2, 0, 3])
    words = write_csv("w.csv", ["code", "y"], [["b10", "1"], ["b2", "2"], ["a", "3"]])
    assert [f for f in load(words).meta["features"]] == ["code=a", "code=b10", "code=b2"]  # as strings


@pytest.mark.parametrize("spelling", sorted(NA))
def test_every_na_spelling_is_a_missing_cell(in_tmp, spelling):
    write_csv("d.csv", ["n", "c", "y"], [["1", "a", "1"], [spelling, spelling, "2"], ["4", "b", "3"], [f" {spelling} ", "a", "4"]])
    x = by_name(load("d.csv"))
    np.testing.assert_array_equal(x["n"], [1, 2.5, 4, 2.5])
    np.testing.assert_array_equal(x["n=<missing>"], [0, 1, 0, 1])
    np.testing.assert_array_equal(x["c=<missing>"], [0, 1, 0, 0])
    assert sorted(x) == ["c=<missing>", "c=a", "c=b", "n", "n=<missing>"]


def test_na_values_adds_spellings(in_tmp):
    write_csv("d.csv", ["n", "c", "y"], [["1", "a", "1"], ["?", "?", "2"], ["4", " ? ", "3"], ["7", "b", "4"]])
    with pytest.raises(DataError) as e:
        load("d.csv")
    assert str(e.value) == (
        "d.csv, line 3, column 'n': '?' in a column of numbers; if it means a missing value, add it to "
        "data.na_values; if the column is a category, declare it (data.columns: {n: category})"
    )
    data = load("d.csv", na_values=["?"])
    x = by_name(data)
    assert data.meta["features"] == ["n", "n=<missing>", "c=a", "c=b", "c=<missing>"]
    np.testing.assert_array_equal(x["n"], [1, 4, 4, 7])
    np.testing.assert_array_equal(x["c=<missing>"], [0, 1, 1, 0])


def test_declared_types_win(in_tmp):
    write_csv("d.csv", ["a", "b", "c", "id", "y"], [["1", "yes", "true", "u1", "1"], ["2", "no", "false", "u2", "2"], ["2", "yes", "", "u3", "3"]])
    data = load("d.csv", columns={"a": "category", "c": {"type": "category"}, "id": "ignore"})
    assert data.meta["features"] == ["a=1", "a=2", "b=no", "b=yes", "c=false", "c=true", "c=<missing>"]
    np.testing.assert_array_equal(by_name(data)["c=<missing>"], [0, 0, 1])
    as_number = load("d.csv", columns={"c": "number", "b": "boolean", "id": "ignore"})  # yes/no declared boolean
    x = by_name(as_number)
    np.testing.assert_array_equal(x["b"], [1, 0, 1])
    np.testing.assert_array_equal(x["c"], [1, 0, 0.5])


def test_header_names_are_trimmed(in_tmp):
    Path("d.csv").write_text("a, b , y\n1, x, 3\n4, z, 6\n")
    data = load("d.csv")
    assert data.meta["features"] == ["a", "b=x", "b=z"]
    np.testing.assert_array_equal(np.asarray(data.train.x), [[1, 1, 0], [4, 0, 1]])
    np.testing.assert_array_equal(data.train.y[:, 0], [3, 6])


def test_a_declared_boolean_holds_only_true_and_false(in_tmp):
    write_csv("d.csv", ["a", "y"], [["0", "1"], ["1", "2"], ["5", "3"]])
    with pytest.raises(DataError) as e:
        load("d.csv", columns={"a": "boolean"})
    assert str(e.value).startswith("d.csv, line 4, column 'a': ") and "is not true or false" in str(e.value)
    write_csv("d.csv", ["a", "y"], [["yes", "1"], ["no", "2"], ["maybe", "3"]])
    with pytest.raises(DataError) as e:
        load("d.csv", columns={"a": "boolean"})
    assert str(e.value) == (
        "d.csv, line 4, column 'a': 'maybe' is not true or false; if it means a missing value, add it to "
        "data.na_values; if the column is a category, declare it (data.columns: {a: category})"
    )


# --------------------------------------------------------------------------------------------------
# Against scikit-learn on the same data

HEADER = ["island", "sex", "bill", "flipper", "flag", "year", "y"]


def penguin_cells(n=48, seed=7):
    """Rows of raw cells: categories with stray spaces and NA spellings, numbers with blanks."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        island = rng.choice(["Biscoe", " Biscoe", "Dream", "Dream ", "Torgersen", "", "NA"], p=[0.3, 0.1, 0.2, 0.1, 0.2, 0.05, 0.05])
        sex = rng.choice(["male", "female", " female", "n/a"], p=[0.45, 0.35, 0.1, 0.1])
        bill = "" if i in (1, 5) or rng.random() < 0.15 else f"{rng.normal(44, 5):.2f}"
        flipper = f"{rng.normal(200, 14):.1f}"
        flag = "" if i == 2 else rng.choice(["true", "false"])
        rows.append([island, sex, bill, flipper, flag, str(rng.choice([2007, 2008, 2009])), f"{rng.normal(4000, 800):.0f}"])
    rows[0][0], rows[3][0], rows[4][1] = "", "NA", "n/a"  # missing cells in both, whatever the draw
    return rows


def sklearn_one_hot(cells, **kw):
    """scikit-learn's OneHotEncoder fitted on the cells of one column (trimmed, NaN where missing)."""
    from sklearn.preprocessing import OneHotEncoder

    encoder = OneHotEncoder(sparse_output=False, **kw)
    encoder.fit(np.array([[clean(c)] for c in cells], dtype=object))
    return encoder


def one_hot_columns(encoder, column, cells):
    """{nntrain's feature name: the encoder's column} for ``cells`` (``column=<missing>`` is sklearn's
    NaN category, ``column=<other>`` its infrequent one)."""
    out = encoder.transform(np.array([[clean(c)] for c in cells], dtype=object))
    names = []
    for name in encoder.get_feature_names_out([column]):
        value = name.removeprefix(f"{column}_")
        names.append(f"{column}=" + {"nan": "<missing>", "infrequent_sklearn": "<other>"}.get(value, value))
    return dict(zip(names, out.T))


@pytest.fixture
def penguins(in_tmp):
    rows = penguin_cells()
    write_csv("p.csv", HEADER, rows)
    return rows


def test_one_hot_matches_sklearn(penguins):
    data = load("p.csv")
    x = by_name(data)
    for j, column in enumerate(["island", "sex"]):
        cells = [r[j] for r in penguins]
        expected = one_hot_columns(sklearn_one_hot(cells, handle_unknown="ignore"), column, cells)
        ours = [f for f in data.meta["features"] if f.startswith(f"{column}=")]
        assert ours == list(expected)  # same categories, same order (sorted, missing last)
        for name, values in expected.items():
            np.testing.assert_array_equal(x[name], values, err_msg=name)
    assert [f for f in data.meta["features"] if f.startswith("island=")] == [
        "island=Biscoe", "island=Dream", "island=Torgersen", "island=<missing>",
    ]  # fmt: skip


def test_unseen_categories_match_sklearn_and_warn(penguins):
    data = load("p.csv")
    encoding = Encoding.from_json(data.meta["columns"])
    new = [["Atlantis", "male", "40", "190", "true", "2008", "1"], ["Dream", "other", "", "190", "", "2008", "1"],
           [" Atlantis ", "", "41", "180", "false", "2009", "1"], ["", "unknown", "42", "185", "true", "2007", "1"]]  # fmt: skip
    write_csv("new.csv", HEADER, new)
    with caught() as records:
        x = encoding.transform(read_table("new.csv"))
    # Blank cells are <missing> (training had missing cells in both columns): not counted.
    assert messages(records) == [unseen("new.csv", "island", 2), unseen("new.csv", "sex", 2)]
    ours = dict(zip(encoding.features, x.T))
    for j, column in enumerate(["island", "sex"]):
        encoder = sklearn_one_hot([r[j] for r in penguins], handle_unknown="ignore")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's own warning about unknown categories
            expected = one_hot_columns(encoder, column, [r[j] for r in new])
        for name, values in expected.items():
            np.testing.assert_array_equal(ours[name], values, err_msg=name)


FREQUENT = ["d", "a", "c", "a", "e", "d", "b", "d", "e", "a", "f", "c", "d", "b", "g"]  # d4 a3 b2 c2 e2 f1 g1


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 8])
def test_max_categories_matches_sklearn(in_tmp, k):
    # k = 7, as many as there are categories: scikit-learn still folds the least frequent one ("f")
    # into the infrequent column (the limit counts it), as the rule in nntrain.data.columns says.
    write_csv("d.csv", ["c", "y"], [[c, str(i)] for i, c in enumerate(FREQUENT)])
    with caught() as records:
        data = load("d.csv", max_categories=k)
    assert messages(records) == []  # a category folded into <other> is one the training split had
    x = by_name(data)
    encoder = sklearn_one_hot(FREQUENT, handle_unknown="infrequent_if_exist", max_categories=k)
    expected = one_hot_columns(encoder, "c", FREQUENT)
    assert data.meta["features"] == list(expected)
    assert len(expected) == min(k, 7)
    for name, values in expected.items():
        np.testing.assert_array_equal(x[name], values, err_msg=name)
    new = ["zz", "g", "d", "zz"]
    write_csv("new.csv", ["c", "y"], [[c, "0"] for c in new])
    with caught() as records:
        ours = dict(zip(data.meta["features"], Encoding.from_json(data.meta["columns"]).transform(read_table("new.csv")).T))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = one_hot_columns(encoder, "c", new)
    for name, values in theirs.items():
        np.testing.assert_array_equal(ours[name], values, err_msg=name)
    # Unseen "zz" (twice) goes to <other> where categories were folded, and is counted either way;
    # "g" was a training category (folded into <other> where k <= 7): not one training never had.
    assert messages(records) == [unseen("new.csv", "c", 2, "<other>" if k <= 7 else "all zeros")]


def test_max_categories_by_hand_with_missing_cells(in_tmp):
    # The limit counts <other> but not <missing>: a missing cell is its own column, after <other>.
    cells = ["a", "a", "a", "b", "b", "", "c", "NA", "d"]
    write_csv("d.csv", ["c", "y"], [[c, str(i)] for i, c in enumerate(cells)])
    with caught() as records:
        data = load("d.csv", columns={"c": {"type": "category", "max_categories": 3}})
    assert messages(records) == []
    assert data.meta["features"] == ["c=a", "c=b", "c=<other>", "c=<missing>"]
    np.testing.assert_array_equal(
        np.asarray(data.train.x), [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
    )
    assert data.meta["columns"][0] == {"name": "c", "type": "category", "categories": ["a", "b"], "other": ["c", "d"], "missing": True}


@pytest.mark.parametrize("strategy", ["mean", "median"])
def test_imputation_and_indicators_match_sklearn(penguins, strategy):
    from sklearn.impute import SimpleImputer

    data = load("p.csv", missing=strategy)
    x = by_name(data)
    numeric = ["bill", "flipper", "flag", "year"]
    raw = np.array([[number(r[HEADER.index(c)]) for c in numeric] for r in penguins])
    imputer = SimpleImputer(strategy=strategy, add_indicator=True).fit(raw)
    out = imputer.transform(raw)
    expected = dict(zip(numeric, out.T[: len(numeric)]))
    indicators = imputer.indicator_.features_  # the columns with a missing cell in training
    expected.update({f"{numeric[j]}=<missing>": out[:, len(numeric) + i] for i, j in enumerate(indicators)})
    assert sorted(indicators.tolist()) == [0, 2]  # bill and flag have blanks; flipper and year none
    assert [f for f in data.meta["features"] if f.split("=")[0] in numeric] == ["bill", "bill=<missing>", "flipper", "flag", "flag=<missing>", "year"]
    for name, values in expected.items():
        np.testing.assert_allclose(x[name], values, rtol=0, atol=1e-12, err_msg=name)
    fills = {c["name"]: c["fill"] for c in data.meta["columns"] if "fill" in c}
    np.testing.assert_allclose([fills[c] for c in numeric], imputer.statistics_, rtol=0, atol=1e-12)


def test_per_column_missing_policy(penguins):
    data = load("p.csv", missing="mean", columns={"bill": {"missing": "median"}})
    fills = {c["name"]: c["fill"] for c in data.meta["columns"] if "fill" in c}
    bills = np.array([number(r[2]) for r in penguins])
    flags = np.array([number(r[4]) for r in penguins])
    assert fills["bill"] == np.median(bills[~np.isnan(bills)])
    assert fills["flag"] == pytest.approx(np.nanmean(flags), abs=1e-12)


def test_standardisation_matches_standard_scaler(penguins):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    plain, scaled = load("p.csv"), load("p.csv", standardize=True)
    x, xs = by_name(plain), by_name(scaled)
    numbers_ = ["bill", "flipper", "year"]  # booleans, indicators and one-hot columns stay 0/1
    raw = np.array([[number(r[HEADER.index(c)]) for c in numbers_] for r in penguins])
    pipeline = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()).fit(raw)
    expected = pipeline.transform(raw)
    for j, name in enumerate(numbers_):
        np.testing.assert_allclose(xs[name], expected[:, j], rtol=0, atol=1e-12, err_msg=name)
    for name in x:
        if name not in numbers_:
            np.testing.assert_array_equal(xs[name], x[name], err_msg=name)
    stats = scaled.meta["standardize"]
    features = scaled.meta["features"]
    scaler = pipeline[-1]
    for j, name in enumerate(numbers_):
        k = features.index(name)
        assert stats["mean"][k] == pytest.approx(scaler.mean_[j], abs=1e-12)
        assert stats["std"][k] == pytest.approx(scaler.scale_[j], abs=1e-12)
    assert all(stats["mean"][k] == 0 and stats["std"][k] == 1 for k, f in enumerate(features) if f not in numbers_)


def test_standardising_a_constant_column_leaves_it_at_zero(in_tmp):
    from sklearn.preprocessing import StandardScaler

    write_csv("d.csv", ["k", "v", "y"], [["5", str(v), "1"] for v in (1, 2, 4)])
    data = load("d.csv", standardize=True)
    np.testing.assert_allclose(np.asarray(data.train.x), StandardScaler().fit_transform([[5, 1], [5, 2], [5, 4]]), atol=1e-12)
    assert data.meta["standardize"]["std"][0] == 1.0


def test_the_encoding_survives_json(penguins):
    data = load("p.csv")
    again = Encoding.from_json(json.loads(json.dumps(data.meta["columns"])))
    np.testing.assert_array_equal(again.transform(read_table("p.csv")), np.asarray(data.train.x))


# --------------------------------------------------------------------------------------------------
# A property: random tables of categories and numbers with blanks

CELLS = st.lists(
    st.tuples(
        st.sampled_from(["x", "y", " z", "Biscoe", "", "NA"]),
        st.one_of(st.just(""), st.integers(-1000, 1000).map(lambda v: f"{v / 4:g}")),
    ),
    min_size=1,
    max_size=30,
).filter(lambda rows: any(c.strip() not in NA for c, _ in rows) and any(v for _, v in rows))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CELLS)
def test_random_tables_encode_as_sklearn_would(rows):
    from sklearn.impute import SimpleImputer

    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder) / "t.csv", ["c", "n"], rows)
        table = read_table(path)
        encoding = fit_encoding(table, ["c", "n"], config(path, target="n"))
        x = dict(zip(encoding.features, encoding.transform(table).T))
    cells = [c for c, _ in rows]
    one_hot = np.array([v for f, v in x.items() if f.startswith("c=")]).T
    np.testing.assert_array_equal(one_hot.sum(axis=1), 1)  # every row is one (seen) category, or <missing>
    expected = one_hot_columns(sklearn_one_hot(cells, handle_unknown="ignore"), "c", cells)
    assert [f for f in x if f.startswith("c=")] == list(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(x[name], values)
    values = np.array([number(v) for _, v in rows])
    present = values[~np.isnan(values)]
    np.testing.assert_allclose(x["n"], np.where(np.isnan(values), present.mean(), values), rtol=0, atol=1e-12)
    if np.isnan(values).any():
        np.testing.assert_array_equal(x["n=<missing>"], np.isnan(values))
        imputed = SimpleImputer(strategy="mean", add_indicator=True).fit_transform(values[:, None])
        np.testing.assert_allclose(x["n"], imputed[:, 0], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(x["n=<missing>"], imputed[:, 1])
    else:
        assert "n=<missing>" not in x


# --------------------------------------------------------------------------------------------------
# Fitted on the training split only


def leaky_rows(val=(), test=(), n=40, seed=3):
    """Rows of (id, bill, island, y): ordinary in training; the rows ``val`` and ``test`` hold what
    training never sees -- a bill of a million or a blank (training has none), the island "Atlantis"
    (every val row, every other test row)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        bill, island = f"{rng.normal(44, 5):.2f}", ["Biscoe", "Dream"][i % 2]
        if i in val or i in test:
            bill = "1000000" if i % 3 else ""
            island = "Atlantis" if i in val or i % 2 else island
        rows.append([str(i), bill, island, f"{rng.normal(4000, 800):.0f}"])
    return rows


SPLIT = {"val": 0.2, "test": 0.2}


def leaky_table(seed=5):
    """d.csv of ``leaky_rows``, its held-out rows those the split of seed ``seed`` holds out (found by
    reading an ordinary version first: the split of a regression target depends on the seed and the
    number of rows only); (rows, the ids of each split, the number of "Atlantis" rows of val and test)."""
    write_csv("d.csv", ["id", "bill", "island", "y"], leaky_rows())
    first = load("d.csv", seed=seed, split=SPLIT)
    ids = {name: by_name(first, name)["id"].astype(int) for name in ("train", "val", "test")}
    assert [len(v) for v in ids.values()] == [24, 8, 8]
    rows = leaky_rows(set(ids["val"]), set(ids["test"]))
    write_csv("d.csv", ["id", "bill", "island", "y"], rows)
    atlantis = {name: sum(rows[i][2] == "Atlantis" for i in ids[name]) for name in ("val", "test")}
    assert atlantis["val"] == 8 and 0 < atlantis["test"] < 8
    return rows, ids, atlantis


def test_no_leakage_from_val_and_test(in_tmp):
    rows, ids, atlantis = leaky_table()
    with caught() as records:
        data = load("d.csv", seed=5, split=SPLIT, standardize=True, scale_target=True)
    assert messages(records) == [
        unseen("d.csv (val split)", "island", atlantis["val"]), unseen("d.csv (test split)", "island", atlantis["test"])
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = load("d.csv", seed=5, split=SPLIT)
    for name in ("train", "val", "test"):  # the same split as the ordinary table's
        np.testing.assert_array_equal(by_name(plain, name)["id"], ids[name])
    train = [rows[i] for i in ids["train"]]
    bills = np.array([float(r[1]) for r in train])
    y = np.array([float(r[3]) for r in train])
    assert data.meta["features"] == ["id", "bill", "island=Biscoe", "island=Dream"]  # no indicator: no blank in training
    assert data.meta["columns"] == [
        {"name": "id", "type": "number", "fill": float(np.mean(ids["train"])), "indicator": False},
        {"name": "bill", "type": "number", "fill": float(bills.mean()), "indicator": False},
        {"name": "island", "type": "category", "categories": ["Biscoe", "Dream"], "other": [], "missing": False},
    ]
    stats = data.meta["standardize"]
    np.testing.assert_allclose(stats["mean"], [np.mean(ids["train"]), bills.mean(), 0, 0], rtol=1e-12)
    np.testing.assert_allclose(stats["std"], [np.std(ids["train"]), bills.std(), 1, 1], rtol=1e-12)
    np.testing.assert_allclose(data.meta["target_scale"]["mean"], [y.mean()], rtol=1e-12)
    np.testing.assert_allclose(data.meta["target_scale"]["std"], [y.std()], rtol=1e-12)
    for name in ("val", "test"):
        x = by_name(data, name)
        for r, i in enumerate(ids[name]):
            bill, island = rows[i][1], rows[i][2]
            raw = float(bill) if bill else bills.mean()  # a blank takes the training mean
            assert x["bill"][r] == pytest.approx((raw - bills.mean()) / bills.std(), rel=1e-12, abs=1e-12)
            assert (x["island=Biscoe"][r], x["island=Dream"][r]) == {"Atlantis": (0, 0), "Biscoe": (1, 0), "Dream": (0, 1)}[island]


@pytest.mark.slow
def test_eval_warns_about_categories_its_training_split_never_had(in_tmp):
    rows, ids, atlantis = leaky_table()
    Path("c.yaml").write_text(
        "seed: 5\ndata: {source: csv, path: d.csv, target: y, split: {val: 0.2, test: 0.2}}\n"
        "model: {layers: [{units: 4, activation: tanh}, {units: 1, activation: linear}]}\nloss: mse\n"
        "training: {epochs: 2}\nmetrics: [mae]\n"
    )
    fitted = run_cli("fit", "c.yaml", "-q", "--no-plots", "--run-dir", "r")
    assert fitted.exit_code == 0, fitted.output
    assert f"warning: {unseen('d.csv (val split)', 'island', 8)}\n" in fitted.stderr
    assert f"warning: {unseen('d.csv (test split)', 'island', atlantis['test'])}\n" in fitted.stderr
    # eval warns about the split it evaluates, not the others: none for train, val's 8 rows for val.
    for split, count in (("train", 0), ("val", 8), ("test", atlantis["test"])):
        evaluated = run_cli("eval", "r", "--split", split, "--json")
        assert evaluated.exit_code == 0, evaluated.output
        warned = [line for line in evaluated.stderr.splitlines() if line.startswith("warning: ")]
        assert len(warned) == (count > 0), (split, warned)
        assert all(f"column 'island': {count} rows hold a category" in line for line in warned), (split, warned)


def test_scale_target_keeps_the_digits_of_a_large_offset(in_tmp):
    # As x is standardised in float64 before the cast to the config's dtype, so should the targets be:
    # a float32 cast first rounds 1e6 + 0.01 k to steps of 0.0625, more than the targets' spread.
    y = 1e6 + 0.01 * np.arange(20)
    write_csv("d.csv", ["a", "y"], [[str(i), f"{v:.2f}"] for i, v in enumerate(y)])
    data = load_data(
        make_config(data={"source": "csv", "path": "d.csv", "target": "y"}, model=LINEAR1, loss="mse", metrics=[]),
        np.random.default_rng(0),
    )
    assert data.train.y.dtype == np.float32
    assert data.meta["target_scale"]["mean"] == pytest.approx([y.mean()], rel=1e-12)
    assert data.meta["target_scale"]["std"] == pytest.approx([y.std()], rel=1e-9)
    np.testing.assert_allclose(data.train.y[:, 0], (y - y.mean()) / y.std(), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------------------------------
# Missing targets and cells: dropped, or an error


def test_rows_without_a_target_are_left_out(in_tmp):
    write_csv("d.csv", ["a", "c", "y"], [["1", "p", "a"], ["2", "q", ""], ["3", "p", "b"], ["", "q", "NA"], ["5", "q", "b"]])
    with caught() as records:
        data = load("d.csv", model=softmax(2), loss="categorical_crossentropy")
    assert messages(records) == ["d.csv: left out 2 rows with no value in 'y' (its target)"]
    np.testing.assert_array_equal(np.asarray(data.train.x), [[1, 1, 0], [3, 1, 0], [5, 0, 1]])  # a's fill: 3 from the rows kept
    np.testing.assert_array_equal(data.train.y, [0, 1, 1])
    assert data.meta["features"] == ["a", "c=p", "c=q"]  # the blank in a left with its row: no indicator


def test_missing_drop_leaves_rows_out_and_counts_each_once(in_tmp):
    rows = [["1", "p", "1"], ["", "q", "2"], ["3", "", "3"], ["", "p", ""], ["5", "q", "5"], ["6", "", "6"]]
    write_csv("d.csv", ["a", "c", "y"], rows)
    with caught() as records:
        data = load("d.csv", missing="drop")
    assert messages(records) == [
        "d.csv: left out 1 row with no value in 'y' (its target)",
        "d.csv: left out 1 row with no value in 'a' (a missing cell in a column whose missing is drop)",
        "d.csv: left out 2 rows with no value in 'c' (a missing cell in a column whose missing is drop)",
    ]
    np.testing.assert_array_equal(data.train.y[:, 0], [1, 5])
    with caught() as records:
        only_a = load("d.csv", columns={"a": {"missing": "drop"}})
    assert messages(records) == [
        "d.csv: left out 1 row with no value in 'y' (its target)",
        "d.csv: left out 1 row with no value in 'a' (a missing cell in a column whose missing is drop)",
    ]
    assert only_a.meta["features"] == ["a", "c=p", "c=q", "c=<missing>"]
    np.testing.assert_array_equal(only_a.train.y[:, 0], [1, 3, 5, 6])


def test_missing_error_names_the_first_missing_cell(in_tmp):
    write_csv("d.csv", ["a", "c", "y"], [["1", "p", "1"], ["2", "", "2"], ["", "q", "3"]])
    with pytest.raises(DataError) as e:
        load("d.csv", missing="error")
    assert str(e.value) == "d.csv, line 4, column 'a': missing value (data.missing is error)"
    with pytest.raises(DataError) as e:
        load("d.csv", columns={"c": {"missing": "error"}})
    assert str(e.value) == "d.csv, line 3, column 'c': missing value (data.missing is error)"


# --------------------------------------------------------------------------------------------------
# Sources: CSV, TSV, Parquet; delimiters


def test_tsv_parquet_and_delimiters_read_the_same_table(penguins):
    import pyarrow as pa
    import pyarrow.parquet as pq

    reference = load("p.csv")
    write_csv("p.tsv", HEADER, penguins, delimiter="\t")
    write_csv("semi.csv", HEADER, penguins, delimiter=";")
    write_csv("pipe.txt", HEADER, penguins, delimiter="|")
    columns = {
        "island": pa.array([None if clean(r[0]) is np.nan else r[0] for r in penguins], pa.string()),
        "sex": pa.array([None if clean(r[1]) is np.nan else r[1] for r in penguins], pa.string()),
        "bill": pa.array([None if math.isnan(number(r[2])) else number(r[2]) for r in penguins], pa.float64()),
        "flipper": pa.array([float(r[3]) for r in penguins], pa.float64()),
        "flag": pa.array([None if not r[4] else r[4] == "true" for r in penguins], pa.bool_()),
        "year": pa.array([int(r[5]) for r in penguins], pa.int64()),
        "y": pa.array([int(r[6]) for r in penguins], pa.int64()),
    }
    pq.write_table(pa.table(columns), "p.parquet")
    for path, kw in [("p.tsv", {"source": "tsv"}), ("p.parquet", {"source": "parquet"}), ("semi.csv", {}), ("pipe.txt", {"delimiter": "|"})]:
        data = load(path, **kw)
        assert data.meta == reference.meta, path
        np.testing.assert_array_equal(np.asarray(data.train.x), np.asarray(reference.train.x), err_msg=path)
        np.testing.assert_array_equal(data.train.y, reference.train.y, err_msg=path)


# --------------------------------------------------------------------------------------------------
# Predict on raw rows reproduces eval

CLASSIFIER = """\
seed: 0
data: {source: csv, path: p.csv, target: species, batch_size: 16}
model: {layers: [{units: 8, activation: tanh}, {units: 3, activation: softmax}]}
loss: categorical_crossentropy
optimizer: {name: adam, lr: 0.02}
training: {epochs: 30}
metrics: [accuracy]
"""


def species_rows(n=60, seed=0):
    """bill (blanks), island (no blanks), sex (blanks), tall (booleans, blanks), species (two blanks)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        species = ["Adelie", "Gentoo", "Chinstrap"][i % 3]
        bill = "" if i % 7 == 3 else f"{38 + 5 * (i % 3) + rng.normal():.1f}"
        island = ["Biscoe", "Dream", " Torgersen"][(i // 3 + i % 3) % 3]
        sex = ["male", "female", "", "NA"][i % 4]
        tall = "" if i % 9 == 0 else ["true", "false"][i % 2]
        rows.append([bill, island, sex, tall, "" if i in (10, 44) else species])
    return rows


def predictions(result):
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifier")
    rows = species_rows()
    write_csv(root / "p.csv", ["bill", "island", "sex", "tall", "species"], rows)
    (root / "c.yaml").write_text(CLASSIFIER)
    fitted = run_cli("fit", root / "c.yaml", "-q", "--no-plots", "--run-dir", root / "r")
    assert fitted.exit_code == 0, fitted.output
    return root, rows


def test_predict_on_the_training_rows_reproduces_eval(classifier, monkeypatch):
    root, rows = classifier
    monkeypatch.chdir(root)
    evaluated = run_cli("eval", "r", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    record = json.loads(evaluated.stdout)
    predicted = run_cli("predict", "r", "p.csv", "--proba")
    assert predicted.stderr == "note: p.csv: not inputs of the run, passed through: species\n"
    out = predictions(predicted)
    assert len(out) == 60 and list(out[0]) == ["bill", "island", "sex", "tall", "species", "predicted_species", "p_Adelie", "p_Chinstrap", "p_Gentoo"]
    labelled = [r for r in out if r["species"]]
    assert record["examples"] == len(labelled) == 58
    accuracy = np.mean([r["predicted_species"] == r["species"] for r in labelled])
    assert accuracy == pytest.approx(record["metrics"]["accuracy"], abs=1e-6)
    p = np.array([[float(r[f"p_{c}"]) for c in ("Adelie", "Chinstrap", "Gentoo")] for r in labelled])
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    truth = np.array([("Adelie", "Chinstrap", "Gentoo").index(r["species"]) for r in labelled])
    loss = -np.mean(np.log(p[np.arange(len(p)), truth]))
    assert loss == pytest.approx(record["metrics"]["loss"], rel=1e-4)
    assert [r[k] for r in out[:3] for k in ("bill", "island", "sex", "tall")] == [c for r in rows[:3] for c in r[:4]]  # cells as they were


def test_predict_a_row_the_training_split_never_saw(classifier, monkeypatch):
    root, _ = classifier
    monkeypatch.chdir(root)
    # island: "Atlantis" and a blank (training had no blank island) are both all zeros.
    write_csv("new.csv", ["bill", "island", "sex", "tall"], [["40", "Atlantis", "male", "true"], ["40", "", "male", "true"], ["40", "Dream", "male", "true"]])
    predicted = run_cli("predict", "r", "new.csv", "--proba")
    assert predicted.stderr == f"warning: {unseen('new.csv', 'island', 2)}\n"
    out = predictions(predicted)
    p = [[r[f"p_{c}"] for c in ("Adelie", "Chinstrap", "Gentoo")] for r in out]
    assert p[0] == p[1] != p[2]
    rows = run_cli("predict", "r", "-i", "40,Dream,male,true", "--json")
    assert rows.exit_code == 0, rows.output
    [record] = json.loads(rows.stdout)
    assert record["input"] == [40.0, "Dream", "male", 1.0]  # as the run reads them
    assert [f"{v:.6g}" for v in record["output"]] == [out[2][f"p_{c}"] for c in ("Adelie", "Chinstrap", "Gentoo")]
    write_csv("short.csv", ["bill", "sex", "tall"], [["1", "male", "true"]])
    write_csv("semi.csv", ["bill", "island", "sex", "tall"], [["40", "Dream", "male", "true"]], delimiter=";")
    write_csv("new.tsv", ["bill", "island", "sex", "tall"], [["40", "Dream", "male", "true"]], delimiter="\t")
    for name in ("semi.csv", "new.tsv"):  # the delimiter sniffed, a tab for .tsv
        [row] = predictions(run_cli("predict", "r", name, "--proba"))
        assert [row[f"p_{c}"] for c in ("Adelie", "Chinstrap", "Gentoo")] == p[2], name
    missing = run_cli("predict", "r", "short.csv")
    assert (missing.exit_code, missing.stderr) == (2, "error: short.csv: no column 'island'; the run's inputs are: bill, island, sex, tall\n")


REGRESSOR = """\
seed: 1
data: {source: csv, path: m.csv, target: mass, batch_size: 16}
model: {layers: [{units: 8, activation: tanh}, {units: 1, activation: linear}]}
loss: mse
optimizer: {name: adam, lr: 0.02}
training: {epochs: 30}
metrics: [mae]
"""


def test_regression_predictions_are_in_the_targets_units(in_tmp):
    rng = np.random.default_rng(2)
    rows, masses = [], []
    for i in range(50):
        island = ["Biscoe", "Dream"][i % 2]
        bill = rng.normal(44, 5)
        mass = 3000 + 40 * bill + (500 if island == "Biscoe" else 0) + rng.normal(0, 50)
        rows.append(["" if i % 6 == 1 else f"{bill:.2f}", island, f"{mass:.1f}"])
        masses.append(float(f"{mass:.1f}"))
    write_csv("m.csv", ["bill", "island", "mass"], rows)
    Path("c.yaml").write_text(REGRESSOR)
    fitted = run_cli("fit", "c.yaml", "-q", "--no-plots", "--run-dir", "r")
    assert fitted.exit_code == 0, fitted.output
    meta = json.loads(Path("r/data.json").read_text())
    assert meta["target_scale"]["mean"] == pytest.approx([np.mean(masses)], rel=1e-6)
    assert meta["target_scale"]["std"] == pytest.approx([np.std(masses)], rel=1e-6)
    record = json.loads(run_cli("eval", "r", "--json").stdout)
    out = predictions(run_cli("predict", "r", "m.csv"))
    predicted = np.array([float(r["predicted_mass"]) for r in out])
    assert np.abs(predicted.mean() - np.mean(masses)) < 500  # grams, not standard units
    assert np.mean(np.abs(predicted - masses)) == pytest.approx(record["metrics"]["mae"], rel=1e-4, abs=0.05)  # 6 digits


# --------------------------------------------------------------------------------------------------
# Errors: exit code 2, one line naming the file and what to do, nothing written

MODEL2 = "model: {layers: [{units: 2, activation: softmax}]}\nloss: categorical_crossentropy\ntraining: {epochs: 1}\n"


def fit_error(data, files):
    for name, content in files.items():
        (Path(name).write_bytes if isinstance(content, bytes) else Path(name).write_text)(content)
    Path("c.yaml").write_text(f"data: {data}\n" + MODEL2)
    result = run_cli("fit", "c.yaml", "-q")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not Path("runs").exists()
    assert result.stdout == ""
    return result.stderr


IDS = "id,a,y\n" + "".join(f"u{i},{i},{'pq'[i % 2]}\n" for i in range(150))

ERRORS = {
    "declared column that does not exist": (
        "{source: csv, path: d.csv, target: y, columns: {nope: category}}",
        {"d.csv": "a,b,y\n1,2,p\n3,4,q\n"},
        "d.csv: data.columns names 'nope', which is not a column; the columns are: a, b, y",
    ),
    "column entirely missing": (
        "{source: csv, path: d.csv, target: y}",
        {"d.csv": "a,b,y\n1,,p\n3,NA,q\n"},
        "d.csv, column 'b': every cell of the training split is missing; leave the column out (data.columns: {b: ignore})",
    ),
    "continuous class target": (
        "{source: csv, path: d.csv, target: y}",
        {"d.csv": "a,y\n1,0.5\n3,1.25\n4,2\n"},
        "d.csv, column 'y': holds 3 distinct numbers such as 0.5; it looks like a regression target: use a regression "
        "loss (e.g. loss: mse, with a linear output layer)",
    ),
    "single class": (
        "{source: csv, path: d.csv, target: y}",
        {"d.csv": "a,y\n1,p\n3, p\n4,p\n"},
        "d.csv, column 'y': every row has the class 'p'; a classifier needs two or more classes",
    ),
    "numbers and strings mixed": (
        "{source: csv, path: d.csv, target: y}",
        {"d.csv": "a,b,y\n1,1,p\n3,2.5,q\n4,abc,p\n5,def,q\n6,3,p\n"},
        "d.csv, line 4, column 'b': 'abc' in a column of numbers; if it means a missing value, add it to data.na_values; "
        "if the column is a category, declare it (data.columns: {b: category})",
    ),
    "mixed, after a two-line cell, a blank line and a dropped row": (
        "{source: csv, path: d.csv, target: y}",
        {"d.csv": 'a,b,note,y\n1,1,"two\nlines",p\n\n2,2,x,\n3,abc,y,q\n4,3,z,p\n5,4,w,q\n'},
        "d.csv, line 6, column 'b': 'abc' in a column of numbers; if it means a missing value, add it to data.na_values; "
        "if the column is a category, declare it (data.columns: {b: category})",
        "d.csv: left out 1 row with no value in 'y' (its target)",  # said first, as a warning
    ),
    "declared number holding a string": (
        "{source: csv, path: d.csv, target: y, columns: {b: number}}",
        {"d.csv": "a,b,y\n1,x,p\n3,y,q\n4,z,p\n"},
        "d.csv, line 2, column 'b': 'x' is not a number; if it means a missing value, add it to data.na_values; "
        "if the column is a category, declare it (data.columns: {b: category})",
    ),
    "not a parquet file": (
        "{source: parquet, path: d.parquet, target: y}",
        {"d.parquet": "a,y\n1,p\n2,q\n"},
        "d.parquet: not a Parquet file",
    ),
    "delimiter that splits nothing": (
        "{source: csv, path: d.csv, target: y, delimiter: ','}",
        {"d.csv": "a;b;y\n1;2;p\n3;4;q\n"},
        "d.csv: the delimiter ',' splits nothing (the header is one column, 'a;b;y'); the file seems to use ';': "
        "set data.delimiter: ';'",
    ),
    "too many values in a text column": (
        "{source: csv, path: d.csv, target: y}",
        {"d.csv": IDS},
        "d.csv, column 'id': 150 distinct values in the training split, too many categories to one-hot encode; leave "
        "it out (data.columns: {id: ignore}) or keep the most frequent (data.columns: {id: {type: category, "
        "max_categories: 20}})",
    ),
    "missing target under missing: error": (
        "{source: csv, path: d.csv, target: y, missing: error}",
        {"d.csv": "a,y\n1,p\n2,q\n3,\n"},
        "d.csv, line 4, column 'y': missing value (data.missing is error)",
    ),
    "no target column": (
        "{source: csv, path: d.csv, target: kind}",
        {"d.csv": "a,y\n1,p\n2,q\n"},
        "d.csv: no target column 'kind'; the columns are: a, y",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_table_errors(in_tmp, case):
    data, files, message, *warned = ERRORS[case]
    assert fit_error(data, files) == "".join(f"warning: {w}\n" for w in warned) + f"error: {message}\n"


def test_the_suggested_fixes_work(in_tmp):
    fit_error(*ERRORS["delimiter that splits nothing"][:2])  # writes c.yaml and d.csv
    assert run_cli("fit", "c.yaml", "-q", "--no-plots", "--run-dir", "a", "--set", "data.delimiter=;").exit_code == 0
    fit_error(*ERRORS["too many values in a text column"][:2])
    for i, fix in enumerate(["data.columns={id: ignore}", "data.columns={id: {type: category, max_categories: 20}}"]):
        result = run_cli("fit", "c.yaml", "-q", "--no-plots", "--run-dir", f"b{i}", "--set", fix)
        assert result.exit_code == 0, result.output
    fit_error(*ERRORS["numbers and strings mixed"][:2])
    result = run_cli("fit", "c.yaml", "-q", "--no-plots", "--run-dir", "c", "--set", "data.columns={b: category}")
    assert result.exit_code == 0, result.output
    assert json.loads(Path("c/data.json").read_text())["features"] == ["a", "b=1", "b=2.5", "b=3", "b=abc", "b=def"]


def test_a_tsv_that_holds_commas_says_so_without_a_key_tsv_rejects(in_tmp):
    # source tsv takes no data.delimiter ("only source 'csv' takes a delimiter"): the advice must not
    # be to set one; the fix is source: csv.
    message = fit_error("{source: tsv, path: d.tsv, target: y}", {"d.tsv": "a,b,y\n1,2,p\n3,4,q\n"})
    assert message.startswith("error: d.tsv: the delimiter '\\t' splits nothing (the header is one column, 'a,b,y'); the file seems to use ','")
    assert "data.delimiter" not in message and "source: csv" in message


# --------------------------------------------------------------------------------------------------
# Progress, and the encoded width in summary and compare


def test_a_large_file_reports_its_progress(in_tmp, monkeypatch):
    from nntrain.data import csvfile

    write_csv("d.csv", ["a", "y"], [[str(i), str(i % 2)] for i in range(5000)])
    size = Path("d.csv").stat().st_size
    reports = []
    monkeypatch.setattr(csvfile, "PROGRESS_BYTES", 1)
    token = csvfile.PROGRESS.set(lambda name, done, total: reports.append((name, done, total)))
    try:
        table = read_table("d.csv")
    finally:
        csvfile.PROGRESS.reset(token)
    assert len(table) == 5000 and table["a"].values[-1] == 4999
    assert reports and {(name, total) for name, _, total in reports} == {("d.csv", size)}
    done = [d for _, d, _ in reports]
    assert done == sorted(done) and done[-1] == size
    # Below PROGRESS_BYTES, or with no one listening, nothing reports.
    reports.clear()
    read_table("d.csv")
    assert reports == []


PENGUINISH = "data: {source: csv, path: d.csv, target: y}\nmodel: {layers: [{units: 2, activation: softmax}]}\nloss: categorical_crossentropy\ntraining: {epochs: 1}\n"


def test_summary_and_compare_say_where_the_inputs_come_from(in_tmp):
    write_csv("d.csv", ["island", "bill", "y"], [["Biscoe", "40", "a"], ["Dream", "", "b"], ["Biscoe", "38", "a"], ["Torgersen", "41", "b"]])
    Path("c.yaml").write_text(PENGUINISH)
    text = "5 inputs from 2 columns: 1 number (+1 missing indicator), 1 category (3 one-hot columns)"
    summary = json.loads(run_cli("summary", "c.yaml", "--json").stdout)
    assert (summary["inputs"], summary["inputs_from"]) == (5, text)
    assert run_cli("summary", "c.yaml").stdout.splitlines()[-2:] == [
        "Inputs: 5 inputs from 2 columns: 1 number (+1 missing indicator), 1 category (3 ",
        "one-hot columns)",
    ]
    for name, extra in (("wide", []), ("narrow", ["--set", "data.columns={island: ignore}"])):
        assert run_cli("fit", "c.yaml", "-q", "--no-plots", "--run-dir", name, *extra).exit_code == 0
    assert json.loads(Path("wide/summary.json").read_text())["inputs_from"] == text
    assert json.loads(run_cli("summary", "wide", "--json").stdout)["inputs_from"] == text
    compared = json.loads(run_cli("compare", "wide", "narrow", "--json").stdout)
    assert {r["label"]: (r["inputs"], r["inputs_from"]) for r in compared["runs"]} == {
        "wide": (5, text), "narrow": (2, "2 inputs from 1 column: 1 number (+1 missing indicator)")
    }
    lines = run_cli("compare", "wide", "narrow").stdout.splitlines()
    header = next(line for line in lines if line.startswith("#"))
    assert header.split()[:3] == ["#", "run", "inputs"]  # a column of its own where the runs differ
    assert [line.split()[:3] for line in lines if line[:1] in "12"] == [["1", "wide", "5"], ["2", "narrow", "2"]]
    alone = " ".join(run_cli("compare", "wide").stdout.split())
    assert alone.endswith("the runs' configs are identical; " + text)  # else said once, below the table


def test_numbers_with_a_decimal_comma(in_tmp):
    Path("d.csv").write_text("a;b;y\n1,5;x;u\n2,5;y;v\n-3,25;x;u\n")
    Path("c.yaml").write_text(PENGUINISH)
    failed = run_cli("fit", "c.yaml", "-q", "--no-plots")
    assert (failed.exit_code, failed.stderr) == (
        2, "error: d.csv, line 2, column 'a': '1,5' looks like a number with a decimal comma; if the file's numbers "
        "are written so, set data.decimal: ','\n"
    )
    assert not Path("runs").exists()
    Path("c.yaml").write_text(PENGUINISH.replace("target: y}", "target: y, decimal: ','}"))
    assert run_cli("fit", "c.yaml", "-q", "--no-plots", "--run-dir", "r").exit_code == 0
    a = json.loads(Path("r/data.json").read_text())["columns"][0]
    assert a == {"name": "a", "type": "number", "fill": pytest.approx((1.5 + 2.5 - 3.25) / 3), "indicator": False}
    predicted = run_cli("predict", "r", "d.csv", "--json")
    assert [row["a"] for row in json.loads(predicted.stdout)] == ["1,5", "2,5", "-3,25"]  # passed through as written


# --------------------------------------------------------------------------------------------------
# The reader on large and wide files: several blocks, types from a sample, a header past 64 KiB


def test_a_file_of_several_blocks_keeps_every_cell_and_gap(in_tmp):
    # 3 MB: pyarrow parses it in blocks of 1 MB; gaps and the values around them must stay in place.
    rng = np.random.default_rng(0)
    n = 60_000
    values = np.round(rng.standard_normal(n), 6)
    gaps = rng.random(n) < 0.01
    flags = rng.random(n) < 0.5
    cells = [["" if g else repr(float(v)), "true" if f else "false", "ab"[i % 2], str(i % 2)] for i, (v, g, f) in enumerate(zip(values, gaps, flags))]
    write_csv("d.csv", ["v", "flag", "c", "y"], cells)
    assert Path("d.csv").stat().st_size > 1 << 20
    table = read_table("d.csv")
    assert (table["v"].kind, table["flag"].kind, table["c"].kind) == ("number", "boolean", "text")
    np.testing.assert_array_equal(np.isnan(table["v"].values), gaps)
    np.testing.assert_array_equal(table["v"].values[~gaps], values[~gaps])
    np.testing.assert_array_equal(table["flag"].values, flags.astype(float))
    np.testing.assert_array_equal(table["c"].codes, np.arange(n) % 2)


def test_a_word_beyond_the_sample_makes_its_column_text_and_is_named(in_tmp):
    # The first rows say "numbers" (pyarrow is told so); a word 9,000 rows down makes pyarrow read the
    # column again as text, and the training split's typing then names the word's line.
    rows = [[str(i), str(i % 2)] for i in range(10_000)]
    rows[9_000][0] = "unknown"
    write_csv("d.csv", ["a", "y"], rows)
    assert read_table("d.csv")["a"].kind == "text"
    Path("c.yaml").write_text(PENGUINISH)
    failed = run_cli("fit", "c.yaml", "-q", "--no-plots")
    assert failed.exit_code == 2
    assert failed.stderr.startswith("error: d.csv, line 9002, column 'a': 'unknown' in a column of numbers;")


def test_a_header_longer_than_the_first_64_kib(in_tmp):
    # 10,000 quoted names, as pyarrow and R write them: the header alone is 130 KB.
    names = [f"feature_{j:05d}" for j in range(10_000)]
    rng = np.random.default_rng(0)
    with open("d.csv", "w") as f:
        f.write(",".join(f'"{name}"' for name in names) + ',"y"\n')
        for i in range(5):
            f.write(",".join(f"{v:.3f}" for v in rng.standard_normal(len(names))) + f",{i % 2}\n")
    table = read_table("d.csv")
    assert table.names == [*names, "y"] and len(table) == 5
    assert all(table[name].kind == "number" for name in names[:10] + names[-10:])


def test_columns_shared_among_threads_give_the_same_bits_warnings_and_errors(in_tmp, monkeypatch):
    # A large table's per-column work runs on every core (nntrain.data.table.parallel_map); forced on
    # for a small one, everything must be as in one thread: the splits' bits, data.json, the order of
    # the warnings and which error comes first.
    from nntrain.data import table as table_module

    rows, ids, atlantis = leaky_table()
    config = make_config(
        data={"source": "csv", "path": "d.csv", "target": "y", "split": {"val": 0.2, "test": 0.2}},
        model={"layers": [{"units": 1, "activation": "linear"}]}, loss="mse", metrics=[],
    )

    def loaded():
        with caught() as records:
            data = load_data(config, np.random.default_rng(5))
        return {name: (np.asarray(s.x).tobytes(), np.asarray(s.y).tobytes()) for name, s in data.splits.items()}, data.meta, messages(records)

    serial = loaded()
    monkeypatch.setattr(table_module, "THREADED_ROWS", 0)
    assert loaded() == serial
    assert len(serial[2]) == 2  # the val and test splits' unseen islands, in that order
    write_csv("bad.csv", ["a", "b", "y"], [["1", "x", "0"], ["two", "1", "1"], ["3", "2", "0"], ["4", "three", "1"]])
    bad = make_config(data={"source": "csv", "path": "bad.csv", "target": "y", "columns": {"a": "number", "b": "number"}},
                      model={"layers": [{"units": 1, "activation": "linear"}]}, loss="mse", metrics=[])
    with pytest.raises(DataError, match=r"^bad.csv, line 3, column 'a': 'two' is not a number"):
        load_data(bad, np.random.default_rng(0))  # the first column's error, though b's may be found first
