"""Weight snapshots over the epochs, for ``nntrain plot --animate`` and the first epoch's histograms.

``training.snapshots: K`` keeps the weights after epochs 1, K, 2K, ... and the last; by default a run
on 2-D inputs keeps a log-spaced schedule of about FRAMES epochs (1, 2, 3, 5, 8, ... and the last),
which shows the fast early changes and the slow late ones alike; other runs keep none.

``snapshots.npz`` in the run directory holds them compactly, in one file: ``epochs`` (k,) and, per
array of weights.npz, the k snapshots stacked: ``layers.0.W`` (k, units, inputs). The run callback
``Snapshots`` (``nntrain.training.callbacks.RUN_CALLBACKS``) writes it atomically before every
checkpoint -- so it always holds at least the checkpoint's epochs, as metrics.csv does -- and at the
end. A resumed run first drops the snapshots after its checkpoint's epoch (they come again), so it
ends with the very snapshots of the run never interrupted. The last epoch is added only at a final
end (completed or diverged), never at an interruption, whose epoch a resumed run may not stop at.
"""

from pathlib import Path

import numpy as np

from ..errors import RunError
from ..runs.store import read_arrays, write_arrays

SNAPSHOTS = "snapshots.npz"
FRAMES = 60  # the default schedule's snapshots, about


def log_schedule(epochs, frames=FRAMES):
    """About ``frames`` epochs out of 1..``epochs``, log-spaced (rounded, distinct), first and last
    included; all of them when there are at most ``frames``."""
    if epochs <= frames:
        return list(range(1, epochs + 1))
    n = frames
    while True:  # rounding merges the first points: ask for more until enough are distinct
        chosen = np.unique(np.rint(np.geomspace(1, epochs, n)).astype(np.int64))
        if len(chosen) >= frames or n >= 4 * frames:
            return chosen.tolist()
        n += 1


def wanted(epoch, every, planned, schedule):
    """Whether a snapshot is kept after ``epoch``: 1, every ``every``-th and the planned last, or
    those of ``schedule`` (a set) when ``every`` is None."""
    if every is None:
        return epoch in schedule
    return epoch == 1 or epoch % every == 0 or epoch == planned


class Snapshots:
    """The run callback that keeps the snapshots (see the module) and writes ``snapshots.npz``.

    Whether a run with the default schedule keeps any is decided at its first epoch, when the
    network's input width is known: only a 2-D one does.
    """

    def __init__(self, path, every, planned, done=0):
        self.path = Path(path) / SNAPSHOTS
        self.every, self.planned = every, planned
        self.schedule = None  # decided at the first epoch: a set of epochs, or () to keep none
        self.kept = read_snapshots_upto(self.path, done) if done else {}
        self.latest = None  # (epoch, arrays) of the last epoch, when not kept

    @classmethod
    def start(cls, path, config, columns, epochs=0):
        """The callback of every run (whether it keeps anything is decided at the first epoch)."""
        return cls(path, config.training.snapshots, config.training.epochs, epochs)

    def epoch(self, epoch, logs, trainer, last_diagnostics, diagnostic_epoch):
        model = trainer.model
        if self.schedule is None:
            if self.every is not None:
                self.schedule = True
            else:
                self.schedule = set(log_schedule(self.planned)) if model.inputs == 2 else ()
        if not self.schedule:
            return
        arrays = {k: v.copy() for k, v in model.state_dict().items()}
        if wanted(epoch, self.every, self.planned, self.schedule):
            self.kept[epoch], self.latest = arrays, None
        else:
            self.latest = (epoch, arrays)  # the last epoch, should training stop here

    def checkpoint(self):
        """Before a checkpoint: the snapshots so far on disk."""
        self._write()

    def end(self, status):
        if status in ("completed", "diverged") and self.latest is not None:
            epoch, arrays = self.latest
            self.kept[epoch] = arrays
        self._write()

    def _write(self):
        if self.kept:
            write_arrays(self.path, stack(self.kept))


def stack(kept):
    """{epoch: {name: array}} -> the file's arrays: ``epochs`` (k,) and each name's (k, ...) stack."""
    epochs = sorted(kept)
    arrays = {"epochs": np.array(epochs, dtype=np.int64)}
    for name in kept[epochs[0]]:
        arrays[name] = np.stack([kept[e][name] for e in epochs])
    return arrays


def unstack(arrays, path):
    """The file's arrays -> {epoch: {name: array}}; RunError if they do not fit together."""
    epochs = arrays.pop("epochs", None)
    if epochs is None or epochs.ndim != 1 or not np.issubdtype(epochs.dtype, np.integer):
        raise RunError(f"{path}: damaged snapshots: no 1-D integer array of epochs")
    for name, array in arrays.items():
        if array.ndim < 1 or len(array) != len(epochs):
            raise RunError(f"{path}: damaged snapshots: {name} has {array.shape[:1]} snapshots for {len(epochs)} epochs")
    return {int(e): {name: array[i] for name, array in arrays.items()} for i, e in enumerate(epochs)}


def read_snapshots_upto(path, epoch):
    """The snapshots of ``path`` up to ``epoch`` (a resumed run's), or {} if there is no file."""
    if not Path(path).is_file():
        return {}
    kept = unstack(read_arrays(path, "snapshots"), path)
    return {e: arrays for e, arrays in kept.items() if e <= epoch}


def read_snapshots(run_dir):
    """{epoch: {name: array}} of a run, in epoch order; RunError, saying how to get them, if it kept none."""
    path = Path(run_dir) / SNAPSHOTS
    if not path.is_file():
        raise RunError(
            f"{run_dir}: the run kept no weight snapshots ({SNAPSHOTS}); set training.snapshots: K "
            f"(every K epochs) and fit again, e.g. nntrain fit {Path(run_dir) / 'config.yaml'} --set training.snapshots=10"
        )
    return unstack(read_arrays(path, "snapshots"), path)
