"""A run's whole prediction as one ONNX graph: raw columns in, what ``nntrain predict`` answers out.

The graph has three parts, each the ONNX form of what ``nntrain.runs.inference.Predictor`` does:

- **encoding** (``nntrain.data.columns``), one named input per raw column, shape (batch, 1):
  a number is a float, NaN where missing: ``Where(IsNaN(x), fill, x)`` and the indicator
  ``Cast(IsNaN(x))``; a boolean is its cell's text (true/false/yes/no/t/f/y/n/1/0 in any case) mapped
  to 0/1 by an ``ai.onnx.ml`` ``LabelEncoder`` (NaN for a missing cell, then imputed as a number); a
  category is its cell's text, mapped by a ``LabelEncoder`` to its one-hot column (a category
  training never saw: ``<other>`` or none; a missing-value spelling: ``<missing>`` or none) and
  expanded by ``Equal`` against 0..width-1. The pieces are concatenated in the run's feature order,
  then standardised with the run's mean and std. A run without a table takes one (batch, features)
  input ``input``.
- **network**: each layer's ops in order: ``Gemm`` (x W^T + b), batch norm in its inference form
  op by op as ``BatchNorm`` computes it (running statistics), the activation, nothing for dropout
  (the identity at inference), and a residual block's skip ``Add``.
- **outputs**: ``probabilities`` (a classifier's output layer) and ``label`` (``ArgMax``, or p > 0.5;
  class names through a ``LabelEncoder``), or ``values`` in the targets' own units (a regressor).

Plain ONNX ops where they are exact and simple (``IsNaN``/``Where`` rather than ML's ``Imputer``,
which onnxruntime implements for float only); ``LabelEncoder`` where strings must be matched, which
ONNX's ``Equal`` cannot before opset 19. The graph computes in the run's dtype: float32, or float64
for a ``dtype: float64`` run (its number inputs and outputs are then doubles too).
"""

import itertools
import json
import math

import numpy as np

from ..data.columns import TRUTH, CategoryEncoding
from ..errors import RunError
from ..nn.activations import GELU_C, GELU_K, LEAKY_RELU_SLOPE
from ..nn.metrics.base import BINARY, CLASSES, MULTILABEL, REGRESSION
from ..nn.ops import Activation, BatchNorm, Dense, Dropout

OPSET, ML_OPSET, IR_VERSION = 17, 3, 8  # onnx 1.12's versions: what onnxruntime 1.12 and later run
PLAIN_INPUT = "input"  # the one input of a run whose data is not a table
OUTPUTS = {CLASSES: ("probabilities", "label"), BINARY: ("probabilities", "label"),
           MULTILABEL: ("probabilities", "label"), REGRESSION: ("values",)}


class Graph:
    """Nodes and constants of one graph under construction, in ``dtype``, with names that never
    clash with the inputs' and outputs' (``reserved``), which may be any column names."""

    def __init__(self, onnx, dtype, reserved):
        self.onnx, self.helper = onnx, onnx.helper
        self.dtype = np.dtype(dtype)
        self.elem = onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes, self.constants, self.inputs = [], [], []
        self.reserved = set(reserved)
        self._count = itertools.count()

    def name(self, hint):
        while True:
            name = f"{hint}_{next(self._count)}"
            if name not in self.reserved:
                return name

    def const(self, array, hint, dtype=None):
        """An initializer holding ``array`` (in the graph's dtype unless ``dtype``): its name."""
        name = self.name(hint)
        array = np.asarray(array, dtype=self.dtype if dtype is None else dtype)
        self.constants.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type, inputs, hint=None, out=None, domain="", **attributes):
        """One node; its output's name (``out`` if given, else a fresh one)."""
        out = out or self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=self.name(f"node_{op_type}"), domain=domain or None, **attributes))
        return out

    def input(self, name, elem, width=1):
        self.inputs.append(self.helper.make_tensor_value_info(name, elem, ["batch", width]))
        return name


