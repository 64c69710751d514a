"""Data: a config's data set as splits of rows, with targets in the loss's form, and the batch loader.

``load_data`` reads or generates the examples (``nntrain.data.sources``), fits the targets to the loss and
the output layer (``nntrain.data.targets``), splits them (seeded; stratified for classification), encodes
a table's columns (``nntrain.data.columns``), standardises x (and regression targets, with
``scale_target``) with statistics of the training split only and converts it to the config's dtype.
The result is a ``Dataset``:

- each split's x: (n, features) rows; y: integer class labels (n,) for a loss that takes labels
  (categorical cross-entropy), (n, outputs) floats otherwise;
- ``meta``: what a run keeps to use its data again (data.json): feature, target and class names
  where they are not the defaults, a table's column encodings (``columns``), the standardisation's
  mean and std, and the target scaling's (``target_scale``).

Memory-mapped data is never copied whole: its splits are ``Rows`` (``nntrain.data.scaling``), which
read, convert and standardise only the rows a batch asks for.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ..nn.losses import VALUES, loss_class
from .columns import Encoding, fit_encoding
from .reader import Columns
from .scaling import ColumnScaler, Rows, standardization, standardize, stored_statistics
from .sources import load_table
from .table import DEFAULT_TARGETS, default_features
from .targets import class_count, prepare_targets, stratify_labels


@dataclass
class Split:
    """x: (n, features) rows (an array, or ``Rows`` for memory-mapped data); y: (n,) labels or (n, outputs);
    w: the rows' weights in the loss (n,) float64 -- class weights times a table's data.weight -- or None."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray | None = None

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
    rows: dict = field(default_factory=dict)  # split name -> the data's rows it holds (0-based; a table's: its file's data rows)
    dropped: dict = field(default_factory=dict)  # a table's rows left out: column -> rows without a value

    @property
    def n_features(self):
        return self.train.x.shape[1]


def load_data(config, rng, meta=None, split=None):
    """The Dataset of an ExperimentConfig, drawing from ``rng`` in a fixed order: generation, then the split.

    ``meta``: a run's data.json, to label classes, encode and standardise exactly as that run did
    (eval, predict); without it all are fitted on the training split. ``split``: keep only that
    split beside the training split (eval: nothing else is encoded, nor warned about).

    Raises DataError for data that is missing or malformed and ConfigError for data that does not
    fit the config (output units, split shares, batch size); nothing is written before.
    """
    d = config.data
    meta = meta or {}
    table = load_table(config, rng, classes=meta.get("classes"))
    parts = _fitted_parts(table, config)
    parts, index = _split(parts, config, rng, table.classes)
    if split in parts:  # (a split the data lacks: all are kept, for the message that lists them)
        parts = {name: part for name, part in parts.items() if name in ("train", split)}
    parts, encoding, rows, standardized = _encoded(parts, table, config, meta)
    rows = rows or {name: index[name] for name in parts if name in index}
    n_train, n_features = len(parts["train"][0]), parts["train"][0].shape[1]
    _check_batches(config, n_train)
    meta_out = _names(table, n_features)
    if encoding is not None:
        meta_out["columns"] = encoding.to_json()
    scale = None
    if standardized is not None:  # a table's: standardised as it was encoded
        meta_out["standardize"] = standardized
    elif d.standardize:
        scale, meta_out["standardize"] = _standardization(parts, meta.get("standardize"), table.origin, n_features)
    weights, class_weight = _weights(parts, index, table, config, meta)
    if class_weight is not None:
        meta_out["class_weight"] = class_weight
    if _scales_targets(config, meta):
        parts, meta_out["target_scale"] = _scaled_targets(parts, meta.get("target_scale"))
    splits = {
        name: Split(standardize(x, scale, config.dtype), _in_dtype(y, config.dtype), weights.get(name))
        for name, (x, y) in parts.items()
    }
    return Dataset(train=splits["train"], splits=splits, meta=meta_out, rows=rows, dropped=table.dropped)


