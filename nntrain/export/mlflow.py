"""Runs into an MLflow tracking store: ``nntrain export RUN... --format mlflow [--tracking-uri URI]
[--experiment NAME]`` (``pip install 'nntrain[mlflow]'``; mlflow is imported only here, when used).

Each run directory becomes one MLflow run, in the experiment ``--experiment`` (default: the run's
config name), with

- params: the resolved config by dotted key (``optimizer.lr``, ``model.layers.0.units``; lists as
  JSON), a value cut at MLflow's limit (6000 characters; config.yaml, an artifact, has it whole);
- metrics: every column of metrics.csv per epoch (step = epoch, timestamp = the run's start plus its
  epoch times), and the summary's numbers as ``summary.wall_time_s``, ``summary.parameters``,
  ``summary.best_epoch``, ``summary.best.<monitor>`` at the last epoch;
- tags: ``nntrain.run_id`` (the run directory's name), ``nntrain.status``, ``nntrain.seed``,
  ``nntrain.version``, ``nntrain.path``, ``nntrain.epochs_exported``; the MLflow run's status and
  start and end times are the run's;
- artifacts: config.yaml, metrics.csv, diagnostics.csv, data.json, summary.json, weights.npz,
  model.onnx and the PNGs (eval/<split>/*.png under eval/<split>) that the run has.

Exporting a run again updates its MLflow run, found by ``nntrain.run_id`` in the experiment: params
it lacks are added (a differing value is an error: MLflow's params never change), only epochs after
``nntrain.epochs_exported`` are logged (a run exported while it trained gets its later epochs), the
summary's metrics are logged where they changed, tags, status and artifacts are replaced.

The default tracking URI is ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` (MLflow 3's own
default for a fresh folder; its artifacts go to ./mlruns).
"""

import contextlib
import logging
import os
import warnings
from datetime import datetime
from pathlib import Path

from ..errors import RunError, UsageError
from . import exported_run

DEFAULT_URI = "sqlite:///mlflow.db"
RUN_ID, EXPORTED = "nntrain.run_id", "nntrain.epochs_exported"
ARTIFACTS = ("config.yaml", "metrics.csv", "diagnostics.csv", "data.json", "summary.json", "weights.npz", "model.onnx")
STATUS = {"completed": "FINISHED", "diverged": "FAILED", "failed": "FAILED", "interrupted": "KILLED"}
# MLflow's limits (mlflow.utils.validation), should they be missing from its API.
PARAM_LENGTH, PARAMS_PER_BATCH, METRICS_PER_BATCH = 6000, 100, 1000


def export(runs, output=None, *, force=False, tracking_uri=None, experiment=None):
    """Each run into the tracking store at ``tracking_uri``; lines to print. ``force`` changes nothing:
    an exported run is always updated."""
    if output is not None:
        raise UsageError("-o/--output is not for --format mlflow; give the tracking store with --tracking-uri URI")
    runs = [exported_run(Path(run)) for run in runs]
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    client_class = require()
    with _quiet():  # after the import: importing mlflow sets its loggers' levels
        client = open_store(client_class, uri)
        return [export_run(client, run, experiment) for run in runs]


@contextlib.contextmanager
def _quiet():
    """MLflow without its INFO lines (database set-up), warnings, or minutes of retries on a dead server."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    retries = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    if retries is None:
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if retries is None:
            os.environ.pop("MLFLOW_HTTP_REQUEST_MAX_RETRIES", None)


def require():
    """mlflow's MlflowClient, or a UsageError naming the extra to install."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UsageError("MLflow export needs mlflow: pip install 'nntrain[mlflow]'") from None
    return MlflowClient


def open_store(client_class, uri):
    """A client (``client_class``: MlflowClient) of the store at ``uri``, tried once; UsageError if it
    cannot be opened."""
    if uri.startswith("sqlite:///"):
        # MLflow would make the missing folders of a database path; a typo should not.
        folder = Path(uri[len("sqlite:///"):]).parent
        if not folder.is_dir():
            problem = f"{folder} is not a folder" if folder.exists() else f"no folder {folder}"
            raise UsageError(f"{uri}: cannot open the MLflow tracking store: {problem}")
    try:
        client = client_class(tracking_uri=uri)
        client.search_experiments(max_results=1)
    except Exception as e:  # noqa: BLE001 -- whatever the store's backend raises, the URI is the user's
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0]
        raise UsageError(f"{uri}: cannot open the MLflow tracking store: {reason[:300]}") from None
    return client


