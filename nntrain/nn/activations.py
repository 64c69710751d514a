"""Activation functions: the forward map and its derivative, side by side.

Each activation computes ``a = g(z)`` elementwise (softmax: per row) and back-propagates a gradient.
Most derivatives here can be written in terms of the output ``a`` alone (sigmoid: a(1-a), tanh:
1-a^2, ...): such an activation computes in place on z and a layer retains just ``a``. GELU's and
SiLU's cannot; they say ``needs_input = True``, write ``a`` into an array of their own, and their
``backward`` takes z (with two scratch arrays). Both functions write into the arrays they are given
(``backward`` scales ``grad`` in place), so the training loop allocates nothing per step.

An activation also says what the training diagnostics measure on its outputs (``diagnostics``:
ReLU's dead units, sigmoid's and tanh's saturated share) and whether its derivative jumps at z = 0
(``kinked``), where a gradient check's finite differences cannot be right.

To add an activation: subclass ``Function`` with ``forward`` and ``backward`` and register it in
``ACTIVATIONS``; the config accepts its name from then on.
"""

import math

import numpy as np

LEAKY_RELU_SLOPE = 0.01


class Function:
    """What every activation says about itself; the defaults are those of a smooth function of a.

    ``forward(z, out) -> out``: a = g(z) into ``out`` (which may be z itself unless ``needs_input``).
    ``backward(a, grad) -> grad``: dLoss/dz from dLoss/da, in place on ``grad``; with ``needs_input``
    it is ``backward(z, grad, work)``, where ``work`` is scratch of shape (2, *z.shape).
    """

    needs_input = False  # backward needs z, not a
    kinked = False  # the derivative jumps at z = 0

    @staticmethod
    def diagnostics(a):
        """Statistics of a training batch's outputs a: (batch, units), by name; none by default."""
        return {}


class Sigmoid(Function):
    """g(z) = 1 / (1 + e^-z), computed without overflow for large |z|."""

    @staticmethod
    def forward(z, out):
        # e^-|z| never overflows; the two branches are the same function, each exact on its side.
        e = np.exp(-np.abs(z))
        np.divide(np.where(z >= 0, 1.0, e), 1.0 + e, out=out)
        return out

    @staticmethod
    def backward(a, grad):
        grad *= a * (1.0 - a)
        return grad

    @staticmethod
    def diagnostics(a):
        """``saturated``: the share of outputs within 0.01 of 0 or 1, where the derivative is < 0.01."""
        return {"saturated": float(np.mean((a < 0.01) | (a > 0.99)))}


class Tanh(Function):
    """g(z) = tanh(z)."""

    @staticmethod
    def forward(z, out):
        return np.tanh(z, out=out)

    @staticmethod
    def backward(a, grad):
        grad *= 1.0 - a * a
        return grad

    @staticmethod
    def diagnostics(a):
        """``saturated``: the share of outputs within 0.01 of -1 or 1."""
        return {"saturated": float(np.mean(np.abs(a) > 0.99))}


class ReLU(Function):
    """g(z) = max(z, 0)."""

    kinked = True

    @staticmethod
    def forward(z, out):
        return np.maximum(z, 0, out=out)

    @staticmethod
    def backward(a, grad):
        # where a == 0 the unit was inactive (the derivative at exactly 0 is taken as 0).
        grad *= a > 0
        return grad

    @staticmethod
    def diagnostics(a):
        """``dead``: the share of units that output 0 for every example of the batch."""
        return {"dead": float(np.mean(~a.any(axis=0)))}


class LeakyReLU(Function):
    """g(z) = max(z, 0.01 z)."""

    kinked = True

    @staticmethod
    def forward(z, out):
        return np.maximum(z, LEAKY_RELU_SLOPE * z, out=out)

    @staticmethod
    def backward(a, grad):
        # The output keeps the sign of the input, so the slope is known from a alone.
        one, slope = grad.dtype.type(1), grad.dtype.type(LEAKY_RELU_SLOPE)  # keep float32 float32
        grad *= np.where(a > 0, one, slope)
        return grad


class Linear(Function):
    """g(z) = z."""

    @staticmethod
    def forward(z, out):
        if out is not z:
            np.copyto(out, z)
        return out

    @staticmethod
    def backward(a, grad):
        return grad


class Softmax(Function):
    """g(z)_k = e^{z_k} / sum_j e^{z_j} over each row of z: (batch, classes)."""

    @staticmethod
    def forward(z, out):
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    @staticmethod
    def backward(a, grad):
        # Jacobian-vector product: a * (grad - <grad, a>) row by row.
        dot = np.einsum("ij,ij->i", grad, a)[:, None]
        grad -= dot
        grad *= a
        return grad


# GELU's tanh approximation (Hendrycks & Gimpel 2016): g(z) = z/2 (1 + tanh(c (z + k z^3))).
GELU_C = math.sqrt(2.0 / math.pi)
GELU_K = 0.044715


class GELU(Function):
    """g(z) = z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))): GELU's tanh approximation.

    What PyTorch's ``gelu(approximate="tanh")`` and Keras' ``gelu(approximate=True)`` compute; it is
    within 5e-4 of the exact z Phi(z) = z/2 (1 + erf(z / sqrt 2)). The exact form would need erf,
    which NumPy does not have as an array function (``math.erf`` takes one number at a time).
    """

    needs_input = True

    @staticmethod
    def forward(z, out):
        np.multiply(z, z, out=out)
        out *= GELU_K
        out += 1.0
        out *= z
        out *= GELU_C  # u = c (z + k z^3)
        np.tanh(out, out=out)
        out += 1.0
        out *= z
        out *= 0.5
        return out

    @staticmethod
    def backward(z, grad, work):
        # g'(z) = (1 + t)/2 + s (1 - t^2) with t = tanh(u), s = c z (1 + 3 k z^2) / 2
        #       = (1 + t) (1/2 + s (1 - t)).
        t, s = work[0], work[1]
        np.multiply(z, z, out=s)
        np.multiply(s, GELU_K, out=t)
        t += 1.0
        t *= z
        t *= GELU_C
        np.tanh(t, out=t)
        s *= 3.0 * GELU_K
        s += 1.0
        s *= z
        s *= 0.5 * GELU_C
        t += 1.0  # 1 + t
        grad *= t
        np.subtract(2.0, t, out=t)  # 1 - t
        s *= t
        s += 0.5
        grad *= s
        return grad


def _sigmoid(z, out):
    """1 / (1 + e^-z) as (1 + tanh(z/2)) / 2: in place, and tanh never overflows."""
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


class SiLU(Function):
    """g(z) = z sigmoid(z) (also called swish)."""

    needs_input = True

    @staticmethod
    def forward(z, out):
        _sigmoid(z, out)
        out *= z
        return out

    @staticmethod
    def backward(z, grad, work):
        # g'(z) = s (1 + z (1 - s)) with s = sigmoid(z).
        s, t = work[0], work[1]
        _sigmoid(z, s)
        np.subtract(1.0, s, out=t)
        t *= z
        t += 1.0
        t *= s
        grad *= t
        return grad


ACTIVATIONS = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "linear": Linear,
    "softmax": Softmax,
    "gelu": GELU,
    "silu": SiLU,
}
