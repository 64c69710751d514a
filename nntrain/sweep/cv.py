"""Cross-validation (``nntrain cv``): the k folds of one config, each a normal run, run as a sweep
(``nntrain.sweep.execute``), each judged on the fold it held out.

Fold i of k is the config with ``data.split.folds`` = k and ``data.split.fold`` = i: the held-out fold
is the run's test split (``nntrain.data.prepare.fold_indices``: the rows, permuted from the run's
seed -- per class for a classifier, so stratified -- are dealt to the folds in turn), so the k runs
of one seed hold out k disjoint folds that cover every row once. A ``data.split.val`` share is still
drawn from each run's remaining rows. What a run fits on its data -- the standardisation, a table's
encodings and imputed values, balanced class weights -- each fold fits on its own training rows:
no fold has seen the rows it is judged on.

A cv directory is a sweep directory -- a run directory per fold (``fold=0``, ...; with repeats
``repeat=0,fold=0``, ...) and sweep.json -- plus:

- ``cv.json``: ``name``, ``config`` (its path), ``folds``, ``repeats``, ``status`` (completed or
  interrupted), ``started``, ``wall_time_s``; ``runs``, per fold in plan order: ``dir``, ``repeat``,
  ``fold``, ``status`` (as sweep.json's), ``examples`` and ``metrics`` ({name: value} on the
  held-out fold, as ``nntrain eval --split test`` gives them; None where not finite), ``error`` for
  one that did not complete; ``mean`` and ``std`` of every metric over the completed folds, all
  repeats together (None where a fold has no finite value). The std is NumPy's default, ddof=0:
  the spread of these k values, not an estimate of a population's (ddof=1 is sqrt(k / (k - 1))
  times larger).
- ``oof.csv``: the out-of-fold predictions, one line per held-out row and repeat, sorted by repeat,
  then row: ``row`` (the data's row: a table's data row in its file, 0-based; else the row of the
  data set), ``repeat``, ``fold``, the true target (a column per target, named after it: a class
  name, a 0/1 label, or a value in the target's units), ``predicted_<target>`` and, for a
  classifier, ``p_<class>`` (one sigmoid unit: the second class's only) -- exactly as ``nntrain
  predict --proba`` writes its predictions (numbers to 6 significant digits).
"""

import csv
import io
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import load_config
from ..data.prepare import load_data
from ..errors import NNTrainError, NNTrainNote, NNTrainWarning, RunError, UsageError
from ..nn.losses import pairing_warning
from ..runs import store
from ..runs.catalog import CV
from ..runs.inference import Predictor, load_split, number_cells, prediction_columns, run_trainer
from .execute import SweepInterrupted, SweepResult, resume_sweep, run_sweep
from .plan import MAX_RUNS, SweepPlan, Variant
from .record import reopen

MAX_FOLDS = 1000  # data.split.folds' bound
OOF = "oof.csv"
BATCH = 4096  # rows per forward pass of the out-of-fold predictions, as evaluation takes them


@dataclass
class CVResult:
    """A cross-validation run: ``doc`` is its cv.json, ``sweep`` the SweepResult of its folds."""

    cv_dir: Path
    doc: dict
    sweep: SweepResult

    def count(self, status):
        return sum(r["status"] == status for r in self.doc["runs"])


class CVInterrupted(KeyboardInterrupt):
    """Ctrl-C during a cross-validation, raised once cv.json and oof.csv of the folds that completed
    are written (``result``, a CVResult)."""

    def __init__(self, result):
        super().__init__()
        self.result = result


# --------------------------------------------------------------------------------------------------
# The plan


def plan_cv(config_path, folds, repeats=1, overrides=()):
    """The folds of a config as a SweepPlan, every one validated and the data read once.

    ``folds`` x ``repeats`` variants, repeat-major, fold-minor, named ``fold=<i>`` (with repeats
    ``repeat=<r>,fold=<i>``), their values ``{"fold": i}`` (``{"repeat": r, "fold": i}``). Repeat r
    runs with seed ``config.seed + r``: a new assignment of the rows to the folds, and new initial
    weights and shuffles; the folds of one repeat share one assignment. (A built-in data set --
    ``xor``, ``blobs``, ... -- is generated from the seed too: each repeat then draws new examples.) ``overrides``: ``KEY=VALUE``
    strings applied to every fold (``--set``). A test share in the config is not used (a note says so): the
    held-out fold plays the test split's part.

    Raises UsageError for ``folds`` outside 2..1000 or ``repeats`` below 1, and what ``fit`` would
    raise for the first fold's config and data (ConfigError, DataError: also more folds than the
    smallest class has members) -- all before anything is written.
    """
    config_path = Path(config_path)
    _check_counts(folds, repeats)
    base = load_config(config_path, overrides)
    if base.data.split.test:
        warnings.warn(
            f"data.split.test {base.data.split.test:g} is not used: in cross-validation each run's test split is its held-out fold",
            NNTrainNote,
            stacklevel=2,
        )
    variants = [_variant(config_path, overrides, base.seed, folds, repeats, r, i) for r in range(repeats) for i in range(folds)]
    first = variants[0].config
    message = pairing_warning(first.loss, first.model.layers[-1].output_activation)
    if message:  # once here: the workers do not warn
        warnings.warn(message, NNTrainWarning, stacklevel=2)
    # The data's errors and warnings, once for all folds: they differ only in the rows they hold out.
    load_data(first, np.random.default_rng(first.seed))
    grid = {"repeat": list(range(repeats))} if repeats > 1 else {}
    return SweepPlan(config_path, base.name, {**grid, "fold": list(range(folds))}, variants)


