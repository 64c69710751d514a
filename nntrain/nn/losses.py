"""Loss functions, averaged over the batch, with their gradients.

A loss sees the network's output and the targets, returns a float, and its ``backward`` returns the
gradient with respect to that output. Sigmoid + binary cross-entropy and softmax + categorical
cross-entropy are computed from the logits (``from_logits=True``): the pair has the simple, stable
gradient ``(p - y) / n`` and no ``log(0)``; the model then skips its output activation in training.

Conventions: outputs are (batch, units). Binary cross-entropy and the regression losses (MSE, MAE,
Huber) take targets of the same shape and average over every element (Keras: mean over units, then
over the batch). Categorical cross-entropy takes integer class labels (batch,) or one-hot rows
(batch, classes) and averages over the batch. ``prediction`` holds the network's output activations
after ``forward`` (probabilities for the fused pairs), which is what metrics look at.

Every loss class describes itself (see ``Loss``): the rest of the program asks it what targets it
takes, which output it pairs with and whether it classifies, and never compares loss names. To add a
loss: a ``Loss`` subclass with its class attributes, registered in ``LOSSES``; its constructor's
arguments are its config keys.
"""

import inspect
import operator
from typing import ClassVar

import numpy as np

from .layers import Buffered

# Probabilities are clipped to [EPS, 1 - EPS] when a cross-entropy is not computed from logits.
EPS = 1e-7

# What a loss's targets hold (``Loss.targets``).
LABELS = "labels"  # class labels 0..K-1 (batch,), or one-hot rows (batch, classes)
BINARY = "binary"  # 0/1 (or a probability) per output unit (batch, units); a single unit may come as labels
VALUES = "values"  # real numbers (batch, units)

# The bounds an argument may have (pydantic's Field keywords) and how a message says them.
BOUNDS = {
    "gt": (operator.gt, "greater than"),
    "ge": (operator.ge, "greater than or equal to"),
    "lt": (operator.lt, "less than"),
    "le": (operator.le, "less than or equal to"),
}


class Loss(Buffered):
    """Base: results go into buffers reused per shape, so a training step allocates (almost) nothing.

    ``prediction`` and the array ``backward`` returns are valid until the next ``forward``; the
    gradient is a buffer of its own, which the model may overwrite while back-propagating.

    What a loss says about itself (class attributes):

    - ``targets``: what y holds, ``LABELS``, ``BINARY`` or ``VALUES`` (the data is read and checked so);
    - ``activation``: the output activation the lecture's table pairs it with;
    - ``classifies``: the network's outputs are class probabilities (accuracy, ``--proba``, class
      names, stratified splits, the decision boundary);
    - ``fuses``: computed from the logits (``from_logits``) when the output layer has ``activation``;
    - ``arguments``: per constructor argument a config sets, its bounds and description in pydantic's
      ``Field`` keywords (``gt``, ``ge``, ``lt``, ``le``, ``description``). The config keys are the
      constructor's arguments but ``from_logits``, which the pairing decides (``config_arguments``).

    The defaults describe a regression loss: values, a linear output, no fusing, no arguments.
    """

    targets = VALUES
    activation = "linear"
    classifies = False
    fuses = False
    arguments: ClassVar[dict] = {}

    def __init__(self, from_logits=False):
        self.from_logits = from_logits

    @classmethod
    def config_arguments(cls):
        """{argument: (type, default, Field keywords)} of the constructor arguments a config sets."""
        params = inspect.signature(cls.__init__).parameters.values()
        return {
            p.name: (p.annotation, p.default, cls.arguments.get(p.name, {}))
            for p in params
            if p.name not in ("self", "from_logits")
        }

    def _check(self, **values):
        """ValueError, Keras style, for an argument outside its bounds in ``arguments``."""
        for key, value in values.items():
            for bound, limit in self.arguments.get(key, {}).items():
                if bound in BOUNDS and not BOUNDS[bound][0](value, limit):
                    raise ValueError(f"{key} must be {BOUNDS[bound][1]} {limit}. Received: {key}={value}")

    def _grad_buffer(self):
        return self._buffer("grad", self.prediction.shape, self.prediction.dtype)

    def forward(self, out, y, weight=None):
        """The loss of outputs ``out`` on targets ``y``: the mean over the batch, or with ``weight``
        (n,) the weighted mean of the rows' losses, sum(w_i l_i) / sum(w_i) (a row's loss is its mean
        over the units)."""
        value = self._forward(out, y)
        if weight is None:
            self._weights = None
            return value
        total = float(weight.sum())
        # w_i n / sum(w): the factor by which row i's share of the plain mean becomes its weighted share.
        self._weights = weight * (len(weight) / total) if total > 0 else np.zeros_like(weight)
        return float(np.dot(self._weights, self._rows(y))) / len(weight)

    def backward(self):
        """The gradient with respect to the output of the last ``forward``."""
        grad = self._backward()
        if self._weights is not None:
            grad *= self._weights.astype(grad.dtype)[:, None]
        return grad

    def _rows(self, y):
        """Each row's loss (n,), float64, from what the last ``_forward`` kept."""
        raise NotImplementedError


