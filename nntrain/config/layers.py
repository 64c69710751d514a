"""The layer types of ``model.layers``: one config section each, told apart by ``type``.

A config section per layer type, registered in ``LAYER_CONFIGS``; its fields are the keyword
arguments of the layer's constructor in ``nntrain.nn.layers``.
"""

from typing import Literal

from pydantic import Field, PositiveFloat, field_validator

from ..nn.activations import ACTIVATIONS
from ..nn.initializers import INITIALIZERS
from ..nn.model import MAX_UNITS
from .section import Section

ActivationName = Literal[tuple(ACTIVATIONS)]
InitName = Literal[tuple(INITIALIZERS)]


class InitConfig(Section):
    """How a layer's weights start; a bare name (``init: he_normal``) is accepted too."""

    name: InitName = Field("xavier_uniform", description="initializer, see nntrain.nn.initializers")
    scale: PositiveFloat | None = Field(
        None,
        description="normal: the standard deviation (default 0.01); the variance-scaling initializers: "
        "the variance multiplier (default 1, he_*: 2)",
    )


class HandSetWeights(Section):
    """Initial weights given in the config: ``W`` of shape (units, inputs), ``b`` of length units."""

    W: list[list[float]]
    b: list[float] | None = Field(None, description="biases; zeros when omitted")


class LayerConfig(Section):
    """One dense layer: f(x) = activation(W x + b), optionally batch-normalised and dropped out."""

    units: int = Field(gt=0, le=MAX_UNITS, description="number of outputs")
    activation: ActivationName = "relu"
    init: InitConfig = Field(default_factory=InitConfig)
    weights: HandSetWeights | None = Field(None, description="hand-set initial weights")
    l1: float | None = Field(None, ge=0, description="kernel penalty l1 * sum|W| added to the loss; default model.l1")
    l2: float | None = Field(None, ge=0, description="kernel penalty l2 * sum W^2 added to the loss; default model.l2")
    keep_prob: float = Field(1.0, gt=0, le=1, description="inverted dropout on the outputs; 1 = none")
    batchnorm: bool = Field(False, description="batch-normalise the pre-activations (momentum 0.1, eps 1e-5)")

    @field_validator("init", mode="before")
    @classmethod
    def _bare_init_name(cls, value):
        return {"name": value} if isinstance(value, str) else value


# type -> the section of that layer type
LAYER_CONFIGS = {"dense": LayerConfig}