def _fitted_parts(table, config):
    """The table's parts ({"train": (x, y), and a file's own "val" / "test"}) with targets in the loss's form."""
    for name, share in (("val", config.data.split.val), ("test", config.data.split.test)):
        if share and name in table.parts:
            raise config.error(
                ("data", "split", name),
                f"{table.origin} has its own {name} split (x_{name}, y_{name}); remove data.split.{name}",
            )
    if config.data.split.folds is not None and table.parts:
        raise config.error(("data", "split", "folds"), f"{table.origin} has its own held-out splits; cross-validation needs one set of examples")
    parts = {"train": (table.x, table.y), **table.parts}
    n_classes = class_count(table, parts, config)
    # Memory-mapped x stays in its file: Rows read it batch by batch.
    return {
        name: (Rows(x, None, config.dtype) if isinstance(x, np.memmap) else x, prepare_targets(y, config, n_classes, table.origin))
        for name, (x, y) in parts.items()
    }


def _check_batches(config, n_train):
    d = config.data
    if d.drop_last and n_train < d.batch_size:
        raise config.error(
            ("data", "batch_size"),
            f"with drop_last, a batch of {d.batch_size} leaves no batch of the {n_train} training examples",
        )


def _encoded(parts, table, config, meta):
    """(parts, Encoding, {part: the file's data rows it holds}, data.json's standardisation or None)
    with a table's columns encoded -- fitted on the training split, or as a run's data.json says --
    column-major in the config's dtype, standardised as they are written (``ColumnScaler``), and the
    table's features named as encoded; (parts, None, {}, None) for data that is numbers already."""
    if not isinstance(table.x, Columns):
        return parts, None, {}, None
    table.x = None  # the columns as read: only the splits' rows are kept
    x, y = parts["train"]
    parts["train"] = x.gathered(), y  # read twice: to fit the encoding, and to encode
    encoding = Encoding.from_json(meta["columns"]) if "columns" in meta else fit_encoding(parts["train"][0], table.features, config)
    table.features = encoding.features
    rows = {name: x.rows for name, (x, _) in parts.items()}
    scaler = ColumnScaler.of(meta.get("standardize"), encoding.width, table.origin) if config.data.standardize else None
    encoded = {}
    for name in sorted(parts, key=lambda name: name != "train"):  # the training split first: it fits the scaler
        x, y = parts[name]
        encoded[name] = (encoding.transform(x, f"{table.origin} ({name} split)", config.dtype, scaler), y)
        if scaler is not None:
            scaler.fitting = False
    return {name: encoded[name] for name in parts}, encoding, rows, scaler and scaler.to_json()


def _split(parts, config, rng, classes=None):
    """(``parts`` with the config's val and test shares -- or its fold as the test split -- drawn from
    the training part (seeded, stratified), {part: its rows of the training part}: the parts drawn
    from it, and "train" itself)."""
    d = config.data
    x, y = parts["train"]
    labels = stratify_labels(y, config)
    held_out = {}
    if d.split.folds is not None:
        _check_folds(config, len(x), labels, classes)
        held_out["test"] = fold_indices(len(x), d.split.folds, d.split.fold, labels, rng)
    shares = {"val": d.split.val, "test": d.split.test}
    rest = _complement(len(x), held_out.values())
    drawn = split_indices(len(rest), shares, None if labels is None else labels[rest], rng)
    held_out.update({name: rest[idx] for name, idx in drawn.items()})
    train_index = _complement(len(x), held_out.values())
    if not held_out:
        return parts, {"train": train_index}
    if len(train_index) == 0:
        raise config.error(
            ("data", "split"),
            f"val {d.split.val:g} and test {d.split.test:g} of {len(x)} examples leave no training examples",
        )
    parts = {**parts, "train": (_take(x, train_index), y[train_index])}
    parts.update({name: (_take(x, idx), y[idx]) for name, idx in held_out.items()})
    return parts, {"train": train_index, **held_out}


