"""nntrain.training.trainer: one training step against a hand computation, what an epoch logs,
evaluation in batches, and the checks ``prepare`` makes before a run exists."""

import json

import numpy as np
import pytest

from conftest import make_config
from nntrain.config import load_config
from nntrain.data.prepare import Loader
from nntrain.errors import ConfigError
from nntrain.runs.store import read_metrics
from nntrain.training.fit import fit
from nntrain.training.trainer import Diverged, EpochTotals, prepare

# A float64 net small enough to differentiate by hand: 2 -> 3 (tanh, l1 + l2) -> 1 (sigmoid), trained by
# plain SGD on the four XOR rows with binary cross-entropy.
HAND = {
    "dtype": "float64",
    "data": {"source": "xor", "batch_size": 4, "shuffle": False},
    "model": {
        "layers": [
            {"units": 3, "activation": "tanh", "l1": 0.05, "l2": 0.1, "init": {"name": "normal", "scale": 1.0}},
            {"units": 1, "activation": "sigmoid", "init": {"name": "normal", "scale": 1.0}},
        ]
    },
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 1, "diagnostics": False},
}


def hand_trainer(**training):
    """The HAND net's data and trainer, with these training settings added."""
    _, data, trainer = prepare(make_config(**{**HAND, "training": {**HAND["training"], **training}}))
    return data, trainer


def weights(trainer):
    """W1 (3, 2), b1 (3,), W2 (1, 3), b2 (1,): copies of the model's arrays."""
    state = trainer.model.state_dict()
    return [state[k].copy() for k in ("layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b")]


def by_hand(params, x, y, l1=0.05, l2=0.1):
    """Data loss, penalty, accuracy and the gradients of loss + penalty of the HAND net, written out."""
    W1, b1, W2, b2 = params
    h = np.tanh(x @ W1.T + b1)
    p = 1 / (1 + np.exp(-(h @ W2.T + b2)))
    data_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    penalty = l1 * np.abs(W1).sum() + l2 * (W1**2).sum()
    accuracy = np.mean((p > 0.5) == (y > 0.5))
    dz2 = (p - y) / len(x)
    dz1 = (dz2 @ W2) * (1 - h**2)
    grads = [dz1.T @ x + l1 * np.sign(W1) + 2 * l2 * W1, dz1.sum(0), dz2.T @ h, dz2.sum(0)]
    return data_loss, penalty, accuracy, grads


# --------------------------------------------------------------------------------------------------
# One step


def test_one_step_is_the_hand_computed_loss_penalty_accuracy_and_update():
    data, trainer = hand_trainer()
    x, y = data.train.x, data.train.y
    before = weights(trainer)
    data_loss, penalty, accuracy, grads = by_hand(before, x, y)
    totals = trainer.new_totals()
    trainer.train_step(x, y, totals)
    assert totals.seen == 4 and totals.clipped == 0
    assert totals.sums["data_loss"] == pytest.approx(4 * data_loss, rel=1e-12)
    assert totals.sums["penalty"] == pytest.approx(4 * penalty, rel=1e-12)
    assert totals.sums["accuracy"].tolist() == [0, 0] and len(totals.pending) == 1  # stats taken later
    trainer.take_stats(totals)
    assert totals.sums["accuracy"].tolist() == [4 * accuracy, 4] and not totals.pending  # right, seen
    for after, old, grad in zip(weights(trainer), before, grads):
        np.testing.assert_allclose(after, old - 0.5 * grad, rtol=1e-12, atol=1e-15)
    logs = trainer.epoch_logs(totals)
    assert list(logs) == ["loss", "data_loss", "penalty", "accuracy"]
    assert logs["loss"] == pytest.approx(data_loss + penalty, rel=1e-12)