class Regression(Loss):
    """Base of the losses of a difference d = a - y (kept in a buffer for ``backward``)."""

    def __init__(self):
        super().__init__(from_logits=False)

    def _difference(self, a, y):
        self.prediction = a
        self._diff = np.subtract(a, y, out=self._buffer("diff", a.shape, a.dtype))
        return self._diff


class MeanSquaredError(Regression):
    """L = mean((a - y)^2)."""

    def _forward(self, a, y):
        d = self._difference(a, y)
        return float(np.vdot(d, d)) / d.size

    def _backward(self):
        return np.multiply(self._diff, 2.0 / self._diff.size, out=self._grad_buffer())

    def _rows(self, y):
        return np.mean(np.square(self._diff, dtype=np.float64), axis=1)


class MeanAbsoluteError(Regression):
    """L = mean(|a - y|); its gradient at a = y is taken as 0 (sign(0), as PyTorch's L1 loss)."""

    def _forward(self, a, y):
        d = self._difference(a, y)
        absolute = np.abs(d, out=self._buffer("abs", a.shape, a.dtype))
        return float(absolute.sum(dtype=np.float64)) / d.size

    def _backward(self):
        grad = np.sign(self._diff, out=self._grad_buffer())
        grad *= 1.0 / self._diff.size
        return grad

    def _rows(self, y):
        return np.mean(np.abs(self._diff), axis=1, dtype=np.float64)


class Huber(Regression):
    """L = mean(h(a - y)), h(d) = d^2 / 2 where |d| <= delta, else delta (|d| - delta / 2) (Keras, PyTorch).

    Quadratic near the target, linear (as MAE) beyond ``delta``, so outliers pull with a force of at
    most ``delta``. With c = clip(d, -delta, delta), h(d) = c (d - c / 2) and dh/dd = c.
    """

    arguments: ClassVar[dict] = {"delta": {"gt": 0, "description": "where the loss turns from quadratic to linear"}}

    def __init__(self, delta: float = 1.0):
        super().__init__()
        self._check(delta=delta)
        self.delta = delta

    def _forward(self, a, y):
        d = self._difference(a, y)
        self._clipped = c = np.clip(d, -self.delta, self.delta, out=self._buffer("clipped", a.shape, a.dtype))
        return (float(np.vdot(c, d)) - 0.5 * float(np.vdot(c, c))) / d.size

    def _backward(self):
        return np.multiply(self._clipped, 1.0 / self._clipped.size, out=self._grad_buffer())

    def _rows(self, y):
        c, d = self._clipped.astype(np.float64), self._diff.astype(np.float64)
        return np.mean(c * (d - c / 2), axis=1)


class Classification(Loss):
    """Base of the cross-entropies: class probabilities, computed from the logits (``from_logits``)
    when the output layer has the loss's own activation."""

    classifies = True
    fuses = True

    def __init__(self, from_logits=True):
        super().__init__(from_logits)


class BinaryCrossentropy(Classification):
    """L = -mean(y log p + (1 - y) log(1 - p)), from logits z (p = sigmoid(z)) or from p itself."""

    targets = BINARY
    activation = "sigmoid"

    def _forward(self, out, y):
        self._y = y
        if not self.from_logits:
            self.prediction = out
            p = np.clip(out, EPS, 1 - EPS)
            self._losses = -(y * np.log(p) + (1 - y) * np.log1p(-p))
            return float(np.mean(self._losses))
        z = out
        # With t = log(1 + e^-|z|) (never overflows): -(y log p + (1-y) log(1-p)) = (max(z, 0) - y z) + t
        # and p = e^(min(z, 0) - t). The bracket is exactly 0 for a confident right answer, so even in
        # float32 the loss keeps its small value (z = 20, y = 1: 2.1e-9, not 0).
        t = np.abs(z, out=self._buffer("t", z.shape, z.dtype))
        np.negative(t, out=t)
        np.exp(t, out=t)
        np.log1p(t, out=t)
        p = np.minimum(z, 0, out=self._buffer("p", z.shape, z.dtype))
        p -= t
        self.prediction = np.exp(p, out=p)
        losses = np.maximum(z, 0, out=self._buffer("losses", z.shape, z.dtype))
        losses -= np.multiply(z, y, out=self._buffer("yz", z.shape, z.dtype))
        losses += t
        self._losses = losses
        return float(losses.sum(dtype=np.float64)) / z.size

    def _backward(self):
        p, y = self.prediction, self._y
        if self.from_logits:
            grad = np.subtract(p, y, out=self._grad_buffer())
            grad *= 1.0 / p.size
            return grad
        pc = np.clip(p, EPS, 1 - EPS)
        # d/dp of the clipped loss: zero where the clip is active.
        inside = (p > EPS) & (p < 1 - EPS)
        return inside * (pc - y) / (pc * (1 - pc)) / p.size

    def _rows(self, y):
        return np.mean(self._losses, axis=1, dtype=np.float64)


