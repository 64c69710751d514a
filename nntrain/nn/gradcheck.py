"""Gradient checks: analytic gradients against central finite differences, in float64.

Backpropagation is only the chain rule applied op by op; these functions show that each op's
derivative -- and so the whole network's gradient -- is what calculus says it is.

``check_gradients`` checks every parameter tensor of a float64 network (``nntrain.training.gradcheck``
runs it on a config's network: ``nntrain gradcheck``): every layer, batch norm (batch statistics) and
the L1/L2 penalties included, dropout masks drawn once and held fixed. Where an activation with a
kink at 0 (one that says ``kinked``: ReLU, leaky ReLU) or an L1 penalty has its kink within ``eps``
of the checked point, no finite difference is right (it averages the slopes on both sides); such
entries are detected, counted and left out, not reported as errors. The model's layers say where
their kinks are (``kink_sides``, ``kinked_at_zero``).
"""

from dataclasses import dataclass

import numpy as np

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

    name: str  # layers.<i>.<name>, e.g. layers.0.W, layers.1.out.b
    shape: tuple
    checked: int  # entries compared
    kinks: int  # entries left out: an activation's or an L1 kink lies within eps of them
    analytic_norm: float
    numeric_norm: float
    error: float  # relative_error over the checked entries

    def to_json(self):
        return {**self.__dict__, "shape": list(self.shape)}


def check_gradients(model, loss, x, y, max_entries=None, rng=None, eps=EPS, weight=None):
    """Check the gradient of loss + penalties for every parameter tensor of a float64 ``model``.

    x: (batch, inputs); y: targets in the loss's form; ``weight``: the rows' weights in the loss (n,), or None. Dropout masks are drawn once and then held
    fixed; batch norm uses batch statistics (training mode). ``max_entries``: compare at most this
    many entries per tensor, chosen at random from ``rng`` (default: seeded with 0). Entries whose +-eps
    perturbation moves a kinked activation's input (ReLU, leaky ReLU) across 0, or an L1-penalised
    weight across 0, sit on a kink, where no finite difference is right; they are counted in
    ``kinks`` and left out of the error. Returns one TensorCheck per tensor, in the model's
    parameter order.
    """
    if model.dtype != np.float64:
        raise ValueError(f"gradient checks need a float64 model, got {model.dtype}")
    rng = np.random.default_rng(0) if rng is None else rng
    objective = _Objective(model, loss, x, y, weight)
    objective()  # draws the dropout masks
    model.freeze(True)
    try:
        analytic = objective.gradients()
        tensors = zip(model.param_names, model.params, analytic, model.kinked_at_zero())
        return [
            _check_tensor(name, param, grad, l1_kink, objective, _entries(param.size, max_entries, rng), eps)
            for name, param, grad, l1_kink in tensors
        ]
    finally:
        model.freeze(False)


class _Objective:
    """loss + penalties of ``model`` on (x, y) in training mode, as a function of its parameters.

    Every call records in ``crossed`` whether the input of a kinked activation changed sides of its
    kink since ``gradients`` (the point checked); the model runs up to its logits if the loss fuses
    the output activation (that one is the loss's).
    """

    def __init__(self, model, loss, x, y, weight=None):
        self.model, self.loss, self.x, self.y, self.weight = model, loss, x, y, weight
        self.logits = loss.from_logits
        self.sides = []
        self.crossed = []

    def __call__(self):
        model = self.model
        out = model.forward(self.x, training=True, logits=self.logits)
        value = self.loss.forward(out, self.y, self.weight) + model.penalty()
        sides = model.kink_sides(self.logits)
        self.crossed.append(any(not np.array_equal(now, then) for now, then in zip(sides, self.sides)))
        return value

    def gradients(self):
        """The analytic gradients at the current parameters (copies, in ``model.params`` order)."""
        self()
        self.sides = self.model.kink_sides(self.logits)
        self.model.backward(self.loss.backward(), logits=self.logits)
        return [g.copy() for g in self.model.grads]


def _entries(size, max_entries, rng):
    """Flat indices of the entries to check: all, or ``max_entries`` of them drawn from ``rng``."""
    if max_entries is not None and size > max_entries:
        return np.sort(rng.choice(size, size=max_entries, replace=False))
    return np.arange(size)


def _check_tensor(name, param, grad, l1_kink, objective, indices, eps):
    """The TensorCheck of one parameter tensor at ``indices``; ``l1_kink``: an L1 penalty's kink at 0."""
    objective.crossed.clear()
    numeric = numerical_gradient(objective, param, eps, indices)
    kink = np.array(objective.crossed, dtype=bool).reshape(-1, 2).any(axis=1)
    if l1_kink:
        kink |= np.abs(param.reshape(-1)[indices]) <= eps
    keep = ~kink
    a, n = grad.reshape(-1)[indices][keep], numeric[keep]
    return TensorCheck(
        name=name,
        shape=param.shape,
        checked=int(keep.sum()),
        kinks=int(kink.sum()),
        analytic_norm=float(np.linalg.norm(a)),
        numeric_norm=float(np.linalg.norm(n)),
        error=relative_error(a, n),
    )


def check_network(model, loss, x, y):
    """Relative error of every parameter tensor's gradient of loss + penalties, by name (all entries but kinks)."""
    return {c.name: c.error for c in check_gradients(model, loss, x, y)}
