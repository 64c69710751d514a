"""The network: a sequential stack of layers (``nntrain.nn.layers``), built from the config.

Layer ``i`` of the config is built by its type (``LAYERS[spec.type]``); its arrays are named
``layers.<i>.<name>``, the names used in ``weights.npz`` (a dense layer: ``W``, ``b``, ``gamma``,
``beta``, ``running_mean``, ``running_var``). With a loss computed from logits (sigmoid + binary
cross-entropy, softmax + categorical cross-entropy), training runs the net up to the logits
(``logits=True``) and the loss owns the output activation's derivative.

All trainable parameters live in one contiguous 1-D array, ``flat_params``, and their gradients in
another, ``flat_grads``; each op's ``params`` and ``grads`` are views into them. An elementwise
optimizer (SGD, Adam, ...) can so update the whole network with one handful of array operations
instead of one handful per array -- on a small network that is most of a step's time.
"""

import numpy as np

from .layers import LAYERS

# Largest layer and network nntrain will allocate: a typo such as 10**11 units is an error, not an
# out-of-memory crash.
MAX_UNITS = 1_000_000
MAX_PARAMETERS = 500_000_000


class Sequential:
    """``layers``: Layer objects (``nntrain.nn.layers``), applied in order."""

    def __init__(self, layers):
        self.layers = layers
        self.ops = [op for layer in layers for op in layer.ops]
        # (name, op, key) of every trainable array, in a fixed order (the optimizer's state follows it).
        self.param_slots = [
            (f"layers.{i}.{name}", op, key) for i, layer in enumerate(layers) for name, op, key in layer.slots()
        ]
        self.flat_params, self.flat_grads = _share_one_buffer(self.param_slots)
        self.params = [op.params[key] for _, op, key in self.param_slots]
        self.grads = [op.grads[key] for _, op, key in self.param_slots]
        self.param_names = [name for name, _, _ in self.param_slots]
        self._penalised = [op for op in self.ops if op.penalised]
        self._hidden, self._last = layers[:-1], layers[-1]
        self._hidden_reversed = self._hidden[::-1]

    @property
    def inputs(self):
        """Width of the rows the network takes."""
        return self.layers[0].inputs

    @property
    def outputs(self):
        """Width of the network's output: the last layer's units."""
        return self._last.units

    @property
    def output_activation(self):
        return self._last.output_activation

    @property
    def needs_batch_statistics(self):
        """Whether training needs batches of at least 2 examples (batch norm)."""
        return any(layer.needs_batch_statistics for layer in self.layers)

    def forward(self, x, training=False, logits=False):
        """The network's output for rows x: (batch, inputs); up to the last layer's logits if asked."""
        for layer in self._hidden:
            x = layer.forward(x, training)
        return self._last.forward(x, training, logits)

    def backward(self, grad, logits=False):
        """Back-propagate dLoss/d(output) (or d(logits)) of the last training forward; fills ``grads``."""
        grad = self._last.backward(grad, logits)
        for layer in self._hidden_reversed:
            grad = layer.backward(grad)

    def predict(self, x, batch_size=None):
        """Output activations for rows x, in inference mode (no dropout, running batch-norm statistics);
        with ``batch_size``, that many rows at a time (x may then be any sliceable rows, e.g. ``Rows``)."""
        if batch_size is None:
            return self.forward(np.asarray(x, self.dtype)).copy()
        return np.concatenate([self.predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])

    def trace(self, x):
        """Every layer's output activations for rows x (inference mode): a list, one (batch, units) per layer."""
        out = []
        x = np.asarray(x, self.dtype)
        for layer in self.layers:
            x = layer.forward(x, False)
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

    def kink_sides(self, logits=False):
        """Which side of its kink at 0 each input of every kinked activation was on in the last training
        forward (``logits`` as there): a list of boolean arrays."""
        last = len(self.layers) - 1
        return [side for i, layer in enumerate(self.layers) for side in layer.kink_sides(logits and i == last)]

    def kinked_at_zero(self):
        """Per trainable array (in ``params`` order): whether the loss has a kink where an entry is 0 (L1)."""
        return [op.kinked_at_zero(key) for _, op, key in self.param_slots]

    def freeze(self, frozen=True):
        """Hold (or release) the dropout masks: the network is then a fixed function, for gradient checks."""
        for op in self.ops:
            op.freeze(frozen)

    def state_dict(self):
        """All arrays to save, by name: trainable parameters and non-trained state (running statistics)."""
        return {f"layers.{i}.{name}": a for i, layer in enumerate(self.layers) for name, a in layer.arrays().items()}

    def load_state_dict(self, arrays):
        """Copy arrays by name into the model; returns a problem description or None if all fit."""
        own = self.state_dict()
        problem = arrays_problem(arrays, {k: v.shape for k, v in own.items()}, wanted="the config needs")
        if problem:
            return problem
        for key, target in own.items():
            target[...] = arrays[key]
        return None

    def count_params(self):
        """(trainable, non-trainable) parameter counts: the layers' own."""
        counts = [layer.count() for layer in self.layers]
        return sum(t for t, _ in counts), sum(n for _, n in counts)


