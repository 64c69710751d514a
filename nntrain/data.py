"""Data: the data sets a config names, their targets in the form the loss needs, and the batch loader.

``load_data`` returns a ``Dataset`` with the training split (and, where configured, validation and
test splits) as arrays of rows: x (n, features), y (n,) integer class labels or (n, outputs) floats.
"""

from dataclasses import dataclass, field

import numpy as np

from .errors import DataError


@dataclass
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self):
        return len(self.x)


@dataclass
class Dataset:
    """The splits of one data set.

    ``meta``: what a run must keep to use the data again -- class names, feature names, the
    standardisation's mean and std -- saved as the run's data.json (JSON values only).
    """

    train: Split
    splits: dict = field(default_factory=dict)  # name -> Split, including "train"
    meta: dict = field(default_factory=dict)

    @property
    def n_features(self):
        return self.train.x.shape[1]


def xor():
    """The lecture's table, rows in its order: 00 -> 0, 01 -> 1, 10 -> 1, 11 -> 0."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    return x, y


SOURCES = {"xor": xor}


def load_data(config, rng):
    """The data set of an ExperimentConfig, as the loss wants its targets, in the config's dtype."""
    x, y = SOURCES[config.data.source]()
    x = np.asarray(x, dtype=config.dtype)
    y = prepare_targets(y, config)
    train = Split(x, y)
    return Dataset(train=train, splits={"train": train})


def prepare_targets(y, config):
    """Targets in the form the loss takes, checked against the output layer.

    categorical_crossentropy: integer labels (n,) below the output units (one-hot rows become labels);
    binary_crossentropy and mse: (n, units) floats.
    """
    units = config.model.layers[-1].units
    y = np.asarray(y)
    if config.loss == "categorical_crossentropy":
        if y.ndim == 2:
            if y.shape[1] != units:
                raise DataError(f"the targets are one-hot rows of {y.shape[1]} classes, but the output layer has {units} units")
            y = y.argmax(axis=1)
        labels = y.astype(np.int64)
        if not np.array_equal(labels, y) or labels.min() < 0:
            raise DataError("categorical_crossentropy needs class labels 0, 1, ..., K-1 as targets")
        n_classes = int(labels.max()) + 1
        if n_classes > units:
            raise DataError(
                f"the data has {n_classes} classes but the output layer has {units} units; set its units to {n_classes}"
            )
        return labels
    y = np.asarray(y, dtype=config.dtype)
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[1] != units:
        what = "target columns" if config.loss == "mse" else "binary targets per row"
        raise DataError(f"the data has {y.shape[1]} {what} but the output layer has {units} units; set its units to {y.shape[1]}")
    if config.loss == "binary_crossentropy" and ((y < 0) | (y > 1)).any():
        raise DataError("binary_crossentropy needs targets between 0 and 1")
    return y


class Loader:
    """Batches of (x, y) rows for one pass over a split.

    Each epoch draws a new permutation of the row indices from the run's generator (when ``shuffle``)
    and gathers each batch with one fancy-index; without shuffling, batches are views. The last batch
    may be smaller unless ``drop_last``.
    """

    def __init__(self, split, batch_size, shuffle, drop_last, rng):
        self.x, self.y = split.x, split.y
        self.batch_size, self.shuffle, self.drop_last, self.rng = batch_size, shuffle, drop_last, rng

    def __len__(self):
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        n, b = len(self.x), self.batch_size
        stop = n - n % b if self.drop_last else n
        if not self.shuffle:
            for i in range(0, stop, b):
                yield self.x[i : i + b], self.y[i : i + b]
            return
        order = self.rng.permutation(n)
        for i in range(0, stop, b):
            idx = order[i : i + b]
            yield self.x[idx], self.y[idx]
