"""A search: Optuna asks for trials over the config's space, each trial a normal run of the sweep's
workers (local or Dask), and is told each one's result (``nntrain sweep --search tpe``).

Each trial's values are drawn by Optuna's sampler (TPE or random) in this process, ask and tell; the
study lives in the sweep directory (``study.journal``, Optuna's journal file: no database server).
The trials are asked in batches of the number of workers, and a batch is told before the next is
asked, so the trials and their results do not depend on which run finishes first: with the same
search seed and the same number of workers a search repeats itself exactly (a different number of
workers asks in other batches, so TPE sees other histories). The sampler is seeded anew for every
trial (search seed and trial number), so a resumed search asks what the uninterrupted one would have.

A trial is judged by its metric's best epoch (``search.metric``; its direction is the metric's).
With ``prune: median`` each worker asks Optuna's MedianPruner after every epoch whether its trial
falls behind the median of the trials finished before its batch at that epoch -- those curves travel
with the trial, so the verdict does not depend on timing either; a pruned trial stops at the end of
that epoch, with its files, "pruned".

The sweep directory is a sweep's (sweep.json, plan.json, a run directory per trial: ``trial=007``),
and ``resume_search`` goes on with one that stopped, as ``resume_sweep`` does with a grid.
"""

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..config import load_config, parse_config
from ..config.loading import split_assignment
from ..config.search import Dimension, SearchConfig
from ..errors import ConfigError, NNTrainWarning, RunError, UsageError
from ..nn.losses import pairing_warning
from ..nn.metrics import higher_is_better
from ..runs import store as runs
from .execute import _open_pool, _Pending, driving
from .plan import SweepPlan, Variant, _yaml_text
from .record import KIND_SEARCH, SweepRecord, reopen, write_plan

STUDY_FILE = "study.journal"
KIND = KIND_SEARCH  # plan.json's kind of a search directory


@dataclass
class SearchPlan:
    """A validated search: the config and its overrides, the search settings, the space, the metric."""

    config_path: Path
    name: str
    overrides: list
    search: SearchConfig
    space: dict  # key -> Dimension
    metric: str
    direction: str  # minimize | maximize
    base: object = None  # the config without its sweep section (ExperimentConfig)
    config_text: str = ""  # the config file as it was read: every trial's config is made from it

    def trial(self, index, values):
        """(Variant ``trial=<index>`` of ``values``, None), or (the Variant without a config, the error)
        for values the config refuses."""
        name = f"trial={index:0{len(str(self.search.trials - 1))}d}"
        items = [(f"{key}={_yaml_text(value)}", f"{name}: {key}={_yaml_text(value)}") for key, value in values.items()]
        try:
            config = parse_config(self.config_text, self.config_path, [*self.overrides, *items])
        except ConfigError as e:
            return Variant(name, values, None), str(e)
        config.sweep = None
        return Variant(name, values, config), None

    def sweep_plan(self, variants=()):
        """The SweepPlan of the trials so far (sweep.json's and plan.json's view of them)."""
        grid = {"space": {k: d.model_dump() for k, d in self.space.items()}, "search": self.search.model_dump(mode="json")}
        return SweepPlan(self.config_path, self.name, {**grid, "metric": self.metric, "direction": self.direction}, list(variants))


# --------------------------------------------------------------------------------------------------
# The plan


def parse_space(item):
    """``KEY=KIND(ARGS)`` -> (key, the Dimension's written form): ``optimizer.lr=loguniform(1e-4,1e-1)``,
    ``model.layers.0.units=int(4,128,log)``, ``model.layers.0.activation=choice(relu,tanh)``."""
    example = "optimizer.lr=loguniform(1e-4,1e-1)"
    key, text = split_assignment(item, "--space", "KEY=KIND(ARGS)", example)
    text = text.strip()
    kind, paren, rest = text.partition("(")
    kind = kind.strip()
    if kind not in ("uniform", "loguniform", "int", "choice") or not paren or not rest.endswith(")"):
        raise UsageError(f"--space {item}: expected uniform(LOW,HIGH), loguniform(LOW,HIGH), int(LOW,HIGH[,log]) or choice(A,B,...)")
    try:
        args = yaml.safe_load(f"[{rest[:-1]}]")
    except yaml.YAMLError:
        raise UsageError(f"--space {item}: cannot read {rest[:-1]!r} as comma-separated values") from None
    args = [_number(a) for a in args]
    log = kind == "int" and args[-1:] == ["log"]
    args = args[:-1] if log else args
    if kind == "choice":
        return key, {"choice": args}
    if len(args) != 2:
        raise UsageError(f"--space {item}: {kind} takes two bounds, LOW,HIGH; got {len(args)} values")
    return key, {kind: args, **({"log": True} if log else {})}


