import sys

import numpy as np
import pytest

from conftest import make_config
from nntrain.data.columns import fit_encoding
from nntrain.data.csvfile import data_row_line
from nntrain.data.sources import check_finite, load_table
from nntrain.errors import ConfigError, DataError

SOFTMAX3 = {"layers": [{"units": 3, "activation": "softmax"}]}
LINEAR1 = {"layers": [{"units": 1, "activation": "linear"}]}


def config(data, model=SOFTMAX3, loss="categorical_crossentropy"):
    return make_config(data=data, model=model, loss=loss, metrics=[])


def table(data, seed=0, **kw):
    return load_table(config(data, **kw), np.random.default_rng(seed))


def encoded(t, **kw):
    """A table file's x as numbers: its columns encoded on all its rows."""
    return fit_encoding(t.x, t.features, config({"source": "csv", "path": "-", "target": "y"}, **kw)).transform(t.x)


# --------------------------------------------------------------------------------------------------
# Built-in sets


@pytest.mark.parametrize(
    "source,classes,features",
    [("xor", 2, 2), ("moons", 2, 2), ("circles", 2, 2), ("spirals", 3, 2), ("blobs", 3, 2)],
)
def test_generated_classification_sets(source, classes, features):
    t = table({"source": source, "n_samples": 300})
    assert t.x.shape == (300, features) and t.y.shape == (300,) and t.labels
    assert np.bincount(t.y).tolist() == [300 // classes] * classes  # balanced
    assert t.features == ["x1", "x2"] and t.classes is None
    again, other = table({"source": source, "n_samples": 300}), table({"source": source, "n_samples": 300}, seed=1)
    np.testing.assert_array_equal(t.x, again.x)  # the run's seed decides the data
    assert not np.array_equal(t.x, other.x)


def test_xor_is_the_lectures_table_unless_sampled():
    t = table({"source": "xor"})
    np.testing.assert_array_equal(t.x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(t.y, [0, 1, 1, 0])
    sampled = table({"source": "xor", "n_samples": 200, "noise": 0.05})
    corners = np.round(sampled.x).astype(int)
    np.testing.assert_array_equal(sampled.y, corners[:, 0] ^ corners[:, 1])
    assert 0 < np.abs(sampled.x - corners).max() < 0.4  # noisy, but around the corners


def test_generated_shapes_without_noise():
    circles = table({"source": "circles", "n_samples": 100, "noise": 0.0})
    radius = np.hypot(*circles.x.T)
    np.testing.assert_allclose(radius, np.where(circles.y == 0, 1.0, 0.5))
    moons = table({"source": "moons", "n_samples": 100, "noise": 0.0})
    outer = moons.x[moons.y == 0]
    np.testing.assert_allclose(np.hypot(*outer.T), 1.0)  # the upper half circle
    assert (outer[:, 1] >= 0).all()
    spirals = table({"source": "spirals", "n_samples": 100, "noise": 0.0, "classes": 4})
    assert set(spirals.y) == {0, 1, 2, 3} and (np.hypot(*spirals.x.T) <= 1).all()
    blobs = table({"source": "blobs", "n_samples": 400, "noise": 0.1, "classes": 4})
    for k in range(4):  # tight clusters: each class's spread is the noise
        assert blobs.x[blobs.y == k].std(axis=0).max() < 0.15


def test_sine_is_a_regression_set():
    t = table({"source": "sine", "n_samples": 50, "noise": 0.0}, model=LINEAR1, loss="mse")
    assert t.x.shape == (50, 1) and t.y.shape == (50, 1) and not t.labels
    np.testing.assert_allclose(t.y, np.sin(t.x))


def test_generated_set_options_that_do_not_apply():
    with pytest.raises(ConfigError, match="data.classes: 'moons' has a fixed number of classes; only spirals and blobs take classes"):
        table({"source": "moons", "classes": 3})
    with pytest.raises(ConfigError, match="data.noise: xor without n_samples is the lecture's four exact rows"):
        table({"source": "xor", "noise": 0.1})


# --------------------------------------------------------------------------------------------------
# CSV


def write(path, text):
    path.write_text(text)
    return str(path)


def test_csv_string_labels_become_classes(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,kind\n1,2,dog\n3,4,cat\n5,6,dog\n7,8,emu\n")
    t = table({"source": "csv", "path": path, "target": "kind"})
    assert t.features == ["a", "b"] and t.targets == ["kind"] and t.classes == ["cat", "dog", "emu"]
    np.testing.assert_array_equal(t.y, [1, 0, 1, 2])
    np.testing.assert_array_equal(encoded(t), [[1, 2], [3, 4], [5, 6], [7, 8]])
    # A run's stored names label the same file the same way, whatever it contains now.
    again = load_table(config({"source": "csv", "path": path, "target": "kind"}), None, classes=["emu", "dog", "cat"])
    np.testing.assert_array_equal(again.y, [1, 2, 1, 0])


def test_csv_numeric_labels_sort_as_numbers(tmp_path):
    path = write(tmp_path / "d.csv", "x,label\n0,10\n1,2\n2,10\n")
    t = table({"source": "csv", "path": path, "target": "label"}, model={"layers": [{"units": 2, "activation": "softmax"}]})
    assert t.classes == ["2", "10"]
    np.testing.assert_array_equal(t.y, [1, 0, 1])


def test_csv_features_and_regression_targets(tmp_path):
    path = write(tmp_path / "d.csv", "id,a,b,t1,t2\n7,1,2,0.5,1.5\n8,3,4,2.5,3.5\n")
    data = {"source": "csv", "path": path, "target": ["t1", "t2"], "features": ["b", "a"]}
    t = table(data, model={"layers": [{"units": 2, "activation": "linear"}]}, loss="mse")
    assert t.features == ["b", "a"] and t.targets == ["t1", "t2"] and t.classes is None
    np.testing.assert_array_equal(encoded(t), [[2, 1], [4, 3]])
    np.testing.assert_array_equal(t.y, [[0.5, 1.5], [2.5, 3.5]])


@pytest.mark.parametrize("loss", ["mse", "mae", "huber", {"name": "huber", "delta": 0.5}])
def test_csv_target_of_a_regression_loss_is_read_as_numbers(tmp_path, loss):
    # A single target column is class labels only for a loss that classifies: a regression loss reads
    # its values (not the index of each distinct value, which a test of the name "mse" once gave).
    path = write(tmp_path / "d.csv", "a,y\n1,2.5\n2,-1\n3,10\n4,2.5\n")
    t = table({"source": "csv", "path": path, "target": "y"}, model=LINEAR1, loss=loss)
    assert not t.labels and t.classes is None
    np.testing.assert_array_equal(t.y, [[2.5], [-1.0], [10.0], [2.5]])


def test_npz_targets_of_a_regression_loss_are_values(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(6.0).reshape(3, 2), y=np.array([0.0, 1.0, 2.0]))
    for loss, labels in (("mae", False), ("huber", False), ("categorical_crossentropy", True), ("binary_crossentropy", True)):
        assert table({"source": "npz", "path": str(path)}, loss=loss).labels is labels


def test_csv_reader_keeps_file_line_numbers(tmp_path):
    path = write(tmp_path / "d.csv", '\ufeff\na,b,y\n1,"two\nlines",5\n\n3,x,4\n')
    t = table({"source": "csv", "path": path, "target": "y"}, model=LINEAR1, loss="mse")
    assert t.features == ["a", "b"]  # the byte-order mark is not part of the name
    assert t.x["b"].levels == ["two\nlines", "x"]
    assert [data_row_line(path, ",", row) for row in range(2)] == [3, 6]
    assert t.x.where(1, "a") == f"{path}, line 6, column 'a'"


@pytest.mark.parametrize(
    "text,message",
    [
        ("a,b,y\n1,2,u\n3,4\n", "d.csv, line 3: 2 fields, but the header has 3"),
        ("a,b,y\n1,2,\n3,4,\n", "d.csv: no rows left once those with missing cells are left out (2 without 'y')"),
        ("a,b,c\n1,2,u\n", "d.csv: no target column 'y'; the columns are: a, b, c"),
        ("a,a,y\n1,2,u\n", "d.csv: two columns are named 'a'"),
        ("a,,y\n1,2,u\n", "d.csv: column 2 of the header has no name"),
        ("a,b,y\n", "d.csv: no data rows below the header"),
        ("\n\n", "d.csv: empty file; expected a header row of column names, then data rows"),
        ("y\nu\n", "d.csv: no feature columns; the only columns are the target's (y)"),
    ],
)
def test_csv_errors_name_the_file_line_and_column(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "d.csv", text)
    with pytest.raises(DataError) as info:
        table({"source": "csv", "path": str(tmp_path / "d.csv"), "target": "y"})
    assert str(info.value) == message


def test_csv_feature_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "d.csv", "a,b,y\n1,2,u\n")
    with pytest.raises(DataError, match=r"^d.csv: no feature column 'c'; the columns are: a, b, y$"):
        table({"source": "csv", "path": path, "target": "y", "features": ["a", "c"]})
    with pytest.raises(DataError, match=r"^d.csv: column 'y' is both a feature and the target$"):
        table({"source": "csv", "path": path, "target": "y", "features": ["a", "y"]})
    with pytest.raises(DataError, match=r"^d.csv, line 2, column 'y': class 'u' is not one of the run's classes \(v, w\)$"):
        load_table(config({"source": "csv", "path": path, "target": "y"}), None, classes=["v", "w"])
    with pytest.raises(DataError, match=r"^nope.csv: no such file$"):
        table({"source": "csv", "path": str(tmp_path / "nope.csv"), "target": "y"})
    (tmp_path / "bin.csv").write_bytes(b"a,y\n\xff\xfe,1\n")
    with pytest.raises(DataError, match=r"^bin.csv: not UTF-8 text"):
        table({"source": "csv", "path": str(tmp_path / "bin.csv"), "target": "y"})


def test_csv_regression_target_must_be_numeric(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "d.csv", "a,y\n1,2.5\n2,high\n")
    with pytest.raises(DataError, match=r"^d.csv, line 3, column 'y': 'high' is not a number; a regression target holds numbers"):
        table({"source": "csv", "path": path, "target": "y"}, model=LINEAR1, loss="mse")


# --------------------------------------------------------------------------------------------------
# NumPy files


def test_npz_stored_members_are_memory_mapped_compressed_ones_read(tmp_path):
    x = np.arange(24, dtype=np.float32).reshape(6, 2, 2)  # examples with two axes are flattened
    y = np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "stored.npz", x=x, y=y)
    np.savez_compressed(tmp_path / "packed.npz", x=x, y=y)
    stored = table({"source": "npz", "path": str(tmp_path / "stored.npz")})
    packed = table({"source": "npz", "path": str(tmp_path / "packed.npz")})
    assert isinstance(stored.x, np.memmap) and not isinstance(packed.x, np.memmap)
    for t in (stored, packed):
        np.testing.assert_array_equal(t.x, x.reshape(6, 4))
        np.testing.assert_array_equal(t.y, y)
        assert t.features == ["x1", "x2", "x3", "x4"] and t.parts == {}


def test_npz_held_out_arrays_define_the_splits(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {k: rng.random((n, 3)) for k, n in (("x", 10), ("x_val", 4), ("x_test", 5))}
    arrays.update(y=rng.random((10, 2)), y_val=rng.random((4, 2)), y_test=rng.random((5, 2)))
    np.savez(tmp_path / "d.npz", **arrays)
    t = table({"source": "npz", "path": str(tmp_path / "d.npz")}, model={"layers": [{"units": 2, "activation": "linear"}]}, loss="mse")
    assert sorted(t.parts) == ["test", "val"] and t.targets == ["y1", "y2"]
    np.testing.assert_array_equal(t.parts["test"][0], arrays["x_test"])
    np.testing.assert_array_equal(t.parts["val"][1], arrays["y_val"])


def test_npy_folder_is_memory_mapped(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((5, 3), dtype=np.float64))
    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 1, 0]))
    t = table({"source": "npy", "path": str(tmp_path)})
    assert isinstance(t.x, np.memmap) and t.x.shape == (5, 3)
    assert not isinstance(t.y, np.memmap)  # targets are small: read into memory


