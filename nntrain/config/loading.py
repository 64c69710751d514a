"""Reading a config: ``load_config`` reads a YAML file, applies ``--set`` overrides and turns every
validation error into a ``ConfigError`` that names the file, the YAML line and the dotted field path."""

import reprlib
import types
import typing
from pathlib import Path
from typing import Annotated, Union

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, UsageError
from .bounds import yaml_problem
from .schema import LOADER, ExperimentConfig
from .section import dotted


def load_config(path, overrides=()):
    """Read and validate the YAML config at ``path``, with ``KEY=VALUE`` overrides by dotted path.

    An override may also be a pair ``(KEY=VALUE, label)``; the label names it in error messages.

    Raises ConfigError for a missing file, invalid YAML, an unknown key, a wrong type or a value out of
    bounds; the message names the file, the line and the field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from None
    config = parse_config(text, path, overrides)
    if config.data.path is not None:
        # Paths in a config are relative to the config file's folder; the resolved config keeps them absolute.
        config.data.path = str((path.parent / Path(config.data.path).expanduser()).resolve())
    return config


def parse_config(text, path="<config>", overrides=()):
    """Validate YAML ``text`` (named ``path`` in messages) with ``KEY=VALUE`` overrides applied."""
    problem = yaml_problem(text)
    if problem:
        raise ConfigError(f"{path}: {problem}")
    try:
        raw = yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}{yaml_error(e, text)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys (name, data, model, ...), got {_kind(raw)}")
    source = ConfigSource(path, text, raw)
    for item in overrides:
        source.override(*item) if isinstance(item, tuple) else source.override(item)
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as e:
        raise source.validation_error(e) from None
    except RecursionError:
        raise ConfigError(f"{path}: config nested too deeply") from None
    config._source = source
    return config


def yaml_error(e, text=None):
    """", line L, column C: invalid YAML: <problem>" for a YAML error, on one line; a tab where YAML
    wants none (libyaml: "found character that cannot start any token") is called a tab (``text``: the
    YAML, to see the character)."""
    mark = getattr(e, "problem_mark", None)
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    if mark and text is not None and _char_at(text, mark.line, mark.column) == "\t" or "'\\t'" in problem:
        problem = "a tab; YAML indents with spaces, never tabs (replace the tab with spaces)"
    return f"{where}: invalid YAML: {problem}"


def _char_at(text, line, column):
    lines = text.splitlines()
    return lines[line][column : column + 1] if line < len(lines) else ""


class ConfigSource:
    """The YAML a config came from, to point error messages at a file, a line and a field."""

    def __init__(self, path, text, raw):
        self.path = path
        self.text = text
        self.raw = raw
        self.overridden = {}  # path tuple -> the --set argument that set it, or made it (a new key)

    def override(self, item, label=None):
        """Set ``KEY=VALUE`` (dotted path, YAML value) in the raw config; ``label`` names it in errors."""
        label = label or (f"--set {item}" if item.isprintable() else f"--set {item!r}")
        key, value = split_assignment(item, "--set", "KEY=VALUE", "optimizer.lr=0.01")
        problem = yaml_problem(value)
        if problem:
            raise ConfigError(f"--set {key}=...: {problem.removesuffix(' (line 1)')}")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"{label}: cannot parse the value {value!r}") from None
        parts = key.split(".")
        target, loc = self.raw, []
        for i in range(len(parts)):
            loc.append(_key_in(target, parts, i, label))
            if isinstance(target, dict) and loc[-1] not in target:  # a key the file lacks: the override's
                self.overridden.setdefault(tuple(loc), label)
            if i < len(parts) - 1:
                target = _section(target, loc[-1])
        target[loc[-1]] = parsed
        self.overridden[tuple(loc)] = label

    def validation_error(self, exc):
        errors = exc.errors(include_url=False)
        # An unknown key first: it is usually a misspelling that also explains a "missing" one.
        first = min(errors, key=lambda e: e["type"] != "extra_forbidden")
        loc, _ = _walk(first["loc"])
        kind = first["type"]
        if kind == "extra_forbidden":
            known = _fields_at(first["loc"][:-1])
            message = f"unknown key {loc[-1]!r}" + (f"; expected one of: {', '.join(known)}" if known else "")
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "inconsistent":
            loc = loc + tuple(first["ctx"]["loc"])  # the section's path + the field within it
            message = first["msg"]
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            loc, message = _tag_problem(loc, first)
        elif kind in ("model_type", "model_attributes_type", "dict_type", "list_type"):
            message = f"{first['msg']}; got {_kind(first['input'])}"
        else:
            message = f"{first['msg']}; got {_short(first['input'])}"
        more = len(errors) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        return self.error(loc, message)

    def error(self, loc, message):
        loc = tuple(loc)
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.overridden:
                return ConfigError(f"{self.overridden[loc[:n]]}: {dotted(loc)}: {message}")
        # The node tree (with line numbers) is built only now: reading a good config needs none. Built
        # by the loader that read the text: PyYAML's own scanner refuses some texts libyaml reads.
        line = _line_of(yaml.compose(self.text, Loader=LOADER), loc)
        where = f", line {line}" if line else ""
        field = f"{dotted(loc)}: " if loc else ""
        return ConfigError(f"{self.path}{where}: {field}{message}")


def _tag_problem(loc, error):
    """(location, message) of a section whose ``name`` (or ``type``) is not one of its union's:
    ``optimizer.name: 'SGD' is not one of sgd, adam, ... (names are lower case)``."""
    key = error["ctx"]["discriminator"].strip("'")
    expected = [t.strip().strip("'") for t in error["ctx"].get("expected_tags", "").split(",") if t.strip()]
    if not expected:
        _, annotation = _walk(error["loc"])
        expected = [_tag(m) for m in _union_members(annotation) or ()]
    if error["type"] == "union_tag_not_found":
        return (*loc, key), f"required key is missing; one of {', '.join(expected)}"
    tag = error["ctx"]["tag"]
    hint = f" ({key}s are lower case)" if tag.lower() in expected else ""
    return (*loc, key), f"{_short(tag)} is not one of {', '.join(expected)}{hint}"


def split_assignment(item, option, form, example):
    """A command line's ``KEY=...`` -> (key, the text after ``=``); ConfigError "<option> 'item': expected
    <form>, e.g. <example>" without a key or an ``=``."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"{option} {item!r}: expected {form}, e.g. {example}")
    return key, value


