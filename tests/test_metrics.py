"""nntrain.nn.metrics: every metric equals scikit-learn's on the same predictions, adds up over
batches, and says which way is better; nntrain.config.metrics: what a config may ask for."""

import numpy as np
import pytest
import yaml
from sklearn import metrics as sk

from conftest import make_config
from nntrain.config import parse_config
from nntrain.errors import ConfigError
from nntrain.config.metrics import MetricConfig
from nntrain.nn.metrics import BINARY, CLASSES, METRICS, MULTILABEL, REGRESSION, Batch, higher_is_better, metric_of
from nntrain.runs.compare import goal
from nntrain.training.callbacks import EarlyStopping

N = 300


def softmax_case(rng, k=4, absent=None):
    """Probabilities (N, k) and labels (N,) that agree more often than chance; class ``absent``
    (if given) is never the true class."""
    y = rng.integers(0, k, N)
    if absent is not None:
        y[y == absent] = (absent + 1) % k
    z = rng.normal(0, 1, (N, k))
    z[np.arange(N), y] += 1.2
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p, y


def sigmoid_case(rng):
    """P(class 1) (N, 1) and 0/1 targets (N, 1), a fifth of them positive."""
    y = (rng.random(N) < 0.2).astype(float)
    p = 1 / (1 + np.exp(-(rng.normal(0, 1.5, N) + 2 * y - 1)))
    return p[:, None], y[:, None]


def metric(name, task, n, **arguments):
    return MetricConfig(name=name, **arguments).build(task, [f"c{k}" for k in range(n)])


def sklearn_classification(name, true, predicted, p, average, weight):
    """scikit-learn's value of ``name`` on labels ``true``, predicted classes and probabilities p (N, K)."""
    if name == "accuracy":
        return sk.accuracy_score(true, predicted, sample_weight=weight)
    if name == "balanced_accuracy":
        return sk.balanced_accuracy_score(true, predicted, sample_weight=weight)
    if name == "log_loss":
        return sk.log_loss(true, p, labels=range(p.shape[1]), sample_weight=weight)
    if name == "roc_auc":
        score = p[:, 1] if p.shape[1] == 2 else p
        return sk.roc_auc_score(true, score, multi_class="ovr", sample_weight=weight)
    if name == "average_precision":
        score = p[:, 1] if p.shape[1] == 2 else p
        return sk.average_precision_score(true, score, sample_weight=weight)
    fn = {"precision": sk.precision_score, "recall": sk.recall_score, "f1": sk.f1_score}[name]
    if average == "per_class":
        return list(fn(true, predicted, labels=range(p.shape[1]), average=None, sample_weight=weight, zero_division=0))
    return fn(true, predicted, average=average or "macro", sample_weight=weight, zero_division=0)


