"""The network: a sequential stack of layers, each a short chain of ops, built from the config.

Layer ``i`` of the config becomes ``Dense -> [BatchNorm] -> Activation -> [Dropout]``. Its arrays are
named ``layers.<i>.<name>`` (``W``, ``b``, ``gamma``, ``beta``, ``running_mean``, ``running_var``), the
names used in ``weights.npz``. With a loss computed from logits (sigmoid + binary cross-entropy,
softmax + categorical cross-entropy), training runs the net up to the logits (``logits=True``) and
the loss owns the output activation's derivative.

All trainable parameters live in one contiguous 1-D array, ``flat_params``, and their gradients in
another, ``flat_grads``; each op's ``params`` and ``grads`` are views into them. An elementwise
optimizer (SGD, Adam, ...) can so update the whole network with one handful of array operations
instead of one handful per array -- on a small network that is most of a step's time.
"""

import numpy as np

from .initializers import initialize
from .layers import Activation, BatchNorm, Dense, Dropout

# Largest layer and network nntrain will allocate: a typo such as 10**11 units is an error, not an
# out-of-memory crash.
MAX_UNITS = 1_000_000
MAX_PARAMETERS = 500_000_000


class Sequential:
    """``layers``: one list of ops per config layer, applied in order."""

    def __init__(self, layers):
        self.layers = layers
        self.ops = [op for layer in layers for op in layer]
        self._logit_ops = self.ops[:-1]
        self._named = [
            (f"layers.{i}.{name}", op, name) for i, layer in enumerate(layers) for op in layer for name in op.params
        ]
        self.flat_params, self.flat_grads = _share_one_buffer(self._named)
        # Trainable parameters and their gradients, in a fixed order (the optimizer's state follows it).
        self.params = [op.params[name] for _, op, name in self._named]
        self.grads = [op.grads[name] for _, op, name in self._named]
        self.param_names = [key for key, _, _ in self._named]
        self._penalised = [op for op in self.ops if isinstance(op, Dense) and (op.l1 or op.l2)]

    @property
    def inputs(self):
        """Width of the rows the network takes."""
        return self.ops[0].params["W"].shape[1]

    @property
    def outputs(self):
        """Width of the network's output: the last layer's units."""
        return next(op for op in reversed(self.ops) if "W" in op.params).params["W"].shape[0]

    @property
    def output_activation(self):
        return self.ops[-1].name

    def forward(self, x, training=False, logits=False):
        """The network's output for rows x: (batch, inputs); up to the last layer's logits if asked."""
        for op in self._logit_ops if logits else self.ops:
            x = op.forward(x, training)
        return x

    def backward(self, grad, logits=False):
        """Back-propagate dLoss/d(output) (or d(logits)) of the last training forward; fills ``grads``."""
        for op in reversed(self._logit_ops if logits else self.ops):
            grad = op.backward(grad)

    def predict(self, x):
        """Output activations for rows x, in inference mode (no dropout, running batch-norm statistics)."""
        return self.forward(np.asarray(x, self.dtype)).copy()

    def trace(self, x):
        """Every layer's output activations for rows x (inference mode): a list, one (batch, units) per layer."""
        out = []
        x = np.asarray(x, self.dtype)
        for layer in self.layers:
            for op in layer:
                x = op.forward(x, False)
            out.append(x.copy())
        return out

    @property
    def dtype(self):
        return self.params[0].dtype

    def penalty(self):
        """The L1/L2 kernel penalties' contribution to the loss."""
        return sum(op.penalty() for op in self._penalised)

    @property
    def has_penalty(self):
        return bool(self._penalised)

    def state_dict(self):
        """All arrays to save, by name: trainable parameters and non-trained state (running statistics)."""
        out = {}
        for i, layer in enumerate(self.layers):
            for op in layer:
                for name, array in {**op.params, **op.state}.items():
                    out[f"layers.{i}.{name}"] = array
        return out

    def load_state_dict(self, arrays):
        """Copy arrays by name into the model; returns a problem description or None if all fit."""
        own = self.state_dict()
        missing = [k for k in own if k not in arrays]
        if missing:
            return f"missing {', '.join(missing)}"
        unexpected = [k for k in arrays if k not in own]
        if unexpected:
            return f"unexpected {', '.join(unexpected)}"
        for key, target in own.items():
            if arrays[key].shape != target.shape:
                return f"{key} has shape {arrays[key].shape}, the config needs {target.shape}"
        for key, target in own.items():
            target[...] = arrays[key]
        return None

    def count_params(self):
        """(trainable, non-trainable) parameter counts."""
        trainable = sum(p.size for p in self.params)
        total = sum(a.size for a in self.state_dict().values())
        return trainable, total - trainable