def test_an_epochs_totals_weigh_each_batch_by_its_size():
    data, trainer = hand_trainer()
    x, y = data.train.x, data.train.y
    params = weights(trainer)
    first = by_hand(params, x[:3], y[:3])
    params = [p - 0.5 * g for p, g in zip(params, first[3])]
    second = by_hand(params, x[3:], y[3:])
    totals = trainer.new_totals()
    trainer.train_step(x[:3], y[:3], totals)
    trainer.train_step(x[3:], y[3:], totals)
    logs = trainer.epoch_logs(totals)
    expected = [(3 * a + 1 * b) / 4 for a, b in zip(first[:3], second[:3])]
    assert (logs["data_loss"], logs["penalty"], logs["accuracy"]) == pytest.approx(expected, rel=1e-12)


def clip(grads, value, norm):
    """clip_value, then clip_norm, as the step does."""
    if value is not None:
        grads = [np.clip(g, -value, value) for g in grads]
    if norm is not None:
        total = np.sqrt(sum(float((g**2).sum()) for g in grads))
        grads = [g * (norm / total) for g in grads] if total > norm else grads
    return grads


@pytest.mark.parametrize(
    "value,norm,clipped",
    [(1e-3, None, 1), (None, 1e-2, 1), (1e-3, 1e-3, 1), (10.0, None, 0), (None, 10.0, 0), (10.0, 10.0, 0)],
)
def test_clipping_acts_on_the_gradient_before_the_update_and_counts_clipped_steps(value, norm, clipped):
    data, trainer = hand_trainer(clip_value=value, clip_norm=norm)
    x, y = data.train.x, data.train.y
    totals = trainer.new_totals()
    for _ in range(2):  # counted per step, not per element
        before = weights(trainer)
        grads = clip(by_hand(before, x, y)[3], value, norm)
        trainer.train_step(x, y, totals)
        for after, old, grad in zip(weights(trainer), before, grads):
            np.testing.assert_allclose(after, old - 0.5 * grad, rtol=1e-10, atol=1e-15)
    assert totals.clipped == 2 * clipped
    assert trainer.epoch_logs(totals)["clipped_steps"] == 2 * clipped


def test_a_non_finite_loss_raises_diverged_before_anything_changes():
    data, trainer = hand_trainer()
    before = weights(trainer)
    y = data.train.y.copy()
    y[0] = np.nan
    totals = trainer.new_totals()
    with pytest.raises(Diverged):
        trainer.train_step(data.train.x, y, totals)
    for after, old in zip(weights(trainer), before):
        np.testing.assert_array_equal(after, old)
    assert totals.seen == 0 and totals.clipped == 0 and totals.to_json()["sums"] == {"data_loss": 0.0, "penalty": 0.0, "accuracy": [0.0, 0.0]}


def test_epoch_totals_survive_a_json_round_trip_and_go_on_identically():
    data, trainer = hand_trainer()
    x, y = data.train.x, data.train.y
    totals = trainer.new_totals()
    trainer.train_step(x[:3], y[:3], totals)
    pending = {k: v.copy() for k, v in totals.pending_arrays().items()}  # as a checkpoint keeps them
    assert pending["prediction"].shape == (3, 1) and pending["y"].shape == (3, 1) and "w" not in pending
    restored = EpochTotals.from_json(json.loads(json.dumps(totals.to_json())), pending)
    assert restored.to_json() == totals.to_json()
    state = {k: v.copy() for k, v in trainer.model.state_dict().items()}
    trainer.train_step(x[3:], y[3:], totals)
    trainer.model.load_state_dict(state)
    trainer.train_step(x[3:], y[3:], restored)  # SGD without momentum: the same step again
    assert trainer.epoch_logs(restored) == trainer.epoch_logs(totals)


def test_set_epoch_takes_the_learning_rate_from_the_schedule():
    _, _, trainer = prepare(make_config(optimizer={"name": "sgd", "lr": 0.1}, training={"epochs": 4, "schedule": {"name": "step", "step_size": 2, "gamma": 0.5}}))
    assert [trainer.set_epoch(e) for e in range(4)] == [0.1, 0.1, 0.05, 0.05]
    assert trainer.optimizer.lr == 0.05
    _, _, constant = prepare(make_config(optimizer={"name": "sgd", "lr": 0.1}))
    assert [constant.set_epoch(e) for e in range(3)] == [0.1, 0.1, 0.1]


