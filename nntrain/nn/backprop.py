"""Backpropagation of one example, op by op, each derivative beside its finite difference (slide 3).

The network is flattened into ``Step``s: its ops in forward order (Dense, BatchNorm, Activation) and,
for a residual block, the skip connection's addition. Dropout is left out: the trace is the
network's function at inference, where dropout is the identity. Batch norm is traced in its
inference form -- the running statistics, as ``predict`` computes it: with one example the batch
statistics are degenerate (x - mean(x) = 0, every output is beta and every gradient through it 0).
Its derivative there is the affine map gamma / sqrt(running_var + eps), computed here; every other
op's derivative is the op's own ``backward`` (``nntrain.nn.ops``), the code training runs.

The loss is the training objective: the loss of the network's output on the target plus the L1/L2
penalties. A loss fused with the output activation (sigmoid + binary cross-entropy, softmax +
categorical cross-entropy) takes the logits, as in training; the output activation's step then
shows its output (the probabilities) forward, and backward the loss's dLoss/d(logits) = (p - y) / n.

Each analytic gradient -- dLoss/d(output) of every step, dLoss/d(param) of every parameter array --
is compared with central differences (``nntrain.nn.gradcheck.numerical_gradient``, eps 1e-6) of
the loss recomputed from that point on; the error per entry is ``gradcheck.relative_error`` of that
entry: |a - n| / max(|a| + |n|, 1e-3).
"""

from dataclasses import dataclass, field

import numpy as np

from .gradcheck import EPS, numerical_gradient, relative_error
from .losses import LOSSES
from .layers import ResidualBlock
from .ops import Activation, BatchNorm, Dense, Dropout

DENSE, BATCHNORM, ACTIVATION, SKIP = "dense", "batchnorm", "activation", "skip"


@dataclass
class Step:
    """One operation of the forward pass: ``values[index + 1] = apply(values[index])``.

    ``name``: e.g. "layers.0 dense", "layers.1 out dense", "layers.1 + x"; ``kind``: DENSE,
    BATCHNORM, ACTIVATION or SKIP; ``prefix``: the name of its arrays (``layers.1.out.``);
    ``skip_from``: for SKIP, the index in ``values`` of the block's input, which it adds.
    """

    name: str
    layer: int
    kind: str
    op: object = None
    prefix: str = ""
    skip_from: int | None = None
    fused: bool = False  # the output activation of a loss computed from the logits


@dataclass
class Gradient:
    """An analytic gradient beside its finite difference, per entry: ``errors``; ``error`` their max."""

    name: str
    analytic: np.ndarray
    numeric: np.ndarray
    errors: np.ndarray = field(init=False)

    def __post_init__(self):
        a, n = self.analytic.reshape(-1), self.numeric.reshape(-1)
        self.errors = np.array([relative_error(ai, ni) for ai, ni in zip(a, n)]).reshape(self.analytic.shape)

    @property
    def error(self):
        return float(self.errors.max()) if self.errors.size else 0.0

    def to_json(self):
        return {
            "name": self.name,
            "analytic": self.analytic.tolist(),
            "numeric": self.numeric.tolist(),
            "errors": self.errors.tolist(),
            "error": self.error,
        }


@dataclass
class BackwardRow:
    """A step of the backward pass: dLoss/d(its output) and, for a dense or batch-norm op, of its
    parameters (``params``). ``output`` is None for a fused output activation (its derivative is
    the loss's) and for an output nothing backpropagates into (none here)."""

    step: int
    name: str
    output: Gradient | None
    params: list


@dataclass
class Trace:
    """What ``trace`` found: the forward values (``values[0]`` the input, ``values[j + 1]`` step j's
    output, each (1, width)), the loss, and the backward rows from the loss to the input."""

    steps: list
    values: list
    loss_name: str
    from_logits: bool
    loss: float
    target: np.ndarray
    backward: list

    @property
    def gradients(self):
        """Every Gradient checked, in backward order."""
        return [g for row in self.backward for g in ([row.output] if row.output else []) + row.params]

    @property
    def max_error(self):
        return max((g.error for g in self.gradients), default=0.0)

    def to_json(self):
        forward = [
            {"step": j, "name": s.name, "layer": s.layer, "op": s.kind if s.kind != ACTIVATION else s.op.name,
             "output": self.values[j + 1][0].tolist()}
            for j, s in enumerate(self.steps)
        ]  # fmt: skip
        backward = [
            {"step": r.step, "name": r.name, "output": r.output.to_json() if r.output else None,
             "params": [g.to_json() for g in r.params]}
            for r in self.backward
        ]  # fmt: skip
        return {
            "input": self.values[0][0].tolist(),
            "forward": forward,
            "loss": {"name": self.loss_name, "from_logits": self.from_logits, "value": self.loss,
                     "target": np.asarray(self.target).tolist()},
            "backward": backward,
            "eps": EPS,
            "max_error": self.max_error,
        }  # fmt: skip


