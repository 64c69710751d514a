"""Gradient checks: analytic gradients against central finite differences, in float64.

Backpropagation is only the chain rule applied op by op; these functions show that each op's
derivative -- and so the whole network's gradient -- is what calculus says it is.
"""

import numpy as np

from .layers import Dropout


def numerical_gradient(f, x, eps=1e-6):
    """d f() / d x by central differences; ``f`` reads ``x``, which is perturbed in place and restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


# Below this gradient norm, errors are measured against it rather than against the gradient: central
# differences carry ~1e-10 of rounding noise, which would swamp a gradient that is truly zero (the
# bias before a batch norm, a dead ReLU unit).
GRADIENT_FLOOR = 1e-3


def relative_error(analytic, numeric):
    """||a - n|| / max(||a|| + ||n||, GRADIENT_FLOOR)."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), GRADIENT_FLOOR))


def check_network(model, loss, x, y):
    """Relative error of every parameter tensor's gradient of loss + penalties, by name.

    Dropout masks are drawn once and then held fixed; batch norm uses batch statistics (training mode).
    The model should be float64.
    """
    logits = loss.from_logits

    def objective():
        return loss.forward(model.forward(x, training=True, logits=logits), y) + model.penalty()

    objective()
    for op in model.ops:
        if isinstance(op, Dropout):
            op.frozen = True
    objective()
    model.backward(loss.backward(), logits=logits)
    analytic = [g.copy() for g in model.grads]
    errors = {}
    for name, param, grad in zip(model.param_names, model.params, analytic):
        errors[name] = relative_error(grad, numerical_gradient(objective, param))
    for op in model.ops:
        if isinstance(op, Dropout):
            op.frozen = False
    return errors