class CategoricalCrossentropy(Classification):
    """L = -mean_over_batch(sum_k y_k log p_k), from logits z (p = softmax(z)) or from p itself.

    ``y`` is either integer labels (batch,) or one-hot / probability rows (batch, classes).
    """

    targets = LABELS
    activation = "softmax"

    def _forward(self, out, y):
        n = out.shape[0]
        self._y = y
        self._labels = y.ndim == 1
        if self.from_logits:
            z = out
            # log p = (z - max z) - log(sum e^(z - max z)) per row: no overflow, no log(0).
            log_p = np.subtract(z, z.max(axis=1, keepdims=True), out=self._buffer("log_p", z.shape, z.dtype))
            p = np.exp(log_p, out=self._buffer("p", z.shape, z.dtype))
            row_sums = p.sum(axis=1, keepdims=True)
            p /= row_sums
            log_p -= np.log(row_sums, out=row_sums)
            self.prediction = p
        else:
            self.prediction = out
            log_p = np.log(np.clip(out, EPS, 1.0))
        self._log_p = log_p
        if self._labels:
            return float(-log_p[self._rows_index(n), y].sum()) / n
        return float(-np.vdot(y, log_p)) / n

    def _backward(self):
        p, y = self.prediction, self._y
        n = p.shape[0]
        if self.from_logits:
            grad = self._grad_buffer()
            if self._labels:
                np.copyto(grad, p)
                grad[self._rows_index(n), y] -= 1.0
            else:
                np.subtract(p, y, out=grad)
            grad *= 1.0 / n
            return grad
        onehot = y
        if self._labels:
            onehot = np.zeros_like(p)
            onehot[np.arange(n), y] = 1.0
        return -(onehot * (p >= EPS)) / np.clip(p, EPS, 1.0) / n

    def _rows(self, y):
        log_p = self._log_p.astype(np.float64)
        if self._labels:
            return -log_p[self._rows_index(len(y)), y]
        return -np.sum(y * log_p, axis=1)

    def _rows_index(self, n):
        """0, 1, ..., n-1: with the labels, the index of each row's true class."""
        rows = getattr(self, "_arange", None)
        if rows is None or len(rows) != n:
            rows = self._arange = np.arange(n)
        return rows


LOSSES = {
    "mse": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "mae": MeanAbsoluteError,
    "huber": Huber,
}

# The lecture's table of outputs and losses, as the pairing warning quotes it.
LECTURE_PAIRS = "linear + mse, sigmoid + binary_crossentropy, softmax + categorical_crossentropy"


def loss_name(loss):
    """The registered name of ``loss``: a name, or a config's loss section (anything with a ``name``)."""
    return getattr(loss, "name", loss)


def loss_class(loss):
    """The ``Loss`` subclass of ``loss``: a registered name, or a config's loss section."""
    name = loss_name(loss)
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}") from None


def classifies(loss):
    """Whether a network trained with ``loss`` (a name or a config's loss section) outputs class probabilities."""
    return loss_class(loss).classifies


def make_loss(loss, output_activation, **arguments):
    """The loss ``loss`` for a network whose last layer uses ``output_activation``.

    ``loss``: a name, with ``arguments`` its constructor's, or a config's loss section, which holds
    them (``arguments()``). A loss that fuses with its activation is computed from the logits when the
    output layer has that activation.
    """
    if not isinstance(loss, str):
        arguments = {**loss.arguments(), **arguments}
    cls = loss_class(loss)
    if cls.fuses:
        return cls(**arguments, from_logits=output_activation == cls.activation)
    return cls(**arguments)


def pairing_warning(loss, output_activation):
    """A sentence if the output activation and ``loss`` (a name or a config's loss section) do not
    belong together (lecture's table), else None."""
    name, expected = loss_name(loss), loss_class(loss).activation
    if output_activation == expected:
        return None
    return (
        f"output activation {output_activation!r} does not match loss {name!r}: the lecture pairs "
        f"{name} with a {expected} output ({LECTURE_PAIRS})"
    )
