"""nntrain.config.bounds: YAML that nests too deeply, expands too far through its aliases or is too
large is refused with one line -- in a config file, a --set or --grid value, a run's config.yaml."""

import pytest

from conftest import run_cli
from nntrain.config import bounds, parse_config
from nntrain.config.bounds import MAX_DEPTH, yaml_problem
from nntrain.errors import ConfigError, RunError
from nntrain.runs.catalog import load_run

BASE = "model: {layers: [{units: 1}]}\nloss: mse\n"


def laughs(levels=9, width=9):
    """A "billion laughs": each anchor a list of ``width`` aliases of the one before."""
    lines = ["l0: &l0 [" + ", ".join(["ha"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def nested(depth):
    return "[" * depth + "]" * depth


def test_the_nesting_depth_is_counted_and_bounded():
    assert yaml_problem(f"a: {nested(MAX_DEPTH - 1)}") is None  # the mapping is a level too
    assert yaml_problem(f"a: {nested(MAX_DEPTH)}") == f"nested deeper than {MAX_DEPTH} levels (line 1)"
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH + 1)) + f"{'  ' * (MAX_DEPTH + 1)}v: 1\n"
    assert yaml_problem(block) == f"nested deeper than {MAX_DEPTH} levels (line {MAX_DEPTH + 1})"  # the mapping that holds k64


def test_aliases_count_as_every_value_of_their_anchor(monkeypatch):
    # l0: 1 list + 3 scalars = 4 values; l1: 1 list + 3 aliases of 4 = 13; the document's mapping and keys: 3.
    text = laughs(levels=2, width=3)
    monkeypatch.setattr(bounds, "MAX_VALUES", 4 + 13 + 3)
    assert yaml_problem(text) is None
    monkeypatch.setattr(bounds, "MAX_VALUES", 4 + 13 + 2)
    assert yaml_problem(text) == "its aliases expand to more than 19 values (line 2)"


def test_a_billion_laughs_config_is_refused_without_expanding_it():
    with pytest.raises(ConfigError) as e:
        parse_config(laughs() + BASE, "bomb.yaml")  # 9^9 laughs: would take gigabytes
    assert str(e.value) == "bomb.yaml: its aliases expand to more than 2,000,000 values (line 7)"  # 9^7 > 2·10^6


def test_a_config_larger_than_the_bound(monkeypatch):
    monkeypatch.setattr(bounds, "MAX_BYTES", 20)
    with pytest.raises(ConfigError, match=r"^big.yaml: 40 characters; at most 20$"):
        parse_config(BASE, "big.yaml")


def test_invalid_yaml_is_left_to_the_parser_that_names_its_line():
    assert yaml_problem("a: [1, 2") is None
    with pytest.raises(ConfigError, match="bad.yaml, line 2, column 1: invalid YAML"):
        parse_config("a: [1, 2\n", "bad.yaml")


@pytest.mark.parametrize("option", ["--set", "--grid"])
def test_a_deeply_nested_command_line_value_is_one_line_exit_2(option, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(BASE)
    command = "fit" if option == "--set" else "sweep"
    result = run_cli(command, config, option, f"model.layers={nested(600)}", "-q")
    assert (result.exit_code, result.stderr) == (2, f"error: {option} model.layers=...: nested deeper than {MAX_DEPTH} levels\n")


def test_a_runs_config_yaml_that_expands_too_far_is_damaged(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "summary.json").write_text('{"status": "completed"}')
    (run / "metrics.csv").write_text("epoch,loss\n1,0.5\n")
    (run / "config.yaml").write_text(laughs() + BASE)
    with pytest.raises(RunError, match=r"config.yaml: damaged config: its aliases expand to more than 2,000,000 values"):
        load_run(run, config=True)