def _weights(parts, index, table, config, meta):
    """({part: its rows' weights (n,) float64}, the class weights as data.json keeps them or None):
    each row's class weight (``training.class_weight``; ``balanced`` from the training split, or as
    a run's data.json says) times its data.weight. A part the data has itself (a file's own val
    split) has no data.weight and takes the class weights alone. ({}, None) for a run without weights."""
    if config.training.class_weight is None and table.weight is None:
        return {}, None
    labels = {name: stratify_labels(y, config) for name, (_, y) in parts.items()}
    class_weight = meta.get("class_weight") or _class_weights(config, labels["train"], table.classes)
    weights = {}
    for name, (_, y) in parts.items():
        w = np.ones(len(y)) if class_weight is None else np.asarray(class_weight, dtype=np.float64)[labels[name]]
        if table.weight is not None and name in index:
            w = w * table.weight[index[name]]
        weights[name] = w
    return weights, class_weight


def _class_weights(config, labels, classes):
    """The weight of each class (a list, label k's at k), or None without ``training.class_weight``.

    ``balanced``: n / (K n_k) for the K classes of the training split (scikit-learn's), 1 for a class
    it lacks; a mapping: the weight of each class named, 1 for the others."""
    setting = config.training.class_weight
    if setting is None:
        return None
    n_classes = config.n_classes
    if setting == "balanced":
        counts = np.bincount(labels, minlength=n_classes)
        present = counts > 0
        weights = np.ones(n_classes)
        weights[present] = len(labels) / (present.sum() * counts[present])
        return weights.tolist()
    names = list(classes) if classes else [str(k) for k in range(n_classes)]
    unknown = [c for c in setting if c not in names]
    if unknown:
        raise config.error(
            ("training", "class_weight", unknown[0]), f"no class {unknown[0]!r}; the classes are: {', '.join(names)}"
        )
    return [float(setting.get(name, 1.0)) for name in names]


def _in_dtype(y, dtype):
    """Targets as training takes them: class labels as they are, values in the config's dtype."""
    return y.astype(dtype) if y.dtype.kind == "f" else y


def _names(table, n_features):
    """What data.json keeps of the names: those that differ from the defaults (x1, x2, ...; y), and the classes."""
    meta = {}
    if table.features != default_features(n_features):
        meta["features"] = table.features
    if table.targets != DEFAULT_TARGETS:
        meta["targets"] = table.targets
    if table.classes is not None:
        meta["classes"] = table.classes
    return meta


def _standardization(parts, stats, origin, n_features):
    """((mean, std), the statistics as data.json keeps them): a run's ``stats`` where given (eval,
    predict), else the training split's."""
    mean, std = stored_statistics(stats, n_features, origin) if stats else standardization(parts["train"][0])
    return (mean, std), {"mean": mean.tolist(), "std": std.tolist()}


def _scales_targets(config, meta):
    """Whether to scale the targets: as a run's data.json says (eval, predict; a run from before
    scale_target has none), else as the config says, for a regression loss."""
    if meta:
        return "target_scale" in meta
    return config.data.scale_target and loss_class(config.loss).targets == VALUES


def _scaled_targets(parts, stats):
    """(parts with regression targets scaled to mean 0, std 1, the scaling as data.json keeps it):
    a run's ``stats`` where given, else the training split's."""
    if stats:
        mean, std = (np.asarray(stats[k], dtype=np.float64) for k in ("mean", "std"))
    else:
        mean, std = standardization(np.asarray(parts["train"][1], dtype=np.float64))
    parts = {name: (x, (np.asarray(y, dtype=np.float64) - mean) / std) for name, (x, y) in parts.items()}
    return parts, {"mean": mean.tolist(), "std": std.tolist()}


# --------------------------------------------------------------------------------------------------
# Splits


def split_indices(n, shares, labels, rng):
    """Sorted row indices of each held-out part: {"val": idx, "test": idx} for the shares above 0.

    A part of share s gets ceil(s * n) rows, drawn from ``rng`` (one permutation per class, or one of
    all rows without ``labels``); with ``labels`` it is stratified: each class contributes in
    proportion to the rows it has left (largest remainders decide the rounding). The rest is the
    training split.
    """
    wanted = {name: math.ceil(share * n - 1e-9) for name, share in shares.items() if share > 0}
    if not wanted:
        return {}
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    groups = [rng.permutation(g) for g in groups]
    sizes = np.array([len(g) for g in groups])
    taken = np.zeros(len(groups), dtype=np.int64)
    out = {}
    for name, count in wanted.items():
        per_group = _allocate(count, sizes - taken)
        out[name] = np.sort(np.concatenate([g[t : t + k] for g, t, k in zip(groups, taken, per_group)]))
        taken += per_group
    return out


