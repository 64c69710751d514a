"""Using a trained (or hand-set) network: evaluate a run on its data, predict and trace new inputs."""

from pathlib import Path

import numpy as np

from .config import load_config
from .errors import ConfigError, RunError
from .model import build_model
from .runs import load_run_config, read_weights


def load_model(source):
    """(config, model) from a run directory (its trained weights) or a config whose layers are all hand-set."""
    path = Path(source)
    if path.is_dir():
        config = load_run_config(path)
        weights = read_weights(path)
        if "layers.0.W" not in weights or weights["layers.0.W"].ndim != 2:
            raise RunError(f"{path}: damaged weights file: no 2-D layers.0.W")
        model = build_model(config, weights["layers.0.W"].shape[1], np.random.default_rng(config.seed))
        problem = model.load_state_dict(weights)
        if problem:
            raise RunError(f"{path}: weights.npz does not fit config.yaml: {problem}")
        return config, model
    if not path.exists():
        raise ConfigError(f"{source}: no such run directory or config file")
    config = load_config(path)
    for i, layer in enumerate(config.model.layers):
        if layer.weights is None:
            raise config.error(
                ("model", "layers", i),
                "no hand-set weights; predict needs a trained run directory or a config that sets "
                "`weights` on every layer",
            )
    inputs = config.model.inputs or len(config.model.layers[0].weights.W[0])
    return config, build_model(config, inputs, np.random.default_rng(config.seed))


def evaluate_run(run_dir, split="train"):
    """Loss and metrics of a run's weights on one split of its data (regenerated from its config)."""
    from .data import load_data
    from .trainer import Trainer

    if not Path(run_dir).is_dir():
        raise RunError(f"{run_dir}: no such run directory")
    config, model = load_model(run_dir)
    data = load_data(config, np.random.default_rng(config.seed))
    if split not in data.splits:
        raise RunError(f"{run_dir}: the run has no {split!r} split; it has {', '.join(data.splits)}")
    return Trainer(config, model).evaluate(data.splits[split])


def parse_inputs(texts, n_inputs):
    """Rows of floats from strings such as "0,1"; each must have ``n_inputs`` values."""
    rows = []
    for text in texts:
        try:
            row = [float(v) for v in text.replace(" ", "").split(",")]
        except ValueError:
            raise ConfigError(f"--input {text!r}: expected {n_inputs} comma-separated numbers, e.g. 0,1") from None
        if len(row) != n_inputs:
            raise ConfigError(f"--input {text!r}: the network takes {n_inputs} inputs, got {len(row)}")
        rows.append(row)
    return np.array(rows)


def predict(source, inputs):
    """One record per input row: {"input": [...], "layers": [[...] per layer], "output": [...]}."""
    config, model = load_model(source)
    x = parse_inputs(inputs, model.params[0].shape[1])
    layers = model.trace(x)
    return [
        {"input": x[r].tolist(), "layers": [a[r].tolist() for a in layers], "output": layers[-1][r].tolist()}
        for r in range(len(x))
    ]
