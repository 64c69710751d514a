"""The op-by-op backpropagation of one raw input row through a run's (or a hand-set config's)
network: what ``nntrain backprop`` runs (``nntrain.nn.backprop`` does the tracing).

The input is raw, as ``predict`` takes it (the run's standardisation and a table's encodings
applied). The target must be given: a loss needs one, and nntrain does not guess it. What it takes
follows the loss (``Loss.targets``): a class label or class name (categorical cross-entropy); 0, 1
or a probability per output unit (binary cross-entropy; a one-unit run with class names also takes
a name); a number per output unit in the targets' own units (regression, scaled as the run scaled
them). The network runs in float64 whatever the run's dtype.
"""

import numpy as np

from ..errors import UsageError
from ..nn.backprop import trace
from ..nn.losses import BINARY, LABELS, loss_class, loss_name, make_loss
from ..nn.model import build_model


def backprop(source, inputs, target):
    """The Trace (``nntrain.nn.backprop``) of one raw ``--input`` row of ``source`` (a run
    directory, or a config whose layers are all hand-set) against ``target`` (text, as given)."""
    from ..runs.inference import load_predictor, parse_cells, parse_inputs

    predictor = load_predictor(source)
    if len(inputs) != 1:
        raise UsageError(f"backprop traces one example: give one --input row, not {len(inputs)}")
    if target is None:
        raise UsageError(f"--target: the loss ({loss_name(predictor.config.loss)}) needs the example's target, e.g. --target {_example(predictor)}")
    if predictor.table:
        _, table = parse_cells(inputs, predictor)
        x = predictor.encoding.transform(table)
    else:
        x = parse_inputs(inputs, predictor.n_inputs)
    config = predictor.config.model_copy(update={"dtype": "float64"})
    model = build_model(config, predictor.model.inputs, np.random.default_rng(config.seed))
    model.load_state_dict({k: v.astype(np.float64) for k, v in predictor.model.state_dict().items()})
    x = np.asarray(predictor.scale(x), np.float64)  # standardised in float64, as training does it
    y = parse_target(target, predictor, model.outputs)
    return trace(model, make_loss(config.loss, model.output_activation), x, y)


def _example(predictor):
    targets = loss_class(predictor.config.loss).targets
    if targets == LABELS:
        return predictor.classes[0] if predictor.classes else "0"
    return ",".join(["1" if targets == BINARY else "0.5"] * predictor.model.outputs)


def parse_target(text, predictor, units):
    """The target ``text`` in the loss's form for one example: labels (1,) or a (1, units) row."""
    name = loss_name(predictor.config.loss)
    targets = loss_class(predictor.config.loss).targets
    classes = predictor.classes
    text = text.strip()
    if targets == LABELS:
        return _label(text, name, classes, units)
    if targets == BINARY and units == 1 and classes and text in classes[-2:]:
        return np.array([[float(classes[-2:].index(text))]])
    row = _numbers(text, name, units)
    if targets == BINARY:
        if not ((row >= 0) & (row <= 1)).all():
            raise UsageError(f"--target {text}: {name} takes 0, 1 or a probability per output unit")
        return row.reshape(1, -1)
    stats = predictor.meta.get("target_scale")
    if stats:  # the run trained on standardised targets
        row = (row - np.asarray(stats["mean"])) / np.asarray(stats["std"])
    return row.reshape(1, -1)


def _label(text, name, classes, units):
    """A class label (1,) from a label 0..units-1 or a class name."""
    if classes and text in classes:
        return np.array([classes.index(text)])
    if text.isdigit() and int(text) < units:
        return np.array([int(text)])
    named = f" or one of its classes ({', '.join(classes)})" if classes else ""
    raise UsageError(f"--target {text}: {name} takes a class label 0..{units - 1}{named}")


def _numbers(text, name, units):
    """``units`` finite comma-separated numbers."""
    try:
        row = np.array([float(v) for v in text.replace(" ", "").split(",")], dtype=np.float64)
    except ValueError:
        row = None
    if row is None or len(row) != units or not np.isfinite(row).all():
        raise UsageError(f"--target {text}: {name} takes {units} comma-separated number{'s' * (units > 1)} (one per output unit)")
    return row
