"""The layer types a network is made of, registered in ``LAYERS`` under their config ``type``.

A layer is a few ops (``nntrain.nn.ops``) applied to rows x: (batch, inputs), giving (batch, units).
Each layer type is one component that builds itself from its config section and describes itself,
so that the model, the summary, the diagnostics and the gradient check ask it instead of testing
its class:

- ``build(spec, inputs, rng, dtype, input_grad, error)``: the layer of a config section for rows of
  ``inputs`` features, initialised from ``rng`` (or hand-set); a spec that does not fit raises
  ``error(fields, message)``, with ``fields`` the path within the section (e.g. ``("weights", "W")``).
- ``count_for(spec, inputs)``: (trainable, non-trainable) parameter counts, before anything is allocated;
  ``count()`` of a built layer counts its arrays (the two agree).
- ``input_width(spec, arrays=None)``: the width of the rows the layer takes, as its config (hand-set
  weights) or a run's saved ``arrays`` (by the layer's own names) imply it, or None.
- ``forward(x, training, logits=False)`` and ``backward(grad, logits=False)``: ``logits``, asked of
  the output layer only, stops before its output activation, whose derivative then belongs to a loss
  computed from logits (``nntrain.nn.losses``).
- ``slots()`` and ``arrays()``: its arrays by name (the model saves them as ``layers.<i>.<name>``);
  ``summary_row()``; ``kernels()`` and ``activity()`` for the diagnostics; ``kink_sides()`` for the
  gradient check; ``needs_batch_statistics``; ``output_activation``.

To add a layer type: subclass ``Layer`` here, register it in ``LAYERS``, and register its config
section under the same name in ``nntrain.config.layers.LAYER_CONFIGS``.
"""

import numpy as np

from .initializers import initialize
from .ops import Activation, BatchNorm, Buffered, Dense, Dropout  # noqa: F401 (Buffered: for the losses)


class Layer:
    """What every layer type shares.

    ``ops``: every op, in forward order (a plain chain unless the subclass says otherwise);
    ``named``: (prefix, op) pairs, the array ``op.params[key]`` (or ``op.state[key]``) being named
    ``prefix + key``; ``kernels``: the Dense ops whose W the diagnostics measure; ``activation``: the
    Activation op whose outputs they look at. Iterating a layer (or indexing it) gives its ops.
    """

    output_activation = "linear"
    keep_prob = 1.0

    def __init__(self, ops, named, inputs, units, kernels, activation):
        self.ops = ops
        self.named = named
        self.inputs, self.units = inputs, units
        self._kernels = kernels
        self.activation = activation
        self._logit_ops = ops  # what runs with logits=True: all but an output activation

    def __iter__(self):
        return iter(self.ops)

    def __getitem__(self, i):
        return self.ops[i]

    def forward(self, x, training, logits=False):
        for op in self._logit_ops if logits else self.ops:
            x = op.forward(x, training)
        return x

    def backward(self, grad, logits=False):
        for op in reversed(self._logit_ops if logits else self.ops):
            grad = op.backward(grad)
        return grad

    def slots(self):
        """(name, op, key) of every trainable array, in order: ``op.params[key]`` is called ``name``."""
        return [(prefix + key, op, key) for prefix, op in self.named for key in op.params]

    def arrays(self):
        """Every array to save, by name: per op its parameters, then its state."""
        return {
            prefix + key: array for prefix, op in self.named for key, array in (*op.params.items(), *op.state.items())
        }

    def count(self):
        """(trainable, non-trainable) parameters of the built layer."""
        trainable = sum(op.params[key].size for _, op, key in self.slots())
        return trainable, sum(a.size for a in self.arrays().values()) - trainable

    @property
    def needs_batch_statistics(self):
        return any(op.batch_statistics for op in self.ops)

    def kernels(self):
        """(W, dW) of each of the layer's weight matrices."""
        return [(op.params["W"], op.grads["W"]) for op in self._kernels]

    def activity(self):
        """What the activation reports about the last training forward's outputs, e.g. {"dead": 0.25}."""
        return self.activation.activity()

    def kink_sides(self, logits=False):
        """For each activation with a kink at 0 that ran in the last training forward (``logits``: as
        ``forward``'s), which side of it each of its inputs was on: boolean arrays."""
        return [op.kink_sides() for op in (self._logit_ops if logits else self.ops) if op.kinked]

    def describe(self):
        """The summary's ``type``, e.g. "dense + batchnorm"."""
        raise NotImplementedError

    def summary_row(self):
        """The layer's line of ``nntrain summary``: its type, output shape, activation, dropout and counts."""
        trainable, fixed = self.count()
        norms = [op for op in self.ops if op.batch_statistics]
        return {
            "type": self.describe(),
            "output_shape": [None, self.units],
            "activation": self.activation.name,
            "keep_prob": self.keep_prob,
            "weights": sum(op.params["W"].size for op in self._kernels),
            "biases": sum(op.params["b"].size for op in self._kernels),
            "batchnorm_trainable": sum(a.size for op in norms for a in op.params.values()),
            "batchnorm_non_trainable": sum(a.size for op in norms for a in op.state.values()),
            "trainable_params": trainable,
            "non_trainable_params": fixed,
            "params": trainable + fixed,
        }