def _key_in(target, parts, i, label):
    """``parts[i]`` of a dotted path as a key of ``target`` (an int in a list); ConfigError, naming the
    override ``label``, if ``target`` has no such place."""
    part = parts[i]
    if isinstance(target, list):
        if not part.isdigit() or int(part) >= len(target):
            raise ConfigError(f"{label}: {'.'.join(parts[:i]) or 'config'} is a list of {len(target)}, no index {part!r}")
        return int(part)
    if not isinstance(target, dict):
        raise ConfigError(f"{label}: {'.'.join(parts[:i])} is not a section")
    return part


def _section(target, key):
    """``target[key]``, made a section first where it is a value: a name becomes ``{name: ...}`` (e.g.
    ``init: he_normal``, then ``--set ...init.scale=2``), anything else an empty section."""
    if isinstance(target, dict) and not isinstance(target.get(key), (dict, list)):
        target[key] = {"name": target[key]} if isinstance(target.get(key), str) else {}
    return target[key]


def _kind(value):
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _short(value):
    """A value as a message quotes it, at most 60 characters: made within bounds (reprlib), however
    large the value -- a list of a million numbers is not written out to be cut."""
    text = _REPR.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 3, 10, 6, 60, 60


def _walk(loc):
    """Split a pydantic error location into the path in the data and the config section it ends at.

    Tags of tagged unions ('adam' in ('optimizer', 'adam', 'lr')) are in pydantic's location but not in
    the YAML; they are dropped from the path.
    """
    annotation, path = ExperimentConfig, []
    for part in loc:
        annotation = _strip(annotation)
        if typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
            path.append(part)
        elif (members := _union_members(annotation)) is not None:
            annotation = next((m for m in members if _tag(m) == part), None)
            if annotation is None:
                path.append(part)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and part in annotation.model_fields:
            annotation = annotation.model_fields[part].annotation
            path.append(part)
        else:
            annotation = None
            path.append(part)
    return tuple(path), _strip(annotation)


def _strip(annotation):
    """Look through Annotated[...] and Optional[...]."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _union_members(annotation):
    """The sections of a union tagged by their ``name`` or ``type`` field, or None."""
    if typing.get_origin(annotation) not in (Union, types.UnionType):
        return None
    members = typing.get_args(annotation)
    return members if all(_tag(m) is not None for m in members) else None


def _tag(cls):
    """The tag of a section in a union told apart by its ``name`` (optimizers, schedules) or ``type``
    (layers), or None."""
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        return None
    key = next((k for k in ("name", "type") if k in cls.model_fields), None)
    args = typing.get_args(cls.model_fields[key].annotation) if key else ()
    return args[0] if len(args) == 1 else None


def _fields_at(loc):
    """The keys of the config section at pydantic location ``loc``, or None."""
    _, annotation = _walk(loc)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return None


def _line_of(node, loc):
    """The 1-based YAML line of the deepest node on ``loc`` that exists in the document."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    if line is None and node is not None and loc == ():
        return None
    return line