def export_run(client, run, experiment=None):
    """One run directory into the store (created, or updated if its ``nntrain.run_id`` is there); its line."""
    from ..runs.store import SUMMARY, load_run_config, read_json, read_metrics

    config = load_run_config(run)
    rows = read_metrics(run)
    summary = read_json(run, SUMMARY, "summary", "no summary") if (run / SUMMARY).is_file() else {}
    run_id = run.resolve().name
    name = experiment or config.name
    experiment_id = _experiment(client, name)
    found = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_ID}` = '{_quoted(run_id)}'", max_results=1)
    started = _ms(summary.get("started"))
    if found:
        mlrun = found[0]
    else:
        mlrun = client.create_run(experiment_id, start_time=started, tags={RUN_ID: run_id}, run_name=run_id)
    key = mlrun.info.run_id
    done = int(mlrun.data.tags.get(EXPORTED, 0))
    params = _new_params(run, mlrun, flat_params(config))
    metrics = _epoch_metrics(rows, started, done) + _summary_metrics(summary, rows, mlrun, started)
    _log(client, key, params, metrics)
    _artifacts(client, key, run)
    tags = {
        "nntrain.status": summary.get("status", "unknown"),
        "nntrain.seed": str(config.seed),
        "nntrain.version": str(summary.get("nntrain_version", "unknown")),
        "nntrain.path": str(run.resolve()),
        EXPORTED: str(rows[-1]["epoch"] if rows else 0),
    }
    _log(client, key, tags=tags)
    if summary.get("status") in STATUS:
        client.set_terminated(key, STATUS[summary["status"]], end_time=_ms(summary.get("finished")))
    what = "updated" if found else "created"
    return f"{run}: {what} MLflow run {key} in experiment {name!r} ({len(rows) - min(done, len(rows))} epochs logged)"


def _experiment(client, name):
    """The id of the experiment ``name``, created (or restored from deletion) if need be."""
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name)
    if found.lifecycle_stage == "deleted":
        client.restore_experiment(found.experiment_id)
    return found.experiment_id


def _quoted(text):
    return text.replace("\\", "\\\\").replace("'", "\\'")


def flat_params(config):
    """The resolved config as {dotted key: text}, each cut at MLflow's length limit."""
    from .tensorboard import flat_config

    try:
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH as limit
    except ImportError:
        limit = PARAM_LENGTH
    out = {}
    for key, value in flat_config(config).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out[key] = text if len(text) <= limit else text[: limit - 1] + "…"
    return out


def _new_params(run, mlrun, params):
    """The params the MLflow run lacks; RunError where it has one with another value."""
    have = mlrun.data.params
    for key, value in params.items():
        if key in have and have[key] != value:
            raise RunError(
                f"{run}: MLflow run {mlrun.info.run_id} ({RUN_ID} {mlrun.data.tags.get(RUN_ID)}) has {key}={have[key]!r}, "
                f"this run {value!r}; export it to another --experiment"
            )
    return {k: v for k, v in params.items() if k not in have}


def _epoch_metrics(rows, started, done):
    """(key, value, timestamp ms, step) of every cell of the epochs after ``done``."""
    out, wall = [], started
    for row in rows:
        wall += round(row.get("epoch_time_s", 0.0) * 1000)
        if row["epoch"] > done:
            out += [(k, float(v), wall, row["epoch"]) for k, v in row.items() if k != "epoch"]
    return out


def _summary_metrics(summary, rows, mlrun, started):
    """The summary's numbers as ``summary.<key>`` at the last epoch, those the MLflow run does not have yet."""
    values = {f"summary.{k}": summary[k] for k in ("wall_time_s", "parameters", "non_trainable_parameters", "epochs", "best_epoch") if k in summary}
    values.update({f"summary.best.{k}": v for k, v in (summary.get("best") or {}).items()})
    step = rows[-1]["epoch"] if rows else 0
    have = mlrun.data.metrics
    return [
        (k, float(v), started, step)
        for k, v in values.items()
        if isinstance(v, (int, float)) and not (k in have and have[k] == float(v))
    ]


def _log(client, run_id, params=None, metrics=(), tags=None):
    """log_batch within MLflow's limits: params (100 a call), then metrics (1000 a call), then tags."""
    from mlflow.entities import Metric, Param, RunTag

    try:
        from mlflow.utils.validation import MAX_METRICS_PER_BATCH as per_call, MAX_PARAMS_TAGS_PER_BATCH as per_params
    except ImportError:
        per_call, per_params = METRICS_PER_BATCH, PARAMS_PER_BATCH
    params = [Param(k, v) for k, v in (params or {}).items()]
    for i in range(0, len(params), per_params):
        client.log_batch(run_id, params=params[i : i + per_params])
    metrics = [Metric(k, v, t, s) for k, v, t, s in metrics]
    for i in range(0, len(metrics), per_call):
        client.log_batch(run_id, metrics=metrics[i : i + per_call])
    tags = [RunTag(k, v) for k, v in (tags or {}).items()]
    for i in range(0, len(tags), per_params):
        client.log_batch(run_id, tags=tags[i : i + per_params])


def _artifacts(client, run_id, run):
    """The run's files (those it has) and its PNGs, eval/<split>/*.png under eval/<split>."""
    for name in ARTIFACTS:
        if (run / name).is_file():
            client.log_artifact(run_id, str(run / name))
    for png in sorted(run.rglob("*.png")):
        folder = png.parent.relative_to(run).as_posix()
        client.log_artifact(run_id, str(png), None if folder == "." else folder)


def _ms(text):
    """A time of the run files as milliseconds since the epoch (now, if unknown)."""
    from ..runs.store import TIME_FORMAT

    try:
        return round(datetime.strptime(text, TIME_FORMAT).timestamp() * 1000)
    except (TypeError, ValueError):
        return round(datetime.now().timestamp() * 1000)
