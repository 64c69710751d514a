"""TensorBoard event files of a run: live while it trains (``training.tensorboard``) or afterwards
(``nntrain export RUN... --format tensorboard [-o LOGDIR]``), written with tensorboardX
(``pip install 'nntrain[tensorboard]'``), which is imported only here and only when used.

What a run's event file holds, step = epoch (1-based):

- every column of metrics.csv, train and held-out split under one name: ``loss/train``, ``loss/val``,
  ``accuracy/train``, ``accuracy/val``; ``lr`` every epoch (the optimizer's when no schedule sets it),
  ``epoch_time_s`` and ``clipped_steps`` as they are. A custom-scalars layout draws each metric's
  splits in one chart (the "Custom Scalars" tab); the "Scalars" tab groups them by name.
- diagnostics.csv at its epochs: ``grad_norm/layer0``, ``weight_norm/layer0``, ``update_ratio/...``,
  ``dead/...``, ``saturated/...``;
- histograms of every weight array (``weights/layers.0.W``) at the diagnostic epochs (live) or of the
  final weights at the last epoch (export);
- the resolved config as hparams (dotted keys) in the run's own file: a session-start record at step
  0 and a session-end record with the status. No experiment record: TensorBoard then builds the
  HParams table from every run's session records, so runs with different keys (an adam and an sgd
  run) all get their columns; one run's experiment record would define the table for all.

A resumed run's events are cut back to its checkpoint, as its metrics.csv is: the event files are
read, the events of epochs after the checkpoint dropped, the rest written to a new file and the old
files removed, so each epoch appears once. The writes are synchronous, flushed every few seconds and
before every checkpoint (the checkpoint's invariant: its logs are on disk first).
"""

import itertools
import json
import os
import re
import struct
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import RunError, UsageError
from . import exported_run

EVENTS = "events.out.tfevents.*"  # what TensorBoard reads in a directory
SPLITS = ("val", "test")  # column prefixes of held-out splits: val_loss -> loss/val
UNSPLIT = ("lr", "epoch_time_s", "clipped_steps")  # columns of no split
HISTOGRAM_BINS = 64  # equal bins: NumPy's fast path (tensorboardX's default, ~1500 uneven edges, costs ~10x)
FLUSH_SECONDS = 2.0  # live: how stale the file on disk may be
HPARAMS_PREFIX, LAYOUT_TAG = "_hparams_/", "custom_scalars__config__"
STATUS = {"completed": "STATUS_SUCCESS", "diverged": "STATUS_FAILURE", "failed": "STATUS_FAILURE"}

_files = itertools.count()  # event files this process opened: their names differ within a second


def require():
    """tensorboardX is importable, or a UsageError naming the extra to install."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        raise UsageError("TensorBoard logging needs tensorboardX: pip install 'nntrain[tensorboard]'") from None


# --------------------------------------------------------------------------------------------------
# Names


def scalar_tag(column):
    """A metrics.csv column's tag: loss -> loss/train, val_accuracy -> accuracy/val, lr -> lr."""
    if column in UNSPLIT:
        return column
    for split in SPLITS:
        if column.startswith(f"{split}_"):
            return f"{column[len(split) + 1:]}/{split}"
    return f"{column}/train"


def diagnostic_tag(column):
    """A diagnostics.csv column's tag: grad_norm.layer0 -> grad_norm/layer0."""
    name, _, layer = column.rpartition(".")
    return f"{name}/{layer}" if name else column


def flat_config(config):
    """The resolved config as {dotted key: bool | int | float | str}: lists as JSON, None left out."""
    from ..runs.compare import flatten

    out = {}
    for key, value in flatten(config.model_dump(mode="json")).items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (bool, int, float, str)) else json.dumps(value)
    return out


def layout(columns, diagnostics=()):
    """The custom-scalars layout: one chart per metric of ``columns`` (metrics.csv's) with its splits,
    one per diagnostic (``diagnostics``: names, grad_norm) over the layers."""
    charts = {}
    for column in columns:
        tag = scalar_tag(column)
        charts.setdefault(tag.partition("/")[0], []).append(re.escape(tag))
    diagnostic = {name: ["Multiline", [rf"^{re.escape(name)}/layer\d+$"]] for name in diagnostics}
    out = {"metrics": {name: ["Multiline", [f"^{t}$" for t in tags]] for name, tags in charts.items()}}
    if diagnostic:
        out["diagnostics"] = diagnostic
    return out


# --------------------------------------------------------------------------------------------------
# Writing