def _check_counts(folds, repeats):
    if not 2 <= folds <= MAX_FOLDS:
        raise UsageError(f"--folds {folds}: expected a number of folds from 2 to {MAX_FOLDS}")
    if repeats < 1:
        raise UsageError(f"--repeats {repeats}: expected at least 1")
    if folds * repeats > MAX_RUNS:
        raise UsageError(f"--folds {folds} x --repeats {repeats} make {folds * repeats} runs; a cross-validation has at most {MAX_RUNS}")


def _variant(config_path, overrides, seed, folds, repeats, repeat, fold):
    """Fold ``fold`` of repeat ``repeat``: the config holding that fold out as its test split, with seed ``seed + repeat``."""
    label = f"--folds {folds}"
    settings = [(f"data.split.folds={folds}", label), (f"data.split.fold={fold}", label), ("data.split.test=0", label)]
    values = {"fold": fold}
    if repeats > 1:
        settings.append((f"seed={seed + repeat}", f"--repeats {repeats}"))
        values = {"repeat": repeat, **values}
    config = load_config(config_path, [*overrides, *settings])
    config.sweep = None
    return Variant(",".join(f"{key}={value}" for key, value in values.items()), values, config)


# --------------------------------------------------------------------------------------------------
# Running and judging the folds


def run_cv(plan, *, cv_dir=None, runs_root="runs", workers=None, scheduler=None, on_start=None, on_result=None, on_progress=None, plots=False):
    """Run the folds of ``plan`` (``plan_cv``'s) as ``run_sweep`` runs a sweep, judge every completed
    fold on the fold it held out, and write cv.json and oof.csv into the cv directory; returns a CVResult.

    The arguments are ``run_sweep``'s; ``cv_dir`` (its ``sweep_dir``) must not exist yet, default
    ``runs_root/<name>-cv-<time>``. This process judges a fold as soon as it comes back, while the
    others still train; ``on_result(entry)`` follows, with the fold's cv.json entry. A fold that
    failed, diverged or could not be judged is left out of the mean, the std and oof.csv.
    Ctrl-C: as in ``run_sweep``; the folds that completed are judged and written, then CVInterrupted is raised.
    """
    if cv_dir is not None and Path(cv_dir).exists():
        raise RunError(f"{cv_dir}: already exists; cross-validations are never overwritten, choose a new --cv-dir")
    where = dict(sweep_dir=cv_dir, runs_root=runs_root, workers=workers, scheduler=scheduler, plots=plots, on_progress=on_progress)
    return _judged(plan, run_sweep, plan, **where, on_start=on_start, on_result=on_result)


def resume_cv(cv_dir, *, workers=None, scheduler=None, on_start=None, on_result=None, on_progress=None):
    """Go on with the cross-validation in ``cv_dir`` that stopped, as ``resume_sweep`` goes on with a
    sweep, then judge its folds and write cv.json and oof.csv anew; returns a CVResult. The folds kept
    are judged too (``on_result`` gets their entries first)."""
    plan = reopen(cv_dir, "cv")[0]
    return _judged(plan, resume_sweep, cv_dir, workers=workers, scheduler=scheduler, on_start=on_start, on_result=on_result, on_progress=on_progress)


def _judged(plan, run, *args, on_start, on_result, **kwargs):
    """``run(*args, **kwargs)`` -- run_sweep or resume_sweep -- with each fold judged as it comes back."""
    folds = _Folds(plan, on_start, on_result)
    try:
        result = run(*args, **kwargs, on_start=folds.started, on_result=folds.finished, kind="cv")
    except SweepInterrupted as stop:
        raise CVInterrupted(folds.close(stop.result)) from None
    return folds.close(result)


