"""The experiment config: pydantic models that are the single source of truth for keys, defaults and
bounds (``schema``, ``layers``), and reading them from YAML with messages that name the file, the line
and the field (``loading``)."""

from .layers import LAYER_CONFIGS, DenseConfig, LayerSpec, ResidualConfig
from .loading import ConfigSource, load_config, parse_config, yaml_error
from .schema import (
    DUMPER,
    FILE_SOURCES,
    LOADER,
    SYNTHETIC_SOURCES,
    TABLE_SOURCES,
    AdamConfig,
    CosineSchedule,
    DataConfig,
    ExperimentConfig,
    ExponentialSchedule,
    ModelConfig,
    SGDConfig,
    StepSchedule,
    dump_config,
)

__all__ = [
    "DUMPER", "FILE_SOURCES", "LAYER_CONFIGS", "LOADER", "SYNTHETIC_SOURCES", "TABLE_SOURCES", "AdamConfig", "ConfigSource",
    "CosineSchedule", "DataConfig", "DenseConfig", "ExperimentConfig", "ExponentialSchedule", "LayerSpec",
    "ModelConfig", "ResidualConfig", "SGDConfig", "StepSchedule", "dump_config", "load_config", "parse_config",
    "yaml_error",
]
