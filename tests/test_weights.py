"""Class and row weights: training.class_weight and data.weight make each row's weight in the loss
(nntrain.data.prepare), the loss their weighted mean (nntrain.nn.losses), gradient-checked through
the network; metrics stay unweighted unless asked (``weighted: true``)."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.utils.class_weight import compute_class_weight

from conftest import make_config, run_cli
from nntrain.data.prepare import load_data
from nntrain.errors import ConfigError, DataError
from nntrain.training.fit import fit
from nntrain.training.gradcheck import check_config
from nntrain.training.trainer import prepare

SOFTMAX = {"layers": [{"units": 6, "activation": "tanh"}, {"units": 3, "activation": "softmax"}]}


def write_table(path, n=300, seed=0, weights=None, rare=0.1):
    """A CSV of two numbers, a class (``rare`` of the rows are class 'c') and optionally a weight column."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    label = np.where(rng.random(n) < rare, 2, (x[:, 0] > 0).astype(int))
    x[label == 2] += 1.5
    header = "a,b,kind" + (",w" if weights is not None else "")
    lines = [f"{x[i, 0]:.4f},{x[i, 1]:.4f},{'abc'[label[i]]}" + (f",{weights[i]}" if weights is not None else "") for i in range(n)]
    Path(path).write_text("\n".join([header, *lines]) + "\n")
    return label


def table_config(path, training=None, data=None, **changes):
    d = {"source": "csv", "path": str(path), "target": "kind", "split": {"val": 0.2}, "batch_size": 16, **(data or {})}
    return make_config(
        data=d, model=SOFTMAX, loss="categorical_crossentropy", training={"epochs": 5, **(training or {})}, **changes
    )


def test_balanced_class_weights_are_scikit_learns_of_the_training_split(tmp_path):
    write_table(tmp_path / "t.csv")
    data = load_data(table_config(tmp_path / "t.csv", training={"class_weight": "balanced"}), np.random.default_rng(0))
    y = data.train.y
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(data.meta["class_weight"], expected, rtol=1e-15)
    np.testing.assert_allclose(data.train.w, expected[y], rtol=1e-15)
    np.testing.assert_allclose(data.splits["val"].w, expected[data.splits["val"].y], rtol=1e-15)  # the same weights


def test_class_weights_by_name_default_to_one(tmp_path):
    write_table(tmp_path / "t.csv")
    data = load_data(table_config(tmp_path / "t.csv", training={"class_weight": {"c": 5}}), np.random.default_rng(0))
    assert data.meta["class_weight"] == [1.0, 1.0, 5.0]
    assert set(data.train.w[data.train.y == 2]) == {5.0} and set(data.train.w[data.train.y != 2]) == {1.0}


def test_row_weights_come_from_their_column_which_is_no_feature(tmp_path):
    weights = np.arange(300) % 4
    write_table(tmp_path / "t.csv", weights=weights)
    config = table_config(tmp_path / "t.csv", data={"weight": "w"}, training={"class_weight": {"a": 2}})
    data = load_data(config, np.random.default_rng(0))
    assert data.n_features == 2 and "w" not in data.meta.get("features", [])
    rows = data.rows["train"]
    np.testing.assert_array_equal(data.train.w, weights[rows] * np.where(data.train.y == 0, 2.0, 1.0))


def test_unweighted_runs_have_no_weights_and_train_as_before(tmp_path):
    write_table(tmp_path / "t.csv")
    data = load_data(table_config(tmp_path / "t.csv"), np.random.default_rng(0))
    assert data.train.w is None and "class_weight" not in data.meta


def test_weights_of_one_train_bit_for_bit_as_no_weights(tmp_path):
    write_table(tmp_path / "t.csv", weights=np.ones(300, dtype=int))
    plain = fit(table_config(tmp_path / "t.csv", data={"features": ["a", "b"]}), run_dir=tmp_path / "plain", plots=False)
    ones = fit(table_config(tmp_path / "t.csv", data={"weight": "w"}), run_dir=tmp_path / "ones", plots=False)
    a, b = (np.load(r.run_dir / "weights.npz") for r in (plain, ones))
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])  # w n / sum(w) is exactly 1


def test_the_weighted_network_passes_its_gradient_check(tmp_path):
    weights = np.random.default_rng(1).uniform(0, 3, 300).round(3)
    write_table(tmp_path / "t.csv", weights=weights)
    config = table_config(tmp_path / "t.csv", data={"weight": "w", "batch_size": 32}, training={"class_weight": "balanced"})
    result = check_config(config)
    assert result.worst.error < 1e-7
    # The check would fail if the gradient ignored the weights: the unweighted gradient differs.
    _, data, trainer = prepare(config.model_copy(update={"dtype": "float64"}))
    x, y, w = data.train.x[:32].astype(np.float64), data.train.y[:32], data.train.w[:32]
    trainer.loss.forward(trainer.model.forward(x, training=True, logits=True), y, w)
    weighted = trainer.loss.backward().copy()
    trainer.loss.forward(trainer.model.forward(x, training=True, logits=True), y)
    assert not np.allclose(weighted, trainer.loss.backward())