class _Folds:
    """cv.json's entries of the folds, filled in as they come back, and their out-of-fold predictions."""

    def __init__(self, plan, on_start, on_result):
        self.plan, self.on_start, self.on_result = plan, on_start, on_result
        self.index = {v.dirname: k for k, v in enumerate(plan.variants)}
        self.entries = [
            {"dir": v.dirname, "repeat": v.values.get("repeat", 0), "fold": v.values["fold"], "status": "pending",
             "examples": None, "metrics": {}}
            for v in plan.variants
        ]  # fmt: skip
        self.predictions = {}  # index in the plan -> (rows, {column: strings}) of its held-out rows
        self.path = None
        self.started_at = time.time()

    def started(self, path, n, backend, todo):
        self.path = path
        if self.on_start is not None:
            self.on_start(path, n, backend, todo)

    def finished(self, run):
        """A fold back from its worker (``run``: its sweep.json entry): judged if it completed."""
        k = self.index[run["dir"]]
        self._settle(k, run)
        if self.on_result is not None:
            self.on_result(self.entries[k])

    def _settle(self, k, run):
        entry = self.entries[k]
        if run["status"] == "completed":
            self._judge(k)
        else:
            entry["status"] = run["status"]
            if run.get("error") or run.get("message"):
                entry["error"] = run.get("error") or run.get("message")

    def _judge(self, k):
        """The fold's metrics on its held-out fold and its out-of-fold predictions; a fold they fail
        for (its files damaged since, say) is recorded as failed, and the others go on."""
        entry = self.entries[k]
        run_dir = self.path / entry["dir"]
        try:
            held_out, self.predictions[k] = judge_fold(run_dir)
        except NNTrainError as e:
            entry.update(status="failed", error=f"judging it on its held-out fold: {e}")
            return
        entry["examples"] = held_out.pop("examples")
        entry["metrics"] = {name: _finite(value) for name, value in held_out.items()}
        entry["status"] = "completed"  # last: a Ctrl-C while judging leaves it to ``close``

    def close(self, result):
        """Settle the folds that came back without passing ``finished`` (after Ctrl-C), write cv.json
        and oof.csv; the CVResult."""
        self.path = result.sweep_dir  # a resume that found every fold finished did not start
        for k, run in enumerate(result.runs):
            if self.entries[k]["status"] == "pending":
                self._settle(k, run)
        done = [e for e in self.entries if e["status"] == "completed"]
        mean, std = _mean_and_std(done)
        grid = self.plan.grid
        doc = {
            "name": self.plan.name,
            "config": str(self.plan.config_path),
            "folds": len(grid["fold"]),
            "repeats": len(grid.get("repeat", [0])),
            "status": result.status,
            "started": store.iso_time(self.started_at),
            "wall_time_s": round(time.time() - self.started_at, 3),
            "runs": self.entries,
            "mean": mean,
            "std": std,
        }
        store.write_text(result.sweep_dir / OOF, oof_csv([(self.entries[k], self.predictions[k]) for k in sorted(self.predictions)]))
        store.write_json(result.sweep_dir / CV, doc)  # last: what makes the directory a cv directory
        return CVResult(result.sweep_dir, doc, result)


def _mean_and_std(entries):
    """({metric: mean}, {metric: std}) over the entries' metrics (std with ddof=0); None for a
    metric that an entry has no finite value of."""
    names = list(dict.fromkeys(name for e in entries for name in e["metrics"]))
    mean, std = {}, {}
    for name in names:
        values = [e["metrics"].get(name) for e in entries]
        if any(v is None for v in values):
            mean[name] = std[name] = None
        else:
            mean[name], std[name] = float(np.mean(values)), float(np.std(values))
    return mean, std


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------------------------------
# Out-of-fold predictions


def judge_fold(run_dir):
    """({"examples", "loss", metrics...} on a fold run's held-out rows -- what ``evaluate_run(run_dir,
    "test")`` gives --, (rows (n,), {column: n strings})): the held-out rows' data rows
    (``Dataset.rows["test"]``), true targets and predictions, in the columns of oof.csv, as
    ``nntrain predict --proba`` writes them. The data is read once for both."""
    config, model, data = load_split(run_dir, "test")
    part = data.splits["test"]
    held_out = {"examples": len(part), **run_trainer(config, model, data).evaluate(part)}
    predictor = Predictor(config, model, data.meta)
    out = model.predict(part.x, BATCH)
    columns, values = prediction_columns(predictor, predictor.in_units(out), proba=True)
    targets = [c.removeprefix("predicted_") for c in columns if c.startswith("predicted_")]
    cells = {**_true_columns(predictor, part.y, targets), **dict(zip(columns, values))}
    return held_out, (np.asarray(data.rows["test"]), cells)


def _true_columns(predictor, y, targets):
    """{target: n strings}: the true targets ``y`` (in the loss's form) as the predictions are written:
    a class name (a label without names), 0/1 per label, a value in the target's units."""
    kind = predictor.kind
    if kind in ("classes", "binary"):
        labels = y if kind == "classes" else y[:, 0].astype(np.int64)
        names = predictor.class_names(predictor.config.n_classes)
        return {targets[0]: [names[k] for k in labels]}
    if kind == "multilabel":
        return {t: [str(int(v)) for v in y[:, j]] for j, t in enumerate(targets)}
    values = predictor.in_units(np.asarray(y, dtype=np.float64))
    return {t: number_cells(values[:, j]) for j, t in enumerate(targets)}


def oof_csv(folds):
    """oof.csv's text from [(cv.json entry, (rows, {column: strings}))], one per judged fold (all of
    the same config, so of the same columns): a line per held-out row, sorted by repeat, then row."""
    columns = list(folds[0][1][1]) if folds else []
    lines = []
    for entry, (rows, cells) in folds:
        values = [cells[c] for c in columns]
        lines += [(int(row), entry["repeat"], entry["fold"], *(v[i] for v in values)) for i, row in enumerate(rows)]
    lines.sort(key=lambda line: (line[1], line[0]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "repeat", "fold", *columns])
    writer.writerows(lines)
    return out.getvalue()
