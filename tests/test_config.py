import textwrap

import pytest
import yaml

from nntrain.config import ExperimentConfig, dump_config, load_config, parse_config
from nntrain.errors import ConfigError, UsageError

GOOD = """\
name: xor
seed: 0
data: {source: xor, batch_size: 4}
model:
  inputs: 2
  layers:
    - units: 2
      activation: sigmoid
      init: {name: normal, scale: 0.01}
    - {units: 1, activation: sigmoid}
loss: binary_crossentropy
optimizer: {name: adam, lr: 0.001}
training: {epochs: 10}
metrics: [accuracy]
"""


def error_of(text, overrides=(), path="exp.yaml"):
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), path, overrides)
    return str(info.value)


def test_a_good_config_gets_every_default():
    config = parse_config(GOOD)
    assert config.optimizer.beta2 == 0.999
    assert config.model.layers[0].init.scale == 0.01
    assert config.model.layers[1].init.name == "xavier_uniform"
    assert config.model.layers[1].keep_prob == 1.0
    assert config.training.clip_norm is None
    assert config.dtype == "float32"


def test_the_resolved_config_round_trips():
    config = parse_config(GOOD)
    again = parse_config(dump_config(config))
    assert again.model_dump() == config.model_dump()
    assert yaml.safe_load(dump_config(config))["optimizer"] == {
        "name": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08
    }


def test_bare_initializer_name():
    config = parse_config(GOOD.replace("init: {name: normal, scale: 0.01}", "init: he_normal"))
    assert config.model.layers[0].init.name == "he_normal" and config.model.layers[0].init.scale is None


def test_unknown_key_names_line_field_and_the_known_keys():
    message = error_of(GOOD.replace("    - {units: 1,", "    - {unit: 1,"))
    assert message.startswith("exp.yaml, line 10: model.layers.1.unit: unknown key 'unit'; expected one of: units,")
    message = error_of(GOOD + "epochs: 5\n")
    assert message.startswith("exp.yaml, line 15: epochs: unknown key 'epochs'; expected one of: name, seed, dtype")


def test_misspelled_names():
    assert error_of(GOOD.replace("activation: sigmoid\n      init", "activation: sigmod\n      init")) == (
        "exp.yaml, line 8: model.layers.0.activation: Input should be 'sigmoid', 'tanh', 'relu', "
        "'leaky_relu', 'linear', 'softmax', 'gelu' or 'silu'; got 'sigmod'"
    )
    message = error_of(GOOD.replace("loss: binary_crossentropy", "loss: bce"))
    # Every registered loss is listed, the lecture's three first (so a new loss does not change this test).
    assert message.startswith("exp.yaml, line 11: loss: Input should be 'mse', 'binary_crossentropy', 'categorical_crossentropy'")
    assert message.endswith("; got 'bce'")
    message = error_of(GOOD.replace("name: adam", "name: adamm"))
    assert message == "exp.yaml, line 12: optimizer.name: 'adamm' is not one of sgd, adam, rmsprop, adagrad, adamw"
    message = error_of(GOOD.replace("name: normal", "name: gaussian"))
    assert message.startswith("exp.yaml, line 9: model.layers.0.init.name: Input should be 'zeros', 'normal'")


def test_values_out_of_bounds():
    assert error_of(GOOD.replace("units: 2", "units: -2")) == (
        "exp.yaml, line 7: model.layers.0.units: Input should be greater than 0; got -2"
    )
    assert error_of(GOOD.replace("lr: 0.001", "lr: -1")) == (
        "exp.yaml, line 12: optimizer.lr: Input should be greater than 0; got -1"
    )
    message = error_of(GOOD.replace("activation: sigmoid\n      init", "activation: sigmoid\n      keep_prob: 1.5\n      init"))
    assert message == "exp.yaml, line 9: model.layers.0.keep_prob: Input should be less than or equal to 1; got 1.5"
    message = error_of(GOOD.replace("activation: sigmoid\n      init", "activation: sigmoid\n      keep_prob: 0\n      init"))
    assert message == "exp.yaml, line 9: model.layers.0.keep_prob: Input should be greater than 0; got 0"
    assert "model.layers.0.units: Input should be less than or equal to 1000000" in error_of(GOOD.replace("units: 2", "units: 100000000000"))


