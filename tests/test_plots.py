import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import make_config
from nntrain.errors import NNTrainError
from nntrain.runs.inference import load_model
from nntrain.runs.plots import (
    BOUNDARY,
    OVERLAY,
    PANEL,
    curve_panels,
    decision_grid,
    plot_curves,
    plot_decision_boundary,
    plot_overlay,
    write_run_plots,
)
from nntrain.training.fit import fit
from nntrain.runs.store import write_metrics

CONFIGS = Path(__file__).parent.parent / "configs"
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=float)


def png_size(path):
    """(width, height) from a PNG's signature and IHDR chunk; fails if the file is not a PNG."""
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_write_run_plots_on_a_trained_xor_run(tmp_path):
    run_dir = fit(make_config(training={"epochs": 300}), run_dir=tmp_path / "r").run_dir
    _, model = load_model(run_dir)
    written = write_run_plots(run_dir, predict=model.predict, x=XOR_X, y=XOR_Y)
    assert written == [run_dir / "curves.png", run_dir / "decision_boundary.png"]
    assert png_size(run_dir / "curves.png") == (2 * PANEL[0], PANEL[1])  # loss and accuracy
    assert png_size(run_dir / "decision_boundary.png") == BOUNDARY


def test_the_decision_grid_of_the_lectures_network_puts_xor_on_the_diagonals():
    _, model = load_model(CONFIGS / "xor_reference.yaml")
    g0, g1, p = decision_grid(model.predict, XOR_X, resolution=41)
    assert p.shape == (41 * 41, 1)
    regions = p[:, 0].reshape(g0.shape) > 0.5
    for (x0, x1), label in zip(XOR_X, XOR_Y[:, 0]):
        i, j = np.unravel_index(np.argmin((g0 - x0) ** 2 + (g1 - x1) ** 2), g0.shape)
        assert (g0[i, j], g1[i, j]) == pytest.approx((x0, x1), abs=0.02) and regions[i, j] == label
    # the two diagonal classes: the centre of the square is class 0 in the lecture's network
    assert not regions[20, 20]


def test_curve_panels_pair_train_and_validation():
    columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "clipped_steps", "epoch_time_s", "mae"]
    assert curve_panels(columns) == [
        ("loss", ["loss", "val_loss"]),
        ("accuracy", ["accuracy", "val_accuracy"]),
        ("mae", ["mae"]),
    ]
    assert curve_panels(["epoch", "val_loss"]) == [("loss", ["val_loss"])]


def test_the_variants_of_a_metric_share_its_panel(tmp_path):
    classes = [f"c{k}" for k in range(10)]
    columns = ["epoch", "loss", "f1", "f1_weighted", *(f"recall_{c}" for c in classes), "weighted_recall", "val_loss",
               "val_f1", "val_f1_weighted", *(f"val_recall_{c}" for c in classes), "val_weighted_recall", "val_roc_auc"]  # fmt: skip
    panels = curve_panels(columns)
    assert [title for title, _ in panels] == ["loss", "f1", "recall", "weighted_recall", "roc_auc"]
    assert panels[1][1] == ["f1", "f1_weighted", "val_f1", "val_f1_weighted"]
    assert len(panels[2][1]) == 20 and panels[4][1] == ["val_roc_auc"]
    epochs = np.arange(1.0, 6.0)
    plot_curves({c: epochs if c == "epoch" else 1 / epochs for c in columns}, tmp_path / "c.png")
    assert png_size(tmp_path / "c.png") == (PANEL[0] * 5, PANEL[1])  # 5 panels, not 25


def test_curves_with_validation_have_a_panel_per_quantity(tmp_path):
    epochs = np.arange(1.0, 30.0)
    metrics = {"epoch": epochs, "loss": 1 / epochs, "val_loss": 1.2 / epochs, "mae": 0.5 / epochs}
    metrics["val_mae"] = 0.6 / epochs
    metrics["val_loss"][3] = np.nan  # a missing value is left out, not a break
    plot_curves(metrics, tmp_path / "c.png", title="t")
    assert png_size(tmp_path / "c.png") == (2 * PANEL[0], PANEL[1])
    with pytest.raises(NNTrainError, match="nothing to plot"):
        plot_curves({"epoch": epochs, "epoch_time_s": epochs}, tmp_path / "d.png")


def test_no_decision_boundary_for_regression_or_more_than_two_inputs(tmp_path):
    config = make_config(loss="mse", metrics=[], training={"epochs": 3})
    config.model.layers[-1].activation = "linear"
    run_dir = fit(config, run_dir=tmp_path / "mse", plots=True).run_dir
    assert sorted(p.name for p in run_dir.glob("*.png")) == ["curves.png"]
    assert png_size(run_dir / "curves.png") == PANEL
    xor = fit(make_config(training={"epochs": 3}), run_dir=tmp_path / "xor").run_dir
    three = np.hstack([XOR_X, XOR_X[:, :1]])
    assert write_run_plots(xor, predict=lambda x: np.zeros((len(x), 1)), x=three, y=XOR_Y) == [xor / "curves.png"]


