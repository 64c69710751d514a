"""Training: config -> data -> model -> epochs of batches -> a run directory.

``fit`` is what ``nntrain fit`` calls, and works the same from Python::

    from nntrain.config import load_config
    from nntrain.trainer import fit
    result = fit(load_config("configs/xor.yaml"), runs_root="runs")

One step: forward, loss (+ kernel penalties), backward, clipping by global norm, optimizer update.
Everything random -- data, initial weights, shuffling, dropout -- draws from one generator seeded with
the config's seed, in that order, so the same config and seed give the same weights bit for bit.
"""

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .config import dump_config
from .data import Loader, load_data
from .losses import make_loss, pairing_warning
from .metrics import METRICS
from .model import build_model
from .optimizers import clip_by_global_norm, make_optimizer
from .runs import CONFIG, DATA, METRICS as METRICS_FILE, SUMMARY, WEIGHTS, create_run_dir, write_json, write_metrics, write_text, write_weights


class NNTrainWarning(UserWarning):
    """Something works but is probably not what the user meant (e.g. a mismatched output/loss pair)."""


@dataclass
class FitResult:
    run_dir: Path
    summary: dict
    history: list  # one dict of logs per epoch

    @property
    def status(self):
        return self.summary["status"]


class Diverged(Exception):
    """A non-finite loss: training stops at once."""

    def __init__(self, step):
        self.step = step


class Trainer:
    """The model, its loss and optimizer, and the step and epoch that update them."""

    def __init__(self, config, model):
        self.config = config
        self.model = model
        self.loss = make_loss(config.loss, model.output_activation)
        self.logits = self.loss.from_logits
        self.optimizer = make_optimizer(config.optimizer)
        self.clip_norm = config.training.clip_norm
        self.metrics = {name: METRICS[name].fn for name in config.metrics}

    def train_epoch(self, loader):
        """One pass over the loader; returns the epoch's logs (batch-size-weighted means)."""
        model, loss, logits = self.model, self.loss, self.logits
        params, grads = model.params, model.grads
        totals = dict.fromkeys(["loss", "data_loss", "penalty", *self.metrics], 0.0)
        clipped = 0
        seen = 0
        for step, (x, y) in enumerate(loader):
            n = len(x)
            data_loss = loss.forward(model.forward(x, training=True, logits=logits), y)
            penalty = model.penalty() if model.has_penalty else 0.0
            if not math.isfinite(data_loss + penalty):
                raise Diverged(step)
            model.backward(loss.backward(), logits=logits)
            if self.clip_norm is not None and clip_by_global_norm(grads, self.clip_norm) > self.clip_norm:
                clipped += 1
            self.optimizer.step(params, grads)
            seen += n
            totals["data_loss"] += data_loss * n
            totals["penalty"] += penalty * n
            for name, fn in self.metrics.items():
                totals[name] += fn(loss.prediction, y) * n
        logs = {k: v / seen for k, v in totals.items()}
        logs["loss"] = logs["data_loss"] + logs["penalty"]
        if not model.has_penalty:
            del logs["data_loss"], logs["penalty"]
        if self.clip_norm is not None:
            logs["clipped_steps"] = clipped
        return logs

    def evaluate(self, split, batch_size=4096):
        """Loss and metrics of the current weights on a split, in inference mode."""
        return evaluate(self.model, self.loss, self.metrics, split, batch_size)


def evaluate(model, loss, metrics, split, batch_size=4096):
    """Loss (with penalties) and metrics on all rows of ``split``, in inference mode and batches."""
    totals = dict.fromkeys(["loss", *metrics], 0.0)
    for i in range(0, len(split), batch_size):
        x, y = split.x[i : i + batch_size], split.y[i : i + batch_size]
        n = len(x)
        out = model.forward(x, training=False, logits=loss.from_logits)
        totals["loss"] += loss.forward(out, y) * n
        for name, fn in metrics.items():
            totals[name] += fn(loss.prediction, y) * n
    logs = {k: v / len(split) for k, v in totals.items()}
    logs["loss"] += model.penalty()
    return logs


