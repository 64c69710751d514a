"""Optimizers: update any list of parameter arrays in place from their gradients.

Each optimizer keeps per-parameter state (momentum, moment estimates), created lazily at the first
step and matched to the parameters by position -- so they work on a network's weights and on a single
NumPy array alike (the lecture's ``w^2 - 10 w + 25``)::

    w = np.array([0.0]); opt = Adam(lr=0.1)
    for _ in range(500):
        opt.step([w], [2 * w - 10])   # w -> 5

``lr`` may be changed between steps (learning-rate schedules do). ``state_dict()`` and
``load_state_dict()`` save and restore everything a step depends on, for exact resumption.

To add an optimizer: a subclass with the config's fields as constructor arguments, its per-parameter
``slots`` and an ``update``; an entry in ``OPTIMIZERS``; a config section in ``nntrain.config``.
"""

import math

import numpy as np

from . import kernels


class Optimizer:
    """Shared driver: lazily created per-parameter state (``slots``), a step counter ``t``.

    ``fused``: update with the compiled kernels of ``nntrain.nn.kernels`` where this optimizer has
    one (Adam, AdamW) -- the same weights, sooner; a run sets it when they pay (``kernels.worth_it``).
    """

    slots = ()
    fused = False

    def __init__(self, lr):
        self.lr = lr
        self.t = 0
        self.state = None  # slot name -> list of arrays, one per parameter

    def init_state(self, params):
        return {slot: [np.zeros_like(p) for p in params] for slot in self.slots}

    def step(self, params, grads):
        """Update ``params`` in place from ``grads`` (same shapes, same order every step)."""
        if self.state is None:
            self.state = self.init_state(params)
            self._tmp = [np.empty_like(p) for p in params]
        self.t += 1
        self.update(params, grads)

    def update(self, params, grads):
        raise NotImplementedError

    def state_dict(self):
        """Arrays by name: ``t`` and ``<slot>.<i>``."""
        out = {"t": np.array(self.t)}
        for slot, arrays in (self.state or {}).items():
            out.update({f"{slot}.{i}": a for i, a in enumerate(arrays)})
        return out

    def load_state_dict(self, arrays, params):
        """Restore what ``state_dict`` saved, for the parameters ``params``."""
        self.t = int(arrays["t"])
        if self.t == 0:
            self.state = None
            return
        self.state = self.init_state(params)
        self._tmp = [np.empty_like(p) for p in params]
        for slot, targets in self.state.items():
            for i, target in enumerate(targets):
                target[...] = arrays[f"{slot}.{i}"]


class SGD(Optimizer):
    """v = momentum * v - lr * g;  w += v  (Nesterov: w += momentum * v - lr * g). momentum 0: w -= lr * g."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False):
        super().__init__(lr)
        self.momentum, self.nesterov = momentum, nesterov
        self.slots = ("velocity",) if momentum else ()

    def update(self, params, grads):
        lr, m = self.lr, self.momentum
        for i, (p, g) in enumerate(zip(params, grads)):
            step = np.multiply(g, lr, out=self._tmp[i])
            if not m:
                p -= step
                continue
            v = self.state["velocity"][i]
            v *= m
            v -= step
            if self.nesterov:
                p -= step
                p += m * v
            else:
                p += v


class Adam(Optimizer):
    """Adam: m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= lr * m_hat / (sqrt(v_hat) + eps).

    m_hat = m / (1 - b1^t) and v_hat = v / (1 - b2^t) are the bias-corrected moments at step t.
    """

    slots = ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def update(self, params, grads):
        b1, b2 = self.beta1, self.beta2
        # Fold both bias corrections into the step size and eps: the same update, fewer array passes.
        # (m / c1) / (sqrt(v / c2) + eps) == (sqrt(c2) / c1) * m / (sqrt(v) + eps * sqrt(c2))
        c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        step_size = self.lr * math.sqrt(c2) / c1
        eps = self.eps * math.sqrt(c2)
        for p, g, m, v, tmp in zip(params, grads, self.state["m"], self.state["v"], self._tmp):
            if self.fused and kernels.fusable(p, g, m, v):
                kernels.adam(p, g, m, v, b1, b2, eps, step_size)  # the same operations in one pass
                continue
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            _adaptive_step(p, m, v, eps, step_size, tmp)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): w -= lr * weight_decay * w, then Adam."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay = weight_decay

    def update(self, params, grads):
        if self.weight_decay:
            for p in params:
                p *= 1.0 - self.lr * self.weight_decay
        super().update(params, grads)


class RMSprop(Optimizer):
    """v = rho v + (1 - rho) g^2;  w -= lr g / (sqrt(v) + eps)."""

    slots = ("v",)

    def __init__(self, lr=0.001, rho=0.9, eps=1e-7):
        super().__init__(lr)
        self.rho, self.eps = rho, eps

    def update(self, params, grads):
        rho = self.rho
        for p, g, v, tmp in zip(params, grads, self.state["v"], self._tmp):
            v *= rho
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - rho
            v += tmp
            _adaptive_step(p, g, v, self.eps, self.lr, tmp)


class Adagrad(Optimizer):
    """s += g^2;  w -= lr g / (sqrt(s) + eps), with s starting at ``initial_accumulator``."""

    slots = ("s",)

    def __init__(self, lr=0.01, initial_accumulator=0.1, eps=1e-7):
        super().__init__(lr)
        self.initial_accumulator, self.eps = initial_accumulator, eps

    def init_state(self, params):
        return {"s": [np.full_like(p, self.initial_accumulator) for p in params]}

    def update(self, params, grads):
        for p, g, s, tmp in zip(params, grads, self.state["s"], self._tmp):
            np.multiply(g, g, out=tmp)
            s += tmp
            _adaptive_step(p, g, s, self.eps, self.lr, tmp)


def _adaptive_step(p, numerator, second_moment, eps, step, tmp):
    """p -= step * numerator / (sqrt(second_moment) + eps), in place, through the scratch array ``tmp``."""
    np.sqrt(second_moment, out=tmp)
    tmp += eps
    np.divide(numerator, tmp, out=tmp)
    tmp *= step
    p -= tmp


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def make_optimizer(config):
    """The optimizer for an optimizer config section: its fields are the constructor's arguments."""
    options = config.model_dump()
    return OPTIMIZERS[options.pop("name")](**options)


def clip_by_value(grads, limit):
    """Clip every gradient element to [-limit, limit] in place; True if any element was clipped."""
    acted = False
    for g in grads:
        if not acted and np.abs(g).max(initial=0) > limit:
            acted = True
        np.clip(g, -limit, limit, out=g)
    return acted


def global_norm(arrays):
    """sqrt of the sum of squares of all elements of all arrays."""
    return math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients in place so that their joint L2 norm is at most ``max_norm``.

    Returns the norm before clipping.
    """
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads:
            g *= scale
    return norm
