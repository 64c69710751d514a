import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

from conftest import XOR, make_config, run_cli
from nntrain.export import tensorboard
from nntrain.export.tensorboard import diagnostic_tag, scalar_tag
from nntrain.runs.store import read_metrics, read_weights
from nntrain.training.fit import Interrupted, fit, resume

TB = {"epochs": 12, "tensorboard": True, "checkpoint_every": 3}
# Two steps an epoch, a validation split and a schedule: val_* and lr columns.
MOONS = make_config(
    data={"source": "moons", "n_samples": 40, "batch_size": 16, "split": {"val": 0.25}},
    model={"layers": [{"units": 4, "activation": "relu"}, {"units": 1, "activation": "sigmoid"}]},
    training={**TB, "schedule": {"name": "cosine"}},
)


def events(logdir, purge=True):
    """TensorBoard's own reader over ``logdir``; ``purge=False`` keeps every event as written."""
    accumulator = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0}, purge_orphaned_data=purge)
    return accumulator.Reload()


def scalars(accumulator, tag):
    return [(e.step, e.value) for e in accumulator.Scalars(tag)]


def assert_matches_files(run_dir, logdir=None):
    """Every cell of metrics.csv and diagnostics.csv is in the events once, at its epoch (float32)."""
    accumulator = events(logdir or run_dir, purge=False)
    rows = read_metrics(run_dir)
    for column in {c for row in rows for c in row if c != "epoch"}:
        expected = [(row["epoch"], np.float32(row[column])) for row in rows if column in row]
        assert scalars(accumulator, scalar_tag(column)) == expected, column
    diagnostics = read_metrics(run_dir, "diagnostics.csv")
    for column in {c for row in diagnostics for c in row if c != "epoch"}:
        expected = [(row["epoch"], np.float32(row[column])) for row in diagnostics if column in row]
        assert scalars(accumulator, diagnostic_tag(column)) == expected, column
    assert [step for step, _ in scalars(accumulator, "lr")] == [row["epoch"] for row in rows]
    return accumulator


def hparams_of(accumulator):
    content = accumulator.PluginTagToContent("hparams")
    start = hparams_metadata.parse_session_start_info_plugin_data(content["_hparams_/session_start_info"])
    values = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    end = content.get("_hparams_/session_end_info")
    return values, end and hparams_metadata.parse_session_end_info_plugin_data(end).status


def test_tag_names():
    assert [scalar_tag(c) for c in ("loss", "val_loss", "val_balanced_accuracy", "data_loss", "lr", "epoch_time_s")] == [
        "loss/train", "loss/val", "balanced_accuracy/val", "data_loss/train", "lr", "epoch_time_s",
    ]  # fmt: skip
    assert diagnostic_tag("grad_norm.layer10") == "grad_norm/layer10"


