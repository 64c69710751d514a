"""Using a trained (or hand-set) network: evaluate a run on its data, predict and trace new inputs.

Inputs are always raw, as in the data the run was trained on: a run keeps in its data.json what it
fitted on its training split -- a table's column encodings (categories, imputed values, missing
indicators), the standardisation's mean and std, the scaling of regression targets -- and applies
them here. A run trained on named classes (a CSV's labels, scikit-learn's target names) answers with
those names; a regression run answers in its targets' own units.
"""

import csv
import io
import reprlib
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..config import load_config
from ..data.columns import CategoryEncoding, Encoding, numbers
from ..data.csvfile import read_rows
from ..data.reader import NA_VALUES, Column, Columns, read_table
from ..data.table import DEFAULT_TARGETS, default_features, shown
from ..errors import ConfigError, DataError, NNTrainNote, RunError, UsageError
from ..nn.model import build_model, input_width
from .store import DATA, load_run_config, read_json, read_weights

SPLITS = ("train", "val", "test")


def load_model(source):
    """(config, model) from a run directory (its trained weights) or a config whose layers are all hand-set."""
    path = Path(source)
    if path.is_dir():
        config = load_run_config(path)
        weights = read_weights(path)
        inputs = input_width(config, arrays=weights)
        if inputs is None:  # a dense first layer without its W
            raise RunError(f"{path}: damaged weights file: no 2-D layers.0.W")
        model = build_model(config, inputs, np.random.default_rng(config.seed))
        problem = model.load_state_dict(weights)
        if problem:
            raise RunError(f"{path}: weights.npz does not fit config.yaml: {problem}")
        return config, model
    if not path.exists():
        raise ConfigError(f"{source}: no such run directory or config file")
    config = load_config(path)
    for i, layer in enumerate(config.model.layers):
        if not layer.hand_set:
            raise config.error(
                ("model", "layers", i),
                "no hand-set weights; predict needs a trained run directory or a config that sets "
                "`weights` on every layer",
            )
    return config, build_model(config, input_width(config), np.random.default_rng(config.seed))


def read_data_meta(run_dir):
    """A run's data.json (names and standardisation), or {} for a run whose data needs none;
    RunError for one damaged, naming what is wrong."""
    if not (Path(run_dir) / DATA).is_file():
        return {}
    meta = read_json(run_dir, DATA, "data description", f"no {DATA}")
    problem = _meta_problem(meta)
    if problem:
        raise RunError(f"{Path(run_dir) / DATA}: damaged data description: {problem}")
    return meta


