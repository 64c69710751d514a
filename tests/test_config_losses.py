"""The config's ``loss``: a bare name or a mapping of a loss's constructor arguments, generated from the
loss classes; saved as it was read."""

import glob
import textwrap
from pathlib import Path

import pytest
import yaml

from nntrain.config import dump_config, load_config, parse_config
from nntrain.config.losses import LOSS_SECTIONS
from nntrain.errors import ConfigError
from nntrain.nn.losses import LOSSES, Huber, MeanSquaredError, make_loss

ROOT = Path(__file__).parent.parent

BASE = """\
name: reg
model:
  layers:
    - {units: 1, activation: linear}
"""


def parsed(loss_yaml):
    return parse_config(BASE + loss_yaml, "exp.yaml")


def error_of(loss_yaml):
    with pytest.raises(ConfigError) as info:
        parsed(loss_yaml)
    return str(info.value)


def test_a_bare_name_and_a_mapping_are_the_same_loss():
    for text in ("loss: mse\n", "loss: {name: mse}\n"):
        config = parsed(text)
        assert config.loss.name == "mse" and config.loss.arguments() == {}
        assert isinstance(config.loss.build("linear"), MeanSquaredError)
    huber = parsed("loss:\n  name: huber\n  delta: 0.5\n").loss
    assert (huber.name, huber.delta, str(huber)) == ("huber", 0.5, "huber(delta=0.5)")
    built = huber.build("linear")
    assert isinstance(built, Huber) and built.delta == 0.5
    assert make_loss(huber, "linear").delta == 0.5  # a section passed as the loss brings its arguments
    assert parsed("loss: huber\n").loss.delta == 1.0


def test_a_loss_without_arguments_is_saved_as_its_name_one_with_arguments_in_full():
    assert yaml.safe_load(dump_config(parsed("loss: {name: mae}\n")))["loss"] == "mae"
    assert yaml.safe_load(dump_config(parsed("loss: huber\n")))["loss"] == {"name": "huber", "delta": 1.0}
    again = parse_config(dump_config(parsed("loss: {name: huber, delta: 0.25}\n")))
    assert again.loss.delta == 0.25


def test_every_shipped_config_saves_its_loss_as_it_reads_it():
    paths = sorted(glob.glob(str(ROOT / "configs" / "**" / "*.yaml"), recursive=True))
    assert paths
    for path in paths:
        written = yaml.safe_load(Path(path).read_text())["loss"]
        assert yaml.safe_load(dump_config(load_config(path)))["loss"] == written, path


def test_a_section_per_loss_whose_keys_are_the_constructors_arguments():
    assert set(LOSS_SECTIONS) == set(LOSSES)
    for name, section in LOSS_SECTIONS.items():
        assert list(section.model_fields) == ["name", *LOSSES[name].config_arguments()]


@pytest.mark.parametrize(
    "loss_yaml,message",
    [
        ("loss:\n  name: huber\n  delta: -1\n", "exp.yaml, line 7: loss.delta: Input should be greater than 0; got -1"),
        ("loss: {name: huber, delta: 0}\n", "exp.yaml, line 5: loss.delta: Input should be greater than 0; got 0"),
        ("loss: {name: huber, delta: big}\n", "exp.yaml, line 5: loss.delta: Input should be a valid number, unable to parse string as a number; got 'big'"),
        ("loss: {name: huber, width: 1}\n", "exp.yaml, line 5: loss.width: unknown key 'width'; expected one of: name, delta"),
        ("loss: {name: mae, delta: 1}\n", "exp.yaml, line 5: loss.delta: unknown key 'delta'; expected one of: name"),
    ],
)
def test_bad_loss_arguments_name_the_key_and_its_line(loss_yaml, message):
    assert error_of(loss_yaml) == message


def test_a_loss_takes_only_its_constructors_arguments():
    assert error_of("loss: {name: mse, delta: 1}\n") == "exp.yaml, line 5: loss.delta: unknown key 'delta'; expected one of: name"


def test_an_unknown_loss_name_lists_the_known_ones():
    known = "'mse', 'binary_crossentropy', 'categorical_crossentropy', 'mae' or 'huber'"
    assert error_of("loss: l1\n") == f"exp.yaml, line 5: loss: Input should be {known}; got 'l1'"
    assert error_of("loss: 3\n") == f"exp.yaml, line 5: loss: Input should be {known}; got 3"
    assert error_of("loss: {name: l1}\n") == (
        "exp.yaml, line 5: loss.name: 'l1' is not one of mse, binary_crossentropy, categorical_crossentropy, mae, huber"
    )


def test_a_loss_can_be_set_from_the_command_line():
    config = parse_config(textwrap.dedent(BASE + "loss: huber\n"), "exp.yaml", ["loss.delta=0.1"])
    assert config.loss.delta == 0.1
    assert parse_config(BASE + "loss: mse\n", "exp.yaml", ["loss=mae"]).loss.name == "mae"
    with pytest.raises(ConfigError, match=r"^--set loss.delta=-2: loss.delta: Input should be greater than 0; got -2$"):
        parse_config(BASE + "loss: huber\n", "exp.yaml", ["loss.delta=-2"])


def test_a_classification_metric_needs_a_classification_loss():
    message = error_of("loss: {name: huber, delta: 2}\nmetrics: [mae, accuracy]\n")
    assert message == "exp.yaml, line 6: metrics.1: 'accuracy' needs a classification loss, not 'huber'"
    assert [m.name for m in parsed("loss: mae\nmetrics: [mae]\n").metrics] == ["mae"]  # the mae metric beside the mae loss