class EventLog:
    """One new event file in ``logdir``, written synchronously; ``keep``: events to copy in first.

    RunError if the file cannot be written.
    """

    def __init__(self, logdir, keep=()):
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.proto.summary_pb2 import Summary

        self.logdir = Path(logdir)
        self._Event, self._Summary = Event, Summary
        try:
            self._writer = EventsWriter(str(self.logdir / "events"), f".{os.getpid()}.{next(_files)}.nntrain")
            for event in keep:
                self._writer.write_event(event)
        except OSError as e:
            raise RunError(f"{self.logdir}: cannot write TensorBoard events: {e.strerror or e}") from None
        self._flushed = time.monotonic()

    def _write(self, step, summary, walltime=None):
        event = self._Event(wall_time=time.time() if walltime is None else walltime, step=step, summary=summary)
        try:
            self._writer.write_event(event)
        except OSError as e:
            raise RunError(f"{self.logdir}: cannot write TensorBoard events: {e.strerror or e}") from None

    def scalars(self, step, values, walltime=None):
        """``values``: {tag: number}, written as one event."""
        Value = self._Summary.Value
        self._write(step, self._Summary(value=[Value(tag=t, simple_value=float(v)) for t, v in values.items()]), walltime)

    def epoch(self, epoch, logs, lr, diagnostics=None, weights=None, walltime=None):
        """One epoch: ``logs`` (a metrics.csv row without epoch), ``lr`` when the logs have none, a
        diagnostics.csv row, weight histograms of ``weights`` ({name: array})."""
        values = {scalar_tag(k): v for k, v in logs.items() if k != "epoch"}
        if "lr" not in values and lr is not None:
            values["lr"] = lr
        values.update({diagnostic_tag(k): v for k, v in (diagnostics or {}).items() if k != "epoch"})
        self.scalars(epoch, values, walltime)
        if weights:
            self.histograms(epoch, weights, walltime)
        if time.monotonic() - self._flushed > FLUSH_SECONDS:
            self.flush()

    def histograms(self, step, arrays, walltime=None):
        """Histograms of ``arrays`` ({name: array}) as ``weights/<name>``, those of finite values."""
        values = [v for name, array in arrays.items() for v in _histogram(f"weights/{name}", array)]
        if values:
            self._write(step, self._Summary(value=values), walltime)

    def hparams(self, config, walltime=None):
        """The resolved config as the hparams plugin's session-start record (step 0)."""
        from tensorboardX.summary import hparams

        _, start, _ = hparams(flat_config(config), {})
        self._write(0, start, walltime)

    def layout(self, columns, diagnostics=()):
        from tensorboardX.summary import custom_scalars

        self._write(0, custom_scalars(layout(columns, diagnostics)))

    def end(self, status, walltime=None):
        """The hparams plugin's session-end record: success, failure, or (interrupted) none."""
        if status not in STATUS:
            return
        from tensorboardX.proto.api_pb2 import Status
        from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData, SessionEndInfo
        from tensorboardX.proto.summary_pb2 import SummaryMetadata

        content = HParamsPluginData(session_end_info=SessionEndInfo(status=Status.Value(STATUS[status])), version=0)
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="hparams", content=content.SerializeToString()))
        self._write(0, self._Summary(value=[self._Summary.Value(tag=f"{HPARAMS_PREFIX}session_end_info", metadata=metadata)]), walltime)

    def flush(self):
        try:
            self._writer.flush()
        except OSError as e:
            raise RunError(f"{self.logdir}: cannot write TensorBoard events: {e.strerror or e}") from None
        self._flushed = time.monotonic()

    def close(self):
        self.flush()
        self._writer.close()


def _histogram(tag, array):
    """[a Summary.Value] of ``array``'s histogram in HISTOGRAM_BINS equal bins from its min to its max,
    computed on the array as it is (float32 stays float32: tensorboardX's own copies it to float64 and
    takes ~2.5x as long); [] for an empty array or one with non-finite values (a diverged run's)."""
    from tensorboardX.summary import histogram_raw

    a = array.ravel()
    if not a.size:
        return []
    low, high = float(a.min()), float(a.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        return []
    counts, edges = np.histogram(a, bins=HISTOGRAM_BINS, range=(low, high))
    summary = histogram_raw(
        tag, low, high, a.size, float(a.sum(dtype=np.float64)), float(np.dot(a, a)), edges[1:].tolist(), counts.tolist()
    )
    return list(summary.value)


# --------------------------------------------------------------------------------------------------
# Reading back what a run wrote (for resume)


def _records(path):
    """The records of a TFRecord file; a record cut short (a killed writer) ends it."""
    data = Path(path).read_bytes()
    i = 0
    while i + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, i)
        start = i + 12  # length, its CRC
        if start + length + 4 > len(data):
            return
        yield data[start:start + length]
        i = start + length + 4  # the data's CRC


def event_files(logdir):
    return sorted(Path(logdir).glob(EVENTS))