def prepare(config):
    """Data, model and trainer of a config, with every check done before anything is written.

    Draws from the run's generator in a fixed order: data first, then the initial weights.
    """
    rng = np.random.default_rng(config.seed)
    data = load_data(config, rng)
    inputs = data.n_features
    if config.model.inputs is not None and config.model.inputs != inputs:
        raise config.error(("model", "inputs"), f"the data has {inputs} features, not {config.model.inputs}")
    model = build_model(config, inputs, rng)
    message = pairing_warning(config.loss, model.output_activation)
    if message:
        warnings.warn(message, NNTrainWarning, stacklevel=2)
    return rng, data, Trainer(config, model)


def fit(config, *, run_dir=None, runs_root="runs", on_epoch=None):
    """Train ``config`` (an ExperimentConfig) and write the run directory; returns a FitResult.

    ``run_dir``: exactly this new directory; else ``runs_root/<name>-<time>``. ``on_epoch(epoch, logs)``
    is called after each epoch (the CLI's progress bar). A non-finite loss stops training with status
    "diverged" and keeps the last finite weights; Ctrl-C leaves status "interrupted" and re-raises.
    """
    started = time.time()
    rng, data, trainer = prepare(config)
    model = trainer.model
    loader = Loader(data.train, config.data.batch_size, config.data.shuffle, config.data.drop_last, rng)
    path = create_run_dir(config.name, run_dir, runs_root)
    write_text(path / CONFIG, dump_config(config))
    if data.meta:
        write_json(path / DATA, data.meta)
    summary = {"status": "running", "name": config.name, "seed": config.seed, "started": _iso(started)}
    write_json(path / SUMMARY, summary)

    history = []
    try:
        for epoch in range(1, config.training.epochs + 1):
            snapshot = {k: v.copy() for k, v in model.state_dict().items()}
            t0 = time.perf_counter()
            try:
                # Overflow is not an error here: a non-finite loss is caught and reported as divergence.
                with np.errstate(over="ignore", invalid="ignore"):
                    logs = trainer.train_epoch(loader)
            except Diverged as d:
                if not all(np.isfinite(v).all() for v in model.state_dict().values()):
                    model.load_state_dict(snapshot)
                summary.update(
                    status="diverged",
                    diverged_at={"epoch": epoch, "step": d.step + 1},
                    message=(
                        f"the loss became non-finite in epoch {epoch}, step {d.step + 1}; try a lower "
                        "learning rate, training.clip_norm, or standardised inputs"
                    ),
                )
                break
            for name, split in data.splits.items():
                if name not in ("train", "test"):
                    logs.update({f"{name}_{k}": v for k, v in trainer.evaluate(split).items()})
            logs["epoch_time_s"] = time.perf_counter() - t0
            history.append({"epoch": epoch, **logs})
            if on_epoch is not None:
                on_epoch(epoch, logs)
        else:
            summary["status"] = "completed"
    except KeyboardInterrupt:
        summary["status"] = "interrupted"
        raise
    except BaseException as e:
        summary.update(status="failed", message=f"{type(e).__name__}: {e}")
        raise
    finally:
        trainable, non_trainable = model.count_params()
        summary.update(
            epochs=len(history),
            epochs_planned=config.training.epochs,
            final={k: v for k, v in history[-1].items() if k != "epoch"} if history else {},
            parameters=trainable,
            non_trainable_parameters=non_trainable,
            wall_time_s=round(time.time() - started, 3),
            finished=_iso(time.time()),
            nntrain_version=__version__,
        )
        write_metrics(path / METRICS_FILE, history)
        write_weights(path / WEIGHTS, model.state_dict())
        write_json(path / SUMMARY, summary)
    return FitResult(path, summary, history)


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))