def test_wrong_types():
    assert error_of(GOOD.replace("seed: 0", "seed: zero")).startswith(
        "exp.yaml, line 2: seed: Input should be a valid integer"
    )
    assert error_of(GOOD.replace("training: {epochs: 10}", "training: 10")) == (
        "exp.yaml, line 13: training: Input should be a valid dictionary or instance of TrainingConfig; got int"
    )


def test_a_large_value_is_quoted_short():
    # Quoted within bounds: a million numbers where one belongs are not written out to be cut.
    big = "[" + ", ".join(["1"] * 1_000_000) + "]"
    assert error_of(GOOD.replace("lr: 0.001", f"lr: {big}")) == (
        "exp.yaml, line 12: optimizer.lr: Input should be a valid number; got [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ...]"
    )
    long = error_of(GOOD.replace("seed: 0", f"seed: {'9' * 5000}x"))
    assert long.startswith("exp.yaml, line 2: seed: ") and long.endswith("9x'") and len(long.split("; got ")[1]) <= 60


def test_missing_required_keys():
    assert error_of("name: x\nmodel: {layers: [{units: 1}]}\n") == "exp.yaml: loss: required key is missing"
    message = error_of("loss: mse\nmodel: {layers: []}\n")
    assert message.startswith("exp.yaml, line 2: model.layers: List should have at least 1 item")


def test_several_problems_are_counted():
    message = error_of(GOOD.replace("seed: 0", "seed: -1").replace("lr: 0.001", "lr: 0"))
    assert message.endswith("(and 1 more problem)")


def test_dropout_on_the_output_layer_is_refused():
    message = error_of(GOOD.replace("{units: 1, activation: sigmoid}", "{units: 1, activation: sigmoid, keep_prob: 0.5}"))
    assert message == (
        "exp.yaml, line 10: model.layers.1.keep_prob: dropout on the output layer would drop predictions; "
        "use keep_prob on hidden layers"
    )


def test_accuracy_needs_a_classification_loss():
    message = error_of(GOOD.replace("loss: binary_crossentropy", "loss: mse"))
    assert message == "exp.yaml, line 14: metrics.0: 'accuracy' needs a classification loss, not 'mse'"


def test_yaml_syntax_error_names_line_and_column():
    message = error_of("name: x\nmodel: {layers: [\nloss: : mse\n")
    assert message.startswith("exp.yaml, line 3, column") and "invalid YAML" in message


def test_top_level_must_be_a_mapping():
    assert error_of("- 1\n- 2\n") == "exp.yaml: expected a mapping of config keys (name, data, model, ...), got a list"
    assert error_of("") == "exp.yaml: expected a mapping of config keys (name, data, model, ...), got nothing"


def test_python_tags_are_refused():
    message = error_of("name: !!python/object/apply:os.system ['echo hi']\n")
    assert "invalid YAML" in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"is a directory, expected a YAML config file"):
        load_config(tmp_path)


def test_overrides_by_dotted_path():
    config = parse_config(GOOD, overrides=["optimizer.lr=0.01", "model.layers.0.units=8", "training.clip_norm=1"])
    assert config.optimizer.lr == 0.01
    assert config.model.layers[0].units == 8
    assert config.training.clip_norm == 1.0
    config = parse_config(GOOD, overrides=["optimizer={name: sgd, momentum: 0.9}", "model.layers.0.init.scale=0.5"])
    assert config.optimizer.name == "sgd" and config.optimizer.momentum == 0.9
    assert config.model.layers[0].init.scale == 0.5
    bare = GOOD.replace("init: {name: normal, scale: 0.01}", "init: he_normal")
    assert parse_config(bare, overrides=["model.layers.0.init.scale=3"]).model.layers[0].init.name == "he_normal"


def test_override_errors_name_the_override():
    assert error_of(GOOD, ["optimizer.lr=-1"]) == "--set optimizer.lr=-1: optimizer.lr: Input should be greater than 0; got -1"
    assert error_of(GOOD, ["optimizer.lrr=1"]).startswith("--set optimizer.lrr=1: optimizer.lrr: unknown key 'lrr'; expected one of: name, lr,")
    assert error_of(GOOD, ["model.layers.5.units=1"]) == "--set model.layers.5.units=1: model.layers is a list of 2, no index '5'"
    with pytest.raises(UsageError, match=r"^--set 'nonsense': expected KEY=VALUE, e.g. optimizer.lr=0.01$"):
        parse_config(GOOD, overrides=["nonsense"])  # the command line's form, not the config
    assert error_of(GOOD, [("seed=-3", "--seed -3")]) == "--seed -3: seed: Input should be greater than or equal to 0; got -3"


