"""The layer types of ``model.layers``: one config section each, told apart by ``type``.

A config section per layer type, registered in ``LAYER_CONFIGS`` under the name of its layer type in
``nntrain.nn.layers.LAYERS``, which builds the layer from it. ``type`` defaults to ``dense``: a layer
without it is a dense layer, as every config before residual blocks was.
"""

from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, PositiveFloat, field_validator

from ..nn.activations import ACTIVATIONS
from ..nn.initializers import INITIALIZERS
from ..nn.model import MAX_UNITS
from .section import Section, inconsistent

ActivationName = Literal[tuple(ACTIVATIONS)]
InitName = Literal[tuple(INITIALIZERS)]

# Fields several layer types share.
Units = Annotated[int, Field(gt=0, le=MAX_UNITS, description="number of outputs")]
L1 = Annotated[float | None, Field(None, ge=0, description="kernel penalty l1 * sum|W| added to the loss; default model.l1")]
L2 = Annotated[float | None, Field(None, ge=0, description="kernel penalty l2 * sum W^2 added to the loss; default model.l2")]
ACTIVATION_HELP = "see nntrain.nn.activations; leaky_relu: slope 0.01, gelu: tanh approximation"
INIT_HELP = "how the weights start: an initializer's name, or {name: normal, scale: 0.01}"


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


class LayerSection(Section):
    """What every layer section has besides its fields: ``init`` may be a bare initializer name."""

    @field_validator("init", mode="before", check_fields=False, json_schema_input_type=InitName | InitConfig)
    @classmethod
    def _bare_init_name(cls, value):
        return {"name": value} if isinstance(value, str) else value

    @property
    def hand_set(self):
        """Whether the config gives the layer's initial weights."""
        return False

    @property
    def drops_outputs(self):
        """Whether training drops some of the layer's outputs (which the output layer must not)."""
        return False

    @property
    def output_activation(self):
        """The activation the layer's outputs come out of, as the model's ``output_activation``."""
        return "linear"


class DenseConfig(LayerSection):
    """One dense layer: f(x) = activation(W x + b), optionally batch-normalised and dropped out."""

    units: Units
    activation: ActivationName = Field("relu", description=ACTIVATION_HELP)
    init: InitConfig = Field(default_factory=InitConfig, description=INIT_HELP)
    weights: HandSetWeights | None = Field(None, description="hand-set initial weights")
    l1: L1
    l2: L2
    keep_prob: float = Field(1.0, gt=0, le=1, description="inverted dropout on the outputs; 1 = none")
    batchnorm: bool = Field(False, description="batch-normalise the pre-activations (momentum 0.1, eps 1e-5)")
    # The default type is not written into a resolved config: its config.yaml stays as it was.
    type: Literal["dense"] = Field("dense", exclude=True, description="the layer type")

    @property
    def hand_set(self):
        return self.weights is not None

    @property
    def drops_outputs(self):
        return self.keep_prob != 1.0

    @property
    def output_activation(self):
        return self.activation


class ResidualConfig(LayerSection):
    """A pre-activation residual block (Gorishniy et al. 2021): y = x + Dense(Dropout(act(Dense_hidden(BN(x))))).

    BN with ``batchnorm``, the inner Dense (to ``hidden`` units) only when ``hidden`` is set, dropout
    when keep_prob < 1. The block keeps its input's width: ``units`` must equal it.
    """

    type: Literal["residual"]
    units: Units
    hidden: int | None = Field(None, gt=0, le=MAX_UNITS, description="inner width; default: no inner Dense")
    activation: ActivationName = Field("relu", description=ACTIVATION_HELP)
    init: InitConfig = Field(default_factory=InitConfig, description=INIT_HELP)
    l1: L1
    l2: L2
    keep_prob: float = Field(1.0, gt=0, le=1, description="inverted dropout on the activations; 1 = none")
    batchnorm: bool = Field(True, description="batch-normalise the block's input (momentum 0.1, eps 1e-5)")


# type -> the section of that layer type
LAYER_CONFIGS = {"dense": DenseConfig, "residual": ResidualConfig}


def _typed(value):
    """A layer mapping with its ``type`` (default: dense), checked against the registry."""
    if isinstance(value, LayerSection):
        return value
    if not isinstance(value, dict):
        kind = {str: "a string", list: "a list", type(None): "nothing"}.get(type(value), type(value).__name__)
        raise inconsistent((), f"expected a layer, a mapping such as {{units: 4, activation: relu}}; got {kind}")
    kind = value.get("type", "dense")
    if not isinstance(kind, str) or kind not in LAYER_CONFIGS:
        raise inconsistent(("type",), f"unknown layer type {kind!r}; expected one of: {', '.join(LAYER_CONFIGS)}")
    return value if "type" in value else {**value, "type": kind}


# One entry of model.layers: the section its ``type`` names.
# The JSON Schema's: any of the sections, not told apart by a discriminator, which `type` (optional) cannot be.
LayerSpec = Annotated[
    Union[tuple(LAYER_CONFIGS.values())],  # noqa: UP007 (from the registry)
    Field(discriminator="type"),
    BeforeValidator(_typed, json_schema_input_type=Union[tuple(LAYER_CONFIGS.values())]),  # noqa: UP007
]
