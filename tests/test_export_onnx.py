"""nntrain export --format onnx: the exported model, run by onnxruntime on raw rows, answers as
``nntrain predict`` does (to 1e-5 relative in float32), for every layer type, activation, output
kind, table encoding and dtype; and each user error has its message."""

import csv
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import make_config, run_cli
from nntrain.data.csvfile import read_rows
from nntrain.errors import RunError, UsageError
from nntrain.export.onnx import export, feeds
from nntrain.runs.inference import _input_table, load_predictor, load_split
from nntrain.training.fit import fit

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

CONFIGS = Path(__file__).parent.parent / "configs"
TOL = 1e-5


def train(tmp_path, name="run", **config):
    return fit(make_config(**config), run_dir=tmp_path / name).run_dir


def exported(run, output=None):
    """(the ModelProto, an onnxruntime session) of the run exported to ``output`` (default RUN/model.onnx)."""
    export([run], output)
    path = Path(output or run / "model.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return model, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def expected(run, x=None, path=None):
    """What nntrain predict answers: (outputs, labels or None) for raw rows x or a CSV's rows."""
    predictor = load_predictor(run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unseen categories: counted, as predict does
        encoded = predictor.encoding.transform(_input_table(predictor, path)) if path else x
    out = predictor.outputs(encoded)
    if predictor.kind == "regression":
        return out, None
    if predictor.kind == "multilabel":
        return out, (out > 0.5).astype(np.int64)
    return out, np.array(predictor.label(out))


def check(run, session, feed, x=None, path=None):
    """onnxruntime's outputs equal predict's: values to 1e-5 (relative beyond 1), labels exactly."""
    want, labels = expected(run, x, path)
    got = session.run(None, feed)
    np.testing.assert_allclose(got[0], want, rtol=TOL, atol=TOL)
    if labels is None:
        assert len(got) == 1
    else:
        assert got[1].tolist() == labels.tolist()
    return got


def plain_test_rows(run):
    """A run without a table: its test split's raw rows (the standardisation undone), in its dtype."""
    predictor = load_predictor(run)
    _, _, data = load_split(run, "test")
    return np.asarray(predictor.raw(np.asarray(data.splits["test"].x, np.float64)), predictor.model.dtype)


def table_test_rows(run, dest):
    """A table run's test rows, raw as its file has them (strings, blanks, NA), as a CSV at ``dest``."""
    config, _, data = load_split(run, "test")
    header, rows = read_rows(config.data.path)
    write_csv(dest, header, [rows[i] for i in data.rows["test"]])
    return dest


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def moons(layers, loss="binary_crossentropy", dtype="float32", **data):
    return dict(
        name="moons", dtype=dtype,
        data={"source": "moons", "n_samples": 80, "batch_size": 16, "standardize": True, "split": {"val": 0.2, "test": 0.25}, **data},
        model={"layers": layers}, loss=loss, training={"epochs": 3}, metrics=[],
    )


# --------------------------------------------------------------------------------------------------
# Every layer type, activation and dtype


ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax", "gelu", "silu"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_layer_type_and_activation(tmp_path, activation, dtype):
    layers = [
        {"units": 6, "activation": activation, "batchnorm": True, "keep_prob": 0.8},
        {"type": "residual", "units": 6, "hidden": 5, "activation": activation, "keep_prob": 0.9},
        {"type": "residual", "units": 6, "activation": activation, "batchnorm": False},
        {"units": 1, "activation": "sigmoid"},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a hidden softmax trains, with a note
        run = train(tmp_path, **moons(layers, dtype=dtype))
    model, session = exported(run)
    x = plain_test_rows(run)
    (inp,) = session.get_inputs()
    assert inp.name == "input" and inp.type == f"tensor({'float' if dtype == 'float32' else 'double'})"
    got = check(run, session, {"input": x}, x=x)
    assert got[0].dtype == np.dtype(dtype) and got[1].dtype == np.int64  # moons: no class names
    assert {o.domain: o.version for o in model.opset_import} == {"": 17, "ai.onnx.ml": 3} and model.ir_version == 8


def test_batch_norm_uses_the_running_statistics(tmp_path):
    run = train(tmp_path, **moons([{"units": 4, "activation": "relu", "batchnorm": True}, {"units": 1, "activation": "sigmoid"}]))
    _, session = exported(run)
    x = plain_test_rows(run)
    # One row at a time and all at once: the same answers (no batch statistics), any batch size.
    whole = session.run(None, {"input": x})[0]
    one = np.concatenate([session.run(None, {"input": x[i : i + 1]})[0] for i in range(len(x))])
    np.testing.assert_array_equal(whole, one)
    check(run, session, {"input": x}, x=x)


# --------------------------------------------------------------------------------------------------
# Outputs: multi-class, multi-label, regression


def test_multiclass_without_names_labels_are_indices(tmp_path):
    run = train(tmp_path, **moons([{"units": 8, "activation": "tanh"}, {"units": 3, "activation": "softmax"}], loss="categorical_crossentropy", source="blobs", classes=3, noise=1.5))
    _, session = exported(run)
    x = plain_test_rows(run)
    got = check(run, session, {"input": x}, x=x)
    assert got[0].shape == (len(x), 3) and set(got[1].tolist()) <= {0, 1, 2}


def test_multilabel_has_one_label_per_output(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0], axis=1).astype(np.float64)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    config = moons([{"units": 5, "activation": "relu"}, {"units": 2, "activation": "sigmoid"}], source="npz", path=str(tmp_path / "d.npz"))
    del config["data"]["n_samples"]
    run = train(tmp_path, **config)
    _, session = exported(run)
    rows = plain_test_rows(run)
    got = check(run, session, {"input": rows}, x=rows)
    assert got[1].shape == (len(rows), 2) and got[1].dtype == np.int64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regression_in_the_targets_units(tmp_path, dtype):
    rng = np.random.default_rng(1)
    n = 80
    a, b = rng.normal(50, 10, n), rng.normal(size=n)
    rows = [[f"{a[i]:.3f}", f"{b[i]:.3f}", f"{3 * a[i] + 100 + b[i]:.3f}", f"{-2 * b[i]:.3f}"] for i in range(n)]
    path = write_csv(tmp_path / "r.csv", ["a", "b", "t1", "t2"], rows)
    layers = [{"units": 8, "activation": "gelu"}, {"units": 2, "activation": "linear"}]
    run = train(tmp_path, dtype=dtype, name="reg", data={"source": "csv", "path": str(path), "target": ["t1", "t2"], "split": {"test": 0.25}},
                model={"layers": layers}, loss="mse", training={"epochs": 3}, metrics=["mae"])
    assert json.loads((run / "data.json").read_text())["target_scale"]
    model, session = exported(run)
    assert [o.name for o in session.get_outputs()] == ["values"]
    test = table_test_rows(run, tmp_path / "test.csv")
    got = check(run, session, feeds(run, test), path=test)
    assert got[0].dtype == np.dtype(dtype) and got[0].mean() > 30  # original units, not standard ones


def test_one_target_regression_without_a_table(tmp_path):
    layers = [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "linear"}]
    run = train(tmp_path, **moons(layers, loss="mse", source="sine", scale_target=True))
    _, session = exported(run)
    x = plain_test_rows(run)
    check(run, session, {"input": x}, x=x)


# --------------------------------------------------------------------------------------------------
# Tables: every encoding, raw rows in


def test_penguins_test_rows_and_the_models_description(tmp_path):
    from nntrain.config import load_config

    config = load_config(CONFIGS / "penguins.yaml", ["training.epochs=3"])
    run = fit(config, run_dir=tmp_path / "penguins").run_dir
    model, session = exported(run)
    test = table_test_rows(run, tmp_path / "test.csv")
    assert "NA" in test.read_text()  # raw missing cells go in as the file has them
    got = check(run, session, feeds(run, test), path=test)
    assert got[1].dtype == object and set(got[1]) <= {"Adelie", "Chinstrap", "Gentoo"}
    inputs = {i.name: (i.type, i.shape) for i in session.get_inputs()}
    assert inputs == {
        "island": ("tensor(string)", ["batch", 1]), "bill_length_mm": ("tensor(float)", ["batch", 1]),
        "bill_depth_mm": ("tensor(float)", ["batch", 1]), "flipper_length_mm": ("tensor(float)", ["batch", 1]),
        "body_mass_g": ("tensor(float)", ["batch", 1]), "sex": ("tensor(string)", ["batch", 1]), "year": ("tensor(string)", ["batch", 1]),
    }
    assert [(o.name, o.shape) for o in session.get_outputs()] == [("probabilities", ["batch", 3]), ("label", ["batch"])]
    meta = {p.key: p.value for p in model.metadata_props}
    meta_json = json.loads((run / "data.json").read_text())
    assert meta["run"] == "penguins" and meta["nntrain_version"] == __import__("nntrain").__version__
    assert json.loads(meta["classes"]) == ["Adelie", "Chinstrap", "Gentoo"]
    assert json.loads(meta["features"]) == meta_json["features"] and json.loads(meta["inputs"])[0] == "island"


def odd_table(tmp_path, rows=120):
    """A binary table with every encoding: numbers with gaps (mean, median), a boolean with gaps, a
    category folded into <other> with a <missing> column, one without gaps, and an ignored id."""
    rng = np.random.default_rng(2)
    colours = ["red", "green", "blue", "grey", "pink"]
    out = []
    for i in range(rows):
        size = rng.normal(10, 3)
        colour = colours[min(int(rng.exponential(1.2)), 4)]
        indoor = ["true", "FALSE", "yes", "No", "T", ""][i % 6]
        shape = ["round", "square"][i % 2]
        label = "dog" if size + (colour == "red") * 3 + (shape == "round") * 2 > 12 else "cat"
        out.append([
            str(i), "" if i % 9 == 0 else f"{size:.2f}", "NA" if i % 11 == 0 else f"{rng.normal(4, 1):.2f}",
            indoor, "" if i % 13 == 0 else colour, shape, label,
        ])
    header = ["id", "size", "weight", "indoor", "colour", "shape", "kind"]
    return write_csv(tmp_path / "odd.csv", header, out), header


def test_every_encoding_and_cells_training_never_saw(tmp_path):
    path, header = odd_table(tmp_path)
    data = {
        "source": "csv", "path": str(path), "target": "kind", "split": {"test": 0.2}, "max_categories": 4,
        "columns": {"id": "ignore", "weight": {"type": "number", "missing": "median"}, "indoor": "boolean"},
    }
    layers = [{"units": 6, "activation": "silu"}, {"units": 1, "activation": "sigmoid"}]
    run = train(tmp_path, data=data, model={"layers": layers}, loss="binary_crossentropy", training={"epochs": 3}, metrics=[])
    features = json.loads((run / "data.json").read_text())["features"]
    assert {"size=<missing>", "weight=<missing>", "indoor=<missing>", "colour=<other>", "colour=<missing>"} <= set(features)
    assert "shape=<missing>" not in features and not any(f.startswith("id") for f in features)
    assert "indoor" in features and not any(f.startswith("indoor=") and f != "indoor=<missing>" for f in features)
    _, session = exported(run)
    assert [i.name for i in session.get_inputs()] == ["size", "weight", "indoor", "colour", "shape"]
    assert session.get_inputs()[2].type == "tensor(string)"  # a boolean: its cells' text
    test = table_test_rows(run, tmp_path / "test.csv")
    check(run, session, feeds(run, test), path=test)
    # Cells training never had: an unseen colour (<other>) and shape (all zeros), a missing shape
    # (no <missing> column: all zeros), NA spellings, booleans in other spellings, padded cells.
    new = [
        ["900", "NA", "n/a", "y", "purple", "hexagon", "cat"],
        ["901", "null", "", "F", "", "", "dog"],
        ["902", "12.5", "3.1", "TrUe", " red ", " round ", "dog"],
        ["903", "-1e3", "None", "NaN", "None", "square", "cat"],
        ["904", "7", "4", "0", "pink", "N/A", "cat"],
    ]
    unseen = write_csv(tmp_path / "new.csv", header, new)
    got = check(run, session, feeds(run, unseen), path=unseen)
    assert set(got[1]) <= {"cat", "dog"}


def test_na_values_of_the_run_are_missing_in_the_model_too(tmp_path):
    # "?" anywhere and "n", which would otherwise be a boolean's false, are missing cells.
    rows = [[str(i % 7) if i % 5 else "?", "?" if i % 4 == 0 else "ab"[i % 2], "yn?"[i % 3], "uv"[i % 3 == 0]] for i in range(40)]
    path = write_csv(tmp_path / "q.csv", ["x", "c", "b", "y"], rows)
    data = {"source": "csv", "path": str(path), "target": "y", "na_values": ["?", "n"], "columns": {"b": "boolean"}}
    run = train(tmp_path, data=data, model={"layers": [{"units": 1, "activation": "sigmoid"}]}, loss="binary_crossentropy", training={"epochs": 2}, metrics=[])
    assert json.loads((run / "data.json").read_text())["features"] == ["x", "x=<missing>", "c=a", "c=b", "c=<missing>", "b", "b=<missing>"]
    _, session = exported(run)
    new = write_csv(tmp_path / "new.csv", ["x", "c", "b"], [["?", "n", "n"], ["n", "a", "N"], ["3", "?", "Y"]])
    for rows in (path, new):
        check(run, session, feeds(run, rows), path=rows)


# --------------------------------------------------------------------------------------------------
# The command line and its errors


@pytest.fixture
def xor_run(tmp_path):
    return train(tmp_path, name="xor")


def test_cli_writes_the_default_path_and_says_what(xor_run):
    result = run_cli("export", xor_run, "--format", "onnx")
    assert result.exit_code == 0, result.output
    path = xor_run / "model.onnx"
    assert result.stdout.startswith(f"wrote {path} (") and "opset 17, IR 8" in result.stdout
    assert result.stdout.rstrip().endswith("inputs input; outputs probabilities, label")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    check(xor_run, session, {"input": x}, x=x)


def test_an_existing_output_needs_force(xor_run, tmp_path):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old")
    result = run_cli("export", xor_run, "-o", out)
    assert result.exit_code == 2 and result.stderr == f"error: {out}: already exists; --force replaces it\n"
    assert out.read_bytes() == b"old"
    assert run_cli("export", xor_run, "-o", out, "--force").exit_code == 0
    onnx.checker.check_model(onnx.load(out), full_check=True)


def test_errors(xor_run, tmp_path):
    out = tmp_path / "nowhere" / "m.onnx"
    with pytest.raises(UsageError, match=rf"^{out}: folder {out.parent} does not exist$"):
        export([xor_run], out)
    with pytest.raises(UsageError, match=rf"^{tmp_path}: is a directory; name a file$"):
        export([xor_run], tmp_path)
    with pytest.raises(UsageError, match=r"^--format onnx exports one run at a time; got 2: "):
        export([xor_run, xor_run])
    with pytest.raises(UsageError, match=r"^--tracking-uri is an mlflow option; --format onnx writes a file \(-o\)$"):
        export([xor_run], tracking_uri="sqlite:///m.db")
    with pytest.raises(UsageError, match=r"^--experiment is an mlflow option"):
        export([xor_run], experiment="e")
    with pytest.raises(RunError, match="no such run directory"):
        export([tmp_path / "missing"])


def test_cli_errors(xor_run, tmp_path):
    result = run_cli("export", xor_run, xor_run, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2 and result.stderr.startswith("error: --format onnx exports one run at a time; got 2")
    result = run_cli("export", xor_run, "--format", "pmml")
    assert result.exit_code == 2 and result.stderr == "error: --format pmml: expected one of onnx, tensorboard, mlflow\n"
    result = run_cli("export", xor_run, "--tracking-uri", "sqlite:///m.db")
    assert result.exit_code == 2 and "--tracking-uri is an mlflow option" in result.stderr


def test_a_run_without_weights(xor_run):
    (xor_run / "weights.npz").unlink()  # as a run killed before its first weights
    result = run_cli("export", xor_run)
    assert result.exit_code == 2
    assert result.stderr == f"error: {xor_run}: no weights.npz: the run stopped before it saved its first weights; there is nothing to export\n"
    assert not (xor_run / "model.onnx").exists()


def test_without_the_onnx_extra(xor_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    result = run_cli("export", xor_run)
    assert result.exit_code == 2
    assert result.stderr == "error: --format onnx needs the onnx package: pip install 'nntrain[onnx]'\n"
    assert not (xor_run / "model.onnx").exists()


def test_an_input_named_like_an_output_is_refused(tmp_path):
    path = write_csv(tmp_path / "l.csv", ["label", "y"], [[str(i), "ab"[i % 2]] for i in range(20)])
    data = {"source": "csv", "path": str(path), "target": "y"}
    run = train(tmp_path, data=data, model={"layers": [{"units": 1, "activation": "sigmoid"}]}, loss="binary_crossentropy", training={"epochs": 1}, metrics=[])
    with pytest.raises(RunError, match=r"^input column 'label' has the name of an output of the ONNX model; it cannot be exported$"):
        export([run])


def test_help_does_not_import_onnx():
    import subprocess

    code = "import sys; from nntrain.cli import app; import nntrain.cli.export; print('onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_config_given_as_the_run_says_what_to_do(tmp_path):
    xor = Path(__file__).parent.parent / "configs" / "xor.yaml"
    result = run_cli("export", xor)
    assert (result.exit_code, result.stderr) == (
        2, f"error: RUN {xor}: a config file, not a run directory; train it first (nntrain fit {xor}), then export the run directory\n"
    )