def _number(value):
    """``1e-4`` as the number it means: YAML 1.1 (PyYAML) reads an exponent without a dot as text."""
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", value):
        return float(value)
    return value


def plan_search(config_path, *, method=None, trials=None, space=(), metric=None, prune=None, seed=None, overrides=()):
    """Read a config and its search settings (the config's ``sweep:`` section, replaced key by key by
    the command line's), validate the space -- every key at both bounds, every choice -- and the
    metric against the columns the runs will log; a SearchPlan. Raises ConfigError/UsageError
    naming what is wrong, before anything runs or is written."""
    config_path = Path(config_path)
    base = load_config(config_path, overrides)
    text = config_path.read_text(encoding="utf-8")  # as load_config read it: the trials are made from it
    given = {k: v for k, v in dict(method=method, trials=trials, metric=metric, prune=prune, seed=seed).items() if v is not None}
    search = _settings(base.sweep, given)
    dims = _space(base.sweep, space)
    if not dims:
        raise ConfigError(f"{config_path}: nothing to search: give --space KEY=loguniform(LOW,HIGH), ... or a sweep.space section")
    _check_space(config_path, overrides, dims)
    metric = search.metric or ("val_loss" if base.data.split.val else "loss")
    base = base.model_copy()
    base.sweep = None
    _check_metric(base, metric, "--metric" if "metric" in given else f"{config_path}: sweep.search.metric")
    direction = search.direction or ("maximize" if higher_is_better(metric) else "minimize")
    return SearchPlan(config_path, base.name, list(overrides), search, dims, metric, direction, base, text)


def _settings(sweep, given):
    """The config's sweep.search with the command line's settings (``given``) in place of its own."""
    written = sweep.search.model_dump() if sweep is not None and sweep.search is not None else {}
    try:
        return SearchConfig.model_validate({**written, **given})
    except ValidationError as e:
        problem = e.errors()[0]
        key = problem["loc"][0]
        option = "--search-seed" if key == "seed" else "--search" if key == "method" else f"--{key}"
        raise UsageError(f"{option} {given.get(key)}: {problem['msg']}") from None


def _space(sweep, items):
    """The config's sweep.space with the command line's ``--space`` items in place of its keys."""
    dims = dict(sweep.space) if sweep is not None else {}
    for item in items:
        key, form = parse_space(item)
        try:
            dims[key] = Dimension.model_validate(form)
        except ValidationError as e:
            raise UsageError(f"--space {item}: {e.errors()[0]['msg']}") from None
    return dims


def _check_space(config_path, overrides, dims):
    """Every key of the space, at each bound (an int's as a whole number) and with every choice, as a
    run's config: an unknown key or a value the key refuses is a ConfigError naming it."""
    messages = {}
    for key, dim in dims.items():
        if key == "sweep" or key.startswith("sweep."):
            raise ConfigError(f"sweep.space: {key}: the sweep section itself cannot be searched")
        values = dim.values if dim.kind == "choice" else [int(dim.low), int(dim.high)] if dim.kind == "int" else [dim.low, dim.high]
        for value in values:
            text = _yaml_text(value)
            config = load_config(config_path, [*overrides, (f"{key}={text}", f"space {key}: {text}")])
            message = pairing_warning(config.loss, config.model.layers[-1].output_activation)
            if message:
                messages.setdefault(message)
    for message in messages:
        warnings.warn(message, NNTrainWarning, stacklevel=3)


def _check_metric(base, metric, label):
    """ConfigError unless the runs of ``base`` log ``metric`` (its data read once, as a run would)."""
    from ..training.trainer import prepare

    _, data, trainer = prepare(base)
    columns = trainer.logged_columns(data)
    if metric not in columns:
        raise ConfigError(f"{label}: the runs do not log {metric}; they log {', '.join(columns)}")


# --------------------------------------------------------------------------------------------------
# Running