# --------------------------------------------------------------------------------------------------
# What an epoch logs


def test_epoch_logs_are_the_means_then_each_held_out_split_then_lr():
    _, trainer = hand_trainer(clip_norm=1.0)
    totals = trainer.new_totals()
    totals.seen, totals.clipped = 4, 3
    totals.sums.update(data_loss=2.0, penalty=0.4, accuracy=np.array([3.0, 4.0]))
    logs = trainer.epoch_logs(totals, {"val": {"loss": 0.7, "accuracy": 0.25}}, lr=0.01)
    assert logs == {
        "loss": pytest.approx(0.6), "data_loss": 0.5, "penalty": 0.1, "accuracy": 0.75, "clipped_steps": 3,
        "val_loss": 0.7, "val_accuracy": 0.25, "lr": 0.01,
    }  # fmt: skip


COLUMNS = {
    "plain": ({}, ["loss", "accuracy"]),
    "penalties": ({"model": {"l1": 0.01, "layers": [{"units": 4}, {"units": 1, "activation": "sigmoid"}]}}, ["loss", "data_loss", "penalty", "accuracy"]),
    "clip_value": ({"training": {"epochs": 2, "clip_value": 1.0}}, ["loss", "accuracy", "clipped_steps"]),
    "clip_norm": ({"training": {"epochs": 2, "clip_norm": 1.0}}, ["loss", "accuracy", "clipped_steps"]),
    "schedule": ({"training": {"epochs": 2, "schedule": {"name": "exponential"}}}, ["loss", "accuracy", "lr"]),
    "val": ({"data": {"source": "moons", "n_samples": 40, "split": {"val": 0.25}}}, ["loss", "accuracy", "val_loss", "val_accuracy"]),
    "test only": ({"data": {"source": "moons", "n_samples": 40, "split": {"test": 0.25}}}, ["loss", "accuracy"]),
    "regression": ({"data": {"source": "sine"}, "loss": "mse", "metrics": ["mae"], "model": {"layers": [{"units": 4}, {"units": 1, "activation": "linear"}]}}, ["loss", "mae"]),
    "no metrics": ({"metrics": []}, ["loss"]),
    "ranking": (
        {"data": {"source": "moons", "n_samples": 40, "split": {"val": 0.25}}, "metrics": ["roc_auc", {"name": "f1", "average": "per_class"}]},
        ["loss", "f1_0", "f1_1", "val_loss", "val_roc_auc", "val_f1_0", "val_f1_1"],
    ),
}


@pytest.mark.parametrize("case", list(COLUMNS))
def test_logged_columns_are_what_a_real_epoch_logs(case, tmp_path):
    changes, expected = COLUMNS[case]
    config = make_config(**{"training": {"epochs": 2}, **changes})
    _, data, trainer = prepare(config)
    assert trainer.logged_columns(data) == expected
    logged = [list(row) for row in read_metrics(fit(config, run_dir=tmp_path / "run").run_dir)]
    assert logged == [["epoch", *expected, "epoch_time_s"]] * 2