def events_until(files, epochs):
    """The summaries of ``files`` (oldest first) at steps 1..``epochs``, each (step, tag) once -- the
    last written --, as events; the hparams and layout records are left out (they are written anew)."""
    from google.protobuf.message import DecodeError
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary

    kept = {}
    for path in files:
        try:
            for record in _records(path):
                event = Event.FromString(record)
                if not event.HasField("summary") or not 0 < event.step <= epochs:
                    continue
                for value in event.summary.value:
                    if not value.tag.startswith(HPARAMS_PREFIX) and value.tag != LAYOUT_TAG:
                        kept[event.step, value.tag] = (event.wall_time, value)
        except (OSError, DecodeError):
            continue  # a damaged file: what it still had is kept
    ordered = sorted(kept.items(), key=lambda item: item[0][0])
    return [Event(wall_time=wall, step=step, summary=Summary(value=[value])) for (step, _), (wall, value) in ordered]


def resumed_log(logdir, epochs):
    """An EventLog for a run going on after ``epochs`` epochs: the events of those epochs copied from
    the files there, which are then removed."""
    old = event_files(logdir)
    log = EventLog(logdir, keep=events_until(old, epochs))
    log.flush()
    for path in old:
        path.unlink(missing_ok=True)
    return log


# --------------------------------------------------------------------------------------------------
# nntrain export --format tensorboard


def export(runs, output=None, *, force=False, tracking_uri=None, experiment=None):
    """Event files of finished (or unfinished) runs from their files: into each run's directory, or
    with ``output`` into ``output/<run name>``. Lines to print."""
    if tracking_uri is not None or experiment is not None:
        raise UsageError("--tracking-uri and --experiment are for --format mlflow; TensorBoard takes -o LOGDIR")
    runs = [exported_run(Path(run)) for run in runs]
    targets = [run if output is None else Path(output) / run.resolve().name for run in runs]
    if len(set(targets)) < len(targets):
        twice = next(t for t in targets if targets.count(t) > 1)
        raise UsageError(f"{twice}: two runs of the same name would share it; export them to different -o directories")
    require()
    for target in targets:
        _check_target(target, force)
    lines = []
    for run, target in zip(runs, targets):
        epochs = write_run(run, target)
        lines.append(f"{run}: {epochs} epochs -> {target}")
    lines.append(f"view with: tensorboard --logdir {output if output is not None else _common(runs)}")
    return lines


def _check_target(target, force):
    """The log directory can be made and written; its event files are replaced only with ``force``."""
    blocker = next((p for p in [target, *target.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise RunError(f"{target}: cannot write TensorBoard events: {blocker} is a file, not a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"{target}: cannot write TensorBoard events: {e.strerror}") from None
    if not os.access(target, os.W_OK | os.X_OK):
        raise RunError(f"{target}: cannot write TensorBoard events: permission denied")
    if event_files(target) and not force:
        raise RunError(f"{target}: has TensorBoard event files already; --force replaces them")


def _common(runs):
    parents = {run.resolve().parent for run in runs}
    return os.path.relpath(os.path.commonpath(parents)) if parents else "."


def _run_files(run):
    """(config, metrics rows, {epoch: diagnostics row}, summary, weights) of a run; what it lacks empty."""
    from ..runs.store import DIAGNOSTICS, SUMMARY, WEIGHTS, load_run_config, read_json, read_metrics, read_weights

    diagnostics = {row["epoch"]: row for row in read_metrics(run, DIAGNOSTICS)} if (run / DIAGNOSTICS).is_file() else {}
    summary = read_json(run, SUMMARY, "summary", "no summary") if (run / SUMMARY).is_file() else {}
    weights = read_weights(run) if (run / WEIGHTS).is_file() else {}
    return load_run_config(run), read_metrics(run), diagnostics, summary, weights


def write_run(run, logdir):
    """A run's event file from its files, replacing event files in ``logdir``; its epochs."""
    config, rows, diagnostics, summary, weights = _run_files(run)
    walltimes = _walltimes(summary.get("started"), rows)
    for path in event_files(logdir):
        path.unlink()
    log = EventLog(logdir)
    log.hparams(config, walltimes[0] if rows else None)
    columns = dict.fromkeys(c for row in rows for c in row if c != "epoch")
    names = dict.fromkeys(diagnostic_tag(c).partition("/")[0] for row in diagnostics.values() for c in row if c != "epoch")
    log.layout([*columns, "lr"], list(names))
    for row, wall in zip(rows, walltimes):
        epoch = row["epoch"]
        log.epoch(epoch, row, config.optimizer.lr, diagnostics.get(epoch), walltime=wall)
    if rows and weights:
        log.histograms(rows[-1]["epoch"], weights, walltimes[-1])
    log.end(summary.get("status"), walltimes[-1] if rows else None)
    log.close()
    return len(rows)


def _walltimes(started, rows):
    """Each epoch's end as a time: the run's start plus the epoch times so far (now, if unknown)."""
    from ..runs.store import TIME_FORMAT

    try:
        start = datetime.strptime(started, TIME_FORMAT).timestamp()
    except (TypeError, ValueError):
        start = time.time()
    return list(start + np.cumsum([row.get("epoch_time_s", 0.0) for row in rows]))
