import json
from pathlib import Path

import numpy as np
import yaml

from conftest import XOR, make_config, run_cli as run
from nntrain.training.fit import fit
from nntrain.nn.model import build_model
from nntrain.runs.store import read_summary
from nntrain.runs.summary import model_summary, size_text

CONFIGS = Path(__file__).parent.parent / "configs"


def write_config(path, **changes):
    path.write_text(yaml.safe_dump({**XOR, **changes}))
    return path


def test_a_dense_500_to_500_layer_has_250_500_parameters(tmp_path):
    layers = [{"units": 500}, {"units": 1, "activation": "sigmoid"}]
    config = write_config(tmp_path / "wide.yaml", model={"inputs": 500, "layers": layers})
    result = run("summary", config, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    first = summary["layers"][0]
    assert (first["weights"], first["biases"], first["params"]) == (250_000, 500, 250_500)
    assert first["output_shape"] == [None, 500] and first["activation"] == "relu"
    assert summary["total_params"] == 250_500 + 501
    assert summary["size_bytes"] == 4 * summary["total_params"]  # float32


def test_batch_norm_and_dropout_counts_match_the_built_model_and_the_run(tmp_path):
    layers = [
        {"units": 6, "activation": "tanh", "batchnorm": True, "keep_prob": 0.8},
        {"units": 3, "activation": "relu", "batchnorm": True},
        {"units": 1, "activation": "sigmoid"},
    ]
    config = make_config(model={"layers": layers}, training={"epochs": 2})
    run_dir = fit(config, run_dir=tmp_path / "r").run_dir
    summary = model_summary(run_dir)
    types = [layer["type"] for layer in summary["layers"]]
    assert types == ["dense + batchnorm + dropout", "dense + batchnorm", "dense"]
    assert [layer["keep_prob"] for layer in summary["layers"]] == [0.8, 1.0, 1.0]
    bn = [(layer["batchnorm_trainable"], layer["batchnorm_non_trainable"]) for layer in summary["layers"]]
    assert bn == [(12, 12), (6, 6), (0, 0)]  # gamma, beta | running mean, running variance
    assert [layer["params"] for layer in summary["layers"]] == [6 * 2 + 6 + 24, 3 * 6 + 3 + 12, 3 + 1]
    model = build_model(config, 2, np.random.default_rng(0))
    assert (summary["trainable_params"], summary["non_trainable_params"]) == model.count_params()
    recorded = read_summary(run_dir)
    assert (summary["trainable_params"], summary["non_trainable_params"]) == (
        recorded["parameters"], recorded["non_trainable_parameters"]
    )
    assert summary["total_params"] == summary["trainable_params"] + summary["non_trainable_params"]


def test_inputs_come_from_the_config_the_hand_set_weights_or_the_data(tmp_path):
    assert model_summary(CONFIGS / "xor_reference.yaml")["inputs"] == 2  # hand-set W, no data needed
    no_inputs = write_config(tmp_path / "x.yaml")  # XOR has no model.inputs: from the data
    assert model_summary(no_inputs)["inputs"] == 2
    assert model_summary(no_inputs)["total_params"] == 4 * 2 + 4 + 4 + 1


def test_summary_table(tmp_path):
    config = write_config(
        tmp_path / "bn.yaml",
        model={"inputs": 2, "layers": [{"units": 4, "activation": "tanh", "batchnorm": True, "keep_prob": 0.5},
                                       {"units": 1, "activation": "sigmoid"}]},
    )
    result = run("summary", config)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "xor: 2 inputs, float32" in lines[0]
    header = ["layer", "output", "shape", "activation", "weights", "biases", "batch", "norm", "params"]
    assert lines[1].split() == header
    assert lines[3].split() == ["0", "dense", "(None,", "4)", "tanh", "8", "4", "8", "28"]
    assert lines[4].split() == ["+", "batchnorm", "(+8)"]
    assert lines[5].split() == ["+", "dropout", "0.5"]
    assert lines[6].split() == ["1", "dense", "(None,", "1)", "sigmoid", "4", "1", "—", "5"]
    assert lines[-3:] == ["Total params: 33 (132.00 B)", "Trainable params: 25", "Non-trainable params: 8"]


def test_summary_of_a_run_directory(tmp_path):
    run_dir = fit(make_config(training={"epochs": 2}), run_dir=tmp_path / "r").run_dir
    result = run("summary", run_dir)
    assert result.exit_code == 0, result.output
    assert "Total params: 17 (68.00 B)" in result.stdout and "0 dense" in result.stdout


def test_size_text():
    assert [size_text(n) for n in (68, 1024, 1_002_000, 2 * 1024**3, 3 * 1024**4)] == [
        "68.00 B", "1.00 KB", "978.52 KB", "2.00 GB", "3072.00 GB"
    ]


def test_summary_errors(tmp_path):
    missing = run("summary", tmp_path / "nope.yaml")
    assert missing.exit_code == 2
    assert missing.stderr == f"error: {tmp_path / 'nope.yaml'}: no such run directory or config file\n"
    (tmp_path / "empty").mkdir()
    empty = run("summary", tmp_path / "empty")
    assert empty.exit_code == 2
    assert empty.stderr == f"error: {tmp_path / 'empty'}: not a run directory (no config.yaml)\n"
    bad = write_config(tmp_path / "bad.yaml", model={"layers": [{"units": 0}]})
    invalid = run("summary", bad)
    assert invalid.exit_code == 2
    assert invalid.stderr.startswith(f"error: {bad}, line ")
    assert "model.layers.0.units: Input should be greater than 0" in invalid.stderr
    run_dir = fit(make_config(training={"epochs": 1}), run_dir=tmp_path / "r").run_dir
    (run_dir / "weights.npz").write_bytes(b"not a zip")
    damaged = run("summary", run_dir)
    assert damaged.exit_code == 2
    assert damaged.stderr.startswith(f"error: {run_dir / 'weights.npz'}: damaged weights file")


def test_summary_set_changes_the_config_not_a_run(tmp_path):
    from conftest import run_cli

    xor = Path(__file__).parent.parent / "configs" / "xor.yaml"
    wider = run_cli("summary", xor, "--set", "model.layers.0.units=8", "--json")
    assert wider.exit_code == 0 and json.loads(wider.stdout)["layers"][0]["output_shape"] == [None, 8]
    typo = run_cli("summary", xor, "--set", "model.layers.0.unitz=8")
    assert typo.exit_code == 2 and "--set model.layers.0.unitz=8" in typo.stderr
    run = run_cli("fit", xor, "-q", "--no-plots", "--set", "training.epochs=2", "--run-dir", tmp_path / "r")
    assert run.exit_code == 0
    refused = run_cli("summary", tmp_path / "r", "--set", "model.layers.0.units=8")
    assert (refused.exit_code, refused.stderr) == (2, f"error: --set changes a config; {tmp_path / 'r'} is a run, summarised as it was trained\n")
