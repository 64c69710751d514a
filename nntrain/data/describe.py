"""What training would see of a config's data, without training: ``describe_data`` (``nntrain data``).

The data is loaded exactly as ``fit`` loads it (``load_data``: the same checks, errors and warnings),
and described as JSON values:

- per column: its type as training encodes it (``number``, ``boolean``, ``category``; ``ignore`` for
  a column training leaves out, ``target`` for the target), its missing cells in the whole file and
  in the training split, and the training split's values: min / mean / max of a number, the
  categories with the most frequent; the inputs it becomes;
- the target: each class's rows per split (the balance), or min / mean / std / max per split;
- the encoded input width, the splits' sizes, the rows left out (no target, ``missing: drop``).

A table's columns are described as read, before encoding: the file is read once more, whole, and
each split is the rows ``load_data`` put in it (``Dataset.rows``). Other sources are numbers
already: their features are described from the loaded splits (in the config's dtype, not standardised).
"""

import numpy as np

from ..nn.losses import VALUES, loss_class
from .columns import BOOLEAN, CATEGORY, IGNORE, CategoryEncoding, Encoding, numbers
from .files import read_config_table
from .prepare import load_data
from .table import BLOCK_BYTES, default_features, shown

TOP = 5  # the most frequent categories listed per column
TARGET = "target"
WEIGHT = "weight"  # data.weight's column


def describe_data(config):
    """A JSON-able description of the data training on ``config`` would see; writes nothing.

    Raises what ``load_data`` raises (DataError, ConfigError) for data that training would refuse.
    """
    # Loaded as training loads it, but not scaled: the values described are the data's own (the
    # scaling draws nothing from the generator, so the split and the encoding are training's).
    unscaled = config.model_copy(update={"data": config.data.model_copy(update={"standardize": False, "scale_target": False})})
    data = load_data(unscaled, np.random.default_rng(config.seed))
    d = config.data
    result = {
        "source": d.source,
        "path": shown(d.path) if d.path is not None else None,
        "delimiter": None,
        "rows": None,
        "splits": {name: len(split) for name, split in data.splits.items()},
        "columns": None,
        "target": None,
        "inputs": None,
        "standardize": bool(d.standardize),
        "scale_target": bool(d.scale_target and loss_class(config.loss).targets == VALUES),
    }
    if "columns" in data.meta:  # a table: its columns encoded
        result.update(_table(config, data))
    else:
        result.update(_arrays(config, data))
    return result


# --------------------------------------------------------------------------------------------------
# Tables: the columns as read


def _table(config, data):
    d, meta = config.data, data.meta
    encoding = Encoding.from_json(meta["columns"])
    targets = [d.target] if isinstance(d.target, str) else list(d.target)
    classes = meta.get("classes")
    whole = read_config_table(config, exclude=())  # every column, the ignored ones too
    splits = {name: whole.take(rows) for name, rows in data.rows.items()}  # the rows training took
    by_name = {c.name: c for c in encoding.columns}
    columns = []
    for name in whole.names:
        if name in targets:
            columns.append(_target_column(name, whole, splits["train"], classes))
        elif name in by_name:
            columns.append(_feature_column(by_name[name], whole, splits["train"]))
        elif name == d.weight:
            columns.append(_column_base(name, WEIGHT, whole, splits["train"], 0) | _stats(numbers(splits["train"], name)))
        else:
            columns.append(_column_base(name, IGNORE, whole, splits["train"], 0))
    if classes is not None:
        target = _class_balance(targets[0], classes, data)
    else:
        target = _values_target(targets, {name: [numbers(part, t) for t in targets] for name, part in splits.items()})
    dropped = {name: {"rows": n, "why": "no target" if name in targets else "missing: drop"} for name, n in data.dropped.items()}
    return {
        "delimiter": whole.delimiter,
        "rows": {"read": len(whole), "used": sum(len(rows) for rows in data.rows.values()), "dropped": dropped},
        "columns": columns,
        "target": target,
        "inputs": {"width": encoding.width, "encoding": encoding.describe(), "features": encoding.features},
    }


def _column_base(name, kind, whole, train, inputs):
    return {
        "name": name,
        "type": kind,
        "missing": int(np.count_nonzero(whole[name].missing())),
        "missing_train": int(np.count_nonzero(train[name].missing())),
        "inputs": inputs,
    }


def _feature_column(encoding, whole, train):
    """A feature column: its type as encoded, and the training split's values."""
    name = encoding.name
    if isinstance(encoding, CategoryEncoding):
        record = _column_base(name, CATEGORY, whole, train, len(encoding.features))
        return record | _categories(train[name]) | {"kept": len(encoding.categories), "other": len(encoding.other)}
    kind = BOOLEAN if encoding.boolean else "number"
    record = _column_base(name, kind, whole, train, len(encoding.features))
    return record | _stats(numbers(train, name, boolean=encoding.boolean))


def _target_column(name, whole, train, classes):
    record = _column_base(name, TARGET, whole, train, 0)
    if classes is not None:
        return record | _categories(train[name])
    return record | _stats(numbers(train, name))


def _categories(column):
    """The number of distinct values of a text column and the most frequent (ties in sorted order)."""
    counts = np.bincount(column.codes[column.codes >= 0], minlength=len(column.levels))
    present = [(column.levels[k], int(counts[k])) for k in np.flatnonzero(counts)]
    present.sort(key=lambda item: (-item[1], item[0]))
    return {"categories": len(present), "top": [{"value": v, "count": n} for v, n in present[:TOP]]}


