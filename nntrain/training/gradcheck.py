"""The gradient check of a config's network: what ``nntrain gradcheck`` runs.

The configured network is built in float64 with the initial weights ``nntrain fit`` would start from,
and checked by ``nntrain.nn.gradcheck.check_gradients`` on the first rows of the config's training data.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..nn.gradcheck import check_gradients
from .trainer import prepare


@dataclass
class ConfigCheck:
    """``check_config``'s result: the tensors' checks and what they were computed on."""

    tensors: list  # of TensorCheck
    rows: int  # examples in the batch

    @property
    def worst(self):
        return max(self.tensors, key=lambda c: c.error)


def check_config(config, rows=None, max_entries=None):
    """Check the gradients of the network ``config`` (an ExperimentConfig) describes, in float64.

    The data, the initial weights and the dropout masks are those a float64 run of the config would
    draw (same seed, same order). The batch is the first ``rows`` training examples (default: one
    batch of ``data.batch_size``), weighted as training weighs them. ``max_entries`` per tensor as in ``check_gradients``, drawn from
    the run's generator after the weights.
    """
    config = config.model_copy(update={"dtype": "float64"})
    rng, data, trainer = prepare(config)
    n = min(len(data.train), rows or config.data.batch_size)
    if n < 2 and trainer.model.needs_batch_statistics:
        raise ConfigError(f"a gradient check of batch norm needs at least 2 examples; got {n}")
    x = np.asarray(data.train.x[:n], dtype=np.float64)
    y, w = data.train.y[:n], data.train.w
    checks = check_gradients(trainer.model, trainer.loss, x, y, max_entries, rng, weight=None if w is None else w[:n])
    return ConfigCheck(checks, rows=n)
