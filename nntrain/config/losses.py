"""The ``loss`` of a config: one section per registered loss, generated from its class, told apart by ``name``.

A loss's config keys are its constructor's arguments (``nntrain.nn.losses``, Keras style): their types
and defaults come from the constructor's signature, their bounds and descriptions from the class's
``arguments``, so a new loss needs no change here. ``loss: mse`` (a bare name) means ``{name: mse}``;
a loss without arguments is saved as its bare name, so every config reads and saves as it always did.
"""

from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, ConfigDict, Field, create_model, model_serializer
from pydantic_core import PydanticCustomError

from ..nn.losses import LOSSES, make_loss
from .section import Section


class LossSection(Section):
    """What every loss section has: its ``name`` (set by each generated section) and the loss it builds."""

    # `name` has a default (a section built in code knows its loss) but a config must say it: it picks the section.
    model_config = ConfigDict(json_schema_extra=lambda schema, cls: schema.update(required=["name"]))

    @model_serializer(mode="wrap")
    def _bare_name_without_arguments(self, handler):
        data = handler(self)
        return data["name"] if len(data) == 1 else data

    def arguments(self):
        """The loss's constructor arguments: every key but ``name``."""
        return {key: getattr(self, key) for key in type(self).model_fields if key != "name"}

    def build(self, output_activation):
        """The loss (an ``nntrain.nn.losses.Loss``) for a network whose last layer uses ``output_activation``."""
        return make_loss(self.name, output_activation, **self.arguments())

    def __str__(self):
        """The name, with the arguments if the loss has any: ``mse``, ``name(key=value, ...)``."""
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.arguments().items())
        return f"{self.name}({arguments})" if arguments else self.name


def loss_section(name, cls):
    """The config section of loss ``name`` (class ``cls``): ``name`` plus its constructor's arguments."""
    fields = {
        key: (kind, Field(default, **keywords)) for key, (kind, default, keywords) in cls.config_arguments().items()
    }
    return create_model(
        f"{cls.__name__}Loss", __base__=LossSection, __doc__=cls.__doc__, name=(Literal[name], name), **fields
    )


LOSS_SECTIONS = {name: loss_section(name, cls) for name, cls in LOSSES.items()}

# A name that is not a loss gets the message a Literal of the known names gives (as before losses took
# arguments): "Input should be 'mse', 'binary_crossentropy' or ...".
_KNOWN = ", ".join(repr(name) for name in list(LOSSES)[:-1]) + f" or {list(LOSSES)[-1]!r}"


def _bare_name(value):
    """``mse`` -> ``{name: mse}``; any other value that is not a mapping or a section is not a loss."""
    if isinstance(value, (dict, LossSection)):
        return value
    if isinstance(value, str) and value in LOSSES:
        return {"name": value}
    raise PydanticCustomError("literal_error", f"Input should be {_KNOWN}")


# Union[tuple]: the members are known only at run time, which X | Y cannot spell.
_SECTIONS = Annotated[Union[tuple(LOSS_SECTIONS.values())], Field(discriminator="name")]  # noqa: UP007
# A loss: a bare name or a section. The JSON Schema says both; validation turns a name into a section first.
LossConfig = Annotated[_SECTIONS, BeforeValidator(_bare_name, json_schema_input_type=Literal[tuple(LOSSES)] | _SECTIONS)]
