"""What every config section is: a pydantic model whose unknown keys are errors, and a cross-field
error that still points at one field; and the JSON Schema of a section that a bare string stands for."""

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


def bare_string_allowed(key):
    """The model_config of a section whose before-validator takes a bare string for ``{key: string}``
    (``island: category``, ``metrics: [f1]``), so that its JSON Schema says so too: either one of the
    strings ``key`` takes, or the mapping."""

    def describe(schema, cls):
        mapping = dict(schema)
        bare = {k: v for k, v in mapping["properties"][key].items() if k not in ("default", "title", "description")}
        # `type: null` is the field's default, not something a bare value may say.
        options = [option for option in bare.pop("anyOf", [bare]) if option.get("type") != "null"]
        schema.clear()
        schema.update(title=mapping["title"], description=mapping.get("description", ""), anyOf=[*options, mapping])

    return ConfigDict(json_schema_extra=describe)
