"""Sweeps: every combination of a grid of config values, each a normal run, run in parallel processes on
this machine or on a Dask cluster.

A grid maps dotted config paths (the keys of ``fit --set``) onto lists of values; ``seeds: N`` adds the
key ``seed`` with the values 0..N-1. The runs are the cartesian product, in grid order (the last key
varies fastest). A sweep directory holds:

- one run directory per variant, named after its values (``optimizer.lr=0.1,seed=0``), exactly what
  ``nntrain fit`` writes, with ``sweep: null`` in its config.yaml;
- ``sweep.json``: the grid, where the runs ran, and per run its directory, values (as its config has
  them), status (pending, completed, diverged, failed, interrupted, cancelled), error, wall time and
  final metrics. It is rewritten as runs finish, so an interrupted sweep still lists what it did.

Every variant is validated before any run starts. A run is fully determined by its resolved config
(seed included: one generator per run), and that config, as the plain data its config.yaml will hold,
is all a worker receives. A local worker writes the run into the sweep directory itself, as ``nntrain
fit`` would; a Dask worker sends the run's files back to the driver, which writes them. So results
do not depend on the number of workers or the order the runs finish in, and Dask workers need no
shared filesystem -- except for data that a config reads from a file (``data.path``), which every
worker must find at the same path.
"""

import itertools
import json
import math
import multiprocessing.popen_forkserver  # noqa: F401  (these three: what a local worker unpickles,
import multiprocessing.sharedctypes  # noqa: F401  loaded once in the forkserver, which imports this
import multiprocessing.synchronize  # noqa: F401  module, rather than in every worker)
import os
import re
import time
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import _forkserver as forkserver
from ..runs import store as runs
from ..config import FILE_SOURCES, ExperimentConfig, load_config
from ..errors import ConfigError, NNTrainWarning, RunError
from ..nn.losses import pairing_warning
from ._worker import execute, execute_local, init_local_worker

SWEEP_FILE = "sweep.json"
MAX_RUNS = 10_000  # a typo in a grid should not plan a million runs
SCHEDULER_TIMEOUT = 5.0  # seconds to reach a Dask scheduler


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


