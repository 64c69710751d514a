"""The experiment config's sections: every key, its default and its bounds.

A YAML file maps onto ``ExperimentConfig``; each section maps onto one part of the program (``data`` onto
the data loader, ``model.layers`` onto the network's layers, ``optimizer`` onto an optimizer, ...).
Nothing downstream re-checks or re-defaults a value.
"""

from typing import Annotated, Any, Literal, Union

import yaml
from pydantic_core import PydanticCustomError
from pydantic import BeforeValidator, Field, NonNegativeFloat, PositiveFloat, PrivateAttr, model_serializer, model_validator

from ..errors import ConfigError
from ..nn.losses import loss_class
from ..nn.metrics import CLASSES, BINARY, task_of
from ..nn.model import MAX_UNITS
from .layers import LayerSpec
from .losses import LossConfig
from .metrics import MetricConfig
from .search import Dimension, SearchConfig
from .section import Section, bare_string_allowed, dotted, inconsistent

# libyaml's safe loader and dumper where PyYAML has them: the same documents, several times faster
# (a sweep writes and reads a config per run).
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class ModelConfig(Section):
    """A sequential stack of layers: dense layers, residual blocks (``type``, see config.layers)."""

    inputs: int | None = Field(None, gt=0, le=MAX_UNITS, description="input features; default: from the data")
    l1: float = Field(0.0, ge=0, description="default l1 of every layer")
    l2: float = Field(0.0, ge=0, description="default l2 of every layer")
    layers: list[LayerSpec] = Field(min_length=1)

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
    "csv", "tsv", "parquet", "npz", "npy",  # files: `path` (relative to the config file's folder)
    "sklearn:iris", "sklearn:digits", "sklearn:wine", "sklearn:breast_cancer", "sklearn:diabetes",
]
TABLE_SOURCES = ("csv", "tsv", "parquet")  # tables of named columns: numbers, categories, missing cells
FILE_SOURCES = (*TABLE_SOURCES, "npz", "npy")
MissingPolicy = Literal["mean", "median", "drop", "error"]
SYNTHETIC_SOURCES = ("xor", "moons", "circles", "spirals", "blobs", "sine")


class SplitConfig(Section):
    """Shares of the examples held out for validation and test (seeded; stratified for classification)."""

    val: float = Field(0.0, ge=0, lt=1, description="share for validation, logged every epoch as val_*")
    test: float = Field(0.0, ge=0, lt=1, description="share for the final test (nntrain eval --split test)")
    folds: int | None = Field(None, ge=2, le=1000, description="cross-validation (nntrain cv sets it): the number of folds")
    fold: int | None = Field(None, ge=0, description="cross-validation: the fold (0-based) held out as the test split")

    @model_validator(mode="after")
    def _leaves_training_data(self):
        if self.val + self.test >= 1:
            raise inconsistent(("val",), f"val + test = {self.val + self.test:g} leaves no training data; keep it below 1")
        if (self.folds is None) != (self.fold is None):
            raise inconsistent(("fold" if self.fold is None else "folds",), "folds and fold are set together (nntrain cv sets both)")
        if self.folds is not None:
            if self.fold >= self.folds:
                raise inconsistent(("fold",), f"fold {self.fold} of {self.folds} folds: expected 0 to {self.folds - 1}")
            if self.test:
                raise inconsistent(("test",), "with folds, the held-out fold is the test split; set test to 0")
        return self


class ColumnConfig(Section):
    """One column of a table: what it is, and how its categories and missing cells are encoded.

    In YAML either the type alone (``island: category``) or a mapping (``island: {type: category,
    max_categories: 10}``).
    """

    model_config = bare_string_allowed("type")  # `island: category` means {type: category}

    type: Literal["number", "category", "boolean", "ignore"] | None = Field(None, description="default: inferred from the training split")
    max_categories: int | None = Field(None, ge=1, le=100_000, description="keep the most frequent, fold the rest into <other>")
    missing: MissingPolicy | None = Field(None, description="default: data.missing")

    @model_validator(mode="before")
    @classmethod
    def _bare_type(cls, value):
        return {"type": value} if isinstance(value, str) else value

    @model_serializer(mode="wrap")
    def _as_written(self, handler):
        """The type alone when nothing else is set, as it is usually written (config.yaml, compare)."""
        if self.type is not None and self.max_categories is None and self.missing is None:
            return self.type
        return handler(self)