# --------------------------------------------------------------------------------------------------
# Encoding: raw columns -> the network's standardised inputs


def encode(g, predictor, na):
    """The (batch, features) network input, standardised: from one input per raw column of a table
    run, or from the single input ``input``. ``na``: the spellings of a missing cell."""
    if predictor.table:
        pieces = []
        for spec in predictor.encoding.columns:
            if isinstance(spec, CategoryEncoding):
                pieces.append(_one_hot(g, spec, g.input(spec.name, g.onnx.TensorProto.STRING), na))
            elif spec.boolean:
                pieces += _imputed(g, spec, _truth(g, g.input(spec.name, g.onnx.TensorProto.STRING), na))
            else:
                pieces += _imputed(g, spec, g.input(spec.name, g.elem))
        x = g.op("Concat", pieces, "encoded", axis=1) if len(pieces) > 1 else pieces[0]
    else:
        x = g.input(PLAIN_INPUT, g.elem, predictor.n_inputs)
    stats = predictor.meta.get("standardize")
    if stats:
        x = g.op("Sub", [x, g.const(stats["mean"], "mean")])
        x = g.op("Div", [x, g.const(stats["std"], "std")], "standardized")
    return x


def _imputed(g, spec, x):
    """A number column (batch, 1): its value with a missing cell filled, and its indicator where fitted."""
    if math.isnan(spec.fill):  # no fill fitted (a run without a table): as it is
        return [x]
    missing = g.op("IsNaN", [x], f"{spec.name}_missing")
    pieces = [g.op("Where", [missing, g.const([spec.fill], "fill"), x], f"{spec.name}_filled")]
    if spec.indicator:
        pieces.append(g.op("Cast", [missing], f"{spec.name}_indicator", to=g.elem))
    return pieces


def _truth(g, x, na):
    """A boolean column's cells (batch, 1) of text -> 0/1 as ``columns.numbers`` reads them, NaN for
    anything else (a missing cell). Every ASCII spelling of the TRUTH words, as ``str.lower`` matches them."""
    keys, values = [], []
    for word, value in TRUTH.items():
        for letters in itertools.product(*({c.lower(), c.upper()} for c in word)):
            spelling = "".join(letters)
            if spelling not in na:  # a missing-value spelling wins, as the reader reads it first
                keys.append(spelling)
                values.append(value)
    out = g.op("LabelEncoder", [x], "truth", domain="ai.onnx.ml", keys_strings=keys, values_floats=values, default_float=math.nan)
    return out if g.dtype == np.float32 else g.op("Cast", [out], "truth", to=g.elem)


def _one_hot(g, spec, x, na):
    """A category column's cells (batch, 1) -> its one-hot columns (batch, width), as
    ``CategoryEncoding.transform``: kept categories 0..k-1, then <other> and <missing> where fitted;
    a category training never had is <other> (or none), a missing cell <missing> (or none)."""
    width = len(spec.features)
    other = len(spec.categories) if spec.other else -1
    missing = len(spec.categories) + bool(spec.other) if spec.missing else -1
    index = {c: k for k, c in enumerate(spec.categories)}
    index.update(dict.fromkeys(spec.other, other))
    for s in na:
        index.setdefault(s, missing)
    column = g.op(
        "LabelEncoder", [x], f"{spec.name}_index", domain="ai.onnx.ml",
        keys_strings=list(index), values_int64s=list(index.values()), default_int64=other,
    )
    hot = g.op("Equal", [column, g.const(np.arange(width), "columns", np.int64)], f"{spec.name}_hot")
    return g.op("Cast", [hot], f"{spec.name}_onehot", to=g.elem)


# --------------------------------------------------------------------------------------------------
# The network