def _stats(values, std=False):
    """min / mean (/ std) / max of the values present (NaN: missing); None each without any."""
    present = values[~np.isnan(values)]
    keys = ("min", "mean", "std", "max") if std else ("min", "mean", "max")
    if not len(present):
        return dict.fromkeys(keys)
    out = {"min": float(present.min()), "mean": float(present.mean()), "max": float(present.max())}
    if std:
        out["std"] = float(present.std())
    return {key: out[key] for key in keys}


# --------------------------------------------------------------------------------------------------
# Targets


def _class_balance(name, classes, data):
    """Each class's rows per split, from the splits training takes (labels, or 0/1 per row)."""
    counts = {}
    for split_name, split in data.splits.items():
        y = np.asarray(split.y)
        labels = (y if y.ndim == 1 else y[:, 0]).astype(np.int64)
        counts[split_name] = np.bincount(labels, minlength=len(classes))
    records = []
    for k, label in enumerate(classes):
        record = {"name": label, **{split: int(c[k]) for split, c in counts.items()}}
        record["all"] = sum(int(c[k]) for c in counts.values())
        if "class_weight" in data.meta:
            record["weight"] = data.meta["class_weight"][k]
        records.append(record)
    return {"name": name, "kind": "classes", "classes": records}


def _values_target(names, values):
    """min / mean / std / max of each regression target per split. ``values``: {split: [(n,) per target]}."""
    columns = [{"name": name, **{split: _stats(v[j], std=True) for split, v in values.items()}} for j, name in enumerate(names)]
    return {"name": names[0] if len(names) == 1 else names, "kind": "values", "columns": columns}


# --------------------------------------------------------------------------------------------------
# Other sources: numbers already


def _arrays(config, data):
    meta = data.meta
    n = data.n_features
    names = meta.get("features") or default_features(n)
    targets = meta.get("targets") or ["y"]
    lowest, mean, highest = _feature_stats(data.train.x)
    shown_value = _shown(config.dtype)
    columns = [
        {"name": name, "type": "number", "missing": 0, "missing_train": 0, "inputs": 1,
         "min": shown_value(lowest[j]), "mean": shown_value(mean[j]), "max": shown_value(highest[j])}
        for j, name in enumerate(names)
    ]
    target = _array_classes(config, data, targets)
    if target is None:
        values = {name: list(np.asarray(split.y, dtype=np.float64).reshape(len(split), -1).T) for name, split in data.splits.items()}
        target = _values_target(targets, values)
        target["columns"] = [_rounded(c, shown_value) for c in target["columns"]]
    columns += _array_target_columns(targets, target)
    rows = sum(len(split) for split in data.splits.values())
    return {
        "rows": {"read": rows, "used": rows, "dropped": {}},
        "columns": columns,
        "target": target,
        "inputs": {"width": n, "encoding": None, "features": names},
    }


def _array_target_columns(names, target):
    """The target's rows of the columns: its classes in the training split, or its values there."""
    records = []
    for j, name in enumerate(names):
        record = {"name": name, "type": TARGET, "missing": 0, "missing_train": 0, "inputs": 0}
        if target["kind"] == "classes":
            top = sorted(({"value": c["name"], "count": c["train"]} for c in target["classes"]), key=lambda t: -t["count"])
            record |= {"categories": len(top), "top": top[:TOP]}
        else:
            record |= {k: v for k, v in target["columns"][j]["train"].items() if k != "std"}
        records.append(record)
    return records


def _array_classes(config, data, targets):
    """The class balance of a classifier's labels (one per row), or None for values and multi-label rows."""
    if not loss_class(config.loss).classifies:
        return None
    y = np.asarray(data.train.y)
    if y.ndim == 2 and (y.shape[1] != 1 or not np.isin(y, (0, 1)).all()):
        return None
    names = data.meta.get("classes")
    if names is None:
        labels = [np.asarray(s.y).reshape(len(s)) for s in data.splits.values()]
        names = [str(k) for k in range(int(max(label.max(initial=0) for label in labels)) + 1)]
    return _class_balance(targets[0], names, data)


def _feature_stats(x):
    """(min, mean, max) per feature of the training split's rows, read block by block (a memory-mapped
    split is never read whole)."""
    block = max(1, BLOCK_BYTES // max(1, 8 * x.shape[1]))
    lowest, highest, total = np.full(x.shape[1], np.inf), np.full(x.shape[1], -np.inf), np.zeros(x.shape[1])
    for start in range(0, len(x), block):
        rows = np.asarray(x[start : start + block], dtype=np.float64)
        lowest, highest = np.minimum(lowest, rows.min(axis=0)), np.maximum(highest, rows.max(axis=0))
        total += rows.sum(axis=0)
    return lowest, total / len(x), highest


def _shown(dtype):
    """A number as the config's dtype holds it: float32's shortest digits (5.1, not 5.099999904632568)."""
    if np.dtype(dtype) == np.float32:
        return lambda v: float(str(np.float32(v)))
    return float


def _rounded(record, shown_value):
    return {k: ({s: None if v is None else shown_value(v) for s, v in r.items()} if isinstance(r, dict) else r) for k, r in record.items()}
