"""The operations a layer is made of, each with its forward pass and its derivative side by side.

Every op follows one contract:

- ``forward(x, training) -> output``: x is (batch, features). In training the op keeps what its
  backward needs; at inference it keeps nothing.
- ``backward(grad) -> grad of the input``: grad is dLoss/d(output) of the last training forward.
  It fills ``grads`` (same keys as ``params``) and may overwrite ``grad`` in place.
- ``params``: trainable arrays by name; ``state``: arrays that are saved but not trained.

Backpropagation is then the chain rule applied mechanically: a layer (``nntrain.nn.layers``) calls
``backward`` of its ops in reverse order. Outputs are written into buffers the op reuses from step to
step, so an output is valid until the op's next forward call; copy it to keep it.

What callers ask an op instead of testing its class: ``penalised`` and ``penalty()`` (L1/L2),
``kinked`` and ``kink_sides()`` (an activation whose derivative jumps at 0), ``kinked_at_zero(key)``
(an L1-penalised weight), ``batch_statistics`` (batch norm) and ``freeze(frozen)`` (dropout masks).
"""

import numpy as np

from .activations import ACTIVATIONS


class Buffered:
    """Arrays kept from call to call, one per key, renewed when the shape or dtype changes: the
    training step of an op or a loss then allocates nothing."""

    def _buffer(self, key, shape, dtype):
        buffers = self.__dict__.setdefault("_buffers", {})
        buf = buffers.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = buffers[key] = np.empty(shape, dtype)
        return buf


class Op(Buffered):
    """Base: no parameters, no state, no penalty, no kink, no batch statistics, nothing to freeze."""

    penalised = False
    kinked = False
    batch_statistics = False

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.state = {}

    def penalty(self):
        return 0.0

    def kinked_at_zero(self, key):
        """Whether the loss has a kink where ``params[key]`` is 0 (an L1 penalty's |w|)."""
        return False

    def freeze(self, frozen):
        """Hold (True) or release (False) what the op draws at random, for a gradient check."""


class Dense(Op):
    """z = x W^T + b for a batch of rows x: (batch, inputs); W: (units, inputs); b: (units,).

    ``l1`` and ``l2`` add the kernel penalty l1*sum|W| + l2*sum W^2 (Keras semantics) to the
    gradient in ``backward``; its value is ``penalty()``. ``input_grad=False`` (the first layer)
    skips computing the gradient of the input, which nothing needs.
    """

    def __init__(self, W, b, l1=0.0, l2=0.0, input_grad=True):
        super().__init__()
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.l1, self.l2 = l1, l2
        self.penalised = bool(l1 or l2)
        self.input_grad = input_grad

    def forward(self, x, training):
        W, b = self.params["W"], self.params["b"]
        z = self._buffer("z", (x.shape[0], W.shape[0]), W.dtype)
        np.matmul(x, W.T, out=z)
        z += b
        self._x = x if training else None
        return z

    def backward(self, grad):
        W = self.params["W"]
        dW, db = self.grads["W"], self.grads["b"]
        np.matmul(grad.T, self._x, out=dW)
        grad.sum(axis=0, out=db)
        if self.l1 or self.l2:
            tmp = self._buffer("penalty", W.shape, W.dtype)
            if self.l2:
                dW += np.multiply(W, 2.0 * self.l2, out=tmp)
            if self.l1:
                np.sign(W, out=tmp)
                tmp *= self.l1
                dW += tmp
        if not self.input_grad:
            return None
        dx = self._buffer("dx", self._x.shape, W.dtype)
        return np.matmul(grad, W, out=dx)

    def kinked_at_zero(self, key):
        return key == "W" and self.l1 > 0

    def penalty(self):
        W = self.params["W"]
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(W, out=self._buffer("penalty", W.shape, W.dtype)).sum())
        if self.l2:
            total += self.l2 * float(np.vdot(W, W))
        return total


