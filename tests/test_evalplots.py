import subprocess
import sys

import numpy as np
import pytest

from nntrain.errors import NNTrainError
from nntrain.nn import curves
from nntrain.runs import evalplots
from nntrain.runs.evalplots import (
    CALIBRATION,
    CONFUSION,
    MATRIX,
    MAX_SCATTER,
    PANEL,
    PRECISION_RECALL,
    PREDICTED,
    RELIABILITY,
    RESIDUALS,
    ROC,
    classifier_plots,
    regressor_plots,
)
from test_plots import png_size

CLASSIFIER_SIZES = {
    CONFUSION: (2 * MATRIX[0], MATRIX[1]), ROC: PANEL, PRECISION_RECALL: PANEL, RELIABILITY: CALIBRATION
}


def classifier_data(rng, n, k, absent=()):
    """Labels (n,) of k classes (none of those in ``absent``) and softmax probabilities (n, k) that
    favour the true class."""
    y = rng.choice([c for c in range(k) if c not in absent], size=n)
    scores = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(scores)
    return y, p / p.sum(axis=1, keepdims=True)


def assert_classifier_pictures(out_dir, written):
    assert written == [out_dir / name for name in CLASSIFIER_SIZES]
    for path in written:
        assert png_size(path) == CLASSIFIER_SIZES[path.name], path.name


def matrix_panels(fig):
    """The confusion matrix's two panels (counts, normalised), without their colorbars."""
    return [ax for ax in fig.axes if ax.images]


def legend_texts(fig):
    legend = fig.axes[0].get_legend()
    return legend.get_title().get_text(), [t.get_text() for t in legend.get_texts()]


def test_a_binary_classifier_gets_four_pictures_of_the_positive_class(tmp_path, rng):
    y, p = classifier_data(rng, 400, 2)
    assert_classifier_pictures(tmp_path, classifier_plots(tmp_path, y, p, ["no", "yes"], title="t"))

    auc, ap = curves.roc_auc(y == 1, p[:, 1]), curves.average_precision(y == 1, p[:, 1])
    assert legend_texts(evalplots._roc_figure(y, p, ["no", "yes"], None)) == ("", ["chance", f"yes (AUC {auc:.2f})"])
    pr = evalplots._precision_recall_figure(y, p, ["no", "yes"], None)
    assert legend_texts(pr)[1] == [f"yes (AP {ap:.2f})", f"chance ({y.mean():.2f})"]
    (chance,) = [line for line in pr.axes[0].lines if line.get_linestyle() == ":"]
    assert chance.get_ydata() == pytest.approx([y.mean()] * 2)
    # the reliability diagram's points are the positive class's calibration curve
    model = evalplots._reliability_figure(y, p, ["no", "yes"], None).axes[0].lines[1]
    mean, fraction, _ = curves.calibration_curve(y == 1, p[:, 1], bins=10)
    np.testing.assert_allclose(model.get_xydata(), np.column_stack([mean, fraction]))


def test_three_classes_one_versus_the_rest(tmp_path, rng):
    y, p = classifier_data(rng, 300, 3)
    classes = ["cat", "dog", "a rather long class name"]
    assert_classifier_pictures(tmp_path, classifier_plots(tmp_path, y, p, classes))

    aucs = [curves.roc_auc(y == c, p[:, c]) for c in range(3)]
    _, labels = legend_texts(evalplots._roc_figure(y, p, classes, None))
    assert labels == ["chance"] + [f"{name} (AUC {auc:.2f})" for name, auc in zip(classes, aucs)]
    assert evalplots._short(classes[2]) == "a rather long c…"  # what classifier_plots draws
    # the reliability diagram of several classes: the top-label confidence against being right
    model = evalplots._reliability_figure(y, p, classes, None).axes[0].lines[1]
    mean, fraction, _ = curves.calibration_curve(p.argmax(axis=1) == y, p.max(axis=1), bins=10)
    np.testing.assert_allclose(model.get_xydata(), np.column_stack([mean, fraction]))


def test_the_confusion_matrix_writes_counts_and_normalised_rows(rng):
    y, p = classifier_data(rng, 200, 3)
    fig = evalplots._confusion_figure(y, p, ["a", "b", "c"], "t")
    counts, normalised = matrix_panels(fig)
    expected = np.zeros((3, 3), dtype=int)
    np.add.at(expected, (y, p.argmax(axis=1)), 1)
    np.testing.assert_array_equal(counts.images[0].get_array(), expected)
    assert [t.get_text() for t in counts.texts] == [str(v) for v in expected.ravel()]
    rows = expected / expected.sum(axis=1, keepdims=True)
    assert [t.get_text() for t in normalised.texts] == [f"{v:.2f}" for v in rows.ravel()]
    assert [t.get_text() for t in counts.get_xticklabels()] == ["a", "b", "c"]


