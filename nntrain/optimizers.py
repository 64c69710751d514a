"""Optimizers: update any list of parameter arrays in place from their gradients.

Each optimizer keeps per-parameter state (momentum, moment estimates), created lazily at the first
step, keyed by the parameter's position in the list -- so they work on a network's weights and on a
single NumPy array alike (the lecture's ``w^2 - 10 w + 25``)::

    w = np.array([0.0]); opt = Adam(lr=0.1)
    for _ in range(500):
        opt.step([w], [2 * w - 10])   # w -> 5

To add an optimizer: a class with the config's fields as constructor arguments and a ``step``, then an
entry in ``OPTIMIZERS`` and a config section in ``nntrain.config``.
"""

import math

import numpy as np


class SGD:
    """v = momentum * v - lr * g;  w += v  (Nesterov: w += momentum * v - lr * g). momentum 0: w -= lr * g."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False):
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.velocity = None

    def step(self, params, grads):
        lr, m = self.lr, self.momentum
        if not m:
            for p, g in zip(params, grads):
                p -= lr * g
            return
        if self.velocity is None:
            self.velocity = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocity):
            v *= m
            v -= lr * g
            if self.nesterov:
                p += m * v - lr * g
            else:
                p += v

    def state_dict(self):
        return {} if self.velocity is None else {f"velocity.{i}": v for i, v in enumerate(self.velocity)}


class Adam:
    """Adam: m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= lr * m_hat / (sqrt(v_hat) + eps).

    m_hat = m / (1 - b1^t) and v_hat = v / (1 - b2^t) are the bias-corrected moments at step t.
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m = self.v = None

    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
            self._tmp = [np.empty_like(p) for p in params]
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # Fold both bias corrections into the step size and eps: the same update, fewer array passes.
        # w -= lr * (m / c1) / (sqrt(v / c2) + eps) == w -= (lr * sqrt(c2) / c1) * m / (sqrt(v) + eps * sqrt(c2))
        c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        step_size = self.lr * math.sqrt(c2) / c1
        eps = self.eps * math.sqrt(c2)
        for p, g, m, v, tmp in zip(params, grads, self.m, self.v, self._tmp):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp

    def state_dict(self):
        if self.m is None:
            return {"t": np.array(self.t)}
        state = {"t": np.array(self.t)}
        state.update({f"m.{i}": a for i, a in enumerate(self.m)})
        state.update({f"v.{i}": a for i, a in enumerate(self.v)})
        return state


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(config):
    """The optimizer for an optimizer config section: its fields are the constructor's arguments."""
    options = config.model_dump()
    return OPTIMIZERS[options.pop("name")](**options)


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients in place so that their joint L2 norm is at most ``max_norm``.

    Returns the norm before clipping.
    """
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads:
            g *= scale
    return norm
