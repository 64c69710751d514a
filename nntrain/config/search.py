"""A search's part of the config: ``sweep.search`` (how trials are chosen, judged and pruned) and
``sweep.space`` (the range of each searched key, by the dotted paths ``--set`` takes)::

    sweep:
      search: {method: tpe, trials: 40, metric: val_loss, prune: median, seed: 0}
      space:
        optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}
        model.layers.0.units: {int: [4, 128], log: true}
        model.layers.0.activation: {choice: [relu, tanh, gelu]}
        model.layers.0.keep_prob: {uniform: [0.5, 1.0]}
"""

import math
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_serializer, model_validator

from .section import Section, inconsistent

MAX_TRIALS = 10_000
KINDS = ("uniform", "loguniform", "int", "choice")


class SearchConfig(Section):
    """How ``nntrain sweep`` searches: Optuna's TPE or random sampler over ``space``, or the grid."""

    method: Literal["tpe", "random", "grid"] = Field("tpe", description="tpe (Bayesian), random, or grid (sweep.grid, as without a search)")
    trials: int = Field(20, ge=1, le=MAX_TRIALS, description="how many runs the search makes")
    metric: str | None = Field(None, description="the logged column to optimise, its best epoch's value; default: val_loss, else loss")
    direction: Literal["minimize", "maximize"] | None = Field(None, description="default: the metric's own (accuracy up, losses down)")
    prune: Literal["median", "none"] = Field("none", description="median: stop a trial whose metric falls behind the median of the finished trials' at that epoch")
    seed: int = Field(0, ge=0, lt=2**32, description="the sampler's seed: the same seed, the same trials")


def _written_schema(schema, cls):
    """The JSON Schema of a Dimension as it is written (not as it is held)."""
    pair = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
    forms = {
        "uniform": {"uniform": pair},
        "loguniform": {"loguniform": pair},
        "int": {"int": {**pair, "items": {"type": "integer"}}, "log": {"type": "boolean"}},
        "choice": {"choice": {"type": "array", "minItems": 1}},
    }
    description = schema.get("description", "")
    schema.clear()
    schema.update(
        title="Dimension",
        description=description,
        anyOf=[{"type": "object", "properties": p, "required": [k], "additionalProperties": False} for k, p in forms.items()],
    )


class Dimension(Section):
    """One searched key, written as one of ``{uniform: [low, high]}``, ``{loguniform: [low, high]}``,
    ``{int: [low, high], log: true}`` or ``{choice: [a, b, ...]}``."""

    model_config = ConfigDict(json_schema_extra=_written_schema)

    kind: Literal[KINDS]
    low: float | None = None
    high: float | None = None
    log: bool = False
    values: list[Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _as_written(cls, value):
        if not isinstance(value, dict) or "kind" in value:
            return value
        kinds = [k for k in KINDS if k in value]
        unknown = sorted(set(value) - {*KINDS, "log"})
        if unknown or len(kinds) != 1:
            raise inconsistent((), f"expected one of {{uniform: [low, high]}}, {{loguniform: [low, high]}}, {{int: [low, high], log: true}}, {{choice: [a, b]}}; got {value}")
        kind = kinds[0]
        if kind == "choice":
            return {"kind": kind, "values": value[kind], **({"log": value["log"]} if "log" in value else {})}
        bounds = value[kind]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise inconsistent((), f"{kind}: expected [low, high]; got {bounds!r}")
        return {"kind": kind, "low": bounds[0], "high": bounds[1], **({"log": value["log"]} if "log" in value else {})}

    @model_validator(mode="after")
    def _bounds(self):
        problem = self._choice_problem() if self.kind == "choice" else self._range_problem()
        if problem:
            raise inconsistent(*problem)
        return self

    def _choice_problem(self):
        if not self.values:
            return ("choice",), "no values to choose from"
        if self.log:
            return ("log",), "log is for int ranges (uniform's is loguniform)"
        return None

    def _range_problem(self):
        low, high, kind = self.low, self.high, self.kind
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
            return (kind,), f"expected two finite numbers [low, high]; got [{low}, {high}]"
        if kind == "int" and (low != int(low) or high != int(high)):
            return ("int",), f"expected whole numbers [low, high]; got [{low:g}, {high:g}]"
        if not low < high:
            return (kind,), f"low {low:g} must be below high {high:g}" + (" (reversed?)" if low > high else " (an empty range)")
        if self.log and kind == "uniform":
            return ("log",), "for a log scale write loguniform: [low, high]"
        if self.logarithmic and low <= 0:
            return (kind,), f"a log scale needs bounds above 0; got [{low:g}, {high:g}]"
        return None

    @model_serializer
    def _written(self):
        if self.kind == "choice":
            return {"choice": self.values}
        bounds = [int(self.low), int(self.high)] if self.kind == "int" else [self.low, self.high]
        return {self.kind: bounds, **({"log": True} if self.log else {})}

    @property
    def logarithmic(self):
        return self.kind == "loguniform" or self.log
