"""Checkpoints: everything a run needs to continue exactly where it stopped.

``checkpoint.npz`` in the run directory holds the model's arrays (``model.<name>``), the optimizer's
state (``optimizer.<name>``), early stopping's best weights (``best.<name>``) and one JSON document
(``state``): epochs done, steps done in the current epoch, the generator's state now and at the start of
that epoch, the epoch's partial sums, early stopping's counters. Loaded without pickle.
"""

import io
import json
from pathlib import Path

import numpy as np

from .errors import RunError
from .runs import write_bytes

CHECKPOINT = "checkpoint.npz"
PREFIXES = ("model", "optimizer", "best")


def save_checkpoint(run_dir, state, **groups):
    """Write ``state`` (JSON-able) and array groups (``model={...}, optimizer={...}, best={...}``) atomically."""
    arrays = {f"{group}.{key}": value for group, items in groups.items() for key, value in items.items()}
    arrays["state"] = np.array(json.dumps(state))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes(Path(run_dir) / CHECKPOINT, buffer.getvalue())


def load_checkpoint(run_dir):
    """(state, {group: {key: array}}) from a run's checkpoint; RunError if missing or damaged."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise RunError(f"{run_dir}: no {CHECKPOINT} to resume from (the run stopped before its first checkpoint)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = json.loads(str(npz["state"]))
            groups = {prefix: {} for prefix in PREFIXES}
            for key in npz.files:
                prefix, _, name = key.partition(".")
                if prefix in groups:
                    groups[prefix][name] = npz[key]
    except Exception as e:  # a damaged zip or JSON raises many kinds of errors
        raise RunError(f"{path}: damaged checkpoint: {e}") from None
    if not isinstance(state, dict) or not {"epoch", "step", "rng"} <= set(state):
        raise RunError(f"{path}: damaged checkpoint: incomplete state")
    for prefix, arrays in groups.items():
        for key, array in arrays.items():
            if not np.issubdtype(array.dtype, np.number):
                raise RunError(f"{path}: damaged checkpoint: {prefix}.{key} holds {array.dtype}, not numbers")
    return state, groups


def remove_checkpoint(run_dir):
    (Path(run_dir) / CHECKPOINT).unlink(missing_ok=True)