CASES = [
    ("accuracy", None), ("balanced_accuracy", None), ("log_loss", None), ("roc_auc", None), ("average_precision", None),
    *((name, average) for name in ("precision", "recall", "f1") for average in (None, "weighted", "micro", "per_class")),
]  # fmt: skip


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,average", CASES)
def test_classification_metrics_equal_scikit_learns(name, average, weighted, rng):
    p, y = softmax_case(rng)
    weight = rng.uniform(0, 2, N) if weighted else None
    m = metric(name, CLASSES, 4, average=average, weighted=weighted)
    ours = list(m.values(p, y, weight).values())
    expected = sklearn_classification(name, y, p.argmax(axis=1), p, average, weight)
    np.testing.assert_allclose(ours, np.atleast_1d(expected), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,average", [*CASES, ("precision", "binary"), ("f1", "binary"), ("recall", "binary")])
def test_a_binary_classifier_is_two_classes_with_p_the_second(name, average, rng):
    p, y = sigmoid_case(rng)
    m = metric(name, BINARY, 2, average=average)
    ours = list(m.values(p, y).values())
    probabilities = np.column_stack([1 - p[:, 0], p[:, 0]])
    labels = y[:, 0].astype(int)
    expected = sklearn_classification(name, labels, (p[:, 0] > 0.5).astype(int), probabilities, average, None)
    np.testing.assert_allclose(ours, np.atleast_1d(expected), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("average", [None, "weighted", "micro"])
@pytest.mark.parametrize("name", ["precision", "recall", "f1", "balanced_accuracy"])
def test_averages_leave_out_a_class_neither_true_nor_predicted_as_scikit_learn_does(name, average, rng):
    p, y = softmax_case(rng, k=5, absent=4)
    p[:, 4] = 0  # never predicted either
    m = metric(name, CLASSES, 5, average=None if name == "balanced_accuracy" else average)
    expected = sklearn_classification(name, y, p.argmax(axis=1), p, average, None)
    assert m.values(p, y)[m.key] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy_equals_scikit_learns_ties_included(k, rng):
    p, y = softmax_case(rng)
    p = np.round(p, 1)  # ties
    m = metric("top_k_accuracy", CLASSES, 4, k=k)
    assert m.key == f"top_{k}_accuracy"
    assert m.values(p, y)[m.key] == pytest.approx(sk.top_k_accuracy_score(y, p, k=k, labels=range(4)), rel=1e-12)


def test_multilabel_accuracy_and_log_loss_are_per_output(rng):
    p = rng.random((N, 3))
    y = (rng.random((N, 3)) < 0.5).astype(float)
    assert metric("accuracy", MULTILABEL, 3).values(p, y)["accuracy"] == pytest.approx(
        sk.accuracy_score(y.ravel(), (p > 0.5).ravel()), rel=1e-12
    )
    expected = np.mean([sk.log_loss(y[:, j], p[:, j], labels=[0, 1]) for j in range(3)])
    assert metric("log_loss", MULTILABEL, 3).values(p, y)["log_loss"] == pytest.approx(expected, rel=1e-9)


REGRESSORS = {
    "mse": sk.mean_squared_error,
    "rmse": sk.root_mean_squared_error,
    "mae": sk.mean_absolute_error,
    "r2": sk.r2_score,
    "mape": sk.mean_absolute_percentage_error,
}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("targets", [1, 2])
@pytest.mark.parametrize("name", list(REGRESSORS))
def test_regression_metrics_equal_scikit_learns(name, targets, weighted, rng):
    y = rng.normal(50, 10, (N, targets))
    y[0, 0] = 0.0  # mape's |y| floor
    a = y + rng.normal(0, 3, (N, targets))
    weight = rng.uniform(0, 2, N) if weighted else None
    ours = metric(name, REGRESSION, targets, weighted=weighted).values(a, y, weight)
    assert list(ours.values())[0] == pytest.approx(REGRESSORS[name](y, a, sample_weight=weight), rel=1e-9)


def test_r2_of_a_constant_target_is_one_if_perfect_else_zero():
    m = metric("r2", REGRESSION, 1)
    y = np.full((5, 1), 3.0)
    assert m.values(y.copy(), y)["r2"] == 1.0 == sk.r2_score(y, y)
    assert m.values(y + 1, y)["r2"] == 0.0 == sk.r2_score(y, y + 1)


@pytest.mark.parametrize("name,task,n", [
    ("accuracy", CLASSES, 4), ("f1", CLASSES, 4), ("balanced_accuracy", CLASSES, 4), ("log_loss", CLASSES, 4),
    ("accuracy", BINARY, 2), ("precision", BINARY, 2), ("r2", REGRESSION, 2), ("mape", REGRESSION, 2),
])  # fmt: skip
def test_additive_metrics_add_up_over_batches_to_the_whole(name, task, n, rng):
    if task == CLASSES:
        p, y = softmax_case(rng)
    elif task == BINARY:
        p, y = sigmoid_case(rng)
    else:
        y = rng.normal(5, 2, (N, 2))
        p = y + rng.normal(0, 1, (N, 2))
    m = metric(name, task, n)
    sums = m.zeros()
    for i in range(0, N, 64):
        sums = sums + m.stats(Batch(task, p[i : i + 64], y[i : i + 64]))
    assert m.result(sums)[m.key] == pytest.approx(m.values(p, y)[m.key], rel=1e-12)


@pytest.mark.parametrize("name", ["roc_auc", "average_precision"])
def test_ranking_metrics_need_every_class_and_say_which_is_missing(name, rng):
    p, y = softmax_case(rng, absent=2)
    with pytest.raises(ValueError, match=f"{name} needs rows of every class; none of class 'c2'"):
        metric(name, CLASSES, 4).values(p, y)
    with pytest.raises(ValueError, match="none of class 'c1'"):
        metric(name, BINARY, 2).values(np.full((4, 1), 0.3), np.zeros((4, 1)))


def test_columns_name_the_average_the_classes_k_and_the_weights():
    assert metric("f1", CLASSES, 3).columns == ["f1"]
    assert metric("f1", CLASSES, 3, average="weighted").columns == ["f1_weighted"]
    assert metric("recall", CLASSES, 3, average="per_class").columns == ["recall_c0", "recall_c1", "recall_c2"]
    assert metric("top_k_accuracy", CLASSES, 3, k=2).columns == ["top_2_accuracy"]
    assert metric("accuracy", CLASSES, 3, weighted=True).columns == ["weighted_accuracy"]
    assert metric("precision", BINARY, 2, average="binary", weighted=True).columns == ["weighted_precision_binary"]


# --------------------------------------------------------------------------------------------------
# Which way is better


@pytest.mark.parametrize(
    "column,higher",
    [
        ("accuracy", True), ("val_accuracy", True), ("mae", False), ("val_mae", False),
        ("loss", False), ("val_loss", False), ("data_loss", False), ("penalty", False),
        ("epoch_time_s", False), ("lr", False), ("clipped_steps", False),
        ("f1", True), ("val_f1_weighted", True), ("recall_Adelie", True), ("weighted_precision", True),
        ("val_roc_auc", True), ("average_precision", True), ("balanced_accuracy", True), ("top_3_accuracy", True),
        ("log_loss", False), ("val_log_loss", False), ("mse", False), ("rmse", False), ("r2", True),
        ("val_r2", True), ("mape", False), ("my_accuracy", True),
    ],
)  # fmt: skip
def test_higher_is_better_by_column(column, higher):
    assert higher_is_better(column) is higher


def test_every_metric_says_what_it_needs_and_which_way_is_better():
    assert {name: (m.classifies, m.higher_is_better) for name, m in METRICS.items()} == {
        "accuracy": (True, True), "balanced_accuracy": (True, True), "precision": (True, True),
        "recall": (True, True), "f1": (True, True), "roc_auc": (True, True), "average_precision": (True, True),
        "log_loss": (True, False), "top_k_accuracy": (True, True), "mse": (False, False), "rmse": (False, False),
        "mae": (False, False), "r2": (False, True), "mape": (False, False),
    }  # fmt: skip
    assert metric_of("val_precision_micro") is METRICS["precision"]
    assert metric_of("average_precision") is METRICS["average_precision"]
    assert metric_of("epoch") is None


@pytest.mark.parametrize("column", ["accuracy", "val_f1", "mae", "val_r2", "loss", "val_log_loss", "lr"])
def test_compare_and_early_stopping_follow_the_one_rule(column):
    expected = "max" if higher_is_better(column) else "min"
    assert goal(column) == expected
    assert EarlyStopping(column, "auto", 1, 0.0, False).mode == expected


# --------------------------------------------------------------------------------------------------
# metrics: in a config


SOFTMAX = {
    "data": {"source": "blobs", "classes": 3},
    "model": {"layers": [{"units": 3, "activation": "softmax"}]},
    "loss": "categorical_crossentropy",
}


def config_error(**changes):
    with pytest.raises(ConfigError) as e:
        parse_config(yaml.safe_dump({**SOFTMAX, **changes}), "exp.yaml")
    return str(e.value)


def test_a_bare_name_or_a_mapping_and_saved_as_written():
    config = make_config(**SOFTMAX, metrics=["f1", {"name": "f1", "average": "weighted"}, {"name": "top_k_accuracy", "k": 2}])
    assert config.model_dump(mode="json")["metrics"] == ["f1", {"name": "f1", "average": "weighted"}, {"name": "top_k_accuracy", "k": 2}]


@pytest.mark.parametrize(
    "metrics,message",
    [
        ([{"name": "accuracy", "average": "weighted"}], "metrics.0.average: accuracy takes no average (only precision, recall, f1 do)"),
        (["top_k_accuracy"], "metrics.0.k: top_k_accuracy needs k, e.g. {name: top_k_accuracy, k: 3}"),
        ([{"name": "f1", "k": 2}], "metrics.0.k: f1 takes no k"),
        ([{"name": "top_k_accuracy", "k": 3}], "metrics.0: k: 3 is not less than the 3 classes, so every row would count"),
        (["r2"], "metrics.0: 'r2' is a regression metric; loss 'categorical_crossentropy' classifies"),
        ([{"name": "f1", "average": "binary"}], "metrics.0: average: binary is a binary classifier's (one sigmoid unit)"),
        ([{"name": "f1", "weighted": True}], "metrics.0.weighted: no weights to weigh by: set training.class_weight or data.weight"),
        (["f1", {"name": "f1", "average": "macro"}], "metrics.1: f1 is listed twice (also metrics.0)"),
    ],
)
def test_what_a_metric_cannot_be(metrics, message):
    assert message in config_error(metrics=metrics)


def test_regression_and_multilabel_runs_refuse_what_they_cannot_compute():
    regression = {"loss": "mse", "model": {"layers": [{"units": 1}]}, "metrics": ["f1"]}
    assert "metrics.0: 'f1' needs a classification loss, not 'mse'" in config_error(**regression)
    multilabel = {"loss": "binary_crossentropy", "model": {"layers": [{"units": 2, "activation": "sigmoid"}]}, "metrics": ["roc_auc"]}
    assert (
        "metrics.0: 'roc_auc' needs one class per example (softmax classes, or one sigmoid unit); this run has 2 sigmoid outputs"
        in config_error(**multilabel)
    )
