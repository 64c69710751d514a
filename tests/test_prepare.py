import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_config
from nntrain.data.prepare import Loader, Split, load_data, split_indices
from nntrain.data.scaling import Rows, column_statistics, standardization
from nntrain.data.targets import prepare_targets
from nntrain.errors import ConfigError, DataError

SOFTMAX3 = {"layers": [{"units": 8}, {"units": 3, "activation": "softmax"}]}


def config(data, model=SOFTMAX3, loss="categorical_crossentropy", **kw):
    return make_config(data=data, model=model, loss=loss, metrics=[], **kw)


def test_xor_is_the_lectures_table_in_its_order():
    data = load_data(make_config(), np.random.default_rng(0))
    np.testing.assert_array_equal(data.train.x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(data.train.y, [[0], [1], [1], [0]])
    assert data.train.x.dtype == np.float32 and data.n_features == 2
    assert list(data.splits) == ["train"] and data.meta == {}  # nothing to keep beyond the config


def test_targets_follow_the_loss():
    softmax = {"layers": [{"units": 2, "activation": "softmax"}]}
    labels = prepare_targets(np.array([[0, 1], [1, 0]]), make_config(model=softmax, loss="categorical_crossentropy"))
    np.testing.assert_array_equal(labels, [1, 0])
    assert labels.dtype == np.int64
    regression = make_config(model={"layers": [{"units": 1, "activation": "linear"}]}, loss="mse", metrics=[])
    assert prepare_targets(np.array([0.5, 2.0]), regression).shape == (2, 1)


@pytest.mark.parametrize(
    "units,loss,y,n_classes,message",
    [
        (2, "categorical_crossentropy", [0, 1, 2], None, "model.layers.0.units: the data has 3 classes but the output layer has 2 units; set its units to 3"),
        (5, "categorical_crossentropy", [0, 1, 2], None, "model.layers.0.units: the data has 3 classes but the output layer has 5 units; set its units to 3"),
        (3, "categorical_crossentropy", [0, 1, 1], 4, "model.layers.0.units: the data has 4 classes but the output layer has 3 units; set its units to 4"),
        (3, "categorical_crossentropy", [0.5, 1, 2], None, "categorical_crossentropy needs class labels 0, 1, ..., K-1 as targets"),
        (2, "binary_crossentropy", [0, 1], None, "model.layers.0.units: the data has 1 binary targets per row but the output layer has 2 units; set its units to 1"),
        (1, "binary_crossentropy", [0, 2], None, "binary_crossentropy needs targets between 0 and 1 (two classes: labels 0 and 1)"),
        (3, "mse", [[1.0, 2.0]], None, "model.layers.0.units: the data has 2 target columns but the output layer has 3 units; set its units to 2"),
        # Whole numbers up to 296 (a count, a score): more likely a number to predict than 297 classes.
        (3, "categorical_crossentropy", [0, 151, 296], None, "model.layers.0.units: the data has 297 classes but the output layer has 3 units; "
         "if the target is a number to predict, use a regression loss (loss: mse, a linear output of 1 unit); if it holds 297 classes, set its units to 297"),
    ],
)
def test_output_units_must_fit_the_targets(units, loss, y, n_classes, message):
    activation = {"categorical_crossentropy": "softmax", "binary_crossentropy": "sigmoid", "mse": "linear"}[loss]
    cfg = make_config(model={"layers": [{"units": units, "activation": activation}]}, loss=loss, metrics=[])
    with pytest.raises((DataError, ConfigError)) as info:
        prepare_targets(np.array(y), cfg, n_classes)
    assert str(info.value) == message


@pytest.mark.parametrize("loss", ["mae", "huber", {"name": "huber", "delta": 0.5}])
def test_regression_losses_take_values(loss):
    cfg = make_config(model={"layers": [{"units": 2, "activation": "linear"}]}, loss=loss, metrics=[])
    y = prepare_targets(np.array([[0.5, 7.0], [-2.0, 3.0]]), cfg)
    np.testing.assert_array_equal(y, [[0.5, 7.0], [-2.0, 3.0]])
    assert y.dtype == np.float64  # load_data casts to the config's dtype once the targets are scaled
    with pytest.raises(ConfigError, match=r"^model.layers.0.units: the data has 1 target columns but the output layer has 2 units"):
        prepare_targets(np.array([1.0, 2.0]), cfg)


def test_a_csv_regression_with_mae_splits_unstratified_and_keeps_its_values(tmp_path):
    path = tmp_path / "d.csv"
    values = np.round(np.linspace(-3, 3, 20), 2)
    path.write_text("a,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    cfg = config(
        {"source": "csv", "path": str(path), "target": "y", "split": {"val": 0.25}, "scale_target": False},
        model={"layers": [{"units": 1, "activation": "linear"}]},
        loss="mae",
        dtype="float64",
    )
    data = load_data(cfg, np.random.default_rng(0))
    assert (len(data.train), len(data.splits["val"])) == (15, 5)
    together = np.concatenate([data.train.y[:, 0], data.splits["val"].y[:, 0]])
    np.testing.assert_array_equal(np.sort(together), values)  # values, not labels 0..19
    assert "classes" not in data.meta


def test_units_are_checked_against_the_class_names(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,u\n2,v\n3,u\n")  # two classes
    with pytest.raises(ConfigError, match="model.layers.1.units: the data has 2 classes but the output layer has 3 units"):
        load_data(config({"source": "csv", "path": str(path), "target": "y"}), np.random.default_rng(0))
    spirals = config({"source": "spirals", "classes": 3}, model={"layers": [{"units": 1, "activation": "sigmoid"}]}, loss="binary_crossentropy")
    with pytest.raises(ConfigError) as info:
        load_data(spirals, np.random.default_rng(0))
    assert str(info.value) == (
        "loss: binary_crossentropy needs two classes; spirals has 3: use a softmax output layer with one "
        "unit per class and categorical_crossentropy"
    )


# --------------------------------------------------------------------------------------------------
# Splits


def test_split_sizes_are_disjoint_stratified_and_seeded():
    labels = np.repeat([0, 1, 2], [60, 30, 10])
    parts = split_indices(100, {"val": 0.2, "test": 0.1}, labels, np.random.default_rng(0))
    assert [len(parts["val"]), len(parts["test"])] == [20, 10]
    assert np.bincount(labels[parts["val"]]).tolist() == [12, 6, 2]  # each class in proportion
    assert np.bincount(labels[parts["test"]]).tolist() == [6, 3, 1]
    assert not set(parts["val"]) & set(parts["test"])
    again = split_indices(100, {"val": 0.2, "test": 0.1}, labels, np.random.default_rng(0))
    other = split_indices(100, {"val": 0.2, "test": 0.1}, labels, np.random.default_rng(1))
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts["val"], other["val"])


def test_split_rounds_up_and_skips_zero_shares():
    parts = split_indices(7, {"val": 0.1, "test": 0.0}, None, np.random.default_rng(0))
    assert list(parts) == ["val"] and len(parts["val"]) == 1  # ceil(0.7): a requested part is never empty
    assert split_indices(7, {"val": 0.0, "test": 0.0}, None, np.random.default_rng(0)) == {}


def test_load_data_splits_and_logs_nothing_from_test():
    data = load_data(config({"source": "blobs", "n_samples": 300, "split": {"val": 0.2, "test": 0.1}}), np.random.default_rng(0))
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 210, "val": 60, "test": 30}
    assert data.train is data.splits["train"]
    for name in ("val", "test"):
        assert np.bincount(data.splits[name].y).tolist() == [len(data.splits[name]) // 3] * 3
    rows = {tuple(r) for s in data.splits.values() for r in s.x.tolist()}
    assert len(rows) == 300  # every example in exactly one split


def test_eval_regenerates_the_same_splits():
    softmax2 = {"layers": [{"units": 2, "activation": "softmax"}]}
    cfg = config({"source": "moons", "n_samples": 200, "split": {"val": 0.25}, "standardize": True}, model=softmax2)
    a, b = load_data(cfg, np.random.default_rng(cfg.seed)), load_data(cfg, np.random.default_rng(cfg.seed))
    for name in a.splits:
        np.testing.assert_array_equal(a.splits[name].x, b.splits[name].x)
        np.testing.assert_array_equal(a.splits[name].y, b.splits[name].y)


def test_a_split_that_leaves_no_training_data(tmp_path):
    cfg = config({"source": "xor", "split": {"val": 0.5, "test": 0.4}}, model={"layers": [{"units": 1, "activation": "sigmoid"}]}, loss="binary_crossentropy")
    with pytest.raises(ConfigError) as info:
        load_data(cfg, np.random.default_rng(0))
    assert str(info.value) == "data.split: val 0.5 and test 0.4 of 4 examples leave no training examples"


def test_a_files_own_split_and_a_share_of_the_same_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "d.npz", x=np.zeros((6, 2)), y=[0, 1, 2] * 2, x_val=np.ones((3, 2)), y_val=[0, 1, 2])
    with pytest.raises(ConfigError) as info:
        load_data(config({"source": "npz", "path": str(tmp_path / "d.npz"), "split": {"val": 0.2}}), np.random.default_rng(0))
    assert str(info.value) == "data.split.val: d.npz has its own val split (x_val, y_val); remove data.split.val"
    data = load_data(config({"source": "npz", "path": str(tmp_path / "d.npz"), "split": {"test": 0.5}}), np.random.default_rng(0))
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 3, "val": 3, "test": 3}
    np.testing.assert_array_equal(data.splits["val"].x, np.ones((3, 2)))


