"""Targets in the loss's form: what the loss's class says it takes (``nntrain.nn.losses``: class labels,
binary targets or values), checked against the data and the output layer.

- labels (categorical cross-entropy): integer class labels (n,); one-hot rows become labels;
- binary (binary cross-entropy) and values (the regression losses): (n, units) floats.
"""

import numpy as np

from ..errors import DataError
from ..nn.losses import BINARY, LABELS, VALUES, loss_class

MANY_CLASSES = 50  # more classes than this in a target: say it may be a number to predict


def class_count(table, parts, config):
    """Number of classes for a loss that takes class labels: from the names, else the largest label + 1.

    A binary loss on a class column needs exactly two classes."""
    kind = loss_class(config.loss).targets
    if kind == BINARY and table.labels:
        n = len(table.classes) if table.classes is not None else int(np.max(table.y, initial=0)) + 1
        if n != 2:
            names = f" ({', '.join(table.classes)})" if table.classes else ""
            raise config.error(
                ("loss",),
                f"{config.loss.name} needs two classes; {table.origin} has {n}{names}: use a softmax output "
                "layer with one unit per class and categorical_crossentropy",
            )
        return None
    if kind != LABELS:
        return None
    if table.classes is not None:
        return len(table.classes)
    return _label_count(parts)


def _label_count(parts):
    """The largest label + 1 over the parts' targets (or their one-hot width); None if none are labels."""
    counts = []
    for _, y in parts.values():
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            counts.append(y.shape[1])  # one-hot rows
        elif y.size and y.dtype.kind in "biuf" and np.all(y == np.round(y)) and y.min() >= 0:
            counts.append(int(y.max()) + 1)
    return max(counts) if counts else None


def prepare_targets(y, config, n_classes=None, origin=None):
    """Targets in the form the loss takes, checked against the output layer.

    A loss that takes class labels (categorical_crossentropy): integer labels (n,) (one-hot rows
    become labels); the output layer must have one unit per class (``n_classes``, default: the largest
    label + 1). Binary and regression losses: (n, units) floats, one column per output unit.
    ``origin`` names the data in messages about its values.
    """
    where = f"{origin}: " if origin else ""
    last = len(config.model.layers) - 1
    units = config.model.layers[last].units
    units_loc = ("model", "layers", last, "units")
    name, kind = config.loss.name, loss_class(config.loss).targets
    y = np.asarray(y)
    if kind == LABELS:
        return _labels(y, config, n_classes, where, units_loc)
    y = np.asarray(y, dtype=np.float64)  # in the config's dtype once scaled (prepare), keeping a large offset's digits
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[1] != units:
        what = "target columns" if kind == VALUES else "binary targets per row"
        raise config.error(units_loc, f"the data has {y.shape[1]} {what} but the output layer has {units} units; set its units to {y.shape[1]}")
    if kind == BINARY and ((y < 0) | (y > 1)).any():
        raise DataError(f"{where}{name} needs targets between 0 and 1 (two classes: labels 0 and 1)")
    return y


def _labels(y, config, n_classes, where, units_loc):
    """Integer class labels (n,) from labels or one-hot rows, as many classes as the output has units."""
    units = config.model.layers[units_loc[2]].units
    if y.ndim == 2 and y.shape[1] > 1:
        if y.shape[1] != units:
            raise config.error(units_loc, f"the targets are one-hot rows of {y.shape[1]} classes, but the output layer has {units} units")
        y = y.argmax(axis=1)
    y = y.reshape(len(y))
    labels = y.astype(np.int64)
    if not np.array_equal(labels, y) or (labels.size and labels.min() < 0):
        raise DataError(f"{where}{config.loss.name} needs class labels 0, 1, ..., K-1 as targets")
    n = n_classes if n_classes is not None else int(labels.max()) + 1
    if n != units:
        fix = f"set its units to {n}"
        if n > MANY_CLASSES:  # rather a number to predict than so many classes
            fix = f"if the target is a number to predict, use a regression loss (loss: mse, a linear output of 1 unit); if it holds {n} classes, {fix}"
        raise config.error(units_loc, f"the data has {n} classes but the output layer has {units} units; {fix}")
    return labels


def stratify_labels(y, config):
    """Class labels (n,) to stratify the split by, or None for regression and multi-label targets."""
    kind = loss_class(config.loss).targets
    if kind == LABELS:
        return y
    if kind == BINARY and y.shape[1] == 1 and np.isin(y, (0, 1)).all():
        return y[:, 0].astype(np.int64)
    return None