class Activation(Op):
    """a = g(z) elementwise (softmax: per row), for an activation of ``nntrain.nn.activations``.

    One whose derivative needs only a computes in place on z (unless ``in_place=False``: z is an
    array its owner still needs) and keeps a. One whose derivative needs z (``needs_input``: gelu,
    silu) writes a into a buffer of its own and keeps z, which is the previous op's output buffer
    and stays valid until that op's next forward.
    """

    def __init__(self, name, in_place=True):
        super().__init__()
        self.name = name
        self.fn = ACTIVATIONS[name]
        self.kinked = self.fn.kinked
        self.needs_input = self.fn.needs_input
        self.in_place = in_place and not self.needs_input
        self._a = self._z = None

    def forward(self, x, training):
        a = self.fn.forward(x, out=x if self.in_place else self._buffer("a", x.shape, x.dtype))
        self._a = a if training else None
        if self.needs_input:
            self._z = x if training else None
        return a

    def backward(self, grad):
        if self.needs_input:
            return self.fn.backward(self._z, grad, self._buffer("work", (2, *grad.shape), grad.dtype))
        return self.fn.backward(self._a, grad)

    def activity(self):
        """The activation's statistics of the last training forward's outputs ({} if none ran)."""
        return {} if self._a is None else self.fn.diagnostics(self._a)

    def kink_sides(self):
        """Which side of the kink at 0 each input of the last training forward was on: z > 0."""
        return (self._z if self.needs_input else self._a) > 0  # relu, leaky relu: a > 0 iff z > 0


class Dropout(Op):
    """Inverted dropout, as in the lecture: d = uniform < keep_prob; a = a * d / keep_prob.

    Active only in training; the mask comes from the run's generator. ``frozen = True`` reuses the
    last mask (for gradient checks, where the network must be a fixed function).
    """

    def __init__(self, keep_prob, rng):
        super().__init__()
        self.keep_prob = keep_prob
        self.rng = rng
        self.frozen = False
        self._mask = None

    def freeze(self, frozen):
        self.frozen = frozen

    def forward(self, x, training):
        if not training:
            return x
        if not (self.frozen and self._mask is not None and self._mask.shape == x.shape):
            u = self._buffer("uniform", x.shape, np.float32 if x.dtype == np.float32 else np.float64)
            self.rng.random(dtype=u.dtype, out=u)
            self._mask = np.less(u, self.keep_prob, out=self._buffer("mask", x.shape, bool))
        out = np.multiply(x, self._mask, out=self._buffer("out", x.shape, x.dtype))
        out /= self.keep_prob
        return out

    def backward(self, grad):
        grad *= self._mask
        grad /= self.keep_prob
        return grad


class BatchNorm(Op):
    """Batch normalisation of (batch, units) pre-activations: gamma * (z - mean) / sqrt(var + eps) + beta.

    Training uses the batch's mean and (biased) variance and updates the running statistics,
    ``running = (1 - momentum) * running + momentum * batch`` with the unbiased batch variance
    (PyTorch's BatchNorm1d conventions); inference uses the running statistics.
    """

    batch_statistics = True  # a batch of one example cannot be normalised

    def __init__(self, units, dtype, momentum=0.1, eps=1e-5):
        super().__init__()
        self.params = {"gamma": np.ones(units, dtype), "beta": np.zeros(units, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.state = {"running_mean": np.zeros(units, dtype), "running_var": np.ones(units, dtype)}
        self.momentum, self.eps = momentum, eps

    def forward(self, x, training):
        gamma, beta = self.params["gamma"], self.params["beta"]
        xhat = self._buffer("xhat", x.shape, x.dtype)
        if training:
            n = x.shape[0]
            mean = x.mean(axis=0)
            np.subtract(x, mean, out=xhat)
            var = np.einsum("ij,ij->j", xhat, xhat) / n  # as x.var(axis=0), without its temporary
            m = self.momentum
            self.state["running_mean"] *= 1 - m
            self.state["running_mean"] += m * mean
            self.state["running_var"] *= 1 - m
            self.state["running_var"] += (m * n / max(n - 1, 1)) * var
        else:
            mean, var = self.state["running_mean"], self.state["running_var"]
            np.subtract(x, mean, out=xhat)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat *= inv_std
        out = np.multiply(xhat, gamma, out=self._buffer("out", x.shape, x.dtype))
        out += beta
        if training:
            self._xhat, self._inv_std = xhat, inv_std
        return out

    def backward(self, grad):
        xhat, n = self._xhat, grad.shape[0]
        gamma = self.params["gamma"]
        np.einsum("ij,ij->j", grad, xhat, out=self.grads["gamma"])
        grad.sum(axis=0, out=self.grads["beta"])
        # dL/dz = inv_std / n * (n * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), dxhat = grad * gamma
        dxhat_sum = self.grads["beta"] * gamma
        dxhat_xhat_sum = self.grads["gamma"] * gamma
        dx = np.multiply(grad, gamma, out=grad)
        dx -= dxhat_sum / n
        dx -= np.multiply(xhat, dxhat_xhat_sum / n, out=self._buffer("tmp", xhat.shape, xhat.dtype))
        dx *= self._inv_std
        return dx
