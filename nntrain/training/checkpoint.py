"""Checkpoints: everything a run needs to continue exactly where it stopped.

``checkpoint.npz`` in the run directory holds the model's arrays (``model.<name>``), the optimizer's
state (``optimizer.<name>``), early stopping's best weights (``best.<name>``), mid-epoch the rows
whose metrics' stats are not taken yet (``pending.prediction``, ``.y``, ``.w``) and one JSON document
(``state``): epochs done, steps done in the current epoch, the generator's state now and at the start of
that epoch, the epoch's partial sums, early stopping's counters. Loaded without pickle, and checked
before anything is restored from it: a damaged checkpoint is a RunError that says what is wrong.

The invariant that makes a run resumable whatever the moment it stops: a checkpoint is written (to a
temporary name, then renamed over the previous one) only after the logs it continues -- metrics.csv
and diagnostics.csv with every epoch it has done -- are on disk. So metrics.csv always holds at least
the checkpoint's epochs; rows beyond them (written just before a newer checkpoint that never came)
are dropped on resume and computed again, bit for bit. A stop before the first checkpoint leaves
nothing to resume from, and resume says so.
"""

import copy
import json
from pathlib import Path

import numpy as np

from ..errors import RunError
from ..nn.model import arrays_problem
from ..runs.store import read_arrays, write_arrays

CHECKPOINT = "checkpoint.npz"
PREFIXES = ("model", "optimizer", "best", "pending")


def save_checkpoint(run_dir, state, **groups):
    """Write ``state`` (JSON-able) and array groups (``model={...}, optimizer={...}, best={...}``) atomically."""
    arrays = {f"{group}.{key}": value for group, items in groups.items() for key, value in items.items()}
    arrays["state"] = np.array(json.dumps(state))
    write_arrays(Path(run_dir) / CHECKPOINT, arrays)


def load_checkpoint(run_dir):
    """(state, {group: {key: array}}) from a run's checkpoint; RunError if missing or damaged.

    The state document is checked here, field by field; whether the checkpoint fits the run -- its
    epochs, its model, its optimizer -- is the restoring session's to check.
    """
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise RunError(
            f"{run_dir}: no {CHECKPOINT} to resume from (the run stopped before its first checkpoint); "
            f"start it over with: nntrain fit {Path(run_dir) / 'config.yaml'}"
        )
    arrays = read_arrays(path, "checkpoint", text=("state",))
    if "state" not in arrays:
        raise RunError(f"{path}: damaged checkpoint: no state")
    try:
        state = json.loads(str(arrays.pop("state")))
    except (ValueError, RecursionError) as e:  # not JSON; or nested deeper than the parser goes
        raise RunError(f"{path}: damaged checkpoint: {e}") from None
    problem = state_problem(state)
    if problem:
        raise RunError(f"{path}: damaged checkpoint: {problem}")
    groups = {prefix: {} for prefix in PREFIXES}
    for key, array in arrays.items():
        prefix, _, name = key.partition(".")
        if prefix in groups:
            groups[prefix][name] = array
    return state, groups


def remove_checkpoint(run_dir):
    (Path(run_dir) / CHECKPOINT).unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------
# Checks: each returns what is wrong, or None


def state_problem(state):
    """The state document's form: ``epoch`` and ``step`` integers, ``rng`` a generator's state; in
    mid-epoch (``step`` > 0) also ``rng_epoch_start`` and the epoch's ``totals``; ``early_stopping``'s
    counters if it has them."""
    if not isinstance(state, dict) or not {"epoch", "step", "rng"} <= set(state):
        return "incomplete state"
    if type(state["epoch"]) is not int or type(state["step"]) is not int:
        return "epoch and step must be integers"
    if not _is_generator_state(state["rng"]):
        return "rng is not a generator's state"
    if state["step"] and not _is_generator_state(state.get("rng_epoch_start")):
        return "rng_epoch_start is not a generator's state"
    if state["step"] and not _are_totals(state.get("totals")):
        return "totals are not an epoch's partial sums"
    early = state.get("early_stopping")
    if early and not _is_early_stopping_state(early):
        return "early_stopping is not early stopping's counters"
    return None


def optimizer_problem(arrays, optimizer, params):
    """Whether ``arrays`` are what ``optimizer.state_dict()`` saved for ``params``: a step count ``t``,
    and after the first step every slot's array, as ``optimizer.load_state_dict`` takes them."""
    t = arrays.get("t")
    if t is None or t.shape != () or not np.issubdtype(t.dtype, np.integer) or t < 0:
        return "t is not a count of steps"
    if t == 0:  # no step yet: no slots
        return arrays_problem(arrays, {"t": ()})
    stepped = copy.copy(optimizer)  # its names and shapes once it has stepped params, from state_dict itself
    stepped.state = optimizer.init_state(params)
    return arrays_problem(arrays, {k: np.shape(v) for k, v in stepped.state_dict().items()})


# The run's generator is numpy's default, PCG64 (``np.random.default_rng(seed)``): 128-bit state and
# increment, and half of a 64-bit draw kept for the next 32-bit one.
def _is_generator_state(value):
    if not isinstance(value, dict) or value.get("bit_generator") != "PCG64":
        return False
    inner = value.get("state")
    return (
        isinstance(inner, dict)
        and _is_uint(inner.get("state"), 128)
        and _is_uint(inner.get("inc"), 128)
        and _is_uint(value.get("has_uint32"), 1)
        and _is_uint(value.get("uinteger"), 32)
    )


def _are_totals(totals):
    """``EpochTotals.to_json()``'s form, with at least one example seen."""
    if not isinstance(totals, dict) or not isinstance(totals.get("sums"), dict):
        return False
    return (
        all(array_shape(v) is not None for v in totals["sums"].values())
        and _is_uint(totals.get("seen"), 63)
        and totals["seen"] > 0
        and _is_uint(totals.get("clipped"), 63)
    )


def _is_early_stopping_state(early):
    """``EarlyStopping.state_dict()``'s counters: the best value, its epoch (None before the first), the wait."""
    return (
        isinstance(early, dict)
        and {"best", "best_epoch", "wait"} <= set(early)
        and _is_number(early["best"])
        and (early["best_epoch"] is None or _is_uint(early["best_epoch"], 63))
        and _is_uint(early["wait"], 63)
    )


def _is_uint(value, bits):
    return type(value) is int and 0 <= value < 2**bits


def _is_number(value):
    return type(value) in (int, float)


def array_shape(value, depth=2):
    """The shape of a number, or of a list (of lists, ``depth`` levels) of numbers -- a loss's or a
    metric's sums as JSON holds them --; None for anything else (ragged lists included)."""
    if _is_number(value):
        return ()
    if not isinstance(value, list) or depth == 0:
        return None
    shapes = {array_shape(v, depth - 1) for v in value}
    if None in shapes or len(shapes) > 1:
        return None
    return (len(value), *(shapes.pop() if shapes else ()))
