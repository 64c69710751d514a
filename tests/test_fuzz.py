"""Hostile input: random and mutated configs, damaged run directories.

The only acceptable outcomes are success or the project's own error (NNTrainError, printed as one line
with exit code 2); anything else -- a KeyError, a TypeError, a MemoryError -- is a bug.
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nntrain.config import parse_config
from nntrain.errors import NNTrainError
from nntrain.nn.model import build_model, count_params

CONFIGS = sorted((Path(__file__).parent.parent / "configs").rglob("*.yaml"))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["sigmoid", "relu", "softmax", "adam", "sgd", "xor", "mse", "he_normal", "1e-3", "-1", "0"]),
)
keys = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["name", "seed", "dtype", "data", "model", "layers", "units", "activation", "init", "weights",
                     "W", "b", "loss", "optimizer", "lr", "training", "epochs", "metrics", "keep_prob", "source",
                     "split", "val", "test", "batch_size", "clip_norm", "schedule", "early_stopping", "sweep", "grid"]),
)
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


def accept(text, overrides=()):
    """Parse; a valid config must also build (when small enough) without anything but NNTrainError."""
    try:
        config = parse_config(text, "fuzz.yaml", overrides)
    except NNTrainError as e:
        assert str(e) and "\n" not in str(e).strip(), repr(str(e))
        return
    inputs = config.model.inputs or 3
    if count_params(config.model.layers, inputs) <= 100_000:
        try:
            build_model(config, inputs, np.random.default_rng(0))
        except NNTrainError:
            pass


pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(documents)
def test_random_yaml_documents(doc):
    accept(yaml.safe_dump(doc))


@FUZZ
@given(st.text(max_size=200))
def test_random_text(text):
    accept(text)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


@FUZZ
@given(st.sampled_from(CONFIGS), st.data())
def test_mutations_of_the_shipped_configs(path, data):
    raw = yaml.safe_load(path.read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(raw) if p]
        target = data.draw(st.sampled_from(paths))
        parent = raw
        for part in target[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[target[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(keys)] = data.draw(documents)
        else:
            parent[target[-1]] = data.draw(documents)
    accept(yaml.safe_dump(raw))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["optimizer.lr", "model.layers.0.units", "model.layers.1", "training",
                                            "data.batch_size", "seed", "x.y.z", "model.layers.9.units", "loss", ""]),
                          st.text(max_size=15)), max_size=3))
def test_random_overrides(pairs):
    accept((Path(__file__).parent.parent / "configs" / "xor.yaml").read_text(), [f"{k}={v}" for k, v in pairs])


# --------------------------------------------------------------------------------------------------
# Damaged run directories


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """A run stopped mid-way with a checkpoint: every file a reader may meet."""
    import os
    import signal

    from conftest import make_config
    from nntrain.training.fit import Interrupted, fit

    config = make_config(model={"layers": [{"units": 3, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}]},
                         data={"source": "xor", "batch_size": 2}, training={"epochs": 6})
    run_dir = tmp_path_factory.mktemp("base") / "run"

    def stop(epoch, step):
        if epoch == 3:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        fit(config, run_dir=run_dir, on_step=stop)
    return run_dir


FILES = ["config.yaml", "summary.json", "metrics.csv", "diagnostics.csv", "weights.npz", "checkpoint.npz"]


def _npz(arrays):
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


wrong_arrays = st.dictionaries(
    st.sampled_from(["layers.0.W", "layers.0.b", "layers.1.W", "layers.0.gamma", "model.layers.0.W",
                     "optimizer.t", "optimizer.m.0", "state", "best.layers.0.W", "x"]),
    st.one_of(
        st.builds(np.zeros, st.tuples(st.integers(0, 4), st.integers(0, 4))),
        st.builds(np.array, st.text(max_size=8)),
        st.builds(lambda v: np.array(v, dtype=object).astype(str), st.lists(st.integers(), max_size=3)),
        st.just(np.array(['{"epoch": "x", "step": [], "rng": 5}'])),
        st.just(np.array(["[1, 2]"])),
        st.builds(np.full, st.just((3, 2)), st.sampled_from([np.nan, np.inf, 1e300])),
    ),
    max_size=4,
)


def damage(run_dir, data):
    name = data.draw(st.sampled_from(FILES))
    path = run_dir / name
    action = data.draw(st.sampled_from(["delete", "truncate", "flip", "random", "wrong"]))
    content = path.read_bytes() if path.exists() else b""
    if action == "delete":
        path.unlink(missing_ok=True)
    elif action == "truncate":
        path.write_bytes(content[: data.draw(st.integers(0, max(len(content) - 1, 0)))])
    elif action == "flip" and content:
        i = data.draw(st.integers(0, len(content) - 1))
        path.write_bytes(content[:i] + bytes([content[i] ^ data.draw(st.integers(1, 255))]) + content[i + 1 :])
    elif action == "random":
        path.write_bytes(data.draw(st.binary(max_size=300)))
    elif name.endswith(".npz"):
        path.write_bytes(_npz(data.draw(wrong_arrays)))
    elif name.endswith(".json"):
        path.write_text(yaml.safe_dump(data.draw(documents)) if data.draw(st.booleans()) else '{"status": 3, "epochs": "x"}')
    else:
        path.write_text(yaml.safe_dump(data.draw(documents)))


def run_readers(run_dir):
    """eval, predict, compare, runs and --resume on the damaged directory: success or NNTrainError."""
    from nntrain.runs.compare import compare, list_runs
    from nntrain.runs.inference import evaluate_run, predict
    from nntrain.training.fit import resume

    readers = [
        evaluate_run,
        lambda d: predict(d, ["0,1", "1,1"]),
        lambda d: compare([d]),
        lambda d: list_runs(d.parent),
        resume,
    ]
    for read in readers:
        try:
            read(run_dir)
        except NNTrainError as e:
            assert str(e) and "\n" not in str(e).strip(), repr(str(e))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_run_directories(interrupted_run, tmp_path, data):
    run_dir = Path(tempfile.mkdtemp(dir=tmp_path)) / "run"
    shutil.copytree(interrupted_run, run_dir)
    for _ in range(data.draw(st.integers(1, 2))):
        damage(run_dir, data)
    run_readers(run_dir)


@pytest.fixture(scope="module")
def mid_epoch_run(tmp_path_factory):
    """A run with early stopping and a schedule, stopped after the first of two steps of epoch 3."""
    import os
    import signal

    from conftest import make_config
    from nntrain.training.fit import Interrupted, fit

    config = make_config(data={"source": "xor", "batch_size": 2},
                         training={"epochs": 6, "early_stopping": {"monitor": "loss", "patience": 10},
                                   "schedule": {"name": "cosine"}})
    run_dir = tmp_path_factory.mktemp("mid") / "run"

    def stop(epoch, step):
        if (epoch, step) == (3, 1):
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        fit(config, run_dir=run_dir, on_step=stop)
    return run_dir


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_checkpoint_states(mid_epoch_run, tmp_path, data):
    """Any value anywhere in the state document: resume succeeds or says what is wrong, in one line."""
    from nntrain.training.checkpoint import load_checkpoint, save_checkpoint
    from nntrain.training.fit import resume

    run_dir = Path(tempfile.mkdtemp(dir=tmp_path)) / "run"
    shutil.copytree(mid_epoch_run, run_dir)
    state, groups = load_checkpoint(run_dir)
    for _ in range(data.draw(st.integers(1, 2))):
        target = data.draw(st.sampled_from([p for p in _paths(state) if p]))
        parent = state
        for part in target[:-1]:
            parent = parent[part]
        if data.draw(st.booleans()):
            del parent[target[-1]]
        else:
            parent[target[-1]] = data.draw(st.one_of(documents, st.integers(-(2**130), 2**130)))
    save_checkpoint(run_dir, state, **groups)
    try:
        resume(run_dir)
    except NNTrainError as e:
        assert str(e) and "\n" not in str(e).strip(), repr(str(e))