def test_held_out_metrics_each_epoch_equal_scikit_learns_on_that_epochs_weights(tmp_path):
    from sklearn import metrics as sk

    config = make_config(
        data={"source": "moons", "n_samples": 200, "batch_size": 16, "split": {"val": 0.3}},
        training={"epochs": 3}, metrics=["roc_auc", "average_precision", "balanced_accuracy"],
    )  # fmt: skip
    _, data, trainer = prepare(config)
    val = data.splits["val"]
    for x, y, w in Loader(data.train, 16, shuffle=False, drop_last=False, rng=None):
        trainer.train_step(x, y, trainer.new_totals(), weight=w)
    logs = trainer.evaluate(val)
    p, y = trainer.model.predict(val.x)[:, 0].astype(np.float64), val.y[:, 0]
    assert logs["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p), rel=1e-12)
    assert logs["average_precision"] == pytest.approx(sk.average_precision_score(y, p), rel=1e-12)
    assert logs["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, p > 0.5), rel=1e-12)


def test_the_columns_known_before_training_are_the_ones_logged(tmp_path):
    # Early stopping's monitor is checked against them before anything is written.
    config = make_config(
        data={"source": "moons", "n_samples": 60, "batch_size": 16, "split": {"val": 0.25, "test": 0.2}},
        model={"l2": 0.01, "layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]},
        training={"epochs": 2, "clip_norm": 1.0, "schedule": {"name": "cosine"}},
    )
    _, data, trainer = prepare(config)
    columns = trainer.logged_columns(data)
    assert columns == [
        "loss", "data_loss", "penalty", "accuracy", "clipped_steps", "val_loss", "val_accuracy", "lr",
    ]  # fmt: skip
    logged = list(read_metrics(fit(config, run_dir=tmp_path / "run").run_dir)[0])
    assert logged == ["epoch", *columns, "epoch_time_s"]


# --------------------------------------------------------------------------------------------------
# Evaluation


@pytest.fixture
def trained():
    """A float64 net with l2, batch norm and dropout after a few steps, and its validation split of 15 rows."""
    config = make_config(
        dtype="float64",
        data={"source": "moons", "n_samples": 50, "batch_size": 8, "split": {"val": 0.3}},
        model={"layers": [{"units": 5, "activation": "relu", "batchnorm": True, "keep_prob": 0.5, "l2": 0.1}, {"units": 1, "activation": "sigmoid"}]},
        training={"diagnostics": False},
    )
    _, data, trainer = prepare(config)
    totals = trainer.new_totals()
    for i in range(0, len(data.train), 8):
        trainer.train_step(data.train.x[i : i + 8], data.train.y[i : i + 8], totals)
    return data, trainer


@pytest.mark.parametrize("batch_size", [1, 4, 7, 15])
def test_evaluate_in_batches_equals_evaluate_in_one_batch(trained, batch_size):
    data, trainer = trained
    val = data.splits["val"]
    assert len(val) == 15
    whole = trainer.evaluate(val, batch_size=4096)
    assert list(whole) == ["loss", "accuracy"]
    assert trainer.evaluate(val, batch_size=batch_size) == pytest.approx(whole, rel=1e-12)


def test_evaluate_is_the_inference_loss_with_penalty_and_changes_nothing(trained):
    data, trainer = trained
    val, model = data.splits["val"], trainer.model
    state = {k: v.copy() for k, v in model.state_dict().items()}
    p = model.predict(val.x)  # inference: no dropout, batch norm's running statistics
    y = val.y
    expected_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + model.penalty()
    results = trainer.evaluate(val)
    assert model.penalty() > 0
    assert results == pytest.approx({"loss": expected_loss, "accuracy": np.mean((p > 0.5) == (y > 0.5))}, rel=1e-10)
    assert trainer.evaluate(val) == results  # no dropout mask drawn
    for key, array in model.state_dict().items():
        np.testing.assert_array_equal(array, state[key])  # the running statistics are left alone


# --------------------------------------------------------------------------------------------------
# prepare's checks


def prepare_error(**changes):
    with pytest.raises(ConfigError) as info:
        prepare(make_config(**changes))
    return str(info.value)


BATCH_NORM = {"layers": [{"units": 4, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}]}


def test_prepare_checks_the_input_width():
    assert prepare_error(model={"inputs": 3, "layers": [{"units": 1, "activation": "sigmoid"}]}) == (
        "model.inputs: the data has 2 features, not 3"
    )
    _, data, trainer = prepare(make_config(model={"inputs": 2, "layers": [{"units": 1, "activation": "sigmoid"}]}))
    assert data.n_features == trainer.model.inputs == 2


def test_prepare_names_the_file_and_line_of_a_loaded_config(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text(
        "loss: binary_crossentropy\nmodel:\n  inputs: 5\n  layers:\n    - {units: 1, activation: sigmoid}\n"
    )
    with pytest.raises(ConfigError) as info:
        prepare(load_config(path))
    assert str(info.value) == f"{path}, line 3: model.inputs: the data has 2 features, not 5"


@pytest.mark.parametrize(
    "data,message",
    [
        ({"source": "xor", "batch_size": 1}, "data.batch_size: batch norm needs at least 2 examples per training batch"),
        # 4 XOR rows, 2 held out for validation and 1 for test: 1 training example.
        ({"source": "xor", "batch_size": 4, "split": {"val": 0.5, "test": 0.25}}, "data.batch_size: batch norm needs at least 2 examples per training batch"),
        (
            {"source": "xor", "batch_size": 3},
            (
                "data.batch_size: with 4 training examples the last batch of every epoch has 1 example, which batch "
                "norm cannot normalise; set data.drop_last: true or another batch_size"
            ),
        ),
    ],
)
def test_prepare_refuses_batch_norm_on_a_batch_of_one(data, message):
    assert prepare_error(data=data, model=BATCH_NORM) == message


@pytest.mark.parametrize(
    "data,model",
    [
        ({"source": "xor", "batch_size": 3, "drop_last": True}, BATCH_NORM),
        ({"source": "xor", "batch_size": 2}, BATCH_NORM),
        ({"source": "xor", "batch_size": 1}, {"layers": [{"units": 4}, {"units": 1, "activation": "sigmoid"}]}),
    ],
)
def test_a_batch_of_one_is_fine_when_no_batch_norm_sees_it(data, model):
    _, _, trainer = prepare(make_config(data=data, model=model))
    assert trainer.model.count_params()[0] == 4 * 2 + 4 + 4 + 1 + (8 if model is BATCH_NORM else 0)


def test_prepare_checks_that_early_stopping_watches_a_logged_column():
    assert prepare_error(training={"early_stopping": {"monitor": "val_loss"}}) == (
        "training.early_stopping.monitor: 'val_loss' is not logged by this run; logged: loss, accuracy"
    )
    assert prepare_error(
        data={"source": "moons", "n_samples": 40, "split": {"val": 0.25}},
        training={"clip_value": 1.0, "early_stopping": {"monitor": "val_acc"}},
    ) == (
        "training.early_stopping.monitor: 'val_acc' is not logged by this run; "
        "logged: loss, accuracy, clipped_steps, val_loss, val_accuracy"
    )
    _, _, trainer = prepare(make_config(training={"early_stopping": {"monitor": "accuracy"}}))
    assert trainer.config.training.early_stopping.monitor == "accuracy"


def test_prepare_writes_nothing(in_tmp):
    prepare(make_config())
    prepare_error(training={"early_stopping": {"monitor": "val_loss"}})
    assert list(in_tmp.iterdir()) == []


def test_metrics_stats_are_taken_every_few_thousand_rows_and_add_up_the_same(monkeypatch):
    import nntrain.training.trainer as trainer_module

    config = make_config(
        data={"source": "blobs", "classes": 3, "n_samples": 300, "batch_size": 16},
        model={"layers": [{"units": 3, "activation": "softmax"}]}, loss="categorical_crossentropy",
        metrics=["accuracy", "f1", "log_loss", {"name": "top_k_accuracy", "k": 2}],
    )  # fmt: skip
    epochs = {}
    for rows in (2048, 48, 1):  # at the epoch's end, every third step, every step
        monkeypatch.setattr(trainer_module, "PENDING_ROWS", rows)
        _, data, trainer = prepare(config)
        totals, taken = trainer.new_totals(), []
        for x, y, w in Loader(data.train, 16, shuffle=False, drop_last=False, rng=None):
            trainer.train_step(x, y, totals, weight=w)
            taken.append(len(totals.pending))
        epochs[rows] = trainer.epoch_logs(totals)
        assert max(taken) <= -(-rows // 16)
    assert epochs[48] == pytest.approx(epochs[2048], rel=1e-12) and epochs[1] == pytest.approx(epochs[2048], rel=1e-12)