def test_a_live_run_logs_every_metric_its_diagnostics_histograms_and_hparams(tmp_path):
    run = fit(MOONS, run_dir=tmp_path / "run").run_dir
    accumulator = assert_matches_files(run)
    tags = accumulator.Tags()
    assert {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr", "grad_norm/layer0", "weight_norm/layer1"} <= set(tags["scalars"])
    # Histograms of every weight array at the diagnostic epochs (all of them in a 12-epoch run).
    assert sorted(tags["histograms"]) == ["weights/layers.0.W", "weights/layers.0.b", "weights/layers.1.W", "weights/layers.1.b"]
    assert [e.step for e in accumulator.Histograms("weights/layers.0.W")] == list(range(1, 13))
    values, status = hparams_of(accumulator)
    assert values["optimizer.lr"] == MOONS.optimizer.lr and values["model.layers.0.activation"] == "relu"
    assert values["training.tensorboard"] is True and values["metrics"] == '["accuracy"]'
    assert status == 1  # STATUS_SUCCESS
    assert "custom_scalars__config__" in tags["tensors"]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def test_a_run_that_failed_after_its_checkpoint_resumes_without_duplicate_or_lost_epochs(tmp_path):
    def fail_at_5(epoch, logs):
        if epoch == 5:
            raise RuntimeError("boom")

    run = tmp_path / "run"
    with pytest.raises(RuntimeError):
        fit(MOONS, run_dir=run, on_epoch=fail_at_5)
    assert [s for s, _ in scalars(events(run), "loss/train")] == [1, 2, 3, 4, 5]  # epochs 4, 5: after the checkpoint
    resume(run)
    assert_matches_files(run)  # 1..12, each once, with the resumed run's values
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    assert hparams_of(events(run))[1] == 1


def test_a_run_interrupted_mid_epoch_resumes_without_duplicate_or_lost_epochs(tmp_path):
    def interrupt(epoch, step):
        if (epoch, step) == (7, 1):
            os.kill(os.getpid(), signal.SIGINT)

    run = tmp_path / "run"
    with pytest.raises(Interrupted):
        fit(MOONS, run_dir=run, on_step=interrupt)
    values, status = hparams_of(events(run))
    assert status is None  # interrupted: no end yet
    resume(run)
    assert_matches_files(run)


def test_export_writes_each_runs_events_from_its_files(tmp_path):
    run = fit(MOONS.model_copy(update={"training": MOONS.training.model_copy(update={"tensorboard": False})}), run_dir=tmp_path / "run").run_dir
    result = run_cli("export", run, "--format", "tensorboard")
    assert result.exit_code == 0, result.output
    assert f"{run}: 12 epochs -> {run}" in result.stdout
    accumulator = assert_matches_files(run)
    assert [e.step for e in accumulator.Histograms("weights/layers.1.W")] == [12]  # the final weights
    W = read_weights(run)["layers.1.W"]
    histogram = accumulator.Histograms("weights/layers.1.W")[0].histogram_value
    assert (histogram.num, sum(histogram.bucket), histogram.min, histogram.max) == (W.size, W.size, W.min(), W.max())
    values, status = hparams_of(accumulator)
    assert values["training.tensorboard"] is False and status == 1
    # Wall times: the run's start plus its epoch times, in order.
    walls = [e.wall_time for e in accumulator.Scalars("loss/train")]
    assert walls == sorted(walls)

    again = run_cli("export", run, "--format", "tensorboard")
    assert again.exit_code == 2
    assert again.stderr.strip() == f"error: {run}: has TensorBoard event files already; --force replaces them"
    assert run_cli("export", run, "--format", "tensorboard", "--force").exit_code == 0
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    assert_matches_files(run)


def test_export_to_a_log_directory(tmp_path):
    first = fit(make_config(training={"epochs": 3}), run_dir=tmp_path / "a" / "xor-1").run_dir
    second = fit(make_config(training={"epochs": 4}), run_dir=tmp_path / "a" / "xor-2").run_dir
    logs = tmp_path / "logs"
    result = run_cli("export", first, second, "--format", "tensorboard", "-o", logs)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"view with: tensorboard --logdir {logs}"
    assert_matches_files(first, logs / "xor-1")
    assert_matches_files(second, logs / "xor-2")
    assert not list(first.glob("events.out.tfevents.*"))


def test_fit_tensorboard_flag_records_it_in_the_config(tmp_path):
    config = tmp_path / "xor.yaml"
    config.write_text("model: {layers: [{units: 2, activation: tanh}, {units: 1, activation: sigmoid}]}\n"
                      "loss: binary_crossentropy\ndata: {source: xor, batch_size: 4}\ntraining: {epochs: 3}\n")  # fmt: skip
    result = run_cli("fit", config, "--tensorboard", "--run-dir", tmp_path / "r", "-q", "--no-plots")
    assert result.exit_code == 0, result.output
    assert "tensorboard: true" in (tmp_path / "r" / "config.yaml").read_text()
    assert_matches_files(tmp_path / "r")


# --------------------------------------------------------------------------------------------------
# What bad input gets


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    return fit(make_config(training={"epochs": 2}), run_dir=tmp_path_factory.mktemp("xor") / "run").run_dir


def _error(*args):
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    return result.stderr.strip()


def test_exporting_a_directory_that_is_not_a_run(tmp_path):
    assert _error("export", tmp_path, "--format", "tensorboard") == f"error: {tmp_path}: not a run directory (no config.yaml)"
    (tmp_path / "config.yaml").write_text("x: 1\n")
    assert _error("export", tmp_path, "--format", "tensorboard") == f"error: {tmp_path}: not a run directory (no metrics.csv)"


def test_a_log_directory_that_cannot_be_written(xor_run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    message = _error("export", xor_run, "--format", "tensorboard", "-o", blocker)
    assert message == f"error: {blocker / 'run'}: cannot write TensorBoard events: {blocker} is a file, not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_log_directory_without_permission(xor_run, tmp_path):
    logs = tmp_path / "logs"
    (logs / "run").mkdir(parents=True)
    (logs / "run").chmod(0o500)
    try:
        message = _error("export", xor_run, "--format", "tensorboard", "-o", logs)
    finally:
        (logs / "run").chmod(0o700)
    assert message == f"error: {logs / 'run'}: cannot write TensorBoard events: permission denied"


def test_mlflow_options_are_refused(xor_run):
    expected = "error: --tracking-uri and --experiment are for --format mlflow; TensorBoard takes -o LOGDIR"
    assert _error("export", xor_run, "--format", "tensorboard", "--tracking-uri", "sqlite:///x.db") == expected
    assert _error("export", xor_run, "--format", "tensorboard", "--experiment", "e") == expected


def test_two_runs_of_one_name_into_one_log_directory(xor_run, tmp_path):
    other = fit(make_config(training={"epochs": 1}), run_dir=tmp_path / "run").run_dir
    message = _error("export", xor_run, other, "--format", "tensorboard", "-o", tmp_path / "logs")
    assert message == f"error: {tmp_path / 'logs' / 'run'}: two runs of the same name would share it; export them to different -o directories"


def test_without_the_extra(xor_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    expected = "error: TensorBoard logging needs tensorboardX: pip install 'nntrain[tensorboard]'"
    assert _error("export", xor_run, "--format", "tensorboard", "-o", tmp_path / "logs") == expected
    assert not (tmp_path / "logs").exists()
    config = tmp_path / "xor.yaml"
    config.write_text("model: {layers: [{units: 1, activation: sigmoid}]}\nloss: binary_crossentropy\ndata: {source: xor}\n")
    assert _error("fit", config, "--tensorboard", "--run-dir", tmp_path / "r") == expected
    assert not (tmp_path / "r").exists()  # refused before the run directory was made


def test_resume_takes_no_tensorboard_flag(xor_run):
    message = _error("fit", "--resume", xor_run, "--tensorboard")
    assert message == "error: --resume continues a run with its own config; its training.tensorboard says whether it does what --tensorboard asks"


def test_help_and_a_plain_fit_import_neither_tensorboardX_nor_mlflow(tmp_path):
    config = tmp_path / "xor.yaml"
    config.write_text("model: {layers: [{units: 2, activation: tanh}, {units: 1, activation: sigmoid}]}\n"
                      "loss: binary_crossentropy\ndata: {source: xor}\ntraining: {epochs: 2}\n")  # fmt: skip
    script = textwrap.dedent(f"""
        import sys
        from typer.testing import CliRunner
        from nntrain.cli import app
        assert CliRunner().invoke(app, ["--help"]).exit_code == 0
        assert CliRunner().invoke(app, ["fit", {str(config)!r}, "--run-dir", {str(tmp_path / 'r')!r}, "-q"]).exit_code == 0
        print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"tensorboardX", "tensorboard", "mlflow"}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
