"""One entry of a config's ``metrics:``: a registered metric (``nntrain.nn.metrics``) and its arguments.

``f1`` (a bare name) means ``{name: f1}``; an entry with only its name is saved as the bare name, so
configs read and save as they always did. What each metric takes comes from its class: ``average``
where it has ``averages``, ``k`` where it ``needs_k``; ``weighted`` computes it with the sample weights.
"""

from typing import Literal

from pydantic import Field, model_serializer, model_validator

from ..nn.metrics import AVERAGES, BINARY, METRICS, REGRESSION
from .section import Section, bare_string_allowed, inconsistent


class MetricConfig(Section):
    """A metric by name, with its average, its k, and whether the sample weights weigh it."""

    model_config = bare_string_allowed("name")  # `f1` means {name: f1}

    name: Literal[tuple(METRICS)] = Field(description="the metric; see nntrain.nn.metrics")
    average: Literal[AVERAGES] | None = Field(None, description="precision, recall, f1: macro (default), weighted, micro, binary or per_class")
    k: int | None = Field(None, ge=1, le=1000, description="top_k_accuracy: how many of the most probable classes count")
    weighted: bool = Field(False, description="weigh the rows by training.class_weight and data.weight")

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value):
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _arguments_fit_the_metric(self):
        metric = METRICS[self.name]
        if self.average is not None and self.average not in metric.averages:
            takes = [name for name, m in METRICS.items() if m.averages]
            raise inconsistent(("average",), f"{self.name} takes no average (only {', '.join(takes)} do)")
        if metric.needs_k != (self.k is not None):
            message = f"{self.name} needs k, e.g. {{name: {self.name}, k: 3}}" if metric.needs_k else f"{self.name} takes no k"
            raise inconsistent(("k",), message)
        return self

    @model_serializer(mode="wrap")
    def _as_written(self, handler):
        data = {key: value for key, value in handler(self).items() if value is not None and value is not False}
        return data["name"] if len(data) == 1 else data

    def build(self, task, classes):
        """The metric (an ``nntrain.nn.metrics.Metric``) of a run's ``task`` and ``classes`` (class or target names)."""
        return METRICS[self.name](task, classes, average=self.average, k=self.k, weighted=self.weighted)

    def problem(self, task, n_classes, loss):
        """Why the metric does not fit a network of ``task`` with ``n_classes`` classes trained on
        ``loss`` (its name), or None."""
        metric = METRICS[self.name]
        if task not in metric.tasks:
            if metric.classifies and task == REGRESSION:
                return f"{self.name!r} needs a classification loss, not {loss!r}"
            if not metric.classifies and task != REGRESSION:
                return f"{self.name!r} is a regression metric; loss {loss!r} classifies"
            return f"{self.name!r} needs one class per example (softmax classes, or one sigmoid unit); this run has {n_classes} sigmoid outputs"
        if self.average == "binary" and task != BINARY:
            return "average: binary is a binary classifier's (one sigmoid unit); use macro, weighted, micro or per_class"
        if self.k is not None and self.k >= n_classes:
            return f"k: {self.k} is not less than the {n_classes} classes, so every row would count"
        return None
