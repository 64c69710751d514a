"""The JSON Schema of a config (nntrain.config.jsonschema, ``nntrain schema``): every config nntrain ships
or shows validates against it, it refuses what nntrain refuses, and the copy in docs/ is current."""

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import run_cli
from nntrain.config import LOADER, parse_config
from nntrain.config.jsonschema import config_schema, schema_text
from nntrain.errors import ConfigError

ROOT = Path(__file__).parent.parent
SHIPPED = sorted((ROOT / "configs").glob("*.yaml")) + sorted((ROOT / "configs" / "lecture").glob("*.yaml"))
DOCS_SCHEMA = ROOT / "docs" / "nntrain.schema.json"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)


@pytest.fixture(scope="module")
def validator():
    schema = config_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(validator, document):
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_the_schema_says_what_it_is():
    schema = config_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "nntrain config" and "nntrain fit" in schema["description"]
    # Help for editors comes from the fields' descriptions.
    assert schema["$defs"]["DenseConfig"]["properties"]["keep_prob"]["description"].startswith("inverted dropout")
    assert "he_normal" in json.dumps(schema["$defs"]["DenseConfig"]["properties"]["init"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_config_validates(validator, path):
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)
    assert problems(validator, document) == []


def readme_configs():
    """The README's ```yaml blocks that are whole configs (a model and a loss), not a section's excerpt."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S | re.M)
    documents = [yaml.load(block, Loader=LOADER) for block in blocks]
    return [d for d in documents if isinstance(d, dict) and {"model", "loss"} <= d.keys()]


def test_the_readme_configs_validate(validator):
    documents = readme_configs()
    assert documents, "the README shows no whole config"
    for document in documents:
        assert problems(validator, document) == []


def test_the_shipped_configs_point_editors_at_the_schema_in_docs():
    pointed = {}
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        found = MODELINE.search(path.read_text(encoding="utf-8"))
        if found:
            pointed[path.name] = (path.parent / found.group(1)).resolve()
    assert len(pointed) >= 6
    assert set(pointed.values()) == {DOCS_SCHEMA.resolve()}


def test_the_schema_in_docs_is_current():
    assert DOCS_SCHEMA.read_text(encoding="utf-8") == schema_text(), (
        "docs/nntrain.schema.json is out of date: nntrain schema -o docs/nntrain.schema.json --force"
    )


BASE = """
name: xor
data: {source: xor, batch_size: 4}
model:
  layers:
    - {units: 4, activation: tanh}
    - {units: 1, activation: sigmoid}
loss: binary_crossentropy
metrics: [accuracy]
"""
TABLE = "data: {source: csv, path: t.csv, target: y, %s}"
ONE_LAYER = "model: {inputs: 2, layers: [{units: 1, activation: sigmoid, %s}]}"

# YAML merged over BASE's top-level keys -> whether nntrain takes it. The schema must agree.
CASES = {
    # Shorthands a before-validator expands, and the mappings they stand for.
    "loss: mse\nmodel: {layers: [{units: 1, activation: linear}]}\nmetrics: [mae]": True,
    "loss: {name: huber, delta: 2}\nmodel: {layers: [{units: 1, activation: linear}]}\nmetrics: [mae]": True,
    "metrics: [accuracy, {name: f1, average: weighted}]": True,
    ONE_LAYER % "init: he_normal": True,
    ONE_LAYER % "init: {name: normal, scale: 0.1}": True,
    ONE_LAYER % "init: {scale: 0.1}": True,
    TABLE % "columns: {island: category, year: number, id: ignore}": True,
    TABLE % "columns: {island: {type: category, max_categories: 5, missing: drop}}": True,
    TABLE % "target: [a, b]": True,
    ONE_LAYER % "type: dense": True,
    "model: {inputs: 2, layers: [{type: residual, units: 2, hidden: 8}, {units: 1, activation: sigmoid}]}": True,
    ONE_LAYER % "weights: {W: [[20, -20]], b: [-10]}": True,
    "training: {class_weight: {0: 1, 1: 5}}": True,
    "training: {class_weight: balanced, schedule: {name: cosine, warmup_epochs: 2}, early_stopping: null}": True,
    "optimizer: {name: adam, lr: 1.0e-3}": True,
    "sweep: {grid: {optimizer.lr: [0.1, 0.01]}, seeds: 2}": True,
    # Unknown keys, wrong choices, values out of bounds.
    "lr: 0.1": False,
    ONE_LAYER % "unit: 3": False,
    ONE_LAYER % "activation: sigmod": False,
    "optimizer: {name: adam, lr: -0.1}": False,
    "optimizer: {name: sgd, lr: 0}": False,
    "optimizer: {name: adamm}": False,
    "optimizer: {lr: 0.1}": False,
    "optimizer: adam": False,
    "loss: msee": False,
    "loss: {delta: 1}": False,
    "loss: {name: mse, delta: 1}": False,
    "loss: {name: huber, delta: -1}": False,
    "loss: null": False,
    "metrics: [acuracy]": False,
    "metrics: [{name: f1, averag: weighted}]": False,
    "metrics: [null]": False,
    ONE_LAYER % "init: he_norml": False,
    ONE_LAYER % "init: null": False,
    ONE_LAYER % "init: {name: normal, scale: 0}": False,
    ONE_LAYER % "type: conv": False,
    ONE_LAYER % "weights: {b: [0]}": False,
    "model: {inputs: 2, layers: [{type: residual, units: 2, weights: {W: [[1, 2], [3, 4]]}}]}": False,
    "model: {layers: [dense]}": False,
    "model: {layers: []}": False,
    "model: {layers: [{units: 0}]}": False,
    "model: {layers: [{units: 1.5}]}": False,
    TABLE % "columns: {island: categry}": False,
    TABLE % "columns: {island: null}": False,
    TABLE % "na_values: [1]": False,
    "training: {class_weight: {'0': -1}}": False,
    "training: {schedule: cosine}": False,
    "data: {source: moons, split: null}": False,
    "sweep: {grid: {}, foo: 1}": False,
    "name: 'a b'": False,
    "seed: -1": False,
    "dtype: float16": False,
}


@pytest.mark.parametrize("change, valid", CASES.items(), ids=list(CASES))
def test_the_schema_takes_what_nntrain_takes(validator, change, valid):
    document = yaml.load(BASE, Loader=LOADER)
    document.update(yaml.load(change, Loader=LOADER))
    try:
        parse_config(yaml.dump(document, Dumper=yaml.SafeDumper))
        taken = True
    except ConfigError:
        taken = False
    assert (taken, not problems(validator, document)) == (valid, valid)


def test_sections_forbid_unknown_keys_in_the_schema_too():
    defs = config_schema()["$defs"]
    objects = {name: d for name, d in defs.items() if d.get("type") == "object"}
    objects.update({name: d["anyOf"][-1] for name, d in defs.items() if "anyOf" in d})  # a bare string or the mapping
    assert len(objects) == len(defs)
    assert all(d["additionalProperties"] is False for d in objects.values())


# --------------------------------------------------------------------------------------------------
# nntrain schema


def test_schema_prints_it():
    result = run_cli("schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == config_schema()


def test_schema_writes_a_file_and_replaces_it_only_with_force(in_tmp):
    assert run_cli("schema", "-o", "nntrain.schema.json").exit_code == 0
    assert Path("nntrain.schema.json").read_text(encoding="utf-8") == schema_text()
    Path("nntrain.schema.json").write_text("{}")
    again = run_cli("schema", "-o", "nntrain.schema.json")
    assert (again.exit_code, again.stderr) == (2, "error: nntrain.schema.json: already exists; --force replaces it\n")
    assert Path("nntrain.schema.json").read_text() == "{}"
    assert run_cli("schema", "-o", "nntrain.schema.json", "--force").exit_code == 0
    assert Path("nntrain.schema.json").read_text(encoding="utf-8") == schema_text()
    assert [p.name for p in in_tmp.iterdir()] == ["nntrain.schema.json"]  # no temporary file left


def test_schema_refuses_a_folder_that_does_not_exist(in_tmp):
    result = run_cli("schema", "-o", Path("nope", "s.json"))
    assert (result.exit_code, result.stderr) == (2, f"error: {Path('nope', 's.json')}: folder nope does not exist\n")
    Path("d").mkdir()
    folder = run_cli("schema", "-o", "d")
    assert (folder.exit_code, folder.stderr) == (2, "error: d: is a directory; name a file\n")
