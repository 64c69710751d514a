"""A network's layers and parameter counts, like Keras' ``model.summary()``: what ``nntrain summary`` shows.

The counts come from the built network's arrays (nntrain.nn.model), so they are what training
allocates: per config layer the dense weights W (units x inputs) and biases b (units), batch
normalisation's trainable gamma and beta and its non-trainable running mean and variance. As in
Keras, the total counts both kinds.
"""

from pathlib import Path

import numpy as np

from ..errors import ConfigError


def model_summary(source):
    """The layer table of a run directory or a YAML config, as a JSON-able dict.

    Keys: ``source``, ``name`` (the config's), ``inputs`` (features), ``dtype``, ``layers`` (one
    record per config layer: ``index``, ``type`` ("dense", "dense + batchnorm", ...),
    ``output_shape`` ([None, units]: any batch size), ``activation``, ``keep_prob``, ``weights``,
    ``biases``, ``batchnorm_trainable``, ``batchnorm_non_trainable``, ``trainable_params``,
    ``non_trainable_params``, ``params``), ``trainable_params``, ``non_trainable_params``,
    ``total_params`` and ``size_bytes`` (all parameters in the config's dtype).

    A config without ``model.inputs`` or hand-set weights takes the input width from its data.
    """
    config, model = _load(source)
    layers = []
    inputs = model.layers[0][0].params["W"].shape[1]
    for index, ops in enumerate(model.layers):
        kinds = {type(op).__name__.lower(): op for op in ops}
        dense, batchnorm, dropout = kinds["dense"], kinds.get("batchnorm"), kinds.get("dropout")
        units = dense.params["W"].shape[0]
        bn_trainable = sum(a.size for a in batchnorm.params.values()) if batchnorm else 0
        bn_fixed = sum(a.size for a in batchnorm.state.values()) if batchnorm else 0
        trainable = sum(a.size for op in ops for a in op.params.values())
        fixed = sum(a.size for op in ops for a in op.state.values())
        layers.append(
            {
                "index": index,
                "type": " + ".join(kind for kind in kinds if kind != "activation"),
                "output_shape": [None, units],
                "activation": kinds["activation"].name,
                "keep_prob": dropout.keep_prob if dropout else 1.0,
                "weights": dense.params["W"].size,
                "biases": dense.params["b"].size,
                "batchnorm_trainable": bn_trainable,
                "batchnorm_non_trainable": bn_fixed,
                "trainable_params": trainable,
                "non_trainable_params": fixed,
                "params": trainable + fixed,
            }
        )
    trainable = sum(layer["trainable_params"] for layer in layers)
    fixed = sum(layer["non_trainable_params"] for layer in layers)
    return {
        "source": str(source),
        "name": config.name,
        "inputs": int(inputs),
        "dtype": config.dtype,
        "layers": layers,
        "trainable_params": trainable,
        "non_trainable_params": fixed,
        "total_params": trainable + fixed,
        "size_bytes": (trainable + fixed) * np.dtype(config.dtype).itemsize,
    }


def _load(source):
    """(config, model): a run's trained network, or a config's network as initialised."""
    from ..config import load_config
    from .inference import load_model
    from ..nn.model import build_model

    path = Path(source)
    if path.is_dir():
        return load_model(path)
    if not path.exists():
        raise ConfigError(f"{source}: no such run directory or config file")
    config = load_config(path)
    rng = np.random.default_rng(config.seed)
    return config, build_model(config, _inputs(config, rng), rng)


def _inputs(config, rng):
    if config.model.inputs is not None:
        return config.model.inputs
    first = config.model.layers[0].weights
    if first is not None and first.W:
        return len(first.W[0])
    from ..data.prepare import load_data

    return load_data(config, rng).n_features


def size_text(n_bytes):
    """Bytes as Keras prints them: 68.00 B, 1.00 KB, 978.52 KB, 1.91 MB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
