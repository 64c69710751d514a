"""A network's layers and parameter counts, like Keras' ``model.summary()``: what ``nntrain summary`` shows.

The rows and counts come from the built network's layers (``nntrain.nn.layers``: each layer type
says its own row), so they are what training allocates: per config layer its weights (W) and
biases (b), batch normalisation's trainable gamma and beta and its non-trainable running mean and
variance. As in Keras, the total counts both kinds.
"""

from pathlib import Path

import numpy as np

from ..errors import ConfigError, UsageError
from ..data.columns import inputs_of


def model_summary(source, overrides=()):
    """The layer table of a run directory or a YAML config (with ``overrides``: ``KEY=VALUE``
    strings, as ``--set`` gives them; a run is summarised as it is), as a JSON-able dict.

    Keys: ``source``, ``name`` (the config's), ``inputs`` (features), ``dtype``, ``layers`` (one
    record per config layer: ``index``, ``type`` ("dense", "dense + batchnorm", "residual +
    batchnorm + hidden 32", ...), ``output_shape`` ([None, units]: any batch size), ``activation``,
    ``keep_prob``, ``weights``, ``biases``, ``batchnorm_trainable``, ``batchnorm_non_trainable``,
    ``trainable_params``, ``non_trainable_params``, ``params``), ``trainable_params``,
    ``non_trainable_params``, ``total_params`` and ``size_bytes`` (all parameters in the config's dtype),
    and for a table ``inputs_from``: how its columns make the inputs ("9 inputs from 6 columns: ...").

    A config that does not say its input width (``model.inputs``, a dense first layer's hand-set
    weights, a residual first layer's units) takes it from its data, as does a table's.
    """
    config, model, meta = _load(source, overrides)
    trainable, fixed = model.count_params()
    return {
        "source": str(source),
        "name": config.name,
        **inputs_of(model, meta),
        "dtype": config.dtype,
        "layers": [{"index": index, **layer.summary_row()} for index, layer in enumerate(model.layers)],
        "trainable_params": trainable,
        "non_trainable_params": fixed,
        "total_params": trainable + fixed,
        "size_bytes": (trainable + fixed) * np.dtype(config.dtype).itemsize,
    }


def _load(source, overrides=()):
    """(config, model, data.json's record): a run's trained network, or a config's network as initialised."""
    from ..config import TABLE_SOURCES, load_config
    from ..nn.model import build_model, input_width
    from .inference import load_model, read_data_meta

    path = Path(source)
    if path.is_dir():
        if overrides:
            raise UsageError(f"--set changes a config; {source} is a run, summarised as it was trained")
        return (*load_model(path), read_data_meta(path))
    if not path.exists():
        raise ConfigError(f"{source}: no such run directory or config file")
    config = load_config(path, overrides)
    rng = np.random.default_rng(config.seed)
    inputs, meta = input_width(config), {}
    if inputs is None or config.data.source in TABLE_SOURCES:
        from ..data.prepare import load_data

        data = load_data(config, rng)
        inputs, meta = input_width(config, data.n_features), data.meta
    return config, build_model(config, inputs, rng), meta


def size_text(n_bytes):
    """Bytes as Keras prints them: 68.00 B, 1.00 KB, 978.52 KB, 1.91 MB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
