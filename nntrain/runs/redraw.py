"""``nntrain plot``: (re)draw a run's pictures from what its directory holds -- also of a run that
was interrupted or is still running (weights.npz is its last checkpoint's) -- or a hand-set
config's network.

What is drawn, where it applies:

- ``curves.png`` (a run with a row in metrics.csv);
- ``decision_boundary.png`` (a classifier on 2-D inputs): the training points over the regions;
- ``neurons.png`` (2-D inputs): every unit's activation over the input plane, layer by layer;
- ``network.png``: the net as a graph, line width |w|, colour the sign;
- ``histograms.png``: per layer, the weights and the activations (on the training split) at the
  first snapshot (the weights after epoch 1, when the run kept snapshots; nntrain keeps no
  initial weights) and at the last epoch (weights.npz);
- ``boundary.gif`` with ``animate``: the decision regions at every snapshot (``snapshots.npz``).
"""

from pathlib import Path

import numpy as np

from ..errors import DataError, RunError, UsageError
from ..nn.losses import classifies
from ..nn.model import build_model
from . import pictures, plots

MAX_ROWS = 2000  # training rows whose activations go into the histograms


def redraw(source, out_dir=None, animate=False):
    """Draw the pictures of ``source`` (a run directory, or a config whose layers are all hand-set)
    into ``out_dir`` (default: the run directory; for a config, the current folder). Returns the
    paths written. ``animate``: also boundary.gif, from the run's snapshots."""
    from .inference import load_predictor

    source = Path(source)
    run = source.is_dir()
    out_dir = Path(out_dir) if out_dir is not None else (source if run else Path("."))
    if not out_dir.is_dir():
        raise UsageError(f"--output {out_dir}: " + ("not a folder" if out_dir.exists() else "folder does not exist"))
    predictor = load_predictor(source)
    if animate and not run:
        raise UsageError(f"--animate: {source} is a config; the animation needs a run's snapshots (nntrain fit it with training.snapshots: K)")
    snapshots = _snapshots(source, animate) if run else None
    x, y = _training_rows(predictor, run)
    if animate:
        _check_animation(predictor, x)
    drawing = _Drawing(predictor, x, y, out_dir, source.name if run else predictor.config.name)
    if run:
        drawing.curves(source)
    drawing.planes()
    drawing.network()
    _histograms(predictor, x, snapshots, drawing.out(pictures.HISTOGRAMS), drawing.title)
    if animate:
        drawing.animation(snapshots)
    return drawing.written


def _check_animation(predictor, x):
    pictures.require_2d(x, "decision regions")
    if not classifies(predictor.config.loss):
        raise DataError(f"--animate: decision regions need a classifier; the run's loss is {predictor.config.loss.name}")


class _Drawing:
    """The pictures of one network and its training rows (x raw, y), into ``out_dir``; ``written``."""

    def __init__(self, predictor, x, y, out_dir, title):
        self.predictor, self.x, self.y, self.out_dir, self.title = predictor, x, y, out_dir, title
        features = predictor.features
        self.features = features if len(features) == predictor.model.inputs else None
        self.plane = tuple(self.features or ("x1", "x2"))
        self.two_d = predictor.model.inputs == 2
        self.written = []

    def out(self, name):
        self.written.append(self.out_dir / name)
        return self.out_dir / name

    def curves(self, run_dir):
        from .store import read_columns

        if (run_dir / "metrics.csv").is_file():
            metrics = read_columns(run_dir)
            if len(metrics.get("epoch", ())):
                plots.plot_curves(metrics, self.out(plots.CURVES), title=self.title)

    def planes(self):
        """decision_boundary.png (2-D classifiers) and neurons.png (2-D inputs)."""
        p = self.predictor
        if not self.two_d:
            return
        if classifies(p.config.loss):
            plots.plot_decision_boundary(p.outputs, self.x, self.y, self.out(plots.DECISION_BOUNDARY), title=self.title,
                                         features=self.features, split="training", classes=p.classes)  # fmt: skip
        trace = lambda rows: p.model.trace(p.scale(rows))  # noqa: E731
        pictures.plot_neurons(trace, self.x, self.y, self.out(pictures.NEURONS), features=self.plane, title=self.title)

    def network(self):
        pictures.plot_network(self.predictor.model, self.out(pictures.NETWORK), features=self.features, title=self.title)

    def animation(self, snapshots):
        from .inference import Predictor

        p = self.predictor
        twin = build_model(p.config, p.model.inputs, np.random.default_rng(0))
        twin_predictor = Predictor(p.config, twin, p.meta)

        def frame(state):
            def predict(rows):
                twin.load_state_dict(state)
                return twin_predictor.outputs(rows)

            return predict

        frames = [(epoch, frame(state)) for epoch, state in sorted(snapshots.items())]
        pictures.animate_boundary(frames, self.x, self.y, self.out(pictures.BOUNDARY_GIF), features=self.plane, title=self.title)


def _snapshots(run_dir, required):
    """The run's snapshots, {epoch: arrays}; {} if it kept none (a RunError if ``required``)."""
    from ..training.snapshots import read_snapshots

    try:
        return read_snapshots(run_dir)
    except RunError:
        if required:
            raise
        return {}


def _training_rows(predictor, run):
    """(x raw (n, inputs), y) of the training split: a run's as its data.json says, a config's as fit would."""
    from ..data.prepare import load_data

    config = predictor.config
    meta = predictor.meta if run else None
    data = load_data(config, np.random.default_rng(config.seed), meta=meta, split="train")
    return np.asarray(predictor.raw(np.asarray(data.train.x, dtype=np.float64))), np.asarray(data.train.y)


def _histograms(predictor, x, snapshots, path, title):
    """histograms.png: the first snapshot's weights (if the run kept any) and the last epoch's."""
    config, model = predictor.config, predictor.model
    rows = predictor.scale(x[np.linspace(0, len(x) - 1, min(len(x), MAX_ROWS)).astype(int)])
    last = {k: v.copy() for k, v in model.state_dict().items()}
    states = []
    if snapshots:
        first = min(snapshots)
        states.append((f"epoch {first} (first snapshot)", snapshots[first]))
    states.append(("last epoch (weights.npz)" if snapshots is not None else "hand-set weights", last))
    activations = []
    twin = build_model(config, model.inputs, np.random.default_rng(0))
    for label, state in states:
        twin.load_state_dict(state)
        activations.append((label, twin.trace(rows)))
    suffix = "" if snapshots else " (no snapshots: last epoch only)" if snapshots is not None else ""
    pictures.plot_histograms(states, activations, path, title=f"{title}: weights and activations{suffix}")