def steps_of(model, fused_output):
    """The model's ops as Steps, in forward order (dropout left out); ``fused_output``: the last
    layer's output activation belongs to the loss (marked ``fused``)."""
    steps = []
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        prefixes = {id(op): prefix for prefix, op in layer.named}
        start = len(steps)  # values[start] is the layer's input
        for op in layer.ops:
            if isinstance(op, Dropout):
                continue
            prefix = f"layers.{i}.{prefixes.get(id(op), '')}"
            part = prefixes.get(id(op), "").rstrip(".")
            if isinstance(op, Dense):
                kind, what = DENSE, "dense"
            elif isinstance(op, BatchNorm):
                kind, what = BATCHNORM, "batchnorm"
            elif isinstance(op, Activation):
                kind, what = ACTIVATION, op.name
            else:
                raise TypeError(f"backprop cannot trace a {type(op).__name__} op")
            name = f"layers.{i} " + (f"{part} " if part else "") + what
            fused = fused_output and i == last and kind == ACTIVATION and op is layer.activation
            steps.append(Step(name, i, kind, op, prefix, fused=fused))
        if isinstance(layer, ResidualBlock):
            steps.append(Step(f"layers.{i} + x", i, SKIP, skip_from=start))
    return steps


def _apply(step, values, j):
    """Step j's output from ``values`` (inference form; the op's buffers are copied out)."""
    if step.kind == SKIP:
        return values[j] + values[step.skip_from]
    return step.op.forward(values[j].copy(), False).copy()


def trace(model, loss, x, y):
    """Backpropagate one example through a float64 ``model``: a Trace.

    ``x``: (1, inputs), the network's own (standardised) inputs; ``y``: the target in the loss's
    form ((1,) labels or (1, units)); ``loss``: a ``nntrain.nn.losses`` Loss for the model's output
    activation (``make_loss``).
    """
    if model.dtype != np.float64:
        raise ValueError(f"a backprop trace needs a float64 model, got {model.dtype}")
    x = np.asarray(x, np.float64).reshape(1, -1)
    steps = steps_of(model, loss.from_logits)
    used = len(steps) - (1 if loss.from_logits else 0)  # steps whose output the loss depends on

    def objective(values, start):
        """loss + penalties, recomputing values[start + 1:] (values[start] may be perturbed)."""
        values = list(values)
        for j in range(start, used):
            values[j + 1] = _apply(steps[j], values, j)
        return loss.forward(values[used], y) + model.penalty()

    # The analytic pass: forward in training mode where it equals inference (dense, activations)
    # so that the ops keep what their backward needs; batch norm in inference form.
    values = [x]
    for j, step in enumerate(steps):
        if step.kind in (DENSE, ACTIVATION):
            values.append(step.op.forward(values[j].copy(), True).copy())
        else:
            values.append(_apply(step, values, j))
    value = loss.forward(values[used], y) + model.penalty()
    analytic = _backward(steps, values, loss.backward().copy(), used)

    rows = []
    if loss.from_logits:
        rows.append(BackwardRow(len(steps) - 1, steps[-1].name, None, []))
    for j in reversed(range(used)):
        step = steps[j]
        out = values[j + 1].copy()
        numeric = numerical_gradient(lambda: objective(values[: j + 1] + [out] + values[j + 2 :], j + 1), out)
        params = []
        for key, grad in analytic["params"][j].items():
            array = step.op.params[key]
            params.append(Gradient(step.prefix + key, grad, numerical_gradient(lambda: objective(values, 0), array)))
        rows.append(BackwardRow(j, step.name, Gradient(f"d {step.name}", analytic["values"][j + 1], numeric), params))
    name = next((k for k, cls in LOSSES.items() if type(loss) is cls), type(loss).__name__)
    return Trace(steps, values, name, loss.from_logits, value, np.asarray(y), rows)


def _backward(steps, values, grad, used):
    """The chain rule, mechanically: {"values": dLoss/d values[k] (None where not computed),
    "params": per step {key: dLoss/d param}}, from dLoss/d values[used] = ``grad``."""
    dvalues = [None] * (len(steps) + 1)
    dvalues[used] = grad
    params = [{} for _ in steps]
    for j in reversed(range(used)):
        step, g = steps[j], dvalues[j + 1]
        if step.kind == SKIP:
            gi = g.copy()
            dvalues[step.skip_from] = _add(dvalues[step.skip_from], g)
        elif step.kind == BATCHNORM:
            gi, params[j] = _batchnorm_inference_backward(step.op, values[j], g)
        else:
            gi = step.op.backward(g.copy())
            gi = None if gi is None else gi.copy()
            params[j] = {key: step.op.grads[key].copy() for key in step.op.params}
        if gi is not None:
            dvalues[j] = _add(dvalues[j], gi)
    return {"values": dvalues, "params": params}


def _add(total, g):
    return g.copy() if total is None else total + g


def _batchnorm_inference_backward(op, x, grad):
    """dLoss/dx and {gamma, beta} of batch norm at inference: y = gamma (x - mean) / sqrt(var + eps) + beta
    with the running mean and var, constants here."""
    inv_std = 1.0 / np.sqrt(op.state["running_var"] + op.eps)
    xhat = (x - op.state["running_mean"]) * inv_std
    return grad * op.params["gamma"] * inv_std, {"gamma": (grad * xhat).sum(axis=0), "beta": grad.sum(axis=0)}
