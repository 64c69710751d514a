"""Loss functions, averaged over the batch, with their gradients.

A loss sees the network's output and the targets, returns a float, and its ``backward`` returns the
gradient with respect to that output. Sigmoid + binary cross-entropy and softmax + categorical
cross-entropy are computed from the logits (``from_logits=True``): the pair has the simple, stable
gradient ``(p - y) / n`` and no ``log(0)``; the model then skips its output activation in training.

Conventions: outputs are (batch, units). Binary cross-entropy and MSE take targets of the same shape
and average over every element (Keras: mean over units, then over the batch). Categorical
cross-entropy takes integer class labels (batch,) or one-hot rows (batch, classes) and averages over
the batch. ``prediction`` holds the network's output activations after ``forward`` (probabilities for
the fused pairs), which is what metrics look at.
"""

import numpy as np

from .activations import Sigmoid, Softmax

# Probabilities are clipped to [EPS, 1 - EPS] when a cross-entropy is not computed from logits.
EPS = 1e-7


class MeanSquaredError:
    """L = mean((a - y)^2)."""

    from_logits = False

    def forward(self, a, y):
        self.prediction = a
        self._diff = a - y
        return float(np.mean(np.square(self._diff)))

    def backward(self):
        return self._diff * (2.0 / self._diff.size)


class BinaryCrossentropy:
    """L = -mean(y log p + (1 - y) log(1 - p)), from logits z (p = sigmoid(z)) or from p itself."""

    def __init__(self, from_logits=True):
        self.from_logits = from_logits

    def forward(self, out, y):
        self._y = y
        if self.from_logits:
            z = out
            self.prediction = Sigmoid.forward(z, np.empty_like(z))
            # log(1 + e^-|z|) + max(z, 0) - z y  ==  -(y log p + (1-y) log(1-p)), stable for any z.
            losses = np.logaddexp(0, -np.abs(z)) + np.maximum(z, 0) - z * y
        else:
            self.prediction = out
            p = np.clip(out, EPS, 1 - EPS)
            losses = -(y * np.log(p) + (1 - y) * np.log1p(-p))
        return float(np.mean(losses))

    def backward(self):
        p, y = self.prediction, self._y
        if self.from_logits:
            return (p - y) * (1.0 / p.size)
        pc = np.clip(p, EPS, 1 - EPS)
        # d/dp of the clipped loss: zero where the clip is active.
        inside = (p > EPS) & (p < 1 - EPS)
        return inside * (pc - y) / (pc * (1 - pc)) / p.size


class CategoricalCrossentropy:
    """L = -mean_over_batch(sum_k y_k log p_k), from logits z (p = softmax(z)) or from p itself.

    ``y`` is either integer labels (batch,) or one-hot / probability rows (batch, classes).
    """

    def __init__(self, from_logits=True):
        self.from_logits = from_logits

    def forward(self, out, y):
        n = out.shape[0]
        self._y = y
        self._labels = y.ndim == 1
        if self.from_logits:
            z = out
            self.prediction = Softmax.forward(z, np.empty_like(z))
            zmax = z.max(axis=1, keepdims=True)
            log_p = z - (zmax + np.log(np.exp(z - zmax).sum(axis=1, keepdims=True)))
        else:
            self.prediction = out
            log_p = np.log(np.clip(out, EPS, 1.0))
        if self._labels:
            return float(-log_p[np.arange(n), y].mean())
        return float(-(y * log_p).sum() / n)

    def backward(self):
        p, y = self.prediction, self._y
        n = p.shape[0]
        if self.from_logits:
            grad = p.copy()
            if self._labels:
                grad[np.arange(n), y] -= 1.0
            else:
                grad -= y
            grad *= 1.0 / n
            return grad
        onehot = y
        if self._labels:
            onehot = np.zeros_like(p)
            onehot[np.arange(n), y] = 1.0
        return -(onehot * (p >= EPS)) / np.clip(p, EPS, 1.0) / n


LOSSES = {
    "mse": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
}

# The lecture's table: each loss and the output activation that belongs to it. The two cross-entropies
# fuse with their activation and are computed from logits.
PAIRINGS = {
    "mse": "linear",
    "binary_crossentropy": "sigmoid",
    "categorical_crossentropy": "softmax",
}


def make_loss(name, output_activation):
    """The loss ``name`` for a network whose last layer uses ``output_activation``."""
    cls = LOSSES[name]
    if cls is MeanSquaredError:
        return cls()
    return cls(from_logits=PAIRINGS[name] == output_activation)


def pairing_warning(name, output_activation):
    """A sentence if the output activation and loss do not belong together (lecture's table), else None."""
    expected = PAIRINGS[name]
    if output_activation == expected:
        return None
    return (
        f"output activation {output_activation!r} does not match loss {name!r}: the lecture pairs "
        f"{name} with a {expected} output (linear + mse, sigmoid + binary_crossentropy, "
        f"softmax + categorical_crossentropy)"
    )