def _meta_problem(meta):
    """What in data.json is not what ``load_data`` writes there, or None."""
    if not isinstance(meta, dict):
        return "expected a mapping"
    for key in ("features", "targets", "classes"):
        if key in meta and not (isinstance(meta[key], list) and all(isinstance(v, str) for v in meta[key])):
            return f"{key} is {reprlib.repr(meta[key])}, expected a list of names"
    for key in ("standardize", "target_scale"):
        if key in meta and not _statistics(meta[key]):
            return f"{key} is not a mean and a std of numbers"
    if "class_weight" in meta and not _numbers(meta["class_weight"]):
        return "class_weight is not a list of numbers"
    if "columns" in meta:
        try:
            Encoding.from_json(meta["columns"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return "columns is not a list of column encodings"
    return None


def _statistics(stats):
    return isinstance(stats, dict) and _numbers(stats.get("mean")) and _numbers(stats.get("std"))


def _numbers(values):
    return isinstance(values, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


@dataclass
class Predictor:
    """A network with what it needs to take raw inputs: the run's names and standardisation."""

    config: object
    model: object
    meta: dict
    threshold: float = 0.5  # a binary classifier says its second class where p > threshold

    @property
    def n_inputs(self):
        return self.model.inputs

    @property
    def table(self):
        """Whether the run read a table's columns (and encoded them): its inputs are those columns."""
        return "columns" in self.meta

    @cached_property
    def encoding(self):
        """The Encoding of raw rows into the network's inputs (numbers as they are for a run without one)."""
        return Encoding.from_json(self.meta["columns"]) if self.table else Encoding.plain(self.features)

    @property
    def inputs(self):
        """The raw columns an input row holds, in order."""
        return self.encoding.raw

    @property
    def features(self):
        return self.meta.get("features") or default_features(self.n_inputs)

    @property
    def targets(self):
        return self.meta.get("targets") or DEFAULT_TARGETS

    @property
    def classes(self):
        """Class names (label k is classes[k]) or None."""
        return self.meta.get("classes")

    @property
    def kind(self):
        """"classes" (a loss on class labels: softmax), "binary" (a binary loss, one sigmoid unit),
        "multilabel" (several) or "regression" (a loss on values): the config's task."""
        return self.config.task

    def scale(self, x):
        """Raw rows (n, features) -> the network's inputs (standardised as in training: in float64,
        then cast to its dtype, so that they are the bits training and eval feed it)."""
        stats = self.meta.get("standardize")
        if stats:
            x = (np.asarray(x, dtype=np.float64) - np.asarray(stats["mean"])) / np.asarray(stats["std"])
        return np.asarray(x, dtype=self.model.dtype)

    def raw(self, x):
        """The network's inputs back to raw rows: the inverse of ``scale``."""
        stats = self.meta.get("standardize")
        if stats:
            x = np.asarray(x) * np.asarray(stats["std"]) + np.asarray(stats["mean"])
        return x

    def outputs(self, x, batch_size=4096):
        """The outputs (n, units) for rows x (encoded, not yet standardised), in batches; a regression
        run's in its targets' units."""
        x = self.scale(x)
        out = self.model.predict(x, batch_size)
        return self.in_units(out)

    def in_units(self, out):
        """Network outputs in the targets' own units (a run that trained on scaled targets)."""
        stats = self.meta.get("target_scale")
        return out * np.asarray(stats["std"]) + np.asarray(stats["mean"]) if stats else out

    def label(self, outputs):
        """Predicted class per row: a name where the run has names, else the label."""
        labels = outputs.argmax(axis=1) if self.kind == "classes" else (outputs[:, 0] > self.threshold).astype(np.int64)
        names = self.classes
        return [names[k] for k in labels] if names else labels.tolist()

    def class_names(self, n):
        return list(self.classes) if self.classes else [str(k) for k in range(n)]


def load_predictor(source, threshold=None):
    """The Predictor of a run directory, or of a config whose layers are all hand-set; ``threshold``:
    the probability above which a binary classifier says its second class (default 0.5)."""
    config, model = load_model(source)
    if threshold is not None:
        if config.task != "binary":
            raise UsageError(f"--threshold {threshold:g}: the run is not a binary classifier (one sigmoid output unit)")
        if not 0 < threshold < 1:
            raise UsageError(f"--threshold {threshold:g}: expected a probability between 0 and 1")
    if Path(source).is_dir():
        meta = read_data_meta(source)
    elif config.data.standardize:
        # A hand-set network on standardised inputs: the statistics come from its data, as in training.
        from ..data.prepare import load_data

        meta = load_data(config, np.random.default_rng(config.seed)).meta
    else:
        meta = {}
    return Predictor(config, model, meta, 0.5 if threshold is None else threshold)


def evaluate_run(run_dir, split="train"):
    """Loss and metrics of a run's weights on one split of its data (regenerated from its config).

    The data is labelled and standardised as the run's data.json says; the first entry of the
    result is the number of examples evaluated.
    """
    config, model, data = load_split(run_dir, split)
    part = data.splits[split]
    return {"examples": len(part), **run_trainer(config, model, data).evaluate(part)}


def load_split(run_dir, split, whole=lambda config: False):
    """(config, model, data) of a run, its data regenerated and prepared as its data.json says: the
    training split and ``split`` (every split where ``whole(config)``). UsageError for a split that
    is not train, val or test; RunError for a run that is not there or has no such split."""
    from ..data.prepare import load_data

    if split not in SPLITS:
        raise UsageError(f"--split {split}: expected one of {', '.join(SPLITS)}")
    if not Path(run_dir).is_dir():
        raise RunError(f"{run_dir}: no such run directory")
    config, model = load_model(run_dir)
    keep = None if whole(config) else split
    data = load_data(config, np.random.default_rng(config.seed), meta=read_data_meta(run_dir), split=keep)
    if split not in data.splits:
        raise RunError(
            f"{run_dir}: the run has no {split} split (its data.split.{split} is 0); it has: {', '.join(data.splits)}"
        )
    return config, model, data


def run_trainer(config, model, data):
    """The Trainer of a run's model on its prepared ``data``: metrics in the targets' units, named after its classes."""
    from ..training.trainer import Trainer

    return Trainer(config, model, data.meta.get("target_scale"), data.meta.get("classes"))


def parse_inputs(texts, n_inputs):
    """Rows of floats from strings such as "0,1"; each must have ``n_inputs`` values."""
    rows = []
    for text in texts:
        try:
            row = [float(v) for v in text.replace(" ", "").split(",")]
        except ValueError:
            raise UsageError(f"--input {text!r}: expected {n_inputs} comma-separated numbers, e.g. 0,1") from None
        if len(row) != n_inputs:
            raise UsageError(f"--input {text!r}: the network takes {n_inputs} inputs, got {len(row)}")
        rows.append(row)
    return np.array(rows)


def parse_cells(texts, predictor):
    """(rows of cells, Columns) of --input rows of a table run: one cell per raw column, in the
    run's order; a blank or NA cell is missing."""
    names = predictor.inputs
    rows = []
    for text in texts:
        cells = next(csv.reader([text]), [])
        if len(cells) != len(names):
            raise UsageError(
                f"--input {text!r}: the run takes {len(names)} columns ({', '.join(names)}), got {len(cells)}"
            )
        rows.append([c.strip() for c in cells])
    na = {*NA_VALUES, *predictor.config.data.na_values}
    columns = {}
    for j, name in enumerate(names):
        levels = sorted({row[j] for row in rows if row[j] not in na})
        index = {s: k for k, s in enumerate(levels)}
        codes = np.array([index.get(row[j], -1) for row in rows], dtype=np.int32)
        columns[name] = Column(name, "text", codes=codes, levels=levels)
    return rows, Columns(Path("--input"), names, columns, np.arange(len(rows)))


def _typed(table, encoding):
    """Input rows as their columns are read: numbers as floats, categories as strings, None where missing."""
    columns = []
    for spec in encoding.columns:
        column = table[spec.name]
        if isinstance(spec, CategoryEncoding):
            columns.append([column.levels[k] if k >= 0 else None for k in column.codes])
        else:
            columns.append([None if np.isnan(v) else float(v) for v in numbers(table, spec.name, spec.boolean)])
    return [list(row) for row in zip(*columns)]


def predict(source, inputs, threshold=None):
    """One record per raw input row: {"input": [...], "layers": [[...] per layer], "output": [...]},
    and "class" (its name) where the run has class names. A table run's input rows are its columns'
    cells, comma-separated, blank where missing; its records' inputs are typed (numbers as floats,
    categories as strings, None where missing). A regression run's output is in its targets' units.
    ``threshold``: a binary classifier's (see ``load_predictor``); with it every record has "class"."""
    predictor = load_predictor(source, threshold)
    if predictor.table:
        _, table = parse_cells(inputs, predictor)
        x = predictor.encoding.transform(table)
        cells = _typed(table, predictor.encoding)
    else:
        x = parse_inputs(inputs, predictor.n_inputs)
        cells = x.tolist()
    layers = predictor.model.trace(predictor.scale(x))
    output = predictor.in_units(layers[-1])
    records = [
        {"input": cells[r], "layers": [a[r].tolist() for a in layers], "output": output[r].tolist()}
        for r in range(len(x))
    ]
    if (predictor.classes or threshold is not None) and predictor.kind in ("classes", "binary"):
        for record, name in zip(records, predictor.label(layers[-1])):
            record["class"] = name
    return records


def predict_table(source, path, proba=False, threshold=None):
    """Predictions for every row of the CSV (or TSV) at ``path``: (columns, rows) of strings.

    The file needs the run's input columns by name, raw: numbers, categories, blank or NA cells, as
    in the training data. Other columns (the target, ids) are passed through, with a warning naming
    them. The result is the input's columns followed by ``predicted_<target>`` (a class name, a
    label, or a number per regression target, in its units) and, with ``proba``, ``p_<class>``: each
    class's probability. ``threshold``: a binary classifier's (see ``load_predictor``).
    """
    predictor = load_predictor(source, threshold)
    if proba and predictor.kind == "regression":
        raise UsageError(f"--proba: the run regresses (loss {predictor.config.loss.name}); it has no class probabilities")
    encoding = predictor.encoding
    table = _input_table(predictor, path)
    out = predictor.outputs(encoding.transform(table))
    header, rows = read_rows(path, table.delimiter)
    columns, values = prediction_columns(predictor, out, proba)
    taken = [c for c in columns if c in header]
    if taken:
        raise DataError(f"{shown(path)}: already has a column {taken[0]!r}, which the predictions would fill")
    table = [row + [column[i] for column in values] for i, row in enumerate(rows)]
    return header + columns, table


def _input_table(predictor, path):
    """The Columns of a CSV (or TSV) of raw inputs: the run's input columns, read as in training."""
    encoding = predictor.encoding
    text = [c.name for c in encoding.columns if isinstance(c, CategoryEncoding)]
    kind = "tsv" if Path(path).suffix.lower() == ".tsv" else "csv"
    d = predictor.config.data
    table = read_table(path, kind, decimal=d.decimal, na_values=d.na_values, text=text)
    missing = [f for f in encoding.raw if f not in table.names]
    if missing:
        raise DataError(f"{shown(path)}: no column {missing[0]!r}; the run's inputs are: {', '.join(encoding.raw)}")
    extra = [c for c in table.names if c not in encoding.raw]
    if extra:
        warnings.warn(f"{shown(path)}: not inputs of the run, passed through: {', '.join(extra)}", NNTrainNote, stacklevel=3)
    return table


def prediction_columns(predictor, out, proba):
    """(names, columns of strings) of the predictions for outputs ``out`` (n, units), as ``predict_table`` adds them."""
    if predictor.kind in ("classes", "binary"):
        return _class_columns(predictor, out, proba)
    targets = predictor.targets
    names = targets if len(targets) == out.shape[1] else default_features(out.shape[1])
    columns = [f"predicted_{t}" for t in names]
    if predictor.kind != "multilabel":
        return columns, [number_cells(out[:, j]) for j in range(out.shape[1])]
    values = [[str(int(v > 0.5)) for v in out[:, j]] for j in range(out.shape[1])]
    if proba:
        columns += [f"p_{t}" for t in names]
        values += [number_cells(out[:, j]) for j in range(out.shape[1])]
    return columns, values


def _class_columns(predictor, out, proba):
    """The predicted class per row and, with ``proba``, each class's probability (one sigmoid: the second's)."""
    kind = predictor.kind
    columns, values = [f"predicted_{predictor.targets[0]}"], [[str(v) for v in predictor.label(out)]]
    if proba:
        names = predictor.class_names(out.shape[1] if kind == "classes" else 2)
        shown_names = names if kind == "classes" else names[1:]  # one sigmoid: P(second class)
        columns += [f"p_{name}" for name in shown_names]
        values += [number_cells(out[:, j]) for j in range(out.shape[1])]
    return columns, values


def number_cells(values):
    """Numbers as predictions write them: 6 significant digits."""
    return [f"{float(v):.6g}" for v in values]


def table_csv(columns, rows):
    """CSV text of a table (columns, rows of strings)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()
