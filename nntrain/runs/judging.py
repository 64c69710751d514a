"""Judging a trained run on one split of its data, as ``nntrain eval`` reports it.

``judge_run`` gives the loss and every metric that fits the run (``nntrain.nn.metrics``: the ones its
config logs, and the usual ones of its task beside them), and for a classifier the per-class table
(precision, recall, F1, support) and the confusion matrix (rows: true class, columns: predicted, in
the order of ``classes``); for a binary classifier the decision threshold that maximises F1 on the
validation split and the metrics at it. With ``plots`` it draws ``nntrain.runs.evalplots``' pictures
into ``RUN/eval/<split>/``.

The data is regenerated and prepared exactly as the run did (its data.json); metrics are unweighted
unless the config asks for a weighted one, and a regressor's are in its targets' own units.
"""

import math
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError, NNTrainNote
from ..nn.metrics import BINARY, CLASSES, MULTILABEL, REGRESSION, Batch, MissingClass
from ..nn.metrics.classification import F1, Precision, Recall
from .inference import load_split, run_trainer

# What eval reports beside the metrics a run logs, by task.
USUAL = {
    CLASSES: ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "log_loss", "roc_auc", "average_precision"],
    BINARY: ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "log_loss", "roc_auc", "average_precision"],
    MULTILABEL: ["accuracy", "log_loss"],
    REGRESSION: ["mse", "rmse", "mae", "r2", "mape"],
}
EVAL_DIR = "eval"  # RUN/eval/<split>/: the pictures of ``--plots``


def judge_run(run_dir, split="train", plots=False):
    """The report of a run's weights on ``split`` (train, val or test), JSON-able:

    ``examples``; ``metrics`` {name: value} (loss first); for classifiers ``classes``, ``per_class``
    [{class, precision, recall, f1, support}] and ``confusion_matrix`` (lists of counts); for a binary
    classifier ``threshold`` {value, chosen_on, metrics}; with ``plots`` the ``plots`` written.
    """
    from ..config.metrics import MetricConfig
    from ..training.trainer import metric_names

    # A binary classifier's threshold is chosen on the val split: every split is prepared.
    config, model, data = load_split(run_dir, split, whole=lambda config: config.task == BINARY)
    task = config.task
    classes = data.meta.get("classes")
    trainer = run_trainer(config, model, data)
    part = data.splits[split]
    names = metric_names(config, model.outputs, classes)
    logged = {m.key for m in trainer.metrics}
    usual = [MetricConfig(name=name).build(task, names) for name in USUAL[task]]
    metrics = trainer.metrics + [m for m in usual if m.key not in logged and _computable(m, part.y, split)]
    report = {"examples": len(part), "metrics": _evaluated(trainer, metrics, part, split)}
    prediction, y = _outputs(trainer, part)
    if task in (CLASSES, BINARY):
        report.update(classes=names, **_class_table(task, names, prediction, y))
    if task == BINARY:
        report["threshold"] = _threshold(trainer, data, split, prediction, y)
    if plots:
        report["plots"] = [str(p) for p in _plots(run_dir, split, task, names, prediction, y, data.meta)]
    return report


def _computable(metric, y, split):
    """Whether a usual metric can be computed on the split's targets ``y``; a note says why not."""
    absent = metric.absent(y) if metric.ranking else []
    if absent:
        warnings.warn(f"{metric.key} left out: the {split} split has no rows of class {absent[0]!r}", NNTrainNote, stacklevel=4)
    return not absent


def _evaluated(trainer, metrics, part, split):
    """Loss and ``metrics`` on ``part``; a ranking metric the run logs that the split cannot give
    (a class without rows) is an error that names the class."""
    from ..training.trainer import evaluate

    try:
        logs = evaluate(trainer.model, trainer.loss, metrics, part, in_units=trainer.in_units)
    except MissingClass as e:
        raise DataError(f"{e} in the {split} split") from None
    return defined(logs)


def defined(values):
    """``values`` with None for a value that is not a finite number (a weighted metric of rows that
    all weigh 0), so that no NaN is printed as a number or written as invalid JSON."""
    return {k: v if math.isfinite(v) else None for k, v in values.items()}


def _outputs(trainer, part, batch_size=4096):
    """(outputs in the targets' units, targets likewise) of every row of ``part``."""
    return trainer.in_units(trainer.model.predict(part.x, batch_size).astype(np.float64), part.y)


def _class_table(task, names, prediction, y):
    """The per-class table and the confusion matrix of a classifier's ``prediction`` on labels ``y``."""
    n = len(names)
    per = {cls.name: cls(task, names, average="per_class") for cls in (Precision, Recall, F1)}
    values = {name: list(m.values(prediction, y).values()) for name, m in per.items()}
    counts = Batch(task, prediction, y).confusion(n, weighted=False).reshape(n, n).astype(np.int64)
    support = counts.sum(axis=1)
    per_class = [
        {"class": names[k], **{name: values[name][k] for name in per}, "support": int(support[k])} for k in range(n)
    ]
    return {"per_class": per_class, "confusion_matrix": counts.tolist()}


def _threshold(trainer, data, split, prediction, y):
    """The probability above which a binary classifier says its second class so that F1 is highest on
    the validation split (the training split for a run without one), and the metrics at it on ``split``."""
    from ..nn.curves import precision_recall_curve

    chosen_on = "val" if "val" in data.splits else "train"
    p_on, y_on = _outputs(trainer, data.splits[chosen_on]) if chosen_on != split else (prediction, y)
    true = y_on[:, 0] > 0.5
    if true.all() or not true.any():
        return {"value": 0.5, "chosen_on": chosen_on, "metrics": _at(0.5, prediction, y), "note": "one class only: 0.5 kept"}
    precision, recall, thresholds = precision_recall_curve(true, p_on[:, 0])
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=precision + recall > 0)
    best = int(np.argmax(f1[:-1]))  # the last point (recall 0) has no threshold
    # Between the best threshold and the next lower score, so that "p > value" picks the same rows.
    value = float((thresholds[best] + (thresholds[best - 1] if best else 0.0)) / 2)
    return {"value": value, "chosen_on": chosen_on, "metrics": _at(value, prediction, y)}


def _at(threshold, prediction, y):
    """Precision, recall, F1 (of the second class) and accuracy when p > ``threshold`` says class 1."""
    true, said = (y[:, 0] > 0.5), (prediction[:, 0] > threshold)
    tp, predicted, actual = np.count_nonzero(true & said), np.count_nonzero(said), np.count_nonzero(true)
    counts = [np.array([float(v)]) for v in (tp, actual, predicted)]
    return {
        "precision": float(Precision.ratio(*counts)[0]),
        "recall": float(Recall.ratio(*counts)[0]),
        "f1": float(F1.ratio(*counts)[0]),
        "accuracy": float(np.mean(true == said)),
    }


def _plots(run_dir, split, task, names, prediction, y, meta):
    """Draw the split's pictures into RUN/eval/<split>/; returns their paths."""
    from .evalplots import classifier_plots, regressor_plots

    out_dir = Path(run_dir) / EVAL_DIR / split
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"{Path(run_dir).name} ({split})"
    if task == CLASSES:
        return classifier_plots(out_dir, y, prediction, names, title)
    if task == BINARY:
        p = prediction[:, 0]
        return classifier_plots(out_dir, (y[:, 0] > 0.5).astype(np.int64), np.column_stack([1 - p, p]), names, title)
    if task == REGRESSION:
        targets = meta.get("targets") or names
        return regressor_plots(out_dir, y, prediction, targets if len(targets) == y.shape[1] else names, title)
    return []
