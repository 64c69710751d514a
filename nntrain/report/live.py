"""The live report: a run callback (``training.live``) that keeps RUN/report.html up to date while the
run trains -- a run callback as ``nntrain.training.callbacks`` describes them.

The epochs' logs and diagnostics are kept in memory as they come (metrics.csv is written only at
checkpoints); at most every INTERVAL seconds -- longer when a page is slow to make, so that making
pages takes at most BUDGET of the time -- a snapshot of them is rendered and written by a background
thread, never waiting for the disk (the page is rewritten soon anyway). While the run is running the
page reloads itself every few seconds (``page.REFRESH_SECONDS``). At the end, the run's files being
final, the page is made once more from the run directory, whole (decision regions included) and
without the reload. A resumed run starts again from its checkpoint's logs.

Importing this module imports neither plotly nor NumPy-heavy parts of the report: the session
imports it with every run.
"""

import threading
import time
import warnings
from pathlib import Path

INTERVAL = 2.0  # seconds between two pages at least
BUDGET = 0.01  # the share of the time the pages may take (in the background thread)
REPORT = "report.html"


class LiveReport:
    """Keeps ``path``/report.html up to date while the run trains (``training.live``)."""

    def __init__(self, path, config, columns, epochs=0):
        from ..config import dump_config
        from .page import plotly_js

        plotly_js()  # UsageError now if plotly is missing; read once, before the first epoch
        self.path, self.config = Path(path), config
        self.config_text = dump_config(config)
        self.history, self.diagnostics = self._logs(epochs)
        self.network = None  # model_summary's dict, once weights.npz exists
        self.thread = None
        self.next_write = time.monotonic()  # the first epoch writes a page
        self.spent = 0.0  # seconds the pages took
        self.failed = None  # a write's error: the live report stops, with one warning

    @classmethod
    def start(cls, path, config, columns, epochs=0):
        """The callback if the config asks for a live report, else None."""
        return cls(path, config, columns, epochs) if config.training.live else None

    def _logs(self, epochs):
        """metrics.csv's and diagnostics.csv's rows of the epochs done before this stretch (a resumed
        run's checkpoint; later rows come again)."""
        from ..runs.store import DIAGNOSTICS, METRICS, read_metrics

        if not epochs:
            return [], []
        history = [row for row in read_metrics(self.path, METRICS) if row["epoch"] <= epochs]
        diagnostics = []
        if (self.path / DIAGNOSTICS).is_file():
            diagnostics = [row for row in read_metrics(self.path, DIAGNOSTICS) if row["epoch"] <= epochs]
        return history, diagnostics

    def epoch(self, epoch, logs, trainer, last_diagnostics, diagnostic_epoch):
        """After an epoch: keep its logs and its diagnostics row; start a page if one is due and none is
        being made."""
        self.history.append({"epoch": epoch, **logs})
        if last_diagnostics and last_diagnostics[0]["epoch"] == epoch:
            self.diagnostics.append(last_diagnostics[0])
        if self.failed is not None or time.monotonic() < self.next_write or self._busy():
            return
        self.thread = threading.Thread(target=self._write, args=(list(self.history), list(self.diagnostics)), name="live-report", daemon=True)
        self.thread.start()

    def checkpoint(self):
        """Nothing to do: the page is no part of what a checkpoint keeps."""

    def end(self, status):
        """The run has ended and its files are final: wait for a page being made, then make the last,
        whole one from the run directory. A failure warns: the run itself is done."""
        if self.thread is not None:
            self.thread.join()
        from ..runs.store import write_bytes
        from .run import run_report

        try:
            write_bytes(self.path / REPORT, run_report(self.path))
        except Exception as e:  # noqa: BLE001 -- the run is over, whatever the page does
            from ..errors import NNTrainWarning

            warnings.warn(f"report.html not written: {e}", NNTrainWarning, stacklevel=2)

    # ----------------------------------------------------------------------------------------------

    def _busy(self):
        return self.thread is not None and self.thread.is_alive()

    def _write(self, history, diagnostics):
        """In the background thread: the page of ``history`` and ``diagnostics`` so far, reloading."""
        from ..runs.store import scratch_files, write_bytes

        t0 = time.perf_counter()
        try:
            data = self.page(history, diagnostics)
            with scratch_files():  # the page is rewritten in seconds: no waiting for the disk
                write_bytes(self.path / REPORT, data)
        except Exception as e:  # noqa: BLE001 -- training goes on without the page
            self.failed = e
            from ..errors import NNTrainWarning

            warnings.warn(f"live report stopped: {e}", NNTrainWarning, stacklevel=1)
            return
        took = time.perf_counter() - t0
        self.spent += took
        self.next_write = time.monotonic() + max(INTERVAL, took / BUDGET)

    def page(self, history, diagnostics):
        """The running page (UTF-8 bytes) of the epochs' ``history`` rows and ``diagnostics`` rows."""
        from .run import RunView, run_page, subtitle

        summary = {
            "status": "running",
            "name": self.config.name,
            "seed": self.config.seed,
            "epochs_planned": self.config.training.epochs,
        }
        summary.update(self._summary_on_disk())
        view = RunView(
            self.path, summary, _columns(history), _columns(diagnostics), self.config_text, self._network(),
            "drawn when the run ends", [],
        )
        return run_page(view).render(subtitle(view), refresh=True)

    def _summary_on_disk(self):
        """summary.json's start time and parameter count (written when the run started)."""
        from ..errors import RunError
        from ..runs.store import read_summary

        try:
            summary = read_summary(self.path)
        except RunError:
            return {}
        return {k: summary[k] for k in ("started", "parameters", "resumed") if k in summary}

    def _network(self):
        """The network's summary once the run has written its weights (at its first checkpoint)."""
        if self.network is None:
            from ..errors import NNTrainError
            from ..runs.store import WEIGHTS
            from ..runs.summary import model_summary

            if not (self.path / WEIGHTS).is_file():
                return "the network's summary appears once the run has written its weights (its first checkpoint)"
            try:
                self.network = model_summary(self.path)
            except NNTrainError as e:
                return f"no summary of the network: {e}"
        return self.network


def _columns(rows):
    """Rows of logs as {column: float64 array}, ``epoch`` first; NaN where a row lacks a column (as
    ``store.read_columns`` reads the files)."""
    import numpy as np

    names = list(dict.fromkeys(k for row in rows for k in row))
    nan = float("nan")
    return {name: np.array([row.get(name, nan) for row in rows], dtype=float) for name in names}