class DenseLayer(Layer):
    """a = Dropout(act(BN(x W^T + b))): the ops ``Dense -> [BatchNorm] -> Activation -> [Dropout]``.

    Arrays: ``W`` (units, inputs), ``b`` (units,); with batch norm ``gamma``, ``beta`` (trained) and
    ``running_mean``, ``running_var`` (units,).
    """

    def __init__(self, dense, activation, batchnorm=None, dropout=None):
        ops = [op for op in (dense, batchnorm, activation, dropout) if op is not None]
        units, inputs = dense.params["W"].shape
        super().__init__(ops, [("", op) for op in ops], inputs, units, kernels=[dense], activation=activation)
        self.batchnorm, self.dropout = batchnorm, dropout
        self.output_activation = activation.name
        self.keep_prob = dropout.keep_prob if dropout else 1.0
        self._logit_ops = ops[: ops.index(activation)]

    @classmethod
    def build(cls, spec, inputs, rng, dtype, input_grad, error):
        """The layer of a ``dense`` section; hand-set weights are checked against (units, inputs)."""
        shape = (spec.units, inputs)
        if spec.weights is None:
            W = initialize(spec.init.name, shape, spec.init.scale, rng, dtype)
            b = np.zeros(spec.units, dtype)
        else:
            W, b = _hand_set(spec, shape, dtype, error)
        return cls(
            Dense(W, b, l1=spec.l1, l2=spec.l2, input_grad=input_grad),
            Activation(spec.activation),
            BatchNorm(spec.units, dtype) if spec.batchnorm else None,
            Dropout(spec.keep_prob, rng) if spec.keep_prob < 1.0 else None,
        )

    @staticmethod
    def count_for(spec, inputs):
        norm = 2 * spec.units if spec.batchnorm else 0
        return spec.units * (inputs + 1) + norm, norm

    @staticmethod
    def input_width(spec, arrays=None):
        if arrays is not None:
            W = arrays.get("W")
            return W.shape[1] if W is not None and W.ndim == 2 else None
        if spec.weights is None:
            return None
        return len(spec.weights.W[0]) if spec.weights.W else 0

    def describe(self):
        return " + ".join(["dense"] + ["batchnorm"] * bool(self.batchnorm) + ["dropout"] * bool(self.dropout))


def _hand_set(spec, shape, dtype, error):
    """W and b of a section's hand-set ``weights``, checked against ``shape``: (units, inputs)."""
    try:
        W = np.array(spec.weights.W, dtype=dtype)
    except ValueError:
        raise error(("weights", "W"), f"rows of different lengths; expected a {shape[0]} x {shape[1]} matrix") from None
    if W.shape != shape:
        raise error(("weights", "W"), f"expected shape {shape} (units, inputs), got {W.shape}")
    if spec.weights.b is None:
        return W, np.zeros(spec.units, dtype)
    b = np.array(spec.weights.b, dtype=dtype)
    if b.shape != (spec.units,):
        raise error(("weights", "b"), f"expected {spec.units} biases (one per unit), got {b.shape[0]}")
    return W, b


