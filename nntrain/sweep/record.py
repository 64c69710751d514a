"""A sweep directory's own files: ``sweep.json``, the index of its runs and their states, rewritten as
runs finish; ``plan.json``, every variant's resolved config, written once before any run starts --
and what a resume decides from them and from the run directories.

The run directories are the truth and sweep.json their index: a driver killed without a word leaves
sweep.json behind its runs, never ahead of them. So a resume reads each run's own summary.json:

- completed, diverged, failed or pruned (a search's): kept;
- interrupted, or "running" with no process writing it (stale): resumed from its checkpoint;
- stopped before its first checkpoint (nothing to resume): started over in its directory;
- no directory: started (a run that failed before it had one -- its config or data refused -- is kept).
"""

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ..config import ExperimentConfig
from ..errors import RunError
from ..runs import store as runs
from ..training.checkpoint import CHECKPOINT
from .plan import SweepPlan, Variant

SWEEP_FILE = "sweep.json"
PLAN_FILE = "plan.json"
FINISHED = ("completed", "diverged", "failed", "pruned")  # what a resume keeps
KIND_SEARCH = "search"
# What a run stopped before its first checkpoint may hold: nntrain's own files, nothing trained.
FIRST_FILES = {runs.CONFIG, runs.SUMMARY, runs.DATA, runs.METRICS, runs.DIAGNOSTICS, runs.WEIGHTS}


@dataclass
class SweepResult:
    """``runs``: the sweep.json entries, in grid order; ``todo``: how many runs this drive started,
    resumed, started over (``restarted``) and kept."""

    sweep_dir: Path
    status: str  # completed, or interrupted (in SweepInterrupted.result)
    runs: list
    todo: dict = field(default_factory=dict)

    def run_dirs(self):
        """The run directories that were written (every run that started)."""
        return [self.sweep_dir / r["dir"] for r in self.runs if (self.sweep_dir / r["dir"]).is_dir()]

    def count(self, status):
        return sum(r["status"] == status for r in self.runs)

    @property
    def trained(self):
        """False for a resume that found every run finished: nothing ran."""
        return self.todo.get("kept", 0) < len(self.runs)


def write_plan(path, plan, plots, kind, extra=None):
    """plan.json: what ``reopen`` needs to go on with the sweep, whatever became of its config file
    (``extra``: more of it, a search's settings). A variant without a config (a search's trial whose
    values the config refused) has none."""
    variants = [{"dir": v.dirname, "config": v.config and v.config.model_dump(mode="json")} for v in plan.variants]
    runs.write_json(path / PLAN_FILE, {"kind": kind, "plots": plots, **(extra or {}), "variants": variants})