def test_forty_classes_draw_without_cell_numbers(tmp_path, rng):
    y, p = classifier_data(rng, 800, 40)
    classes = [f"class_{c}" for c in range(40)]
    assert_classifier_pictures(tmp_path, classifier_plots(tmp_path, y, p, classes))
    fig = evalplots._confusion_figure(y, p, classes, None)
    assert [len(panel.texts) for panel in matrix_panels(fig)] == [0, 0]
    assert len(matrix_panels(fig)[0].get_xticklabels()) == 40


def test_a_class_absent_from_y_has_no_curve(tmp_path, rng):
    y, p = classifier_data(rng, 300, 3, absent=[1])
    classes = ["a", "b", "c"]
    assert_classifier_pictures(tmp_path, classifier_plots(tmp_path, y, p, classes))
    for build in (evalplots._roc_figure, evalplots._precision_recall_figure):
        heading, labels = legend_texts(build(y, p, classes, None))
        assert heading == "not drawn, no rows or all rows: b"
        assert [label.split(" (")[0] for label in labels if label != "chance"] == ["a", "c"]
    _, normalised = matrix_panels(evalplots._confusion_figure(y, p, classes, None))
    blank = np.ma.getmaskarray(normalised.images[0].get_array())  # matplotlib masks the nan it is drawn as
    np.testing.assert_array_equal(blank.all(axis=1), [False, True, False])  # class b has no row to divide by

    y, p = np.zeros(50, dtype=int), classifier_data(rng, 50, 2)[1]  # a binary split of negatives only
    assert_classifier_pictures(tmp_path / "negatives", classifier_plots(tmp_path / "negatives", y, p, ["no", "yes"]))
    heading = "not drawn, no rows or all rows: yes"
    assert legend_texts(evalplots._roc_figure(y, p, ["no", "yes"], None)) == (heading, ["chance"])


@pytest.mark.parametrize("targets", [["price"], ["x", "y"]])
def test_a_regressor_gets_a_panel_per_target(tmp_path, rng, targets):
    y = rng.normal(size=(300, len(targets))) * 10
    predicted = y + rng.normal(size=y.shape)
    written = regressor_plots(tmp_path, y, predicted, targets, title="t")
    assert written == [tmp_path / PREDICTED, tmp_path / RESIDUALS]
    for path in written:
        assert png_size(path) == (len(targets) * PANEL[0], PANEL[1])
    fig = evalplots._scatter_figure(PREDICTED, y, predicted, targets, None)
    for ax in fig.axes:
        assert ax.get_xlim() == ax.get_ylim()  # equal ranges: y = x is the diagonal
    residuals = evalplots._scatter_figure(RESIDUALS, y, predicted, targets, None)
    np.testing.assert_allclose(residuals.axes[-1].collections[0].get_offsets()[:, 1], y[:, -1] - predicted[:, -1])


def test_a_large_split_draws_an_evenly_spaced_subset(rng):
    n = 3 * MAX_SCATTER + 7
    rows = evalplots._drawn_rows(n)
    assert len(rows) == MAX_SCATTER == len(np.unique(rows))
    assert rows[0] == 0 and rows[-1] == n - 1 and np.ptp(np.diff(rows)) <= 1
    np.testing.assert_array_equal(evalplots._drawn_rows(10), np.arange(10))

    y = rng.normal(size=(n, 2))
    for kind in (PREDICTED, RESIDUALS):
        fig = evalplots._scatter_figure(kind, y, y + 0.1, ["a", "b"], None)
        for ax in fig.axes:
            assert len(ax.collections[0].get_offsets()) == MAX_SCATTER
    points = evalplots._scatter_figure(PREDICTED, y, y + 0.1, ["a", "b"], None).axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(points, np.column_stack([y[rows, 0], y[rows, 0] + 0.1]))


def test_no_rows_is_a_user_error(tmp_path):
    with pytest.raises(NNTrainError, match="^no rows to plot$"):
        classifier_plots(tmp_path, np.zeros(0, dtype=int), np.zeros((0, 2)), ["a", "b"])
    with pytest.raises(NNTrainError, match="^no rows to plot$"):
        regressor_plots(tmp_path, np.zeros((0, 1)), np.zeros((0, 1)), ["t"])
    assert list(tmp_path.iterdir()) == []


def test_importing_the_eval_plots_does_not_import_matplotlib():
    code = "import sys, nntrain.runs.evalplots; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