def run_search(
    plan, *, sweep_dir=None, runs_root="runs", workers=None, scheduler=None, on_start=None, on_result=None, on_progress=None, plots=False
):
    """Run the search ``plan`` (``plan_search``'s) into a new sweep directory; a SweepResult, its runs
    the trials in the order asked. The arguments are ``run_sweep``'s."""
    optuna = _optuna()
    pool = _open_pool([plan.base], plan.search.trials, workers, scheduler)
    with pool:
        path = runs.create_run_dir(f"{plan.name}-sweep", sweep_dir, runs_root, what="sweep")
        with runs.writing(path, "sweep"):
            study = _study(optuna, path, plan, create=True)
            write_plan(path, plan.sweep_plan(), plots, KIND, extra=_plan_extra(plan))
            record = SweepRecord.new(path, plan.sweep_plan(), pool.description)
            return _Search(optuna, pool, plan, study, record, plots, on_progress=on_progress).run(on_start, on_result)


def resume_search(sweep_dir, *, workers=None, scheduler=None, on_start=None, on_result=None, on_progress=None):
    """Go on with a search that stopped: its trials kept, resumed or started as ``resume_sweep`` does,
    then the trials not yet asked."""
    optuna = _optuna()
    sweep_plan, plots, record, saved = reopen(sweep_dir, KIND, with_saved=True)
    plan = _plan_from(sweep_plan, saved)
    variants = [plan.trial(i, entry["values"])[0] for i, entry in enumerate(record.entries)]
    with runs.writing(record.path, "sweep"):
        jobs = record.settle()
        study = _study(optuna, record.path, plan, create=False)
        _fail_unrecorded(optuna, study, record)
        pool = _open_pool([plan.base], plan.search.trials, workers, scheduler)
        with pool:
            record.reopen(pool.description)
            search = _Search(optuna, pool, plan, study, record, plots, variants, on_progress)
            return search.run(on_start, on_result, jobs)


