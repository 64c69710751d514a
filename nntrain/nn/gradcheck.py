"""Gradient checks: analytic gradients against central finite differences, in float64.

Backpropagation is only the chain rule applied op by op; these functions show that each op's
derivative -- and so the whole network's gradient -- is what calculus says it is.

``check_gradients`` checks every parameter tensor of a float64 network (``nntrain.training.gradcheck``
runs it on a config's network: ``nntrain gradcheck``): every layer, batch norm (batch statistics) and
the L1/L2 penalties included, dropout masks drawn once and held fixed. Where ReLU, leaky ReLU or an L1 penalty has its kink within ``eps`` of the checked
point, no finite difference is right (it averages the slopes on both sides); such entries are
detected, counted and left out, not reported as errors.
"""

from dataclasses import dataclass

import numpy as np

from .layers import Activation, Dense, Dropout

EPS = 1e-6


def numerical_gradient(f, x, eps=EPS, indices=None):
    """d f() / d x by central differences; ``f`` reads ``x``, which is perturbed in place and restored.

    ``indices``: flat indices of the entries to differentiate (all if None); the result then has one
    value per index instead of x's shape.
    """
    flat = x.reshape(-1)
    if indices is None:
        grad = np.zeros_like(x, dtype=np.float64)
        out, where = grad.reshape(-1), range(flat.size)
    else:
        grad = out = np.zeros(len(indices), dtype=np.float64)
        where = indices
    for k, i in enumerate(where):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        out[k] = (plus - minus) / (2 * eps)
    return grad


# Below this gradient norm, errors are measured against it rather than against the gradient: central
# differences carry ~1e-10 of rounding noise, which would swamp a gradient that is truly zero (the
# bias before a batch norm, a dead ReLU unit).
GRADIENT_FLOOR = 1e-3


def relative_error(analytic, numeric):
    """||a - n|| / max(||a|| + ||n||, GRADIENT_FLOOR)."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), GRADIENT_FLOOR))


@dataclass(frozen=True)
class TensorCheck:
    """The check of one parameter tensor: ``checked`` of its entries, their gradients' norms and error."""

    name: str  # layers.<i>.<W|b|gamma|beta>
    shape: tuple
    checked: int  # entries compared
    kinks: int  # entries left out: a ReLU or L1 kink lies within eps of them
    analytic_norm: float
    numeric_norm: float
    error: float  # relative_error over the checked entries

    def to_json(self):
        return {**self.__dict__, "shape": list(self.shape)}


# Activations whose derivative jumps at z = 0; where a perturbation of +-eps moves a pre-activation
# across 0, the central difference averages the two slopes and disagrees with either.
KINKED = ("relu", "leaky_relu")


def check_gradients(model, loss, x, y, max_entries=None, rng=None, eps=EPS):
    """Check the gradient of loss + penalties for every parameter tensor of a float64 ``model``.

    x: (batch, inputs); y: targets in the loss's form. Dropout masks are drawn once and then held
    fixed; batch norm uses batch statistics (training mode). ``max_entries``: compare at most this
    many entries per tensor, chosen at random from ``rng`` (default: seeded with 0). Entries whose +-eps
    perturbation moves a ReLU / leaky ReLU input across 0, or an L1-penalised weight across 0, sit on a
    kink, where no finite difference is right; they are counted in ``kinks`` and left out of the
    error. Returns one TensorCheck per tensor, in the model's parameter order.
    """
    if model.dtype != np.float64:
        raise ValueError(f"gradient checks need a float64 model, got {model.dtype}")
    rng = np.random.default_rng(0) if rng is None else rng
    logits = loss.from_logits
    dropouts = [op for op in model.ops if isinstance(op, Dropout)]
    ran = model.ops[:-1] if logits else model.ops  # the output activation is the loss's when fused
    kinked = [op for op in ran if isinstance(op, Activation) and op.name in KINKED]
    base_sides = []
    crossed = []  # per objective call: did a kinked activation's input change sign?

    def objective():
        value = loss.forward(model.forward(x, training=True, logits=logits), y) + model.penalty()
        crossed.append(any(not np.array_equal(op._a > 0, side) for op, side in zip(kinked, base_sides)))
        return value

    objective()  # draws the dropout masks
    for op in dropouts:
        op.frozen = True
    try:
        objective()
        base_sides[:] = [op._a > 0 for op in kinked]
        model.backward(loss.backward(), logits=logits)
        analytic = [g.copy() for g in model.grads]
        owners = [(op, name) for layer in model.layers for op in layer for name in op.params]
        checks = []
        for pname, param, grad, (op, name) in zip(model.param_names, model.params, analytic, owners):
            grad = grad.reshape(-1)
            indices = np.arange(param.size)
            if max_entries is not None and param.size > max_entries:
                indices = np.sort(rng.choice(param.size, size=max_entries, replace=False))
            crossed.clear()
            numeric = numerical_gradient(objective, param, eps, indices)
            kink = np.array(crossed, dtype=bool).reshape(-1, 2).any(axis=1)
            if isinstance(op, Dense) and name == "W" and op.l1:
                kink |= np.abs(param.reshape(-1)[indices]) <= eps
            keep = ~kink
            a, n = grad[indices][keep], numeric[keep]
            checks.append(
                TensorCheck(
                    name=pname,
                    shape=param.shape,
                    checked=int(keep.sum()),
                    kinks=int(kink.sum()),
                    analytic_norm=float(np.linalg.norm(a)),
                    numeric_norm=float(np.linalg.norm(n)),
                    error=relative_error(a, n),
                )
            )
    finally:
        for op in dropouts:
            op.frozen = False
    return checks


def check_network(model, loss, x, y):
    """Relative error of every parameter tensor's gradient of loss + penalties, by name (all entries but kinks)."""
    return {c.name: c.error for c in check_gradients(model, loss, x, y)}
