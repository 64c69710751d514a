"""Activation functions: the forward map and its derivative, side by side.

Each activation computes ``a = g(z)`` elementwise (softmax: per row) and back-propagates a gradient
using only its own output ``a`` -- the derivative of every activation here can be written in terms of
``a`` (sigmoid: a(1-a), tanh: 1-a^2, ...), so a layer retains just one array for its backward pass.
Both functions write into the arrays they are given (``out`` may be ``z`` itself; ``backward`` scales
``grad`` in place), so the training loop allocates nothing per step.

To add an activation: write a class with ``forward`` and ``backward`` and register it in
``ACTIVATIONS``; the config accepts its name from then on.
"""

import numpy as np

LEAKY_RELU_SLOPE = 0.01


class Sigmoid:
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


class Tanh:
    """g(z) = tanh(z)."""

    @staticmethod
    def forward(z, out):
        return np.tanh(z, out=out)

    @staticmethod
    def backward(a, grad):
        grad *= 1.0 - a * a
        return grad


class ReLU:
    """g(z) = max(z, 0)."""

    @staticmethod
    def forward(z, out):
        return np.maximum(z, 0, out=out)

    @staticmethod
    def backward(a, grad):
        # where a == 0 the unit was inactive (the derivative at exactly 0 is taken as 0).
        grad *= a > 0
        return grad


class LeakyReLU:
    """g(z) = max(z, 0.01 z)."""

    @staticmethod
    def forward(z, out):
        return np.maximum(z, LEAKY_RELU_SLOPE * z, out=out)

    @staticmethod
    def backward(a, grad):
        # The output keeps the sign of the input, so the slope is known from a alone.
        one, slope = grad.dtype.type(1), grad.dtype.type(LEAKY_RELU_SLOPE)  # keep float32 float32
        grad *= np.where(a > 0, one, slope)
        return grad


class Linear:
    """g(z) = z."""

    @staticmethod
    def forward(z, out):
        if out is not z:
            np.copyto(out, z)
        return out

    @staticmethod
    def backward(a, grad):
        return grad


class Softmax:
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


ACTIVATIONS = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "linear": Linear,
    "softmax": Softmax,
}