def _fail_unrecorded(optuna, study, record):
    """Trials asked but never recorded in sweep.json (the driver died between the two) as failed: they
    never ran, and a resume asks the same trials again under new numbers."""
    recorded = {e["trial"] for e in record.entries}
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial.number not in recorded:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def _optuna():
    try:
        import optuna
    except ImportError:
        raise UsageError("a search needs Optuna: pip install 'nntrain[search]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _study(optuna, path, plan, create):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = path / STUDY_FILE
    if not create and not journal.is_file():
        raise RunError(f"{path}: no {STUDY_FILE}: the search's study is lost; run the search anew")
    storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.create_study(study_name=plan.name, storage=storage, direction=plan.direction, load_if_exists=not create)


def _plan_extra(plan):
    """What plan.json keeps of a search, written once: its settings, overrides and config text (its
    trials are made from them and their values in sweep.json, so the file need not grow with them)."""
    overrides = [list(o) if isinstance(o, tuple) else o for o in plan.overrides]
    return {"search": plan.search.model_dump(mode="json"), "overrides": overrides, "config_text": plan.config_text}


def _plan_from(sweep_plan, saved):
    grid = sweep_plan.grid
    space = {k: Dimension.model_validate(v) for k, v in grid["space"].items()}
    overrides = [tuple(o) if isinstance(o, list) else o for o in saved.get("overrides", [])]
    search = SearchConfig.model_validate(saved["search"])
    plan = SearchPlan(sweep_plan.config_path, sweep_plan.name, overrides, search, space, grid["metric"], grid["direction"])
    plan.config_text = saved["config_text"]
    base = parse_config(plan.config_text, plan.config_path, plan.overrides)
    base.sweep = None
    plan.base = base
    return plan


class _Search:
    """The loop: ask a batch, run it, tell it -- until the plan's trials are done."""

    def __init__(self, optuna, pool, plan, study, record, plots, variants=(), on_progress=None):
        self.optuna, self.pool, self.plan, self.study, self.record, self.plots = optuna, pool, plan, study, record, plots
        self.variants = list(variants)
        self.batch = max(1, pool.size)
        self.pending = _Pending(pool, record, on_progress, plan.metric)

    def run(self, on_start, on_result, jobs=None):
        """The trials of ``jobs`` (a resume's: {index in sweep.json: action}) first, then new batches."""
        record = self.record

        def finished(entry):
            self._tell(entry)
            if on_result is not None:
                on_result(entry)

        with driving(record, self.pending, on_stopped=self._tell):
            if on_start is not None:
                on_start(record.path, self.plan.search.trials, self.pool.description, record.todo)
            for entry in record.kept() if on_result is not None else ():
                on_result(entry)
            if jobs:
                self._run_batch(jobs, finished)
            while len(record.entries) < self.plan.search.trials:
                self._run_batch(self._ask_batch(), finished)
        return record.result()

    def _run_batch(self, jobs, finished):
        entries = self.record.entries
        if jobs:
            pruning = self._pruning(entries[min(jobs)].get("batch", 0))
            self.pending.submit(self.variants, jobs, self.plots, trial=pruning)
            self.pending.collect(finished)
        self.record.write()

    # asking

    def _ask_batch(self):
        """The next batch's trials, asked and recorded: {index in sweep.json: "start"}."""
        entries = self.record.entries
        n = min(self.batch, self.plan.search.trials - len(entries))
        batch = 1 + max((e.get("batch", 0) for e in entries), default=-1)
        jobs = {}
        for _ in range(n):
            index = len(entries)
            trial = self._ask(index)
            values = {key: self._suggest(trial, key, dim) for key, dim in self.plan.space.items()}
            variant, error = self.plan.trial(index, values)
            self.variants.append(variant)
            entries.append({"dir": variant.dirname, "values": values, "status": "pending", "trial": trial.number, "batch": batch})
            if error is None:
                jobs[index] = "start"
            else:  # values the config refuses (a rule between fields): a failed trial, the others go on
                entries[-1].update(status="failed", error=error)
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
        self.record.write()
        return jobs

    def _ask(self, index):
        """Trial ``index``, its sampler seeded from the search seed and the index: the same trial
        whether or not the search was interrupted before."""
        search = self.plan.search
        seed = (search.seed * 1_000_003 + index) % 2**32
        samplers = self.optuna.samplers
        self.study.sampler = samplers.TPESampler(seed=seed) if search.method == "tpe" else samplers.RandomSampler(seed=seed)
        return self.study.ask()

    @staticmethod
    def _suggest(trial, key, dim):
        if dim.kind == "choice":  # as YAML texts: Optuna's categories are plain values, a choice may be a mapping
            texts = [_yaml_text(v) for v in dim.values]
            return dim.values[texts.index(trial.suggest_categorical(key, texts))]
        if dim.kind == "int":
            return trial.suggest_int(key, int(dim.low), int(dim.high), log=dim.log)
        return trial.suggest_float(key, dim.low, dim.high, log=dim.kind == "loguniform")

    # telling

    def _pruning(self, batch):
        """What a trial of ``batch`` needs to judge itself each epoch, or None without pruning: the
        metric, its direction and the curves of the trials that completed in earlier batches."""
        if self.plan.search.prune == "none":
            return None
        done = [e for e in self.record.entries if e.get("batch", 0) < batch and e["status"] == "completed"]
        return {"metric": self.plan.metric, "direction": self.plan.direction, "history": [self._curve(e) for e in done]}

    def _curve(self, entry):
        """{epoch: value} of the trial's metric, from its metrics.csv (finite values only)."""
        try:
            rows = runs.read_metrics(self.record.path / entry["dir"])
        except RunError:
            return {}
        metric = self.plan.metric
        return {int(r["epoch"]): float(r[metric]) for r in rows if r.get(metric) is not None and math.isfinite(float(r[metric]))}

    def _tell(self, entry):
        """Tell the study how trial ``entry`` ended: its best epoch's metric, pruned, or failed (an
        interrupted trial is told when a resume finishes it)."""
        states = self.optuna.trial.TrialState
        if entry["status"] in ("interrupted", "cancelled", "pending"):
            return
        if self.study.get_trials(deepcopy=False)[entry["trial"]].state.is_finished():  # told before a resume
            return
        curve = self._curve(entry) if entry["status"] == "completed" else {}
        if curve:
            best = (max if self.plan.direction == "maximize" else min)(curve.values())
            entry["objective"] = best
            self.study.tell(entry["trial"], best)
        else:
            self.study.tell(entry["trial"], state=states.PRUNED if entry["status"] == "pruned" else states.FAIL)