@dataclass
class SweepResult:
    """``runs``: the sweep.json entries, in grid order."""

    sweep_dir: Path
    status: str  # completed, or interrupted (in SweepInterrupted.result)
    runs: list

    def run_dirs(self):
        """The run directories that were written (every run that started)."""
        return [self.sweep_dir / r["dir"] for r in self.runs if (self.sweep_dir / r["dir"]).is_dir()]

    def count(self, status):
        return sum(r["status"] == status for r in self.runs)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, raised after the finished runs and sweep.json are written (``result``)."""

    def __init__(self, result):
        super().__init__()
        self.result = result


# --------------------------------------------------------------------------------------------------
# Planning: grids, variants, validation


def parse_grid(item):
    """``KEY=V1,V2,...`` -> (key, [value texts]); each value is YAML (``[1, 2]``, ``{name: normal}``, ``"a,b"``).

    The values are read as one YAML flow sequence, so commas inside brackets or quotes do not split.
    """
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--grid {item!r}: expected KEY=V1,V2,..., e.g. optimizer.lr=0.1,0.01")
    flow = f"[{text}]"
    try:
        node = yaml.compose(flow, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"--grid {item}: cannot read the values as a comma-separated list: {problem}") from None
    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError(f"--grid {item}: cannot read the values as a comma-separated list")
    texts = [flow[v.start_mark.index : v.end_mark.index].strip() for v in node.value]
    if not texts:
        raise ConfigError(f"--grid {item}: no values; expected KEY=V1,V2,..., e.g. {key}=0.1,0.01")
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
        raise ConfigError(f"--seeds {seeds}: expected a number of seeds from 1 to {MAX_RUNS}")
    base = load_config(config_path, overrides)
    axes = {}  # key -> [(value text, label naming it in errors)]
    if base.sweep is not None:
        where = f"{config_path}: sweep"
        file_grid = {key: [(_yaml_text(v), f"{where}.grid: {key}={_yaml_text(v)}") for v in values]
                     for key, values in base.sweep.grid.items()}
        axes.update(_with_seeds(file_grid, base.sweep.seeds, f"{where}.seeds", f"{where}.grid"))
    cli_grid = {}
    for item in grid:
        key, texts = parse_grid(item)
        if key in cli_grid:
            raise ConfigError(f"--grid {item}: {key} is already swept by an earlier --grid; give its values once")
        cli_grid[key] = [(t, f"--grid {key}={t}") for t in texts]
    axes.update(_with_seeds(cli_grid, seeds, "--seeds", "--grid"))
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

    variants, names, messages = [], set(), {}
    for combo in itertools.product(*([(key, text, label) for text, label in values] for key, values in axes.items())):
        config = load_config(config_path, [*overrides, *((f"{k}={t}", label) for k, t, label in combo)])
        config.sweep = None
        resolved = config.model_dump(mode="json")
        values = {key: _lookup(resolved, key) for key, _, _ in combo}
        name = _unique(_dirname(combo), names)
        variants.append(Variant(name, values, config))
        message = pairing_warning(config.loss, config.model.layers[-1].activation)
        if message:
            messages.setdefault(message)
    for message in messages:  # once per sweep, not once per run
        warnings.warn(message, NNTrainWarning, stacklevel=2)
    grid_json = {key: [yaml.safe_load(text) for text, _ in values] for key, values in axes.items()}
    return SweepPlan(config_path, base.name, _jsonable(grid_json), variants)


def _with_seeds(grid, seeds, seeds_label, grid_label):
    if seeds is None:
        return grid
    if "seed" in grid:
        raise ConfigError(f"{seeds_label} {seeds} and {grid_label} seed=...: give the seeds one way, not both")
    return {**grid, "seed": [(str(s), f"{seeds_label} {seeds}") for s in range(seeds)]}


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


# --------------------------------------------------------------------------------------------------
# Running


def run_sweep(
    plan, *, sweep_dir=None, runs_root="runs", workers=None, scheduler=None, on_start=None, on_result=None, plots=False
):
    """Run every variant of ``plan`` and write the sweep directory; returns a SweepResult.

    Locally the runs go to ``workers`` processes (default: one per core); with ``scheduler``
    (``tcp://HOST:PORT``) to that Dask cluster. ``sweep_dir`` must not exist yet; default
    ``runs_root/<name>-sweep-<time>``. ``on_start(sweep_dir, n_runs, backend)`` is called once the
    directory exists (``backend``: sweep.json's description of where the runs go), ``on_result(entry)``
    with each run's sweep.json entry as it finishes. A failing run is recorded and the others go on.
    ``plots``: each run draws its curves.png (and decision_boundary.png), as ``fit(..., plots=True)``.

    Ctrl-C cancels the runs that have not started; local runs already running finish their step,
    write a checkpoint and come back "interrupted" (``nntrain fit --resume`` continues them; on Dask
    they are abandoned). The finished runs and sweep.json are written, then SweepInterrupted is raised.
    A script that calls this must guard its top level with ``if __name__ == "__main__":`` (the worker
    processes import the main module, as multiprocessing's do).
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: expected at least 1")
    if scheduler is not None and workers is not None:
        raise ConfigError("--workers is for sweeps on this machine; a Dask cluster has the workers it was started with")
    if scheduler is not None:
        uses_files = sorted({v.config.data.path for v in plan.variants if v.config.data.source in FILE_SOURCES})
        if uses_files:
            warnings.warn(
                f"the Dask workers read {uses_files[0]}{' and more data files' if len(uses_files) > 1 else ''} "
                "themselves: it must exist at the same path on every worker",
                NNTrainWarning,
                stacklevel=2,
            )
        backend = DaskCluster(scheduler)  # connect first: an unreachable scheduler leaves no directory
    else:
        backend = LocalPool(min(workers or default_workers(), len(plan.variants)))
    with backend:
        path = runs.create_run_dir(f"{plan.name}-sweep", sweep_dir, runs_root, what="sweep")
        record = _Record(path, plan, backend.description)
        futures = {}  # the runs that have not come back -> their index
        try:
            if on_start is not None:
                on_start(path, len(plan.variants), backend.description)
            for i, variant in enumerate(plan.variants):
                futures[backend.submit(variant.config.model_dump(mode="json"), plots, path / variant.dirname)] = i
            for future in backend.as_completed(list(futures)):
                entry = record.finish(futures[future], _outcome(future))
                del futures[future]  # only now: Ctrl-C while its files were written leaves it to the loop below
                if on_result is not None:
                    on_result(entry)
        except KeyboardInterrupt:
            record.status = "interrupted"
            for future in backend.cancel(list(futures)):
                record.cancel(futures.pop(future))
            # Local runs already running stop after their step and come back marked interrupted.
            for future in backend.as_completed(list(futures)):
                record.finish(futures[future], _outcome(future))
                del futures[future]
            raise SweepInterrupted(record.result()) from None
        except BaseException:  # a bug, or the driver's disk is full: say so in sweep.json
            record.status = "failed"
            raise
        else:
            record.status = "completed"
        finally:
            if futures:  # a second Ctrl-C: give up on what has not come back
                backend.cancel(list(futures))
            record.close()
    return record.result()


def default_workers():
    """The cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _outcome(future):
    """What a worker sent back; a run whose worker failed (died, or could not run nntrain) as a failed run."""
    try:
        return future.result()
    except Exception as e:
        return {"status": "failed", "error": f"{type(e).__name__}: {e}".strip(), "files": {}}


class _Record:
    """sweep.json, and the run directories whose files a Dask worker sent back."""

    WRITE_EVERY_S = 1.0  # rewrite sweep.json at most this often while runs finish (and at the end)

    def __init__(self, path, plan, backend):
        self.path = path
        self.status = "running"
        self.doc = {
            "name": plan.name,
            "config": str(plan.config_path),
            "grid": plan.grid,
            "backend": backend,
            "status": self.status,
            "started": _iso(time.time()),
            "finished": None,
            "counts": {},
            "runs": [{"dir": v.dirname, "values": v.values, "status": "pending"} for v in plan.variants],
        }
        self.entries = self.doc["runs"]
        self.written = 0.0
        self.write()

    def finish(self, index, outcome):
        entry = self.entries[index]
        files = outcome.get("files") or {}
        if files:
            run_dir = self.path / entry["dir"]
            run_dir.mkdir(exist_ok=True)  # exists if Ctrl-C came while its files were written: write them again
            # summary.json last: a run directory with a final summary has all its files.
            for name in sorted(files, key=lambda name: name == runs.SUMMARY):
                (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
                runs.write_bytes(run_dir / name, files[name])
        summary = outcome.get("summary") or {}
        entry["status"] = outcome["status"]
        for key in ("error", "traceback"):
            if outcome.get(key):
                entry[key] = outcome[key]
        if summary.get("status") == "diverged":
            entry["message"] = summary.get("message")
        if summary:
            entry["wall_time_s"] = summary.get("wall_time_s")
            entry["final"] = summary.get("final", {})
        if time.monotonic() - self.written >= self.WRITE_EVERY_S:
            self.write()
        return entry

    def cancel(self, index):
        self.entries[index]["status"] = "cancelled"

    def close(self):
        for entry in self.entries:
            if entry["status"] == "pending":
                # A second Ctrl-C while a run's files were written leaves a directory: say so.
                entry["status"] = "interrupted" if (self.path / entry["dir"]).exists() else "cancelled"
        self.doc["finished"] = _iso(time.time())
        self.write()

    def write(self):
        self.doc["status"] = self.status
        counts = {}
        for entry in self.entries:
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        self.doc["counts"] = counts
        runs.write_json(self.path / SWEEP_FILE, self.doc)
        self.written = time.monotonic()

    def result(self):
        return SweepResult(self.path, self.status, self.entries)


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


# --------------------------------------------------------------------------------------------------
# Where runs run: a local process pool or a Dask cluster, behind one small interface


class LocalPool:
    """``workers`` processes on this machine, forked from a server process that loaded what every run
    needs once (see nntrain.sweep._forkserver).

    Idle workers ignore SIGINT: Ctrl-C is the driver's. The driver sets a flag that a queued run
    sees before it starts (it comes back "cancelled") and a running one after each step: fit then
    writes a checkpoint and stops, as on SIGTERM (it comes back "interrupted", with its files).
    """

    def __init__(self, workers):
        context = forkserver.start()
        # A flag in shared memory, read without a lock: every step of every run reads it, and a lock
        # shared by all workers would make them wait for each other.
        self.stop = context.RawValue("b", 0)
        self.executor = ProcessPoolExecutor(
            workers, mp_context=context, initializer=init_local_worker, initargs=(self.stop,)
        )
        self.description = {"kind": "local", "workers": workers}

    def submit(self, config, plots, run_dir):
        """Run ``config`` in a worker, which writes its run to ``run_dir`` itself."""
        return self.executor.submit(execute_local, config, plots, run_dir)

    def as_completed(self, futures):
        return as_completed(futures)

    def cancel(self, futures):
        """Stop everything; returns the futures that never started."""
        self.stop.value = 1
        return [f for f in futures if f.cancel()]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.value = 1
        self.executor.shutdown(wait=True, cancel_futures=True)


class DaskCluster:
    """The workers of a Dask distributed scheduler (``tcp://HOST:PORT``); needs ``nntrain[dask]`` here and
    nntrain on the workers."""

    def __init__(self, address):
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError("--scheduler needs Dask: pip install 'nntrain[dask]'") from None
        try:
            self.client = Client(address, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
        except ValueError as e:  # a malformed address
            raise ConfigError(f"--scheduler {address}: {e}; expected tcp://HOST:PORT") from None
        except (OSError, TimeoutError):
            raise RunError(
                f"--scheduler {address}: no Dask scheduler answered within {SCHEDULER_TIMEOUT:g} s "
                "(is `dask scheduler` running there?)"
            ) from None
        self.description = {"kind": "dask", "scheduler": address}

    def submit(self, config, plots, run_dir):
        """Run ``config`` on a worker, which sends the run's files back (``run_dir`` is this machine's)."""
        return self.client.submit(execute, config, plots, pure=False)

    def as_completed(self, futures):
        from distributed import as_completed as dask_as_completed

        return dask_as_completed(futures, loop=self.client.loop)

    def cancel(self, futures):
        """Cancel every run that has not finished (one already running on a worker is abandoned)."""
        running = [f for f in futures if not f.done()]
        self.client.cancel(running)
        return running

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()