def test_drop_last_needs_one_full_batch():
    cfg = config({"source": "blobs", "n_samples": 20, "batch_size": 32, "drop_last": True})
    with pytest.raises(ConfigError, match="data.batch_size: with drop_last, a batch of 32 leaves no batch of the 20 training examples"):
        load_data(cfg, np.random.default_rng(0))


# --------------------------------------------------------------------------------------------------
# Standardisation


def test_standardize_uses_the_training_split_only(tmp_path):
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(5, 2, 400), rng.normal(-3e6, 1e6, 400), np.full(400, 7.0)]  # the last column is constant
    y = rng.integers(0, 3, 400)
    np.savez_compressed(tmp_path / "d.npz", x=x, y=y)
    cfg = config({"source": "npz", "path": str(tmp_path / "d.npz"), "split": {"val": 0.25}, "standardize": True})
    data = load_data(cfg, np.random.default_rng(0))
    train, val = data.splits["train"].x, data.splits["val"].x
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(train.std(axis=0)[:2], 1, rtol=1e-5)
    np.testing.assert_array_equal(train[:, 2], 0)  # constant: centred, not divided by zero
    assert np.isfinite(val).all()
    # The statistics are the training rows' (the same split, drawn again from the same seed), not all rows'.
    held_out = split_indices(400, {"val": 0.25, "test": 0.0}, y, np.random.default_rng(0))["val"]
    train_rows = np.setdiff1d(np.arange(400), held_out)
    stats = data.meta["standardize"]
    np.testing.assert_allclose(stats["mean"][:2], x[train_rows, :2].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats["std"][:2], x[train_rows, :2].std(axis=0), rtol=1e-12)
    assert stats["mean"][0] != pytest.approx(x[:, 0].mean(), rel=1e-6)
    assert stats["std"][2] == 1.0
    np.testing.assert_allclose(val, (x[held_out] - stats["mean"]) / stats["std"], rtol=1e-5, atol=1e-6)