class DataConfig(Section):
    """Where the examples come from, how they are split, scaled and batched."""

    source: DataSource = Field("xor", description="a built-in set, a file kind, or sklearn:<name>")
    path: str | None = Field(None, description="csv / tsv / parquet / npz / npy: the file, relative to the config's folder")
    target: str | list[str] | None = Field(None, description="tables: the target column (a list: regression targets)")
    features: list[str] | None = Field(None, description="tables: the feature columns; default: all but the target (and weight)")
    weight: str | None = Field(None, description="tables: a column of per-row weights (>= 0) for the loss")
    columns: dict[str, ColumnConfig] | None = Field(None, description="tables: per column its type (number, category, boolean, ignore)")
    missing: MissingPolicy = Field("mean", description="tables: a missing number takes the training mean or median; or drop the row, or stop")
    na_values: list[str] = Field(default_factory=list, description="tables: more spellings of a missing cell, e.g. ['?']")
    max_categories: int | None = Field(None, ge=1, le=100_000, description="tables: default max_categories of every category column")
    delimiter: str | None = Field(None, min_length=1, max_length=1, description="csv: the delimiter; default: sniffed")
    decimal: Literal[".", ","] = Field(".", description="csv / tsv: the decimal mark of numbers (1,5 in many locales)")
    n_samples: int | None = Field(None, gt=0, le=10_000_000, description="built-in sets: how many examples")
    noise: float | None = Field(None, ge=0, description="built-in sets: standard deviation of added noise")
    classes: int | None = Field(None, ge=2, le=1000, description="spirals / blobs: number of classes")
    split: SplitConfig = Field(default_factory=SplitConfig)
    standardize: bool | None = Field(
        None, description="scale numeric inputs to mean 0, std 1 using the training split; default: on for tables"
    )
    scale_target: bool | None = Field(
        None, description="regression: train on targets scaled to mean 0, std 1 (reported in their units); default: on for tables"
    )
    batch_size: int = Field(32, gt=0)
    shuffle: bool = Field(True, description="reshuffle the training examples every epoch")
    drop_last: bool = Field(False, description="skip a last batch smaller than batch_size")

    @model_validator(mode="after")
    def _fields_fit_the_source(self):
        source = self.source
        if (source in FILE_SOURCES) != (self.path is not None):
            raise inconsistent(
                ("path",),
                f"source {source!r} needs a path" if self.path is None else f"source {source!r} takes no path ({', '.join(FILE_SOURCES)} do)",
            )
        if source in TABLE_SOURCES and self.target is None:
            raise inconsistent(("target",), f"source {source!r} needs a target column")
        for key, (sources, default) in SOURCE_KEYS.items():
            if source not in sources and getattr(self, key) != default:
                raise inconsistent((key,), f"only {SOURCE_NAMES[sources]} {'takes' if len(sources) == 1 else 'take'} {key}")
        for key in ("standardize", "scale_target"):  # resolved here: config.yaml says what the run did
            if getattr(self, key) is None:
                object.__setattr__(self, key, source in TABLE_SOURCES)
        return self


# The keys of `data` that only some sources take: key -> (those sources, the key's default).
SOURCE_KEYS = {
    **{key: (TABLE_SOURCES, None) for key in ("target", "features", "weight", "columns", "max_categories")},
    "missing": (TABLE_SOURCES, "mean"),
    "na_values": (TABLE_SOURCES, []),
    "decimal": (("csv", "tsv"), "."),
    "delimiter": (("csv",), None),
    **{key: (SYNTHETIC_SOURCES, None) for key in ("n_samples", "noise", "classes")},
}
SOURCE_NAMES = {
    TABLE_SOURCES: f"the table sources ({', '.join(TABLE_SOURCES)})",
    ("csv",): "source 'csv'",
    ("csv", "tsv"): "the text tables (csv, tsv)",
    SYNTHETIC_SOURCES: f"the built-in sets ({', '.join(SYNTHETIC_SOURCES)})",
}


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
    mode: Literal["min", "max", "auto"] = Field("auto", description="auto: max where higher is better (accuracy), else min")
    patience: int = Field(10, gt=0)
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = Field(True, description="end with the weights of the best epoch")


def _named_classes(value):
    """``{0: 1, 1: 10}`` as ``{"0": 1, "1": 10}``: classes are named by strings, as data.json has them."""
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


def _thread_count(value):
    """training.threads: a count from 1 to 1024, or auto (a YAML bool is no count)."""
    if value is None or value == "auto" or (type(value) is int and 1 <= value <= 1024):
        return value
    raise PydanticCustomError("threads", "expected a number of threads from 1 to 1024, or auto")


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
    class_weight: Literal["balanced"] | Annotated[dict[str, NonNegativeFloat], BeforeValidator(_named_classes)] | None = Field(
        None, description="classifiers: weigh the loss per class: balanced (n / (classes * rows of the class)) or {class: weight}"
    )
    tensorboard: bool = Field(False, description="also write TensorBoard event files into the run directory (nntrain[tensorboard])")
    snapshots: int | None = Field(
        None, ge=1, le=10_000_000, description="keep the weights every K epochs for nntrain plot --animate; default: log-spaced for 2-D inputs, none otherwise"
    )
    live: bool = Field(False, description="keep report.html in the run directory up to date while training (nntrain[report])")
    threads: Annotated[Annotated[int, Field(ge=1, le=1024)] | Literal["auto"] | None, BeforeValidator(_thread_count)] = Field(
        None,
        description="BLAS threads for the matrix products, or auto: chosen by timing (the weights then depend on the choice);"
        " default 1: the weights then match a sweep's, and a busy machine stays fast",
    )