class ResidualBlock(Layer):
    """y = x + out(Dropout(act(hidden(BN(x))))): a pre-activation residual block for tabular MLPs, as
    in Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data".

    BN is there with ``batchnorm``, ``hidden`` (a Dense to the inner width) when the section sets
    it, Dropout when keep_prob < 1; ``out`` is a Dense back to the block's width, which the skip
    connection keeps: units = inputs. Arrays: ``norm.gamma``, ``norm.beta``, ``norm.running_mean``,
    ``norm.running_var`` (inputs,); ``hidden.W`` (hidden, inputs), ``hidden.b`` (hidden,); ``out.W``
    (units, hidden or inputs), ``out.b`` (units,).

    x itself is never written to: the previous layer's backward and the skip connection need it.
    """

    def __init__(self, out, activation, norm=None, hidden=None, dropout=None, input_grad=True):
        ops = [op for op in (norm, hidden, activation, dropout, out) if op is not None]
        named = [(prefix, op) for prefix, op in (("norm.", norm), ("hidden.", hidden), ("out.", out)) if op is not None]
        units = out.params["W"].shape[0]
        kernels = [op for op in (hidden, out) if op is not None]
        super().__init__(ops, named, units, units, kernels=kernels, activation=activation)
        self.norm, self.hidden, self.dropout = norm, hidden, dropout
        self.keep_prob = dropout.keep_prob if dropout else 1.0
        self.input_grad = input_grad
        self._reversed = ops[::-1]

    @classmethod
    def build(cls, spec, inputs, rng, dtype, input_grad, error):
        """The block of a ``residual`` section; its units must equal its input width."""
        if spec.units != inputs:
            raise error(("units",), f"a residual block keeps its input's width: {inputs} inputs, {spec.units} units")

        def dense(units, width, grad):
            W = initialize(spec.init.name, (units, width), spec.init.scale, rng, dtype)
            return Dense(W, np.zeros(units, dtype), l1=spec.l1, l2=spec.l2, input_grad=grad)

        norm = BatchNorm(inputs, dtype) if spec.batchnorm else None
        # The first layer's block needs no gradient of x, but its batch norm needs hidden's.
        hidden = dense(spec.hidden, inputs, input_grad or norm is not None) if spec.hidden else None
        # Without BN and hidden, the activation's input is x itself: it must not compute in place.
        activation = Activation(spec.activation, in_place=norm is not None or hidden is not None)
        dropout = Dropout(spec.keep_prob, rng) if spec.keep_prob < 1.0 else None
        out = dense(spec.units, spec.hidden or inputs, True)
        return cls(out, activation, norm, hidden, dropout, input_grad)

    @staticmethod
    def count_for(spec, inputs):
        norm = 2 * inputs if spec.batchnorm else 0
        hidden = spec.hidden * (inputs + 1) if spec.hidden else 0
        return norm + hidden + spec.units * ((spec.hidden or inputs) + 1), norm

    @staticmethod
    def input_width(spec, arrays=None):
        return spec.units

    def forward(self, x, training, logits=False):
        # logits: the block's output is linear, there is no output activation to stop before.
        h = x
        for op in self.ops:
            h = op.forward(h, training)
        h += x  # h is out's output buffer, which nothing else reads
        return h

    def backward(self, grad, logits=False):
        g = grad  # out's backward only reads grad, which so stays the skip connection's gradient
        for op in self._reversed:
            g = op.backward(g)
        if not self.input_grad:
            return None
        g += grad
        return g

    def describe(self):
        parts = ["residual"] + ["batchnorm"] * bool(self.norm)
        if self.hidden:
            parts.append(f"hidden {self.hidden.params['W'].shape[0]}")
        return " + ".join(parts + ["dropout"] * bool(self.dropout))


# type (the config's ``model.layers[i].type``) -> the layer type
LAYERS = {"dense": DenseLayer, "residual": ResidualBlock}