def fold_indices(n, folds, fold, labels, rng):
    """Sorted row indices of fold ``fold`` (0-based) of ``folds``: the rows, permuted from ``rng`` (per
    class, with ``labels``), are dealt to the folds in turn, class after class, so that every fold
    has its share of every class (stratified) and the folds' sizes differ by at most one."""
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    order = np.concatenate([rng.permutation(g) for g in groups])
    return np.sort(order[fold::folds])


def _check_folds(config, n, labels, classes):
    """ConfigError for more folds than examples, or (stratified) than the smallest class has."""
    folds = config.data.split.folds
    if n < folds:
        raise config.error(("data", "split", "folds"), f"{folds} folds of {n} examples: at most {n} folds")
    if labels is None:
        return
    sizes = np.bincount(labels, minlength=config.n_classes)
    smallest = int(np.argmin(sizes))
    if sizes[smallest] < folds:
        name = classes[smallest] if classes else str(smallest)
        raise config.error(
            ("data", "split", "folds"),
            f"{folds} folds need at least {folds} examples of every class; class {name!r} has {sizes[smallest]}",
        )


def _allocate(total, available):
    """Integer counts per group, summing to min(total, sum(available)), in proportion to ``available``."""
    total = min(total, int(available.sum()))
    if total == 0:
        return np.zeros_like(available)
    exact = total * available / available.sum()
    counts = np.floor(exact).astype(np.int64)  # exact <= available, so floor + 1 never exceeds it
    largest = np.argsort(counts - exact, kind="stable")[: total - counts.sum()]
    counts[largest] += 1
    return counts


def _complement(n, parts):
    keep = np.ones(n, dtype=bool)
    for idx in parts:
        keep[idx] = False
    return np.flatnonzero(keep)


def _take(x, index):
    """Rows ``index`` of x: gathered for an in-memory array, still unread for ``Rows``, a table's
    columns for ``Columns``."""
    return x.take(index) if isinstance(x, (Rows, Columns)) else x[index]


# --------------------------------------------------------------------------------------------------
# Batches


class Loader:
    """Batches of (x, y, w) rows for one pass over a split (w: the rows' weights, or None).

    Each epoch draws a new permutation of the row indices from the run's generator (when ``shuffle``)
    and gathers each batch with one fancy-index; without shuffling, in-memory batches are views. The
    last batch may be smaller unless ``drop_last``. The data set itself is never copied.

    In tf.data's terms: ``shuffle`` (reshuffled every iteration) and ``batch`` (``drop_remainder`` =
    ``drop_last``) happen here; ``map`` + ``cache`` is the standardisation, applied once to in-memory
    data (or per batch by ``Rows`` for memory-mapped data); ``repeat`` is the trainer's epoch loop.
    ``prefetch`` is left out: the loader takes a few percent of an epoch (benchmarks/loader.py), the
    most that overlapping it with the training step could save.
    """

    def __init__(self, split, batch_size, shuffle, drop_last, rng):
        self.x, self.y, self.w = split.x, split.y, split.w
        self.batch_size, self.shuffle, self.drop_last, self.rng = batch_size, shuffle, drop_last, rng

    def __len__(self):
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        n, b = len(self.x), self.batch_size
        stop = n - n % b if self.drop_last else n
        if not self.shuffle:
            for i in range(0, stop, b):
                yield self.x[i : i + b], self.y[i : i + b], None if self.w is None else self.w[i : i + b]
            return
        order = self.rng.permutation(n)
        for i in range(0, stop, b):
            idx = order[i : i + b]
            yield self.x[idx], self.y[idx], None if self.w is None else self.w[idx]
