"""nntrain.training.callbacks: early stopping's modes, min_delta, patience, best weights and checkpoint state."""

import io
import json
import math

import numpy as np
import pytest

from conftest import make_config
from nntrain.nn.model import build_model
from nntrain.training.callbacks import EarlyStopping

BATCH_NORM = {"layers": [{"units": 3, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}]}


@pytest.fixture
def model(rng):
    """A small net with batch norm: its state_dict holds running statistics besides the parameters."""
    return build_model(make_config(model=BATCH_NORM), 2, rng)


def set_epoch_weights(model, epoch):
    """Every array of the model filled with the epoch's number: which epoch's weights it holds is visible."""
    for array in model.state_dict().values():
        array[...] = epoch


def watch(early, values, model, monitor=None):
    """Feed epochs 1, 2, ... with these monitored values (the model's weights set to the epoch number);
    returns each update's answer, stopping at the first True."""
    answers = []
    for epoch, value in enumerate(values, start=1):
        set_epoch_weights(model, epoch)
        answers.append(early.update(epoch, {monitor or early.monitor: value, "other": -1.0}, model))
        if answers[-1]:
            break
    return answers


def test_early_stopping_mode_auto_maximises_accuracy():
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping(monitor="val_loss").mode == "min"
    assert EarlyStopping(monitor="loss", mode="max").mode == "max"


@pytest.mark.parametrize(
    "monitor,mode,values,best,best_epoch",
    [
        ("val_loss", "min", [1.0, 0.8, 0.9, 0.7, 0.75], 0.7, 4),
        ("val_loss", "auto", [1.0, 0.8, 0.9, 0.7, 0.75], 0.7, 4),
        ("val_accuracy", "max", [0.5, 0.75, 0.6, 0.9, 0.8], 0.9, 4),
        ("val_accuracy", "auto", [0.5, 0.75, 0.6, 0.9, 0.8], 0.9, 4),
        ("val_mae", "max", [1.0, 0.8, 0.9, 0.7, 0.75], 1.0, 1),  # told to maximise, it does
        ("accuracy", "min", [0.5, 0.75, 0.6, 0.9, 0.8], 0.5, 1),
    ],
)
def test_the_best_epoch_in_each_mode(monitor, mode, values, best, best_epoch, model):
    early = EarlyStopping(monitor=monitor, mode=mode, patience=10)
    assert watch(early, values, model) == [False] * 5
    assert (early.best, early.best_epoch, early.wait) == (best, best_epoch, 5 - best_epoch)


def test_an_improvement_must_exceed_min_delta(model):
    early = EarlyStopping(monitor="loss", patience=10, min_delta=0.1)
    watch(early, [1.0, 0.95, 0.91, 0.85, 0.8], model)
    assert (early.best, early.best_epoch) == (0.85, 4)  # 0.95 and 0.91 are within 0.1 of 1.0; 0.8 of 0.85
    maximise = EarlyStopping(monitor="accuracy", patience=10, min_delta=0.1)
    watch(maximise, [0.5, 0.55, 0.65, 0.7], model)
    assert (maximise.best, maximise.best_epoch) == (0.65, 3)


def test_the_first_finite_epoch_is_the_best_so_far_whatever_min_delta(model):
    early = EarlyStopping(monitor="loss", patience=2, min_delta=math.inf)
    assert watch(early, [float("nan"), 1.0, 0.5, 0.1], model) == [False, False, False, True]
    assert (early.best, early.best_epoch) == (1.0, 2)  # not None: there are best weights to restore


def test_patience_counts_epochs_without_improvement_and_restarts_on_one(model):
    early = EarlyStopping(monitor="loss", patience=3)
    answers = []
    for epoch, value in enumerate([1.0, 1.1, 1.2, 0.9, 1.0, 1.0, 1.0], start=1):
        answers.append((early.update(epoch, {"loss": value}, model), early.wait))
    # Two epochs without improvement, then an improvement, then three in a row: stop.
    assert answers == [(False, 0), (False, 1), (False, 2), (False, 0), (False, 1), (False, 2), (True, 3)]
    assert EarlyStopping(monitor="loss", patience=1).update(1, {"loss": 1.0}, model) is False
    for monitor in ("loss", "accuracy"):  # equal is not better, minimising or maximising
        assert watch(EarlyStopping(monitor=monitor, patience=1), [0.5, 0.5], model) == [False, True]


def test_restore_best_puts_back_every_array_of_the_best_epoch(model):
    early = EarlyStopping(monitor="loss", patience=2)
    assert watch(early, [1.0, 0.5, 0.7, 0.8], model) == [False, False, False, True]
    assert all((array == 4).all() for array in model.state_dict().values())
    early.restore(model)
    state = model.state_dict()
    assert "layers.0.running_mean" in state and "layers.0.gamma" in state
    assert all((array == 2).all() for array in state.values())  # epoch 2's, running statistics included


def test_the_best_weights_are_a_copy_not_a_view(model):
    early = EarlyStopping(monitor="loss")
    watch(early, [1.0], model)
    model.flat_params[...] = 99.0  # the optimizer updates the model in place
    early.restore(model)
    assert all((array == 1).all() for array in model.state_dict().values())


def test_without_restore_best_no_weights_are_kept_or_restored(model):
    early = EarlyStopping(monitor="loss", patience=1, restore_best=False)
    watch(early, [0.5, 1.0], model)
    assert early.best_weights is None and early.best_epoch == 1
    early.restore(model)
    assert all((array == 2).all() for array in model.state_dict().values())
    assert early.state_dict()[1] == {}


def test_restore_before_any_epoch_leaves_the_model_alone(model):
    set_epoch_weights(model, 7)
    EarlyStopping().restore(model)
    assert all((array == 7).all() for array in model.state_dict().values())


def through_a_checkpoint(early):
    """state_dict as a checkpoint keeps it: the state through JSON, the arrays through an .npz."""
    state, arrays = early.state_dict()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer) as npz:
        loaded = {key: npz[key] for key in npz.files}
    return json.loads(json.dumps(state)), loaded


@pytest.mark.parametrize("split", [0, 1, 3, 5, 8])  # 0: before any epoch (best is inf); 8: two epochs into a wait
def test_state_dict_round_trip_continues_identically(split, rng):
    values = [1.0, 0.6, 0.7, 0.65, 0.8, 0.5, 0.9, 0.95, 0.99, 1.2]
    model_a = build_model(make_config(model=BATCH_NORM), 2, rng)
    model_b = build_model(make_config(model=BATCH_NORM), 2, rng)
    straight = EarlyStopping(monitor="loss", patience=4)
    answers = watch(straight, values, model_a)
    first = EarlyStopping(monitor="loss", patience=4)
    watch(first, values[:split], model_b)
    resumed = EarlyStopping(monitor="loss", patience=4)
    resumed.load_state_dict(*through_a_checkpoint(first))
    later = []
    for epoch, value in enumerate(values[split:], start=split + 1):
        set_epoch_weights(model_b, epoch)
        later.append(resumed.update(epoch, {"loss": value}, model_b))
        if later[-1]:
            break
    assert answers[:split] + later == answers == [False] * 9 + [True]
    assert (resumed.best, resumed.best_epoch, resumed.wait) == (straight.best, straight.best_epoch, straight.wait) == (0.5, 6, 4)
    straight.restore(model_a)
    resumed.restore(model_b)
    for key, array in model_a.state_dict().items():
        np.testing.assert_array_equal(model_b.state_dict()[key], array)