def npz_error(tmp_path, **arrays):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError) as info:
        table({"source": "npz", "path": str(tmp_path / "d.npz")})
    return str(info.value)


def test_npz_errors_name_the_array_and_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = np.zeros((5, 3))
    y = np.array([0, 1, 2, 0, 1])
    bad = x.copy()
    bad[3, 2] = np.nan
    assert npz_error(tmp_path, x=bad, y=y) == "d.npz: array 'x' has a non-finite value (nan) in row 3 (x[3, 2])"
    assert npz_error(tmp_path, x=x, y=np.array([0, 1, np.inf, 0, 1])) == (
        "d.npz: array 'y' has a non-finite value (inf) in row 2 (y[2])"
    )
    assert npz_error(tmp_path, x=x, y=y[:4]) == "d.npz: 'x' has 5 rows but 'y' has 4"
    assert npz_error(tmp_path, x=x) == "d.npz: no array 'y'; it has: x"
    assert npz_error(tmp_path, x=x, y=y, x_val=x) == "d.npz: has 'x_val' but no 'y_val'"
    assert npz_error(tmp_path, x=x, y=y, x_val=np.zeros((2, 4)), y_val=y[:2]) == (
        "d.npz: 'x_val' has 4 features per row but 'x' has 3"
    )
    assert npz_error(tmp_path, x=np.array(["a"] * 5), y=y) == "d.npz: array 'x' has dtype <U1; expected numbers"
    assert npz_error(tmp_path, x=x, y=y, x_test=np.zeros((0, 3)), y_test=y[:0]) == "d.npz: 'x_test' has no rows"
    (tmp_path / "d.npz").write_text("not a zip")
    with pytest.raises(DataError, match=r"^d.npz: not an .npz file \(not a zip archive\)$"):
        table({"source": "npz", "path": "d.npz"})
    with pytest.raises(DataError, match=r"^gone.npz: no such file$"):
        table({"source": "npz", "path": "gone.npz"})
    with pytest.raises(DataError, match=r"^d.npz: not a folder; source 'npy' expects a folder of x.npy, y.npy"):
        table({"source": "npy", "path": "d.npz"})