def test_balanced_class_weights_raise_a_rare_classs_recall(tmp_path):
    write_table(tmp_path / "t.csv", n=2000, rare=0.05, seed=2)
    recalls = {}
    for setting in (None, "balanced"):
        config = table_config(tmp_path / "t.csv", training={"epochs": 30, "class_weight": setting}, data={"split": {"test": 0.3}})
        run = fit(config, run_dir=tmp_path / str(setting), plots=False).run_dir
        report = json.loads(run_cli("eval", run, "--split", "test", "--json").stdout)
        recalls[setting] = report["per_class"][2]["recall"]
    assert recalls["balanced"] > recalls[None] + 0.2, recalls


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")  # float32 rows, to 1e-7
def test_weighted_metrics_use_the_weights_and_the_others_do_not(tmp_path):
    weights = np.random.default_rng(3).integers(0, 4, 300)
    write_table(tmp_path / "t.csv", weights=weights)
    config = table_config(tmp_path / "t.csv", data={"weight": "w"}, metrics=["accuracy", {"name": "accuracy", "weighted": True}])
    _, data, trainer = prepare(config)
    val = data.splits["val"]
    logs = trainer.evaluate(val)
    predicted = trainer.model.predict(val.x).argmax(axis=1)
    assert logs["accuracy"] == pytest.approx(sk.accuracy_score(val.y, predicted), rel=1e-12)
    assert logs["weighted_accuracy"] == pytest.approx(sk.accuracy_score(val.y, predicted, sample_weight=val.w), rel=1e-12)
    p = trainer.model.predict(val.x).astype(np.float64)
    assert logs["loss"] == pytest.approx(sk.log_loss(val.y, p, sample_weight=val.w, labels=range(3)), rel=1e-5)


# --------------------------------------------------------------------------------------------------
# What bad weights get


def data_error(tmp_path, column, **data):
    lines = ["a,kind,w"] + [f"{i},{'ab'[i % 2]},{v}" for i, v in enumerate(column)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    config = make_config(
        data={"source": "csv", "path": str(tmp_path / "t.csv"), "target": "kind", "weight": "w", **data},
        model={"layers": [{"units": 2, "activation": "softmax"}]},
        loss="categorical_crossentropy",
    )
    with pytest.raises(DataError) as e:
        load_data(config, np.random.default_rng(0))
    return str(e.value)


@pytest.mark.parametrize(
    "column,message",
    [
        (["1", "-2", "1", "1"], "t.csv, line 3, column 'w': data.weight: -2; weights must be numbers >= 0"),
        (["1", "1", "", "1"], "t.csv, line 4, column 'w': data.weight: missing value; weights must be numbers >= 0"),
        (["1", "1", "2", "heavy"], "t.csv, line 5, column 'w': data.weight: expected numbers, got 'heavy'"),
        (["0", "0", "0", "0"], "data.weight: every weight in 'w' is 0"),
    ],
)
def test_a_weight_must_be_a_number_at_least_zero(tmp_path, column, message):
    assert message in data_error(tmp_path, column)


def test_a_weight_column_must_exist_and_be_neither_target_nor_feature(tmp_path):
    assert "no weight column 'v'; the columns are: a, kind, w" in data_error(tmp_path, [1, 1], weight="v")
    assert "column 'kind' is both the target and the weight" in data_error(tmp_path, [1, 1], weight="kind")
    assert "column 'w' is both a feature and the weight" in data_error(tmp_path, [1, 1], features=["a", "w"])


def test_class_weight_must_name_classes_and_fit_the_loss(tmp_path):
    write_table(tmp_path / "t.csv")
    with pytest.raises(ConfigError, match=r"training.class_weight.z: no class 'z'; the classes are: a, b, c"):
        load_data(table_config(tmp_path / "t.csv", training={"class_weight": {"z": 2}}), np.random.default_rng(0))
    result = run_cli("fit", "--set", "training.class_weight=balanced", "--set", "loss=mse", "--set", "metrics=[]",
                     "--set", "model.layers.1.activation=linear", "-q", "--run-dir", tmp_path / "r", Path("configs/xor.yaml").resolve())  # fmt: skip
    assert result.exit_code == 2 and not (tmp_path / "r").exists()
    assert "training.class_weight: class weights need one class per example (softmax classes, or one sigmoid unit)" in result.stderr
