"""The experiment config: pydantic models that are the single source of truth for keys, defaults and bounds.

A YAML file maps onto ``ExperimentConfig``; each section maps onto one part of the program (``data`` onto
the data loader, ``model.layers`` onto the network's layers, ``optimizer`` onto an optimizer, ...).
Nothing downstream re-checks or re-defaults a value. ``load_config`` reads a file, applies ``--set``
overrides and turns every validation error into a ``ConfigError`` that names the file, the YAML line
and the dotted field path.
"""

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic_core import PydanticCustomError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .nn.activations import ACTIVATIONS
from .errors import ConfigError
from .nn.initializers import INITIALIZERS
from .nn.losses import LOSSES
from .nn.metrics import METRICS
from .nn.model import MAX_PARAMETERS, MAX_UNITS  # noqa: F401  (MAX_PARAMETERS: the config's bound too)

ActivationName = Literal[tuple(ACTIVATIONS)]
InitName = Literal[tuple(INITIALIZERS)]
LossName = Literal[tuple(LOSSES)]
MetricName = Literal[tuple(METRICS)]

# libyaml's safe loader and dumper where PyYAML has them: the same documents, several times faster
# (a sweep writes and reads a config per run).
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)



class Section(BaseModel):
    """A config section: unknown keys are errors, values are checked on assignment too.

    Validators are built at a model's first use, not at import: ``ExperimentConfig``'s validates every
    section, so few others are ever built, and commands that read no config build none.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)


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


class ModelConfig(Section):
    """A sequential stack of dense layers."""

    inputs: int | None = Field(None, gt=0, le=MAX_UNITS, description="input features; default: from the data")
    l1: float = Field(0.0, ge=0, description="default l1 of every layer")
    l2: float = Field(0.0, ge=0, description="default l2 of every layer")
    layers: list[LayerConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_penalties(self):
        for layer in self.layers:
            for key in ("l1", "l2"):
                if getattr(layer, key) is None:
                    # object.__setattr__: a resolved default, not a user's assignment to validate.
                    object.__setattr__(layer, key, getattr(self, key))
        return self


DataSource = Literal[
    "xor", "moons", "circles", "spirals", "blobs", "sine",  # built-in, generated from the run's seed
    "csv", "npz", "npy",  # files: `path` (relative to the config file's folder)
    "sklearn:iris", "sklearn:digits", "sklearn:wine", "sklearn:breast_cancer", "sklearn:diabetes",
]
FILE_SOURCES = ("csv", "npz", "npy")
SYNTHETIC_SOURCES = ("xor", "moons", "circles", "spirals", "blobs", "sine")


class SplitConfig(Section):
    """Shares of the examples held out for validation and test (seeded; stratified for classification)."""

    val: float = Field(0.0, ge=0, lt=1, description="share for validation, logged every epoch as val_*")
    test: float = Field(0.0, ge=0, lt=1, description="share for the final test (nntrain eval --split test)")

    @model_validator(mode="after")
    def _leaves_training_data(self):
        if self.val + self.test >= 1:
            raise _inconsistent(("val",), f"val + test = {self.val + self.test:g} leaves no training data; keep it below 1")
        return self


class DataConfig(Section):
    """Where the examples come from, how they are split, scaled and batched."""

    source: DataSource = Field("xor", description="a built-in set, a file kind, or sklearn:<name>")
    path: str | None = Field(None, description="csv / npz / npy: the file, relative to the config's folder")
    target: str | list[str] | None = Field(None, description="csv: the target column (a list: regression targets)")
    features: list[str] | None = Field(None, description="csv: the feature columns; default: all but the target")
    n_samples: int | None = Field(None, gt=0, le=10_000_000, description="built-in sets: how many examples")
    noise: float | None = Field(None, ge=0, description="built-in sets: standard deviation of added noise")
    classes: int | None = Field(None, ge=2, le=1000, description="spirals / blobs: number of classes")
    split: SplitConfig = Field(default_factory=SplitConfig)
    standardize: bool = Field(False, description="scale inputs to mean 0, std 1 using the training split")
    batch_size: int = Field(32, gt=0)
    shuffle: bool = Field(True, description="reshuffle the training examples every epoch")
    drop_last: bool = Field(False, description="skip a last batch smaller than batch_size")

    @model_validator(mode="after")
    def _fields_fit_the_source(self):
        if self.source in FILE_SOURCES and self.path is None:
            raise _inconsistent(("path",), f"source {self.source!r} needs a path")
        if self.source not in FILE_SOURCES and self.path is not None:
            raise _inconsistent(("path",), f"source {self.source!r} takes no path (csv, npz and npy do)")
        if self.source == "csv" and self.target is None:
            raise _inconsistent(("target",), "source 'csv' needs a target column")
        if self.source != "csv":
            for key in ("target", "features"):
                if getattr(self, key) is not None:
                    raise _inconsistent((key,), f"only source 'csv' takes {key}")
        if self.source not in SYNTHETIC_SOURCES:
            for key in ("n_samples", "noise", "classes"):
                if getattr(self, key) is not None:
                    raise _inconsistent((key,), f"only the built-in sets ({', '.join(SYNTHETIC_SOURCES)}) take {key}")
        return self


class SGDConfig(Section):
    """Gradient descent with optional (Nesterov) momentum: v = m v - lr g; w += v."""

    name: Literal["sgd"]
    lr: PositiveFloat = 0.01
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False


class AdamConfig(Section):
    """Adam with bias correction; eps is added outside the square root."""

    name: Literal["adam"]
    lr: PositiveFloat = 0.001
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    eps: PositiveFloat = 1e-8


class RMSpropConfig(Section):
    """RMSprop: v = rho v + (1 - rho) g^2;  w -= lr g / (sqrt(v) + eps)."""

    name: Literal["rmsprop"]
    lr: PositiveFloat = 0.001
    rho: float = Field(0.9, ge=0, lt=1)
    eps: PositiveFloat = 1e-7


class AdagradConfig(Section):
    """Adagrad: s += g^2;  w -= lr g / (sqrt(s) + eps), s starting at initial_accumulator."""

    name: Literal["adagrad"]
    lr: PositiveFloat = 0.01
    initial_accumulator: float = Field(0.1, ge=0)
    eps: PositiveFloat = 1e-7


class AdamWConfig(AdamConfig):
    """Adam with decoupled weight decay: w -= lr * weight_decay * w, then the Adam step."""

    name: Literal["adamw"]
    weight_decay: float = Field(0.01, ge=0)


OptimizerConfig = Annotated[
    Union[SGDConfig, AdamConfig, RMSpropConfig, AdagradConfig, AdamWConfig], Field(discriminator="name")
]


class Schedule(Section):
    """What every learning-rate schedule has: an optional linear warm-up before it."""

    warmup_epochs: int = Field(0, ge=0, description="linear ramp from lr / warmup_epochs to lr first")


class StepSchedule(Schedule):
    """lr * gamma ** (epoch // step_size)."""

    name: Literal["step"]
    step_size: int = Field(10, gt=0, description="epochs between decays")
    gamma: float = Field(0.1, gt=0, le=1)


class ExponentialSchedule(Schedule):
    """lr * gamma ** epoch."""

    name: Literal["exponential"]
    gamma: float = Field(0.95, gt=0, le=1)


class CosineSchedule(Schedule):
    """min_lr + (lr - min_lr) (1 + cos(pi epoch / epochs)) / 2 over the epochs after warm-up."""

    name: Literal["cosine"]
    min_lr: float = Field(0.0, ge=0)


ScheduleConfig = Annotated[Union[StepSchedule, ExponentialSchedule, CosineSchedule], Field(discriminator="name")]


class EarlyStoppingConfig(Section):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    monitor: str = Field("val_loss", description="a logged column of metrics.csv, e.g. val_loss, val_accuracy")
    mode: Literal["min", "max", "auto"] = Field("auto", description="auto: max for accuracy, min otherwise")
    patience: int = Field(10, gt=0)
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = Field(True, description="end with the weights of the best epoch")


class TrainingConfig(Section):
    """The training loop. Each step: gradients of loss + penalties -> clip_value -> clip_norm -> update."""

    epochs: int = Field(100, gt=0, le=10_000_000)
    clip_norm: PositiveFloat | None = Field(None, description="rescale all gradients to this global L2 norm")
    clip_value: PositiveFloat | None = Field(None, description="clip every gradient element to [-v, v]")
    schedule: ScheduleConfig | None = Field(None, description="learning-rate schedule, per epoch")
    early_stopping: EarlyStoppingConfig | None = None
    checkpoint_every: int | None = Field(
        None, gt=0, description="epochs between checkpoints; default: at most one a minute"
    )
    diagnostics: bool = Field(True, description="per-layer gradient/weight/activation statistics per epoch")


class SweepConfig(Section):
    """A grid of variants for ``nntrain sweep``: dotted config paths and the values each takes."""

    grid: dict[str, list[Any]] = Field(default_factory=dict, description="e.g. {optimizer.lr: [0.1, 0.01]}")
    seeds: int | None = Field(None, gt=0, le=10_000, description="run every variant with seeds 0..seeds-1")


class ExperimentConfig(Section):
    """A whole experiment: what ``nntrain fit`` reads and saves, resolved, as the run's config.yaml."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)
    seed: int = Field(0, ge=0, lt=2**63)
    dtype: Literal["float32", "float64"] = "float32"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig
    loss: LossName
    optimizer: OptimizerConfig = Field(default_factory=lambda: AdamConfig(name="adam"))
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    metrics: list[MetricName] = Field(default_factory=list)
    sweep: SweepConfig | None = Field(None, description="the grid `nntrain sweep` runs; ignored by fit")

    # Where the config came from, for error messages: set by load_config, never saved.
    _source: "ConfigSource | None" = PrivateAttr(None)

    @model_validator(mode="after")
    def _consistent(self):
        last = len(self.model.layers) - 1
        if self.model.layers[last].keep_prob != 1.0:
            raise _inconsistent(
                ("model", "layers", last, "keep_prob"),
                "dropout on the output layer would drop predictions; use keep_prob on hidden layers",
            )
        for i, metric in enumerate(self.metrics):
            if METRICS[metric].classification and self.loss == "mse":
                raise _inconsistent(("metrics", i), f"{metric!r} needs a classification loss, not 'mse'")
        return self

    def error(self, loc, message):
        """A ConfigError about the field at ``loc`` (a tuple path), with the file and line where known."""
        if self._source is None:
            return ConfigError(f"{_dotted(loc)}: {message}")
        return self._source.error(loc, message)


def _inconsistent(loc, message):
    """A cross-field error that still points at one field (and so at its YAML line)."""
    return PydanticCustomError("inconsistent", message, {"loc": loc})


def dump_config(config):
    """The resolved config (every default filled in) as YAML text, keys in declaration order."""
    return yaml.dump(config.model_dump(mode="json"), Dumper=DUMPER, sort_keys=False)


# --------------------------------------------------------------------------------------------------
# Loading, overrides and error messages


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
    try:
        raw = yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}{yaml_error(e)}") from None
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


def yaml_error(e):
    """", line L, column C: invalid YAML: <problem>" for a YAML error, on one line."""
    mark = getattr(e, "problem_mark", None)
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    return f"{where}: invalid YAML: {problem}"


class ConfigSource:
    """The YAML a config came from, to point error messages at a file, a line and a field."""

    def __init__(self, path, text, raw):
        self.path = path
        self.text = text
        self.raw = raw
        self.overridden = {}  # path tuple -> the --set argument that set it

    def override(self, item, label=None):
        """Set ``KEY=VALUE`` (dotted path, YAML value) in the raw config; ``label`` names it in errors."""
        label = label or (f"--set {item}" if item.isprintable() else f"--set {item!r}")
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. optimizer.lr=0.01")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"{label}: cannot parse the value {value!r}") from None
        parts = key.split(".")
        target = self.raw
        loc = []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(target, list):
                if not part.isdigit() or int(part) >= len(target):
                    raise ConfigError(
                        f"{label}: {'.'.join(parts[:i]) or 'config'} is a list of {len(target)}, no index {part!r}"
                    )
                part = int(part)
            elif not isinstance(target, dict):
                raise ConfigError(f"{label}: {'.'.join(parts[:i])} is not a section")
            loc.append(part)
            if last:
                target[part] = parsed
            else:
                if isinstance(target, dict) and not isinstance(target.get(part), (dict, list)):
                    if isinstance(target.get(part), str):  # e.g. init: he_normal, then --set ...init.scale=2
                        target[part] = {"name": target[part]}
                    else:
                        target[part] = {}
                target = target[part]
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
                return ConfigError(f"{self.overridden[loc[:n]]}: {_dotted(loc)}: {message}")
        # The node tree (with line numbers) is built only now: reading a good config needs none. Built
        # by the loader that read the text: PyYAML's own scanner refuses some texts libyaml reads.
        line = _line_of(yaml.compose(self.text, Loader=LOADER), loc)
        where = f", line {line}" if line else ""
        field = f"{_dotted(loc)}: " if loc else ""
        return ConfigError(f"{self.path}{where}: {field}{message}")


def _dotted(loc):
    return ".".join(str(p) if str(p).isprintable() else repr(p) for p in loc)


def _kind(value):
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
    """The sections of a union tagged by their ``name`` field, or None."""
    if typing.get_origin(annotation) not in (Union, types.UnionType):
        return None
    members = typing.get_args(annotation)
    return members if all(_tag(m) is not None for m in members) else None


def _tag(cls):
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or "name" not in cls.model_fields:
        return None
    args = typing.get_args(cls.model_fields["name"].annotation)
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