def test_a_runs_statistics_are_reused():
    cfg = config({"source": "blobs", "n_samples": 60, "standardize": True})
    stored = {"standardize": {"mean": [1.0, 2.0], "std": [2.0, 4.0]}}
    raw = load_data(config({"source": "blobs", "n_samples": 60}), np.random.default_rng(0)).train.x
    data = load_data(cfg, np.random.default_rng(0), meta=stored)
    np.testing.assert_allclose(data.train.x, (raw - [1, 2]) / [2, 4], rtol=1e-6)
    assert data.meta["standardize"] == stored["standardize"]
    with pytest.raises(DataError, match="blobs: the run standardised 3 features, but the data now has 2"):
        load_data(cfg, np.random.default_rng(0), meta={"standardize": {"mean": [0, 0, 0], "std": [1, 1, 1]}})


def test_standardization_statistics():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    mean, std = standardization(x)
    np.testing.assert_array_equal(mean, [2, 5])
    np.testing.assert_array_equal(std, [1, 1])  # the second column is constant: std 1, not 0
    big = np.random.default_rng(0).normal(1e9, 3.0, (1000, 1))
    mean, std = standardization(big)
    assert std[0] == pytest.approx(big.std(), rel=1e-9)  # a large offset is not a constant column


def test_rows_convert_and_standardise_without_touching_the_file(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(12, dtype=np.uint8).reshape(4, 3))
    base = np.load(tmp_path / "x.npy", mmap_mode="r")
    rows = Rows(base, np.array([3, 1]), np.float32, mean=np.array([1.0, 2.0, 3.0]), std=np.array([2.0, 2.0, 2.0]))
    assert rows.shape == (2, 3) and len(rows) == 2
    np.testing.assert_allclose(rows[:], (np.array([[9, 10, 11], [3, 4, 5]]) - [1, 2, 3]) / 2)
    assert rows[:].dtype == np.float32
    np.testing.assert_array_equal(rows[np.array([1])], rows[1:2])
    np.testing.assert_array_equal(rows[:, 1], [4, 1])  # indexed like the array it stands for
    np.testing.assert_array_equal(rows[0, 2], 4)
    np.testing.assert_array_equal(rows.take(np.array([1])).read(slice(None)), [[3, 4, 5]])
    float_file = tmp_path / "f.npy"
    np.save(float_file, np.ones((4, 3), dtype=np.float32))
    whole = Rows(np.load(float_file, mmap_mode="r"), None, np.float32, np.zeros(3), np.full(3, 4.0))
    np.testing.assert_array_equal(whole[0:2], 0.25)  # a slice of the file, standardised in a copy
    np.testing.assert_array_equal(np.load(float_file), 1.0)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.arange(12).reshape(4, 3))