def test_check_finite_scans_large_arrays_block_by_block(monkeypatch):
    monkeypatch.setattr("nntrain.data.sources.BLOCK_BYTES", 64)  # 2 rows of 4 float64 per block
    x = np.zeros((9, 4))
    check_finite("f", "x", x)
    x[7, 1] = -np.inf
    with pytest.raises(DataError, match=r"array 'x' has a non-finite value \(-inf\) in row 7 \(x\[7, 1\]\)"):
        check_finite("f", "x", x)


# --------------------------------------------------------------------------------------------------
# scikit-learn


def test_sklearn_sets_keep_their_names():
    iris = table({"source": "sklearn:iris"})
    assert iris.x.shape == (150, 4) and iris.classes == ["setosa", "versicolor", "virginica"]
    assert iris.features[0] == "sepal length (cm)" and np.bincount(iris.y).tolist() == [50, 50, 50]
    diabetes = table({"source": "sklearn:diabetes"}, model=LINEAR1, loss="mse")
    assert diabetes.y.shape == (442, 1) and diabetes.classes is None and not diabetes.labels


def test_sklearn_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    with pytest.raises(DataError) as info:
        table({"source": "sklearn:wine"})
    assert str(info.value) == "source 'sklearn:wine' needs scikit-learn; install it with: pip install 'nntrain[sklearn]'"


def test_a_compressed_npz_too_large_for_memory_is_refused_before_decompressing(tmp_path, monkeypatch):
    import nntrain.data.sources as sources

    np.savez_compressed(tmp_path / "d.npz", x=np.zeros((1000, 2)), y=np.zeros((1000, 1)))
    monkeypatch.setattr(sources, "_available_memory", lambda: 10_000)  # x takes 16,000 bytes
    config = make_config(data={"source": "npz", "path": str(tmp_path / "d.npz")}, loss="mse", metrics=[],
                         model={"layers": [{"units": 1, "activation": "linear"}]})  # fmt: skip
    with pytest.raises(DataError, match=r"d.npz: x.npy takes 16 kB decompressed, more than the 10 kB of memory available; save it uncompressed \(np.savez\)"):
        load_table(config, np.random.default_rng(0))
    monkeypatch.setattr(sources, "_available_memory", lambda: 10**12)
    assert load_table(config, np.random.default_rng(0)).x.shape == (1000, 2)
