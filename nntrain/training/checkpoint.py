"""Checkpoints: everything a run needs to continue exactly where it stopped.

``checkpoint.npz`` in the run directory holds the model's arrays (``model.<name>``), the optimizer's
state (``optimizer.<name>``), early stopping's best weights (``best.<name>``) and one JSON document
(``state``): epochs done, steps done in the current epoch, the generator's state now and at the start of
that epoch, the epoch's partial sums, early stopping's counters. Loaded without pickle.
"""

import json
from pathlib import Path

import numpy as np

from ..errors import RunError
from ..runs.store import read_arrays, write_arrays

CHECKPOINT = "checkpoint.npz"
PREFIXES = ("model", "optimizer", "best")


def save_checkpoint(run_dir, state, **groups):
    """Write ``state`` (JSON-able) and array groups (``model={...}, optimizer={...}, best={...}``) atomically."""
    arrays = {f"{group}.{key}": value for group, items in groups.items() for key, value in items.items()}
    arrays["state"] = np.array(json.dumps(state))
    write_arrays(Path(run_dir) / CHECKPOINT, arrays)


def load_checkpoint(run_dir):
    """(state, {group: {key: array}}) from a run's checkpoint; RunError if missing or damaged."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise RunError(f"{run_dir}: no {CHECKPOINT} to resume from (the run stopped before its first checkpoint)")
    arrays = read_arrays(path, "checkpoint", text=("state",))
    try:
        state = json.loads(str(arrays.pop("state")))
    except (KeyError, ValueError) as e:
        raise RunError(f"{path}: damaged checkpoint: {e}") from None
    if not isinstance(state, dict) or not {"epoch", "step", "rng"} <= set(state):
        raise RunError(f"{path}: damaged checkpoint: incomplete state")
    groups = {prefix: {} for prefix in PREFIXES}
    for key, array in arrays.items():
        prefix, _, name = key.partition(".")
        if prefix in groups:
            groups[prefix][name] = array
    return state, groups


def remove_checkpoint(run_dir):
    (Path(run_dir) / CHECKPOINT).unlink(missing_ok=True)