def test_memory_mapped_rows_read_per_batch_give_the_same_data(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (500, 4)) * [1, 10, 100, 1e6]
    y = np.arange(500) % 3
    np.savez(tmp_path / "mapped.npz", x=x, y=y)  # stored: memory-mapped
    np.savez_compressed(tmp_path / "memory.npz", x=x, y=y)  # compressed: read into memory
    data = {"split": {"val": 0.2, "test": 0.2}, "standardize": True}
    mapped = load_data(config({"source": "npz", "path": str(tmp_path / "mapped.npz"), **data}), np.random.default_rng(0))
    memory = load_data(config({"source": "npz", "path": str(tmp_path / "memory.npz"), **data}), np.random.default_rng(0))
    assert isinstance(mapped.train.x, Rows) and isinstance(mapped.train.x.base, np.memmap)
    assert isinstance(memory.train.x, np.ndarray)
    assert mapped.train.x.shape == memory.train.x.shape == (300, 4)
    np.testing.assert_allclose(mapped.meta["standardize"]["mean"], memory.meta["standardize"]["mean"], rtol=1e-12)
    np.testing.assert_allclose(mapped.meta["standardize"]["std"], memory.meta["standardize"]["std"], rtol=1e-12)
    for name in ("train", "val", "test"):
        a, b = mapped.splits[name], memory.splits[name]
        np.testing.assert_allclose(np.asarray(a.x), b.x, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(a.y, b.y)
        assert a.x[2:5].dtype == np.float32
    # The loader gathers from the file batch by batch; rows stay paired with their labels.
    for xb, yb, _ in Loader(mapped.train, 64, True, False, np.random.default_rng(1)):
        rows = np.flatnonzero((np.abs(memory.train.x[:, None, :] - xb[None]) < 1e-5).all(axis=2).any(axis=1))
        assert len(rows) == len(xb)
        np.testing.assert_array_equal(np.sort(memory.train.y[rows]), np.sort(yb))


def test_standardize_makes_a_million_fold_scale_difference_harmless(tmp_path):
    """Two features, one 10^6 times the other's scale: with standardize: true the network trains as well
    as on well-scaled data; without it, measurably worse."""
    from nntrain.training.fit import fit

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (600, 2))
    y = (x[:, 0] ** 2 + x[:, 1] ** 2 < 0.5).astype(int)  # a circle: needs both features
    files = {}
    for name, scale in (("scaled", 1.0), ("skewed", 1e6)):
        files[name] = tmp_path / f"{name}.csv"
        lines = ["a,b,y"] + [f"{float(a)!r},{float(b) * scale!r},{t}" for (a, b), t in zip(x, y)]
        files[name].write_text("\n".join(lines) + "\n")

    def test_accuracy(name, standardize):
        cfg = make_config(
            data={"source": "csv", "path": str(files[name]), "target": "y", "split": {"test": 0.25}, "standardize": standardize, "batch_size": 32},
            model={"layers": [{"units": 16, "activation": "relu", "init": "he_normal"}, {"units": 1, "activation": "sigmoid"}]},
            loss="binary_crossentropy", optimizer={"name": "adam", "lr": 0.01}, training={"epochs": 60}, metrics=["accuracy"],
        )
        from nntrain.runs.inference import evaluate_run

        run = fit(cfg, runs_root=tmp_path / "runs").run_dir
        return evaluate_run(run, "test")["accuracy"]

    well = test_accuracy("scaled", False)
    standardised = test_accuracy("skewed", True)
    raw = test_accuracy("skewed", False)
    assert well >= 0.9
    assert standardised >= well - 0.02
    assert raw <= well - 0.1, (well, standardised, raw)


# --------------------------------------------------------------------------------------------------
# Loader


def split(n):
    return Split(np.arange(n, dtype=float)[:, None], np.arange(n))


