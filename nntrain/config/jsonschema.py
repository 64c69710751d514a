"""The JSON Schema of a config file, for editors: generated from the config sections, never written by hand.

It is pydantic's schema in validation mode (what a user may write: bare-name shorthands included,
defaults optional), Draft 2020-12, with the sections' descriptions as help. It checks keys, types,
choices and bounds; the rules between fields (a csv source needs a path, a metric that fits the loss,
...) are nntrain's own, checked by ``load_config``.
"""

import json

from .schema import ExperimentConfig

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "nntrain config"
DESCRIPTION = (
    "An nntrain experiment: the data, the model's layers, the loss, the optimizer, the training loop and "
    "the metrics. `nntrain fit FILE` trains it; `nntrain schema -o FILE` writes this schema."
)


def config_schema():
    """The JSON Schema (a dict) of an nntrain config file."""
    schema = ExperimentConfig.model_json_schema(mode="validation")
    del schema["title"], schema["description"]  # ExperimentConfig's, for Python readers
    return {"$schema": DIALECT, "title": TITLE, "description": DESCRIPTION, **schema}


def schema_text():
    """``config_schema()`` as the text ``nntrain schema`` writes: indented JSON, keys in the sections' order."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"