class SweepConfig(Section):
    """What ``nntrain sweep`` runs: a grid of variants (dotted config paths and the values each takes),
    or a search over a space of them."""

    grid: dict[str, list[Any]] = Field(default_factory=dict, description="e.g. {optimizer.lr: [0.1, 0.01]}")
    seeds: int | None = Field(None, gt=0, le=10_000, description="run every variant with seeds 0..seeds-1")
    search: SearchConfig | None = Field(None, description="search the space instead of running the grid (default with a space: tpe)")
    space: dict[str, Dimension] = Field(default_factory=dict, description="e.g. {optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}}")

    @model_validator(mode="after")
    def _grid_or_space(self):
        if self.space and self.search is None:
            object.__setattr__(self, "search", SearchConfig())
        searching = self.search is not None and self.search.method != "grid"
        if searching and self.grid:
            raise inconsistent(("grid",), f"a {self.search.method} search draws from space; give the keys there, not in grid")
        if self.search is not None and self.search.method == "grid" and self.space:
            raise inconsistent(("space",), "method grid runs sweep.grid; a space is for method tpe or random")
        return self


class ExperimentConfig(Section):
    """A whole experiment: what ``nntrain fit`` reads and saves, resolved, as the run's config.yaml."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)
    seed: int = Field(0, ge=0, lt=2**63)
    dtype: Literal["float32", "float64"] = "float32"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig
    loss: LossConfig = Field(description="a loss name, or {name: <loss>, <its constructor's arguments>}")
    optimizer: OptimizerConfig = Field(default_factory=lambda: AdamConfig(name="adam"))
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    metrics: list[MetricConfig] = Field(default_factory=list, description="names, or {name: f1, average: weighted}, {name: top_k_accuracy, k: 3}")
    sweep: SweepConfig | None = Field(None, description="the grid `nntrain sweep` runs; ignored by fit")

    # Where the config came from, for error messages: set by load_config, never saved.
    _source: "object | None" = PrivateAttr(None)  # a loading.ConfigSource

    @model_validator(mode="after")
    def _consistent(self):
        last = len(self.model.layers) - 1
        if self.model.layers[last].drops_outputs:
            raise inconsistent(
                ("model", "layers", last, "keep_prob"),
                "dropout on the output layer would drop predictions; use keep_prob on hidden layers",
            )
        task, n_classes = self.task, self.n_classes or self.model.layers[last].units
        weighs = self.training.class_weight is not None or self.data.weight is not None
        columns = {}
        for i, metric in enumerate(self.metrics):
            problem = metric.problem(task, n_classes, self.loss.name)
            if problem:
                raise inconsistent(("metrics", i), problem)
            if metric.weighted and not weighs:
                raise inconsistent(("metrics", i, "weighted"), "no weights to weigh by: set training.class_weight or data.weight")
            key = metric.build(task, [""] * n_classes).key
            if key in columns:
                raise inconsistent(("metrics", i), f"{key} is listed twice (also metrics.{columns[key]})")
            columns[key] = i
        if self.training.class_weight is not None and task not in (CLASSES, BINARY):
            raise inconsistent(
                ("training", "class_weight"), "class weights need one class per example (softmax classes, or one sigmoid unit)"
            )
        return self

    @property
    def n_classes(self):
        """A classifier's number of classes (a binary one's: 2), else None."""
        task = self.task
        return 2 if task == BINARY else self.model.layers[-1].units if task == CLASSES else None

    @property
    def task(self):
        """What the network's outputs are: ``nntrain.nn.metrics``' CLASSES, BINARY, MULTILABEL or REGRESSION."""
        return task_of(loss_class(self.loss).targets, self.model.layers[-1].units)

    def error(self, loc, message):
        """A ConfigError about the field at ``loc`` (a tuple path), with the file and line where known."""
        if self._source is None:
            return ConfigError(f"{dotted(loc)}: {message}")
        return self._source.error(loc, message)


def dump_config(config):
    """The resolved config (every default filled in) as YAML text, keys in declaration order."""
    return yaml.dump(config.model_dump(mode="json"), Dumper=DUMPER, sort_keys=False)