class SweepRecord:
    """sweep.json, and the run directories whose files a Dask worker sent back."""

    WRITE_EVERY_S = 1.0  # rewrite sweep.json at most this often while runs finish (and at the end)

    def __init__(self, path, doc, todo):
        self.path, self.doc, self.todo = path, doc, todo
        self.status = "running"
        self.entries = doc["runs"]
        self.written = 0.0

    @classmethod
    def new(cls, path, plan, backend):
        """The record of a sweep about to start every variant of ``plan``, written."""
        doc = {
            "name": plan.name,
            "config": str(plan.config_path),
            "grid": plan.grid,
            "backend": backend,
            "status": "running",
            "started": runs.iso_time(time.time()),
            "finished": None,
            "counts": {},
            "runs": [{"dir": v.dirname, "values": v.values, "status": "pending"} for v in plan.variants],
        }
        record = cls(path, doc, {"started": len(plan.variants)})
        record.write()
        return record

    def settle(self):
        """A resume's decisions, from each run's directory: {index in the plan: "resume" | "restart" |
        "start"} of the runs to run (each marked pending; a "restart" directory is cleared), the
        finished ones' entries brought up to date. RunError, before anything changes, when a run is
        still written by a live process."""
        actions = {i: _action(self.path / entry["dir"], entry) for i, entry in enumerate(self.entries)}
        jobs = {}
        for i, (action, summary) in actions.items():
            if action == "keep":
                if summary:
                    self.finish(i, {"status": summary["status"], "summary": summary})
                continue
            if action == "restart":
                _clear(self.path / self.entries[i]["dir"])
            for key in ("error", "traceback", "message", "wall_time_s", "final"):
                self.entries[i].pop(key, None)
            self.entries[i]["status"] = "pending"
            jobs[i] = action
        names = {"keep": "kept", "resume": "resumed", "restart": "restarted", "start": "started"}
        self.todo = dict(Counter(names[action] for action, _ in actions.values()))
        return jobs

    def reopen(self, backend):
        """The record of a resumed sweep about to run again, on ``backend``, written."""
        self.doc.update(backend=backend, finished=None, resumed=self.doc.get("resumed", 0) + 1)
        self.write()

    def kept(self):
        """The entries of the runs a resume keeps."""
        return [e for e in self.entries if e["status"] != "pending"]

    def finish(self, index, outcome):
        entry = self.entries[index]
        files = outcome.get("files") or {}
        if files:
            self._write_run(self.path / entry["dir"], files)
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

    @staticmethod
    def _write_run(run_dir, files):
        """The files a Dask worker sent back ({relative POSIX path: bytes}), summary.json last: a run
        directory with a final summary has all its files. Then the files the run no longer has go (a
        resumed run's checkpoint.npz, once it completed)."""
        run_dir.mkdir(exist_ok=True)  # exists if Ctrl-C came while its files were written, or resumed
        for name in sorted(files, key=lambda name: name == runs.SUMMARY):
            (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
            runs.write_bytes(run_dir / name, files[name])
        for path in sorted(run_dir.rglob("*")):
            if path.is_file() and path.relative_to(run_dir).as_posix() not in files:
                path.unlink()

    def cancel(self, index):
        self.entries[index]["status"] = "cancelled"

    def close(self):
        for entry in self.entries:
            if entry["status"] == "pending":
                # A second Ctrl-C while a run's files were written leaves a directory: say so.
                entry["status"] = "interrupted" if (self.path / entry["dir"]).exists() else "cancelled"
        self.doc["finished"] = runs.iso_time(time.time())
        self.write()

    def write(self):
        self.doc["status"] = self.status
        self.doc["counts"] = dict(Counter(entry["status"] for entry in self.entries))
        runs.write_json(self.path / SWEEP_FILE, self.doc)
        self.written = time.monotonic()

    def result(self):
        return SweepResult(self.path, self.status, self.entries, self.todo)


def reopen(path, kind="sweep", with_saved=False):
    """(plan, plots, record) of the sweep directory ``path`` (``kind`` "sweep", "search", or "cv" for
    ``nntrain cv``'s), from its sweep.json and plan.json (``with_saved``: and plan.json's document);
    RunError naming what is missing or damaged."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such {kind} directory")
    doc = runs.read_json(path, SWEEP_FILE, SWEEP_FILE, f"not a {kind} directory (no {SWEEP_FILE})")
    saved = runs.read_json(
        path, PLAN_FILE, PLAN_FILE, f"no {PLAN_FILE}: this {kind} was written by an older nntrain and cannot be resumed; run it anew"
    )
    if saved.get("kind", "sweep") != kind:
        command = "cv" if saved["kind"] == "cv" else "sweep"
        raise RunError(f"{path}: a {saved['kind']} directory; go on with it with: nntrain {command} --resume {path}")
    try:
        entries, variants = doc["runs"], saved["variants"]
        if kind != KIND_SEARCH and [e["dir"] for e in entries] != [v["dir"] for v in variants]:
            raise RunError(f"{path}: {SWEEP_FILE} and {PLAN_FILE} list different runs")
        # A search's plan.json holds no trials: it makes each from its config's text and the trial's values.
        plan = SweepPlan(
            Path(doc["config"]),
            doc["name"],
            doc["grid"],
            [] if kind == KIND_SEARCH else [Variant(v["dir"], e["values"], _config(path, v)) for e, v in zip(entries, variants)],
        )
        record = SweepRecord(path, doc, {})
        return (plan, bool(saved["plots"]), record, saved) if with_saved else (plan, bool(saved["plots"]), record)
    except (KeyError, TypeError) as e:
        raise RunError(f"{path}: damaged {SWEEP_FILE} or {PLAN_FILE}: no {e}") from None


def saved_kind(path):
    """What plan.json says the sweep directory ``path`` holds ("sweep", "search", "cv"), or None."""
    try:
        return runs.read_json(path, PLAN_FILE, PLAN_FILE, "").get("kind")
    except RunError:
        return None


def _config(path, variant):
    if variant["config"] is None:  # a search's trial whose values the config refused: it never ran
        return None
    try:
        config = ExperimentConfig.model_validate(variant["config"])
    except ValidationError as e:
        raise RunError(f"{path / PLAN_FILE}: damaged config of {variant['dir']}: {e.errors()[0]['msg']}") from None
    return config


def _action(run_dir, entry):
    """("keep" | "resume" | "restart" | "start", the run's summary or None): what a resume does with
    the run ``entry`` of sweep.json, from its directory."""
    if not run_dir.is_dir():
        return ("keep" if entry["status"] == "failed" else "start"), None
    if runs.being_written(run_dir):
        raise RunError(f"{run_dir}: another nntrain process is still writing this run; let it finish or stop it, then resume")
    if not (run_dir / runs.SUMMARY).is_file():
        return "restart", None  # stopped while it wrote its first files
    summary = runs.read_summary(run_dir)
    if summary.get("status") in FINISHED:
        return "keep", summary
    return ("resume" if (run_dir / CHECKPOINT).is_file() else "restart"), summary


def _clear(run_dir):
    """Empty and remove a run directory stopped before its first checkpoint, so that the run can start
    over in it -- if it holds only what nntrain wrote there."""
    paths = list(run_dir.iterdir())
    for path in paths:
        own = path.name in FIRST_FILES or (path.name.startswith(".") and path.name.endswith(".tmp"))
        if not own or not path.is_file():
            raise RunError(
                f"{run_dir}: stopped before its first checkpoint, so it starts over, but it holds {path.name}, "
                "which nntrain did not write there; move that away, then resume"
            )
    for path in paths:
        path.unlink()
    run_dir.rmdir()