def network(g, config, model, x):
    """The model's output (batch, units) for its input ``x``, in inference mode."""
    for i, (spec, layer) in enumerate(zip(config.model.layers, model.layers)):
        emit = LAYER_TYPES.get(spec.type)
        if emit is None:
            raise RunError(f"layer {i}: type {spec.type!r} cannot be exported to ONNX (it exports {', '.join(LAYER_TYPES)})")
        x = emit(g, layer, x, i)
    return x


def _chain(g, layer, x, i):
    for op in layer.ops:
        x = OPS[type(op)](g, op, x, f"layer{i}")
    return x


def _residual(g, layer, x, i):
    return g.op("Add", [_chain(g, layer, x, i), x], f"layer{i}")


def _dense(g, op, x, hint):
    """z = x W^T + b."""
    W, b = op.params["W"], op.params["b"]
    return g.op("Gemm", [x, g.const(W, f"{hint}_W"), g.const(b, f"{hint}_b")], f"{hint}_z", transB=1)


def _batchnorm(g, op, x, hint):
    """(x - running_mean) * inv_std * gamma + beta, with inv_std computed as ``BatchNorm.forward`` does."""
    var = op.state["running_var"]
    inv_std = 1.0 / np.sqrt(var + op.eps)
    x = g.op("Sub", [x, g.const(op.state["running_mean"], f"{hint}_running_mean")])
    x = g.op("Mul", [x, g.const(inv_std, f"{hint}_inv_std")])
    x = g.op("Mul", [x, g.const(op.params["gamma"], f"{hint}_gamma")])
    return g.op("Add", [x, g.const(op.params["beta"], f"{hint}_beta")], f"{hint}_bn")


def _activation(g, op, x, hint):
    emit = ACTIVATIONS.get(op.name)
    if emit is None:
        raise RunError(f"activation {op.name!r} cannot be exported to ONNX (it exports {', '.join(ACTIVATIONS)})")
    return emit(g, x, f"{hint}_{op.name}")


def _identity(g, op, x, hint):
    return x  # dropout: the identity at inference


def _leaky_relu(g, z, hint):
    # max(z, 0.01 z) as nntrain computes it (onnxruntime's LeakyRelu has no float64 kernel)
    return g.op("Max", [z, g.op("Mul", [z, g.const(LEAKY_RELU_SLOPE, "slope")])], hint)


def _gelu(g, z, hint):
    """z/2 (1 + tanh(c (z + k z^3))), op by op as ``activations.GELU.forward``: ((z z k + 1) z c)."""
    u = g.op("Mul", [z, z])
    u = g.op("Mul", [u, g.const(GELU_K, "gelu_k")])
    u = g.op("Add", [u, g.const(1.0, "one")])
    u = g.op("Mul", [u, z])
    u = g.op("Mul", [u, g.const(GELU_C, "gelu_c")])
    u = g.op("Add", [g.op("Tanh", [u]), g.const(1.0, "one")])
    u = g.op("Mul", [u, z])
    return g.op("Mul", [u, g.const(0.5, "half")], hint)


def _silu(g, z, hint):
    """z sigmoid(z), the sigmoid as ``activations._sigmoid``: (1 + tanh(z/2)) / 2."""
    half = g.const(0.5, "half")
    s = g.op("Tanh", [g.op("Mul", [z, half])])
    s = g.op("Mul", [g.op("Add", [s, g.const(1.0, "one")]), half])
    return g.op("Mul", [s, z], hint)


ACTIVATIONS = {
    "sigmoid": lambda g, z, hint: g.op("Sigmoid", [z], hint),
    "tanh": lambda g, z, hint: g.op("Tanh", [z], hint),
    "relu": lambda g, z, hint: g.op("Relu", [z], hint),
    "leaky_relu": _leaky_relu,
    "linear": lambda g, z, hint: z,
    "softmax": lambda g, z, hint: g.op("Softmax", [z], hint, axis=-1),
    "gelu": _gelu,
    "silu": _silu,
}
OPS = {Dense: _dense, BatchNorm: _batchnorm, Activation: _activation, Dropout: _identity}
LAYER_TYPES = {"dense": _chain, "residual": _residual}


