import copy

import numpy as np
import pytest

from nntrain.config import ExperimentConfig

XOR = {
    "name": "xor",
    "seed": 0,
    "data": {"source": "xor", "batch_size": 4},
    "model": {"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]},
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "lr": 0.05},
    "training": {"epochs": 20},
    "metrics": ["accuracy"],
}


def make_config(base=XOR, **changes):
    """An ExperimentConfig from a dict, with top-level keys replaced."""
    raw = copy.deepcopy(base)
    raw.update(copy.deepcopy(changes))
    return ExperimentConfig.model_validate(raw)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in a fresh temporary directory (so runs/ goes there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
