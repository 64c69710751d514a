"""Weight initializers: W of shape (units, inputs), drawn from the run's generator.

All but ``zeros`` and ``normal`` are one rule, Keras' variance scaling: draw with variance
``scale / fan`` where fan is the layer's inputs (``fan_in``) or the mean of inputs and units
(``fan_avg``), from a normal distribution or a uniform one of the same variance. The named variants
fix mode, distribution and the default scale. ``normal`` is the lecture's ``randn(n1, n0) * scale``
with scale (the standard deviation) 0.01 unless set. Biases always start at zero.

To add an initializer: add a ``VarianceScaling`` entry or a function ``(shape, scale, rng) -> array``
to ``INITIALIZERS``.
"""

import math

import numpy as np


def zeros(shape, scale, rng):
    """All weights 0 -- the lecture's counter-example: every hidden unit stays the same."""
    return np.zeros(shape)


def normal(shape, scale, rng):
    """N(0, scale^2), scale 0.01 by default: ``np.random.randn(n1, n0) * 0.01``."""
    return rng.standard_normal(shape) * (0.01 if scale is None else scale)


class VarianceScaling:
    """Variance ``scale / fan``; mode ``fan_in`` or ``fan_avg``; distribution ``normal`` or ``uniform``."""

    def __init__(self, mode, distribution, default_scale):
        self.mode = mode
        self.distribution = distribution
        self.default_scale = default_scale

    def __call__(self, shape, scale, rng):
        units, inputs = shape
        fan = inputs if self.mode == "fan_in" else (inputs + units) / 2
        variance = (self.default_scale if scale is None else scale) / fan
        if self.distribution == "normal":
            return rng.standard_normal(shape) * math.sqrt(variance)
        limit = math.sqrt(3.0 * variance)  # U(-l, l) has variance l^2 / 3
        return rng.uniform(-limit, limit, shape)


INITIALIZERS = {
    "zeros": zeros,
    "normal": normal,
    "lecun_normal": VarianceScaling("fan_in", "normal", 1.0),
    "lecun_uniform": VarianceScaling("fan_in", "uniform", 1.0),
    "xavier_normal": VarianceScaling("fan_avg", "normal", 1.0),
    "xavier_uniform": VarianceScaling("fan_avg", "uniform", 1.0),
    "he_normal": VarianceScaling("fan_in", "normal", 2.0),
    "he_uniform": VarianceScaling("fan_in", "uniform", 2.0),
}


def initialize(name, shape, scale, rng, dtype):
    """Weights for a layer: ``INITIALIZERS[name]`` drawn in float64 (same draws for every dtype), cast."""
    return INITIALIZERS[name](shape, scale, rng).astype(dtype)
