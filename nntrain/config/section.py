"""What every config section is: a pydantic model whose unknown keys are errors, and a cross-field
error that still points at one field."""

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError


class Section(BaseModel):
    """A config section: unknown keys are errors, values are checked on assignment too.

    Validators are built at a model's first use, not at import: ``ExperimentConfig``'s validates every
    section, so few others are ever built, and commands that read no config build none.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)


def inconsistent(loc, message):
    """A cross-field error that still points at one field (and so at its YAML line)."""
    return PydanticCustomError("inconsistent", message, {"loc": loc})


def dotted(loc):
    return ".".join(str(p) if str(p).isprintable() else repr(p) for p in loc)