def test_a_run_without_epochs_gets_no_curves(tmp_path):
    run_dir = fit(make_config(training={"epochs": 2}), run_dir=tmp_path / "r").run_dir
    write_metrics(run_dir / "metrics.csv", [])
    assert write_run_plots(run_dir) == []
    assert not (run_dir / "curves.png").exists()


def test_multiclass_decision_regions(tmp_path):
    directions = np.array([[1.0, 0.0], [-0.5, 0.87], [-0.5, -0.87]])

    def predict(rows):  # three sectors: softmax of the projections on three directions
        scores = rows @ directions.T
        return np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)

    x = np.random.default_rng(0).normal(size=(3000, 2))  # more than MAX_POINTS: a subset is drawn
    labels = predict(x).argmax(axis=1)
    plot_decision_boundary(predict, x, labels, tmp_path / "b.png")
    assert png_size(tmp_path / "b.png") == BOUNDARY
    plot_decision_boundary(predict, x, np.eye(3)[labels], tmp_path / "c.png", title="one-hot")
    assert png_size(tmp_path / "c.png") == BOUNDARY


def test_overlay_of_runs_of_different_lengths(tmp_path):
    curves = [("a", [1, 2, 3], [0.5, 0.4, 0.3]), ("b", np.arange(1, 101), np.linspace(1, 0.01, 100)), ("c", [], [])]
    plot_overlay([(*c, None) for c in curves], "loss", tmp_path / "o.png")
    assert png_size(tmp_path / "o.png") == OVERLAY


def test_an_unwritable_plot_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NNTrainError, match=r"file/o.png: cannot write the plot"):
        plot_overlay([("a", [1], [1.0], None)], "loss", tmp_path / "file" / "o.png")


def test_importing_the_plots_does_not_import_matplotlib():
    code = "import sys, nntrain.runs.plots, nntrain.runs.compare, nntrain.runs.summary; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_plot_is_written_atomically(tmp_path, monkeypatch):
    import nntrain.runs.store as store

    plot_overlay([("a", [1, 2], [1.0, 0.5], None)], "loss", tmp_path / "o.png")
    before = (tmp_path / "o.png").read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "replace", full_disk)
    with pytest.raises(NNTrainError, match=r"o.png: cannot write: No space left on device; the previous version is kept"):
        plot_overlay([("b", [1, 2, 3], [1.0, 0.5, 0.2], None)], "loss", tmp_path / "o.png")
    assert (tmp_path / "o.png").read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]


@pytest.fixture(scope="module")
def seed_groups(tmp_path_factory):
    """Two learning rates two decades apart, three seeds each: a sweep's run directories."""
    root = tmp_path_factory.mktemp("groups")
    for lr in (0.001, 0.1):
        for seed in range(3):
            config = make_config(seed=seed, optimizer={"name": "adam", "lr": lr}, training={"epochs": 8})
            fit(config, run_dir=root / f"optimizer.lr={lr},seed={seed}")
    return root


def test_a_seed_groups_curve_is_its_runs_mean_with_their_std(seed_groups):
    from nntrain.runs.catalog import load_run
    from nntrain.runs.compare import compare_runs, curves
    from nntrain.runs.groups import grouped

    runs = [load_run(p, config=True) for p in sorted(seed_groups.iterdir())]
    result = grouped(compare_runs(runs, "loss"))
    drawn = {label: (epochs, mean, std) for label, epochs, mean, std in curves(runs, result)}
    assert sorted(drawn) == ["optimizer.lr=0.001", "optimizer.lr=0.1"]
    epochs, mean, std = drawn["optimizer.lr=0.1"]
    members = [r for r in runs if r.path.name.startswith("optimizer.lr=0.1,")]
    np.testing.assert_array_equal(epochs, np.arange(1, 9))
    for i in (0, -1):
        assert mean[i] == pytest.approx(np.mean([r.metrics["loss"][i] for r in members]), rel=1e-12)
        assert std[i] == pytest.approx(np.std([r.metrics["loss"][i] for r in members]), rel=1e-12) and std[i] > 0


def test_compare_plot_params_draws_the_varied_keys(seed_groups, tmp_path):
    from conftest import run_cli
    from nntrain.runs.plots import _scaled

    result = run_cli("compare", seed_groups, "--plot-params", tmp_path / "p.png", "--plot", tmp_path / "o.png")
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "p.png")[0] >= 480 and png_size(tmp_path / "o.png") == (720, 480)
    scaled, ticks = _scaled([0.001, 0.1, 0.01])  # two decades: a log axis
    np.testing.assert_allclose(scaled, [0, 1, 0.5])
    assert _scaled(["tanh", "relu", "tanh"])[0].tolist() == [0.0, 1.0, 0.0]
    one = run_cli("compare", seed_groups / "optimizer.lr=0.1,seed=0", seed_groups / "optimizer.lr=0.1,seed=1", "--no-group", "--plot-params", tmp_path / "q.png")
    assert one.exit_code == 0 and png_size(tmp_path / "q.png")  # the seed varies: its axis is drawn
    bad = run_cli("compare", seed_groups, "--plot-params", tmp_path / "nowhere" / "p.png")
    assert bad.exit_code == 2 and "folder" in bad.stderr and "does not exist" in bad.stderr
