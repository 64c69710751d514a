"""Watching a sweep: a local worker reports each running run's epoch and metric, throttled and never
waiting (nntrain.sweep._worker.reporting); the driver drains the pool's queue on a thread of its own
and hands the reports to ``on_progress`` (nntrain.sweep.execute); the CLI keeps the running runs, a
finished one leaving the list (nntrain.cli._runs.RunsProgress). The screen itself: test_terminal."""

import multiprocessing
import os
import subprocess
import time
from pathlib import Path

from conftest import CLI
from nntrain.cli._runs import RunsProgress
from nntrain.sweep import plan_sweep, run_sweep
from nntrain.sweep._worker import _in_turn, reporting

XOR = Path(__file__).parent.parent / "configs" / "xor.yaml"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Reports(list):
    """A queue with room for ``room`` reports, as the pool's is (``put_nowait`` raises queue.Full)."""

    def __init__(self, room=100):
        super().__init__()
        self.room = room

    def put_nowait(self, item):
        import queue

        if len(self) >= self.room:
            raise queue.Full
        self.append(item)


def test_a_run_reports_its_first_epoch_then_at_most_every_half_second():
    clock, reports = Clock(), Reports()
    on_epoch = reporting(reports, "seed=0", 100, clock=clock)
    for epoch in range(1, 11):
        assert on_epoch(epoch, {"loss": 1.0 / epoch, "accuracy": 0.5}) is None
        clock.now += 0.2  # an epoch every 0.2 s: epochs 1, 4, 7, 10 are told (0.6 s apart)
    assert reports == [("seed=0", e, 100, "loss", 1.0 / e) for e in (1, 4, 7, 10)]


def test_the_metric_reported_is_val_loss_if_logged_else_loss_or_a_searchs():
    logs = {"loss": 0.5, "val_loss": 0.7, "val_accuracy": 0.9}
    for metric, expected in ((None, ("val_loss", 0.7)), ("val_accuracy", ("val_accuracy", 0.9))):
        reports = Reports()
        reporting(reports, "trial=1", 20, metric, clock=Clock())(3, logs)
        assert reports == [("trial=1", 3, 20, *expected)]
    reports = Reports()
    reporting(reports, "r", 20, "val_accuracy", clock=Clock())(1, {"loss": 0.5})  # not logged this epoch
    assert reports == [("r", 1, 20, "val_accuracy", None)]


def test_a_full_queue_drops_the_report_and_the_run_goes_on():
    clock, reports = Clock(), Reports(room=1)
    on_epoch = reporting(reports, "r", 10, clock=clock)
    for epoch in (1, 2):
        clock.now += 1.0
        assert on_epoch(epoch, {"loss": 0.1}) is None
    assert [r[1] for r in reports] == [1]
    real = multiprocessing.get_context("forkserver").Queue(1)  # the pool's kind of queue, full
    real.put_nowait("first")
    on_epoch = reporting(real, "r", 10, clock=Clock())
    started = time.perf_counter()
    assert on_epoch(1, {"loss": 0.1}) is None and time.perf_counter() - started < 0.1
    assert real.get(timeout=5) == "first"
    real.close()


def test_the_report_is_told_before_the_pruning_and_the_pruning_has_the_last_word():
    calls = []
    report = lambda epoch, logs: calls.append(("report", epoch))  # noqa: E731
    prune = lambda epoch, logs: calls.append(("prune", epoch)) or "pruned"  # noqa: E731
    assert _in_turn(report, prune)(3, {}) == "pruned" and calls == [("report", 3), ("prune", 3)]
    assert _in_turn(None, prune) is prune and _in_turn(report, None) is report and _in_turn(None, None) is None


def test_a_finished_run_leaves_the_list_and_a_late_report_does_not_bring_it_back():
    progress = RunsProgress(quiet=True)
    progress.report("seed=0", 5, 100, "loss", 0.5)
    progress.report("seed=1", 7, 100, "loss", 0.25)
    progress.report("seed=0", 9, 100, "loss", 0.4)
    assert progress.running_lines(80) == ["  seed=0  epoch   9/100  loss 0.4", "  seed=1  epoch   7/100  loss 0.25"]
    progress.advance({"dir": "seed=0", "status": "completed"})
    progress.report("seed=0", 10, 100, "loss", 0.3)  # sent before it finished, drained after
    assert progress.running_lines(80) == ["  seed=1  epoch   7/100  loss 0.25"]


def test_a_local_sweep_reports_its_running_runs_to_on_progress(tmp_path):
    plan = plan_sweep(XOR, seeds=2, overrides=["training.epochs=8000"])
    reports, finished = [], []

    def on_result(entry):
        finished.append((entry["dir"], len(reports)))

    run_sweep(plan, sweep_dir=tmp_path / "s", workers=1, on_result=on_result, on_progress=lambda *r: reports.append(r))
    assert {r[0] for r in reports} == {"seed=0", "seed=1"}
    assert all(r[2] == 8000 and 1 <= r[1] <= 8000 and r[3] == "loss" and r[4] >= 0 for r in reports)
    first = [r for r in reports if r[0] == "seed=0"]
    assert first[0][1] == 1 and [r[1] for r in first] == sorted(r[1] for r in first)
    # One worker: seed=1 starts after seed=0 finished, so its reports all come after.
    assert all(r[0] == "seed=0" for r in reports[: finished[0][1]])


def test_without_a_terminal_the_sweep_writes_plain_lines_and_no_running_runs(tmp_path):
    environ = {**os.environ, "NNTRAIN_PROGRESS_SECONDS": "0"}
    args = [*CLI, "sweep", str(XOR), "--seeds", "2", "--workers", "1", "--no-plots", "--sweep-dir", "s", "--set", "training.epochs=3000"]
    result = subprocess.run(args, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line.split()[:2] for line in result.stderr.splitlines()] == [["runs", "1/2"], ["runs", "2/2"]]
    assert "epoch" not in result.stderr and "\x1b" not in result.stderr


def test_the_run_gets_on_progress_if_it_takes_it_and_the_line_is_shown():
    from nntrain.cli._runs import run_with_progress

    given = {}

    def takes_it(on_start, on_result, on_progress):
        given["on_progress"] = on_progress
        return "result"

    def does_not(on_start, on_result):  # run_cv's signature
        return "result"

    common = dict(header=None, report=lambda result: True, interrupted=KeyboardInterrupt, folder=None)
    run_with_progress(does_not, quiet=False, **common)
    run_with_progress(takes_it, quiet=False, **common)
    assert callable(given.pop("on_progress"))
    run_with_progress(lambda on_start, on_result, on_progress=None: given.update(on_progress=on_progress), quiet=True, **common)
    assert given == {"on_progress": None}
