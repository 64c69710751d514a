"""What the commands that run many runs (sweep, cv) do alike: where the runs go, a progress bar,
and the end -- a report, exit 1 if a run did not complete, exit 130 on Ctrl-C with what finished --
and the options they share."""

import contextlib
import inspect
import signal
import threading
from typing import Annotated, Optional

import typer

EveryRun = Annotated[
    Optional[list[str]],
    typer.Option("--set", metavar="KEY=VALUE", help="Override a config value in every run, e.g. training.epochs=50 (repeatable)."),
]
Workers = Annotated[Optional[int], typer.Option(metavar="N", help="Parallel runs on this machine; default: one per core.", show_default=False)]
Scheduler = Annotated[
    Optional[str],
    typer.Option(metavar="ADDRESS", help="Run on a Dask cluster instead: its scheduler's address, tcp://HOST:PORT.", show_default=False),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Wide = Annotated[bool, typer.Option("--wide", help="Show long names and values whole (the table may be wider than the terminal).")]
NoPlots = Annotated[bool, typer.Option("--no-plots", help="The runs write no curves.png or decision_boundary.png.")]


def run_with_progress(run, *, quiet, header, report, interrupted, folder, maximize=None):
    """``run(on_start=, on_result=)`` -- ``run_sweep``, ``run_cv`` or their resumes with their other
    arguments bound -- under a progress bar. ``header(path, n, backend, todo)`` prints the first line
    once the directory exists (``todo_text(todo)``: what a resume does with the runs); ``report(result)`` prints what
    ran and says whether every run completed (else exit 1); on Ctrl-C (the exception
    ``interrupted``, holding the ``result`` so far) it reports what finished and exits 130, naming
    ``folder(result)``. ``maximize``: a search's direction, for the best trial so far on the line.
    A ``run`` that takes ``on_progress`` (run_sweep's) shows its running runs under the line."""
    from nntrain.errors import Failed, Interrupted

    progress = RunsProgress(quiet, maximize)

    def on_start(path, n, backend, todo):
        header(path, n, backend, todo)
        progress.start(n)

    with _stops_like_ctrl_c() as received:
        try:
            with progress:
                watch = {"on_progress": progress.report} if not quiet and "on_progress" in inspect.signature(run).parameters else {}
                result = run(on_start=on_start, on_result=progress.advance, **watch)
        except interrupted as stop:
            report(stop.result)
            raise Interrupted(f"interrupted; finished runs are in {folder(stop.result)}", received.get("signal", signal.SIGINT)) from None
    if not report(result):
        raise Failed()  # report listed the runs that did not complete


@contextlib.contextmanager
def _stops_like_ctrl_c():
    """SIGTERM (``timeout``, schedulers, ``docker stop``) and SIGHUP (a closed terminal) stop the runs
    as Ctrl-C does -- the running ones checkpoint, sweep.json records every run's state, the workers
    end -- where by default they would kill the driver alone and leave its workers running. Yields
    {"signal": the one received}, for the exit code (128 + it)."""
    received = {}

    def stop(signum, frame):
        received["signal"] = signum
        raise KeyboardInterrupt

    sigs = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.signal(sig, stop) for sig in sigs}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def given_options(options):
    """The names of ``options`` ({name: value}) the command line gave: not None, False or empty."""
    return [name for name, value in options.items() if value is not None and value is not False and value != []]


def refuse_with_resume(config=None, **options):
    """UsageError for a CONFIG or an option (``given_options``) that --resume cannot take."""
    from nntrain.errors import UsageError

    given = (["CONFIG"] if config is not None else []) + given_options(options)
    if given:
        raise UsageError(f"--resume goes on with the runs as they were planned; give no {' or '.join(given)}")


def no_config(command):
    """The UsageError for a command given neither CONFIG nor --resume."""
    from nntrain.errors import UsageError

    return UsageError(f"give a CONFIG file, or --resume DIR to go on with a {command} that stopped")


def todo_text(todo):
    """What a resume does with the runs, "; resumed: 2 kept, 1 resumed, 1 started over, 2 started";
    "" for a sweep that starts every run."""
    if set(todo) <= {"started"}:
        return ""
    names = {"kept": "kept", "resumed": "resumed", "restarted": "started over", "started": "started"}
    return "; resumed: " + ", ".join(f"{todo[key]} {name}" for key, name in names.items() if todo.get(key))


def backend_text(backend):
    """sweep.json's ``backend`` as a phrase: "2 local workers", "Dask scheduler tcp://...:8786"."""
    from ._tables import plural

    return f"Dask scheduler {backend['scheduler']}" if backend["kind"] == "dask" else plural(backend["workers"], "local worker")


class RunsProgress:
    """The finished runs on stderr (see ``_progress``), from when the runs start: how many, the best
    trial so far of a search (``maximize``: its direction), how many were pruned and failed; on a
    terminal, a line under it per running run: its epoch and its latest metric (see ``report``)."""

    def __init__(self, quiet, maximize=None):
        self.quiet, self.maximize = quiet, maximize
        self.progress = None
        self.failed = self.pruned = 0
        self.best = None  # (objective, run directory name)
        # Run directory name -> (epoch, epochs, metric, value), in the order they were first heard of;
        # written by the driver's watch thread, read by rich's refresh thread.
        self.running = {}
        self.finished = set()  # a late report of a finished run does not bring it back
        self.lock = threading.Lock()

    def __enter__(self):
        return self

    def start(self, total):
        from ._progress import Progress

        self.progress = Progress("runs", total, quiet=self.quiet)
        self.progress.below = self.running_lines
        self.progress.begin()

    def report(self, name, epoch, epochs, metric, value):
        """Run ``name`` has done ``epoch`` of its ``epochs``; its latest ``metric`` is ``value`` (run_sweep's ``on_progress``)."""
        with self.lock:
            if name not in self.finished:
                self.running[name] = (epoch, epochs, metric, value)

    def running_lines(self, width):
        """The lines under the progress line: a run's per line, in the order they were first heard of."""
        from ._progress import running_lines

        with self.lock:
            running = [(name, *state) for name, state in self.running.items()]
        return running_lines(width, running)

    def advance(self, entry):
        from ._tables import number_text

        with self.lock:
            self.finished.add(entry["dir"])
            self.running.pop(entry["dir"], None)
        self.failed += entry["status"] in ("failed", "diverged")
        self.pruned += entry["status"] == "pruned"
        value = entry.get("objective")
        if value is not None and self.maximize is not None:
            if self.best is None or (value > self.best[0] if self.maximize else value < self.best[0]):
                self.best = (value, entry["dir"])
        items = [f"best {number_text(self.best[0])} {self.best[1]}"] if self.best else []
        items += [f"{n} {what}" for n, what in ((self.pruned, "pruned"), (self.failed, "failed")) if n]
        if self.progress is not None:
            self.progress.update(self.progress.done + 1, items)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
