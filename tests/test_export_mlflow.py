import sys

import pytest

from conftest import make_config, run_cli
from nntrain.runs.store import read_metrics
from nntrain.training.fit import fit, resume

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture
def store(in_tmp, monkeypatch):
    """A fresh SQLite store in the test's folder (artifacts in its ./mlruns), and mlflow's default."""
    uri = f"sqlite:///{in_tmp / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def _export(*args):
    result = run_cli("export", *args, "--format", "mlflow")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def _history(client, run_id, key):
    return [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


def test_export_params_metrics_tags_and_artifacts(store, in_tmp):
    run = fit(make_config(training={"epochs": 7}), run_dir=in_tmp / "runs" / "xor-1").run_dir
    (run / "model.onnx").write_bytes(b"onnx")
    (run / "eval" / "val").mkdir(parents=True)
    (run / "eval" / "val" / "roc.png").write_bytes(b"png")
    lines = _export(run, "--tracking-uri", store, "--experiment", "lecture")
    assert lines[0].startswith(f"{run}: created MLflow run ") and lines[0].endswith(" in experiment 'lecture' (7 epochs logged)")
    found = mlflow.search_runs(experiment_names=["lecture"])
    assert len(found) == 1
    row = found.iloc[0]
    rows = read_metrics(run)
    assert row["params.optimizer.lr"] == "0.05" and row["params.model.layers.0.activation"] == "tanh"
    assert row["params.metrics"] == '["accuracy"]' and row["params.training.tensorboard"] == "false"
    assert row["metrics.loss"] == rows[-1]["loss"] and row["metrics.summary.parameters"] == 17
    assert row["tags.nntrain.run_id"] == "xor-1" and row["tags.nntrain.status"] == "completed"
    assert row["tags.nntrain.seed"] == "0" and row["tags.nntrain.epochs_exported"] == "7"
    assert row["status"] == "FINISHED"
    client = MlflowClient(store)
    for column in ("loss", "accuracy", "epoch_time_s"):
        assert _history(client, row["run_id"], column) == [(r["epoch"], r[column]) for r in rows]
    artifacts = {a.path for a in client.list_artifacts(row["run_id"])}
    assert {"config.yaml", "weights.npz", "summary.json", "metrics.csv", "diagnostics.csv", "model.onnx", "eval"} <= artifacts
    assert [a.path for a in client.list_artifacts(row["run_id"], "eval/val")] == ["eval/val/roc.png"]


def test_the_default_store_is_mlflow_tracking_uri_then_sqlite_mlflow_db(in_tmp, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run = fit(make_config(training={"epochs": 2}), run_dir=in_tmp / "xor-1").run_dir
    _export(run)
    assert (in_tmp / "mlflow.db").is_file()
    assert len(MlflowClient("sqlite:///mlflow.db").search_runs([MlflowClient("sqlite:///mlflow.db").get_experiment_by_name("xor").experiment_id])) == 1


def test_exporting_again_updates_the_run_instead_of_adding_one(store, in_tmp):
    def fail_at_5(epoch, logs):
        if epoch == 5:
            raise RuntimeError("boom")

    run = in_tmp / "xor-1"
    with pytest.raises(RuntimeError):
        fit(make_config(training={"epochs": 9, "checkpoint_every": 2}), run_dir=run, on_epoch=fail_at_5)
    _export(run)
    first = mlflow.search_runs(experiment_names=["xor"])
    assert len(first) == 1 and first.iloc[0]["status"] == "FAILED" and first.iloc[0]["tags.nntrain.epochs_exported"] == "5"
    resume(run)  # epoch 5 again (after the checkpoint of epoch 4), then 6..9
    lines = _export(run)
    assert lines[0].endswith("in experiment 'xor' (4 epochs logged)") and ": updated MLflow run " in lines[0]
    lines = _export(run)
    assert lines[0].endswith("(0 epochs logged)")
    again = mlflow.search_runs(experiment_names=["xor"])
    assert len(again) == 1 and again.iloc[0]["run_id"] == first.iloc[0]["run_id"]
    assert again.iloc[0]["status"] == "FINISHED" and again.iloc[0]["tags.nntrain.status"] == "completed"
    rows = read_metrics(run)
    assert _history(MlflowClient(store), again.iloc[0]["run_id"], "loss") == [(r["epoch"], r["loss"]) for r in rows]


def test_batches_and_long_params_keep_to_mlflows_limits(store, in_tmp, monkeypatch):
    import mlflow.utils.validation as validation

    monkeypatch.setattr(validation, "MAX_METRICS_PER_BATCH", 7)
    monkeypatch.setattr(validation, "MAX_PARAMS_TAGS_PER_BATCH", 3)
    monkeypatch.setattr(validation, "MAX_PARAM_VAL_LENGTH", 12)
    run = fit(make_config(training={"epochs": 6}, metrics=["accuracy", "f1", "precision", "recall"]), run_dir=in_tmp / "xor-1").run_dir
    _export(run)
    row = mlflow.search_runs(experiment_names=["xor"]).iloc[0]
    assert row["params.metrics"] == '["accuracy"…'  # 12 characters
    rows = read_metrics(run)
    assert _history(MlflowClient(store), row["run_id"], "recall") == [(r["epoch"], r["recall"]) for r in rows]


# --------------------------------------------------------------------------------------------------
# What bad input gets


def _error(*args):
    result = run_cli("export", *args, "--format", "mlflow")
    assert result.exit_code == 2, result.output
    return result.stderr.strip()


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    return fit(make_config(training={"epochs": 2}), run_dir=tmp_path_factory.mktemp("xor") / "xor-1").run_dir


def test_a_directory_that_is_not_a_run(store, in_tmp):
    assert _error(in_tmp) == f"error: {in_tmp}: not a run directory (no config.yaml)"


def test_a_store_that_cannot_be_opened(xor_run, in_tmp):
    assert _error(xor_run, "--tracking-uri", "sqlite:////nonexistent/dir/x.db") == (
        "error: sqlite:////nonexistent/dir/x.db: cannot open the MLflow tracking store: no folder /nonexistent/dir"
    )
    (in_tmp / "not.db").write_text("not a database")
    assert _error(xor_run, "--tracking-uri", "sqlite:///not.db") == (
        "error: sqlite:///not.db: cannot open the MLflow tracking store: (sqlite3.DatabaseError) file is not a database"
    )
    assert _error(xor_run, "--tracking-uri", "nosuch://x").startswith("error: nosuch://x: cannot open the MLflow tracking store: ")


def test_output_is_refused(xor_run, store):
    assert _error(xor_run, "-o", "x") == "error: -o/--output is not for --format mlflow; give the tracking store with --tracking-uri URI"


def test_without_the_extra(xor_run, store, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    assert _error(xor_run) == "error: MLflow export needs mlflow: pip install 'nntrain[mlflow]'"


def test_another_run_of_the_same_name_and_other_params(store, in_tmp):
    first = fit(make_config(training={"epochs": 2}), run_dir=in_tmp / "a" / "xor-1").run_dir
    other = fit(make_config(training={"epochs": 3}), run_dir=in_tmp / "b" / "xor-1").run_dir
    _export(first)
    message = _error(other)
    assert message.startswith(f"error: {other}: MLflow run ")
    assert message.endswith("(nntrain.run_id xor-1) has training.epochs='2', this run '3'; export it to another --experiment")