def test_loader_batches_cover_every_row_once_per_epoch():
    loader = Loader(split(10), 3, shuffle=True, drop_last=False, rng=np.random.default_rng(0))
    assert len(loader) == 4
    epochs = [[y.tolist() for _, y, _ in loader] for _ in range(2)]
    for batches in epochs:
        assert [len(b) for b in batches] == [3, 3, 3, 1]
        assert sorted(sum(batches, [])) == list(range(10))
    assert epochs[0] != epochs[1]  # reshuffled every epoch


def test_loader_rows_stay_paired():
    loader = Loader(split(17), 4, shuffle=True, drop_last=False, rng=np.random.default_rng(1))
    for x, y, _ in loader:
        np.testing.assert_array_equal(x[:, 0], y)


def test_loader_drop_last_and_views_without_shuffling():
    data = split(10)
    loader = Loader(data, 4, shuffle=False, drop_last=True, rng=np.random.default_rng(0))
    assert len(loader) == 2
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert all(np.shares_memory(x, data.x) for x, _, _ in batches)  # views, not copies


def test_loader_shuffled_batches_are_single_gathers_of_batch_size():
    data = split(1000)
    loader = Loader(data, 100, shuffle=True, drop_last=False, rng=np.random.default_rng(0))
    for x, _, _ in loader:
        assert x.shape == (100, 1) and not np.shares_memory(x, data.x)


def test_loader_is_reproducible_from_the_seed():
    a = [y.tolist() for _, y, _ in Loader(split(9), 2, True, False, np.random.default_rng(5))]
    b = [y.tolist() for _, y, _ in Loader(split(9), 2, True, False, np.random.default_rng(5))]
    assert a == b


# --------------------------------------------------------------------------------------------------
# Memory: a memory-mapped data set larger than what training may add to the process


FEATURES = 256
FIT = "import sys; from nntrain.cli import main; sys.argv = ['nntrain', *sys.argv[1:]]; main()"
CONFIG = """\
name: mm
data: {{source: npy, path: {path}, standardize: true, split: {{val: 0.05}}, batch_size: 128}}
model: {{layers: [{{units: 16, activation: relu}}, {{units: 2, activation: softmax}}]}}
loss: categorical_crossentropy
training: {{epochs: 1}}
"""


def _npy_folder(folder, rows):
    folder.mkdir()
    x = np.lib.format.open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 20_000):
        x[start : start + 20_000] = rng.random((min(20_000, rows - start), FEATURES), dtype=np.float32)
    x.flush()
    del x
    np.save(folder / "y.npy", np.arange(rows) % 2)


def _peak_rss_anon_mb(args):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    status, peak = Path(f"/proc/{proc.pid}/status"), 0
    while proc.poll() is None:
        try:
            line = next(l for l in status.read_text().splitlines() if l.startswith("RssAnon:"))
            peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            pass
        time.sleep(0.005)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return peak / 1024


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RssAnon from Linux's /proc")
def test_memory_mapped_training_does_not_copy_the_data_set(tmp_path):
    """Training (with standardize and a split) on a 300 MB memory-mapped x.npy adds under 200 MB of
    anonymous memory over the same run on 1,000 rows; a copy of x alone would add 300 MB.
    (benchmarks/memmap_memory.py measures the same for 1 GB.)"""
    peaks = {}
    for name, rows in (("small", 1_000), ("large", 300 * 2**20 // (4 * FEATURES))):
        _npy_folder(tmp_path / name, rows)
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(CONFIG.format(path=tmp_path / name))
        peaks[name] = _peak_rss_anon_mb([sys.executable, "-c", FIT, "fit", str(cfg), "-q", "--run-dir", str(tmp_path / f"run-{name}")])
    assert peaks["small"] > 20  # the sampling saw the interpreter, numpy and the model
    assert peaks["large"] - peaks["small"] < 200, peaks


@given(st.integers(1, 3000), st.floats(1e-3, 1e6), st.floats(-1e6, 1e6), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_column_statistics_are_numpy_mean_and_std_bit_for_bit(n, scale, offset, seed):
    # A table's columns are standardised one by one (scaling.ColumnScaler) with column_statistics,
    # which must give the bits of values.mean() and values.std() -- what standardization gives a
    # column-major array -- or the weights of a table's run would depend on the path.
    values = np.random.default_rng(seed).standard_normal(n) * scale + offset
    mean, std = column_statistics(values.copy())
    expected = values.std()
    assert mean == values.mean()
    assert std == (1.0 if expected <= 10 * np.finfo(np.float64).eps * abs(mean) else expected)  # (one row: constant)
    columns = standardization(np.asfortranarray(np.c_[values, values]))
    assert (columns[0] == mean).all() and (columns[1] == std).all()