def test_python_construction_checks_the_same_bounds():
    with pytest.raises(Exception, match="greater than 0"):
        ExperimentConfig.model_validate({"model": {"layers": [{"units": 0}]}, "loss": "mse"})


def test_negative_penalties_and_clip_values():
    assert error_of(GOOD, ["model.layers.0.l2=-0.1"]) == (
        "--set model.layers.0.l2=-0.1: model.layers.0.l2: Input should be greater than or equal to 0; got -0.1"
    )
    assert error_of(GOOD, ["model.l1=-1"]) == "--set model.l1=-1: model.l1: Input should be greater than or equal to 0; got -1"
    assert error_of(GOOD.replace("training: {epochs: 10}", "training: {epochs: 10, clip_value: -1}")) == (
        "exp.yaml, line 13: training.clip_value: Input should be greater than 0; got -1"
    )
    assert error_of(GOOD.replace("training: {epochs: 10}", "training: {epochs: 10, clip_norm: 0}")) == (
        "exp.yaml, line 13: training.clip_norm: Input should be greater than 0; got 0"
    )


def test_a_key_with_a_tab_is_reported_at_its_line(tmp_path):
    # libyaml reads a tab inside a key, which PyYAML's own scanner would refuse: finding the line of
    # the error must not fail where reading the file did not.
    path = tmp_path / "tab.yaml"
    path.write_text("name: xor\nna\te: x\n")
    with pytest.raises(ConfigError, match=r"tab.yaml, line 2: 'na\\te': unknown key"):
        load_config(path)


TABLE = GOOD.replace("data: {source: xor, batch_size: 4}", "data: {source: csv, path: d.csv, target: y}")


def test_table_keys_resolve_their_defaults_and_dump_as_written():
    config = parse_config(TABLE.replace("target: y}", "target: y, columns: {id: ignore, c: {type: category, max_categories: 3}}}"))
    d = config.data
    assert (d.standardize, d.scale_target, d.missing, d.na_values) == (True, True, "mean", [])
    assert d.columns["id"].type == "ignore" and d.columns["c"].max_categories == 3
    dumped = yaml.safe_load(dump_config(config))["data"]
    assert dumped["columns"] == {"id": "ignore", "c": {"type": "category", "max_categories": 3, "missing": None}}
    assert parse_config(dump_config(config)).model_dump() == config.model_dump()
    # Off for every source that is not a table; config.yaml says so, so a run's eval does the same.
    xor = parse_config(GOOD).data
    assert (xor.standardize, xor.scale_target) == (False, False)


@pytest.mark.parametrize(
    "data, message",
    [
        ("{source: xor, columns: {a: category}}", "data.columns: only the table sources (csv, tsv, parquet) take columns"),
        ("{source: moons, missing: drop}", "data.missing: only the table sources (csv, tsv, parquet) take missing"),
        ("{source: npz, path: d.npz, na_values: ['?']}", "data.na_values: only the table sources (csv, tsv, parquet) take na_values"),
        ("{source: tsv, path: d.tsv, target: y, delimiter: ';'}", "data.delimiter: only source 'csv' takes delimiter"),
        ("{source: parquet, path: d.parquet, target: y, decimal: ','}", "data.decimal: only the text tables (csv, tsv) take decimal"),
        ("{source: parquet, path: d.parquet}", "data.target: source 'parquet' needs a target column"),
        ("{source: xor, path: d.csv}", "data.path: source 'xor' takes no path (csv, tsv, parquet, npz, npy do)"),
        ("{source: csv, path: d.csv, target: y, delimiter: ';;'}", "data.delimiter: String should have at most 1 character"),
        ("{source: csv, path: d.csv, target: y, columns: {a: text}}", "data.columns.a.type: Input should be 'number', 'category', 'boolean' or 'ignore'"),
        ("{source: csv, path: d.csv, target: y, missing: zero}", "data.missing: Input should be 'mean', 'median', 'drop' or 'error'"),
    ],
)
def test_table_keys_belong_to_tables(data, message):
    assert message in error_of(GOOD.replace("{source: xor, batch_size: 4}", data))
