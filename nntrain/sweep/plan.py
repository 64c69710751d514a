"""Planning a sweep: its grid read from the config's ``sweep:`` section and the command line, expanded
into variants, and every variant validated before any run starts.

A grid maps dotted config paths (the keys of ``fit --set``) onto lists of values; ``seeds: N`` adds the
key ``seed`` with the values 0..N-1. The runs are the cartesian product, in grid order (the last key
varies fastest), each named after its values (``optimizer.lr=0.1,seed=0``) and resolved into the
config that it runs: a run is fully determined by that config, seed included.
"""

import itertools
import json
import math
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config import ExperimentConfig, load_config
from ..config.bounds import yaml_problem
from ..config.loading import split_assignment
from ..errors import ConfigError, NNTrainWarning, UsageError
from ..nn.losses import pairing_warning

MAX_RUNS = 10_000  # a typo in a grid should not plan a million runs


@dataclass
class Variant:
    """One run of a sweep: its directory name, its values by grid key, its resolved config."""

    dirname: str
    values: dict
    config: ExperimentConfig


@dataclass
class SweepPlan:
    """A validated sweep: ``grid`` maps each key onto its values (as YAML reads them); ``variants`` in grid order."""

    config_path: Path
    name: str
    grid: dict
    variants: list


def parse_grid(item):
    """``KEY=V1,V2,...`` -> (key, [value texts]); each value is YAML (``[1, 2]``, ``{name: normal}``, ``"a,b"``).

    The values are read as one YAML flow sequence, so commas inside brackets or quotes do not split.
    """
    key, text = split_assignment(item, "--grid", "KEY=V1,V2,...", "optimizer.lr=0.1,0.01")
    flow = f"[{text}]"
    problem = yaml_problem(flow)
    if problem:
        raise UsageError(f"--grid {key}=...: {problem.removesuffix(' (line 1)')}")
    try:
        node = yaml.compose(flow, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UsageError(f"--grid {item}: cannot read the values as a comma-separated list: {problem}") from None
    if not isinstance(node, yaml.SequenceNode):
        raise UsageError(f"--grid {item}: cannot read the values as a comma-separated list")
    texts = [flow[v.start_mark.index : v.end_mark.index].strip() for v in node.value]
    if not texts:
        raise UsageError(f"--grid {item}: no values; expected KEY=V1,V2,..., e.g. {key}=0.1,0.01")
    return key, texts


def plan_sweep(config_path, grid=(), seeds=None, overrides=()):
    """Read a config, expand its grid into variants and validate every one of them; returns a SweepPlan.

    ``grid``: ``KEY=V1,V2`` strings (the command line's ``--grid``); ``seeds``: run every variant with
    seeds 0..seeds-1; ``overrides``: ``KEY=VALUE`` strings applied to every run (``--set``). Keys given
    here replace the same keys of the config's ``sweep:`` section. Raises ConfigError naming the key
    and the value of the first variant that does not validate.
    """
    config_path = Path(config_path)
    if seeds is not None and not 1 <= seeds <= MAX_RUNS:
        raise UsageError(f"--seeds {seeds}: expected a number of seeds from 1 to {MAX_RUNS}")
    base = load_config(config_path, overrides)
    # The axes: key -> [(value text, label naming it in errors)]; the command line's replace the file's.
    axes = {**_file_axes(config_path, base.sweep), **_command_line_axes(grid, seeds)}
    _check_axes(config_path, axes)
    variants, messages = _variants(config_path, overrides, axes)
    for message in messages:  # once per sweep, not once per run
        warnings.warn(message, NNTrainWarning, stacklevel=2)
    grid_json = {key: [yaml.safe_load(text) for text, _ in values] for key, values in axes.items()}
    return SweepPlan(config_path, base.name, _jsonable(grid_json), variants)


def _file_axes(config_path, sweep):
    """The axes of the config's ``sweep:`` section (None: none), each value labelled by where it is."""
    if sweep is None:
        return {}
    where = f"{config_path}: sweep"
    grid = {key: [(_yaml_text(v), f"{where}.grid: {key}={_yaml_text(v)}") for v in values] for key, values in sweep.grid.items()}
    return _with_seeds(grid, sweep.seeds, f"{where}.seeds", f"{where}.grid")


def _command_line_axes(items, seeds):
    """The axes of ``--grid`` (``KEY=V1,V2`` strings) and ``--seeds``, each value labelled as given."""
    grid = {}
    for item in items:
        key, texts = parse_grid(item)
        if key in grid:
            raise UsageError(f"--grid {item}: {key} is already swept by an earlier --grid; give its values once")
        grid[key] = [(t, f"--grid {key}={t}") for t in texts]
    return _with_seeds(grid, seeds, "--seeds", "--grid")


def _with_seeds(grid, seeds, seeds_label, grid_label):
    if seeds is None:
        return grid
    if "seed" in grid:
        raise ConfigError(f"{seeds_label} {seeds} and {grid_label} seed=...: give the seeds one way, not both")
    return {**grid, "seed": [(str(s), f"{seeds_label} {seeds}") for s in range(seeds)]}


def _check_axes(config_path, axes):
    """ConfigError for no axes, a swept sweep section, an axis without values or with a value twice, or
    more than MAX_RUNS runs."""
    if not axes:
        raise ConfigError(
            f"{config_path}: nothing to sweep: give --grid KEY=V1,V2 or --seeds N, or a sweep: section in the config"
        )
    for key, values in axes.items():
        if key == "sweep" or key.startswith("sweep."):
            raise ConfigError(f"{values[0][1]}: the sweep section itself cannot be swept")
        if not values:
            raise ConfigError(f"{config_path}: sweep.grid: {key} has no values")
        seen = set()
        for text, label in values:
            if text in seen:
                raise ConfigError(f"{label}: {key} lists {text} twice")
            seen.add(text)
    total = math.prod(len(v) for v in axes.values())
    if total > MAX_RUNS:
        sizes = " x ".join(f"{len(v)} ({k})" for k, v in axes.items())
        raise ConfigError(f"the grid makes {sizes} = {total} runs; a sweep has at most {MAX_RUNS}")


def _variants(config_path, overrides, axes):
    """Every combination of the axes' values as a validated Variant, in grid order, and the distinct
    warnings about their output activation and loss."""
    variants, names, messages = [], set(), {}
    for combo in itertools.product(*([(key, text, label) for text, label in values] for key, values in axes.items())):
        config = load_config(config_path, [*overrides, *((f"{k}={t}", label) for k, t, label in combo)])
        config.sweep = None
        resolved = config.model_dump(mode="json")
        values = {key: _lookup(resolved, key) for key, _, _ in combo}
        variants.append(Variant(_unique(_dirname(combo), names), values, config))
        message = pairing_warning(config.loss, config.model.layers[-1].output_activation)
        if message:
            messages.setdefault(message)
    return variants, list(messages)


def _yaml_text(value):
    """A value as one line of YAML, e.g. ``0.1``, ``he_normal``, ``{name: normal, scale: 0.1}``."""
    return yaml.safe_dump(value, default_flow_style=True, width=math.inf).removesuffix("...\n").strip()


def _lookup(tree, key):
    for part in key.split("."):
        tree = tree[int(part)] if isinstance(tree, list) else tree[part]
    return tree


def _dirname(combo):
    """``optimizer.lr=0.1,seed=0``: in keys and values, anything but letters, digits and ``._+-`` becomes ``_``."""
    name = ",".join(f"{_safe(key)}={_safe(text)}" for key, text, _ in combo)
    if len(name) > 120:  # file names have a length limit: keep a readable start and a checksum
        name = f"{name[:110]}~{zlib.crc32(name.encode()):08x}"
    return name


def _safe(text):
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text)


def _unique(name, names):
    candidate, k = name, 1
    while candidate in names:  # two values that only differ in replaced characters
        k += 1
        candidate = f"{name}~{k}"
    names.add(candidate)
    return candidate


def _jsonable(value):
    """YAML values JSON cannot hold (dates, ...) as strings."""
    return json.loads(json.dumps(value, default=str))