def _share_one_buffer(named):
    """Move the ops' parameters (values copied) and gradients into two new 1-D arrays; rebind each op's
    ``params[name]`` and ``grads[name]`` to its (shape-preserving, contiguous) view. Returns both arrays."""
    arrays = [op.params[name] for _, op, name in named]
    dtype = np.result_type(*arrays) if arrays else np.float64
    sizes = [a.size for a in arrays]
    flat_params = np.empty(sum(sizes), dtype)
    flat_grads = np.zeros(sum(sizes), dtype)
    start = 0
    for (_, op, name), array, size in zip(named, arrays, sizes):
        stop = start + size
        op.params[name] = flat_params[start:stop].reshape(array.shape)
        op.params[name][...] = array
        op.grads[name] = flat_grads[start:stop].reshape(array.shape)
        start = stop
    return flat_params, flat_grads


def count_params(layer_configs, inputs):
    """Trainable parameters of the configured layers, before anything is allocated."""
    total = 0
    for layer in layer_configs:
        total += layer.units * (inputs + 1) + (2 * layer.units if layer.batchnorm else 0)
        inputs = layer.units
    return total


def build_model(config, inputs, rng):
    """The network of ``config`` (an ExperimentConfig) for ``inputs`` features, initialised from ``rng``.

    Hand-set weights are checked against the layer's shape (units, inputs); a ConfigError names the field.
    """
    dtype = np.dtype(config.dtype)
    n_params = count_params(config.model.layers, inputs)
    if n_params > MAX_PARAMETERS:
        raise config.error(
            ("model", "layers"), f"the network would have {n_params:,} parameters; the limit is {MAX_PARAMETERS:,}"
        )
    layers = []
    for i, spec in enumerate(config.model.layers):
        shape = (spec.units, inputs)
        if spec.weights is None:
            W = initialize(spec.init.name, shape, spec.init.scale, rng, dtype)
            b = np.zeros(spec.units, dtype)
        else:
            W, b = _hand_set(config, i, spec, shape, dtype)
        ops = [Dense(W, b, l1=spec.l1, l2=spec.l2, input_grad=i > 0)]
        if spec.batchnorm:
            ops.append(BatchNorm(spec.units, dtype))
        ops.append(Activation(spec.activation))
        if spec.keep_prob < 1.0:
            ops.append(Dropout(spec.keep_prob, rng))
        layers.append(ops)
        inputs = spec.units
    return Sequential(layers)


def _hand_set(config, i, spec, shape, dtype):
    loc = ("model", "layers", i, "weights")
    try:
        W = np.array(spec.weights.W, dtype=dtype)
    except ValueError:
        raise config.error(loc + ("W",), f"rows of different lengths; expected a {shape[0]} x {shape[1]} matrix") from None
    if W.shape != shape:
        raise config.error(
            loc + ("W",), f"expected shape {shape} (units, inputs), got {W.shape}"
        )
    if spec.weights.b is None:
        return W, np.zeros(spec.units, dtype)
    b = np.array(spec.weights.b, dtype=dtype)
    if b.shape != (spec.units,):
        raise config.error(loc + ("b",), f"expected {spec.units} biases (one per unit), got {b.shape[0]}")
    return W, b