def _share_one_buffer(slots):
    """Move the ops' parameters (values copied) and gradients into two new 1-D arrays; rebind each op's
    ``params[key]`` and ``grads[key]`` to its (shape-preserving, contiguous) view. Returns both arrays."""
    arrays = [op.params[key] for _, op, key in slots]
    dtype = np.result_type(*arrays) if arrays else np.float64
    sizes = [a.size for a in arrays]
    flat_params = np.empty(sum(sizes), dtype)
    flat_grads = np.zeros(sum(sizes), dtype)
    start = 0
    for (_, op, key), array, size in zip(slots, arrays, sizes):
        stop = start + size
        op.params[key] = flat_params[start:stop].reshape(array.shape)
        op.params[key][...] = array
        op.grads[key] = flat_grads[start:stop].reshape(array.shape)
        start = stop
    return flat_params, flat_grads


def count_params(layer_configs, inputs):
    """Trainable parameters of the configured layers for rows of ``inputs`` features, before anything
    is allocated: the layer types' own counts."""
    total = 0
    for spec in layer_configs:
        total += LAYERS[spec.type].count_for(spec, inputs)[0]
        inputs = spec.units
    return total


def input_width(config, n_features=None, arrays=None):
    """The width of the rows the network of ``config`` (an ExperimentConfig) takes.

    With the data's ``n_features``: that, which ``model.inputs`` must equal (else a ConfigError).
    With a run's saved ``arrays`` (weights.npz by name): what its first layer's arrays say. Else
    ``model.inputs``, or what the first layer's section implies (hand-set weights, a residual block's
    units). None when only the data can tell.
    """
    declared, first = config.model.inputs, config.model.layers[0]
    if n_features is not None:
        if declared is not None and declared != n_features:
            raise config.error(("model", "inputs"), f"the data has {n_features} features, not {declared}")
        return n_features
    if arrays is not None:
        own = {k.removeprefix("layers.0."): v for k, v in arrays.items() if k.startswith("layers.0.")}
        return LAYERS[first.type].input_width(first, own)
    if declared is not None:
        return declared
    return LAYERS[first.type].input_width(first)


def build_model(config, inputs, rng):
    """The network of ``config`` (an ExperimentConfig) for ``inputs`` features, initialised from ``rng``.

    A layer that does not fit its input (hand-set weights of the wrong shape, a residual block of
    another width) is a ConfigError naming the field.
    """
    dtype = np.dtype(config.dtype)
    n_params = count_params(config.model.layers, inputs)
    if n_params > MAX_PARAMETERS:
        raise config.error(
            ("model", "layers"), f"the network would have {n_params:,} parameters; the limit is {MAX_PARAMETERS:,}"
        )
    layers = []
    for i, spec in enumerate(config.model.layers):
        error = _layer_error(config, i)
        layers.append(LAYERS[spec.type].build(spec, inputs, rng, dtype, input_grad=i > 0, error=error))
        inputs = layers[-1].units
    return Sequential(layers)


def _layer_error(config, i):
    """error(fields, message): a ConfigError about ``model.layers.<i>.<fields>``."""
    return lambda fields, message: config.error(("model", "layers", i, *fields), message)


def arrays_problem(arrays, shapes, wanted="expected"):
    """Whether ``arrays`` are exactly the arrays named in ``shapes`` ({name: shape}), with those shapes:
    a description of the first difference, or None. ``wanted`` introduces the shape that was due."""
    missing = [k for k in shapes if k not in arrays]
    if missing:
        return f"missing {', '.join(missing)}"
    unexpected = [k for k in arrays if k not in shapes]
    if unexpected:
        return f"unexpected {', '.join(unexpected)}"
    for key, shape in shapes.items():
        if arrays[key].shape != tuple(shape):
            return f"{key} has shape {arrays[key].shape}, {wanted} {tuple(shape)}"
    return None
