"""nntrain.nn.metrics: the metrics' values, and which way each logged column is better."""

import numpy as np
import pytest

from nntrain.nn.metrics import METRICS, accuracy, higher_is_better, mae
from nntrain.runs.compare import goal
from nntrain.training.callbacks import EarlyStopping


def test_accuracy_of_labels_argmaxes_the_outputs():
    prediction = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.4, 0.5, 0.1], [0.2, 0.2, 0.6]])
    assert accuracy(prediction, np.array([0, 2, 0, 2])) == 0.75


def test_accuracy_of_binary_targets_thresholds_each_output_at_a_half():
    prediction = np.array([[0.9, 0.4], [0.2, 0.6], [0.51, 0.49]])
    y = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    assert accuracy(prediction, y) == pytest.approx(4 / 6)


def test_mae_is_the_mean_absolute_error_over_every_element():
    prediction = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[0.0, 2.5], [3.0, 6.0]])
    assert mae(prediction, y) == pytest.approx((1 + 0.5 + 0 + 2) / 4)


def test_every_metric_says_what_it_needs_and_which_way_is_better():
    assert {name: (m.classification, m.higher_is_better) for name, m in METRICS.items()} == {
        "accuracy": (True, True),
        "mae": (False, False),
    }


@pytest.mark.parametrize(
    "column,higher",
    [
        ("accuracy", True), ("val_accuracy", True), ("mae", False), ("val_mae", False),
        ("loss", False), ("val_loss", False), ("data_loss", False), ("penalty", False),
        ("epoch_time_s", False), ("lr", False), ("clipped_steps", False),
    ],
)  # fmt: skip
def test_higher_is_better_by_column(column, higher):
    assert higher_is_better(column) is higher


@pytest.mark.parametrize("column", ["accuracy", "val_accuracy", "mae", "val_mae", "loss", "val_loss", "epoch_time_s", "lr"])
def test_compare_and_early_stopping_follow_the_one_rule(column):
    expected = "max" if higher_is_better(column) else "min"
    assert goal(column) == expected
    assert EarlyStopping(monitor=column).mode == expected
    assert EarlyStopping(monitor=column, mode="min").mode == "min"  # an explicit mode wins
