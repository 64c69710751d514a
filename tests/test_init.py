"""``nntrain init``: the starting configs it writes validate (JSON Schema and nntrain's own) and train,
and it never overwrites a file unless told."""

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import run_cli
from nntrain.cli.init import TEMPLATES, template_text
from nntrain.config import LOADER, load_config
from nntrain.config.jsonschema import config_schema
from nntrain.runs.store import read_summary

MODELINE = "# yaml-language-server: $schema=nntrain.schema.json\n"


def test_every_shipped_template_is_listed():
    shipped = Path(__file__).parent.parent / "nntrain" / "config" / "templates"
    assert sorted(p.stem for p in shipped.glob("*.yaml")) == sorted(TEMPLATES)
    assert next(iter(TEMPLATES)) == "xor"


@pytest.mark.parametrize("name", TEMPLATES)
def test_a_template_validates_with_the_schema_and_with_nntrain(in_tmp, name):
    assert run_cli("init", name).exit_code == 0
    text = Path(f"{name}.yaml").read_text(encoding="utf-8")
    assert text == template_text(name) and text.startswith(MODELINE)
    Draft202012Validator(config_schema()).validate(yaml.load(text, Loader=LOADER))
    config = load_config(f"{name}.yaml")  # a table template's placeholder path need not exist to validate
    assert config.name == name


def test_the_xor_template_trains(in_tmp):
    assert run_cli("init").exit_code == 0
    result = run_cli("fit", "xor.yaml", "--quiet", "--no-plots", "--set", "training.epochs=5", "--run-dir", "r")
    assert result.exit_code == 0, result.output
    assert read_summary("r")["status"] == "completed"


def write_table(path, rows=60):
    """A small table: two numbers, a category, a class label and a numeric value."""
    lines = ["x1,x2,colour,label,value"]
    for i in range(rows):
        lines.append(f"{i % 7},{(i * 3) % 11},{['red', 'green', 'blue'][i % 3]},{['a', 'b', 'c'][i % 3]},{i * 0.5}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("name, drop", [("classification", "value"), ("regression", "label")])
def test_a_table_template_trains_on_a_table_once_pointed_at_it(in_tmp, name, drop):
    write_table(in_tmp / "table.csv")
    assert run_cli("init", name).exit_code == 0
    result = run_cli(
        "fit", f"{name}.yaml", "-q", "--no-plots", "--run-dir", "r",
        "--set", "data.path=table.csv", "--set", f"data.columns={{{drop}: ignore}}", "--set", "training.epochs=2",
    )
    assert result.exit_code == 0, result.output
    assert read_summary("r")["status"] == "completed"


def test_init_prints_with_dash():
    result = run_cli("init", "regression", "-o", "-")
    assert result.exit_code == 0 and result.stdout == template_text("regression")


def test_init_writes_where_told_and_replaces_only_with_force(in_tmp):
    assert run_cli("init", "classification", "-o", "mine.yaml").exit_code == 0
    assert Path("mine.yaml").read_text(encoding="utf-8") == template_text("classification")
    again = run_cli("init", "xor", "-o", "mine.yaml")
    assert (again.exit_code, again.stderr) == (2, "error: mine.yaml: already exists; --force replaces it\n")
    assert Path("mine.yaml").read_text(encoding="utf-8") == template_text("classification")
    assert run_cli("init", "xor", "-o", "mine.yaml", "--force").exit_code == 0
    assert Path("mine.yaml").read_text(encoding="utf-8") == template_text("xor")


def test_init_refuses_an_existing_default_file(in_tmp):
    Path("xor.yaml").write_text("mine\n")
    result = run_cli("init")
    assert (result.exit_code, result.stderr) == (2, "error: xor.yaml: already exists; --force replaces it\n")
    assert Path("xor.yaml").read_text() == "mine\n"


def test_init_refuses_an_unknown_template(in_tmp):
    result = run_cli("init", "mnist")
    assert (result.exit_code, result.stderr) == (
        2, "error: unknown template 'mnist'; expected one of: xor, classification, regression\n"
    )
    assert list(in_tmp.iterdir()) == []


def test_init_refuses_a_folder_that_does_not_exist(in_tmp):
    result = run_cli("init", "-o", Path("nope", "x.yaml"))
    assert (result.exit_code, result.stderr) == (2, f"error: {Path('nope', 'x.yaml')}: folder nope does not exist\n")