# --------------------------------------------------------------------------------------------------
# Outputs


def outputs(g, predictor, out):
    """The graph's outputs from the network's ``out`` (batch, units), as ``Predictor`` answers:
    [(name, elem type, shape)]."""
    kind, units = predictor.kind, predictor.model.outputs
    if kind == REGRESSION:
        stats = predictor.meta.get("target_scale")
        if stats:
            out = g.op("Mul", [out, g.const(stats["std"], "target_std")])
            out = g.op("Add", [out, g.const(stats["mean"], "target_mean")])
        g.op("Identity", [out], out="values")
        return [("values", g.elem, ["batch", units])]
    g.op("Identity", [out], out="probabilities")
    if kind == MULTILABEL:  # one 0/1 label per output, as predict's predicted_<target> columns
        g.op("Cast", [g.op("Greater", [out, g.const(predictor.threshold, "threshold")])], out="label", to=g.onnx.TensorProto.INT64)
        return [("probabilities", g.elem, ["batch", units]), ("label", g.onnx.TensorProto.INT64, ["batch", units])]
    if kind == CLASSES:
        index = g.op("ArgMax", [out], "index", axis=1, keepdims=0)  # the first of equal maxima, as NumPy
    else:  # one sigmoid unit: class 1 where p > 0.5
        p = g.op("Squeeze", [out, g.const([1], "axis", np.int64)], "p")
        index = g.op("Cast", [g.op("Greater", [p, g.const(predictor.threshold, "threshold")])], "index", to=g.onnx.TensorProto.INT64)
    names = predictor.classes
    if names:
        g.op("LabelEncoder", [index], out="label", domain="ai.onnx.ml",
             keys_int64s=list(range(len(names))), values_strings=list(names), default_string="")
        label = g.onnx.TensorProto.STRING
    else:
        g.op("Identity", [index], out="label")
        label = g.onnx.TensorProto.INT64
    return [("probabilities", g.elem, ["batch", units]), ("label", label, ["batch"])]


# --------------------------------------------------------------------------------------------------
# The model


def build(onnx, predictor, run_name, version, na):
    """The ModelProto of a Predictor's whole prediction (IR 8, opset 17 + ai.onnx.ml 3), with the run's
    names in its metadata_props. ``na``: the spellings of a missing cell (the reader's and the run's)."""
    helper = onnx.helper
    names = predictor.inputs if predictor.table else [PLAIN_INPUT]
    clash = sorted(set(names) & {n for outs in OUTPUTS.values() for n in outs})
    if clash:
        raise RunError(f"input column {clash[0]!r} has the name of an output of the ONNX model; it cannot be exported")
    g = Graph(onnx, predictor.model.dtype, [*names, *OUTPUTS[predictor.kind]])
    x = encode(g, predictor, na)
    out = network(g, predictor.config, predictor.model, x)
    results = [helper.make_tensor_value_info(name, elem, shape) for name, elem, shape in outputs(g, predictor, out)]
    graph = helper.make_graph(g.nodes, f"nntrain_{predictor.config.name}", g.inputs, results, g.constants)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="nntrain",
        producer_version=version,
        doc_string=f"nntrain run {run_name}: {predictor.kind} ({predictor.config.loss.name}), the whole prediction from raw columns",
    )
    model.ir_version = IR_VERSION
    meta = {
        "nntrain_version": version,
        "run": run_name,
        "task": predictor.kind,
        "dtype": str(g.dtype),
        "inputs": json.dumps(names),
        "features": json.dumps(predictor.features),
        "targets": json.dumps(predictor.targets),
        "classes": json.dumps(predictor.classes or []),
        "missing_values": json.dumps(sorted(na)),
    }
    helper.set_model_props(model, meta)
    return model
