import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli as run
from nntrain.runs.store import read_weights

CONFIGS = Path(__file__).parent.parent / "configs"


def test_fit_writes_a_run_and_says_where(in_tmp):
    result = run("fit", CONFIGS / "xor.yaml", "--quiet", "--no-plots", "--set", "training.epochs=5")
    assert result.exit_code == 0, result.output
    run_dir = Path(result.stdout.splitlines()[0].removeprefix("run: "))
    assert run_dir.parent == Path("runs") and run_dir.name.startswith("xor-")
    assert "completed: 5 epochs" in result.stdout and "accuracy" in result.stdout
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == 5


def png_size(path):
    header = Path(path).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_fit_trains_xor_to_full_accuracy_and_plots_it(in_tmp):
    result = run("fit", CONFIGS / "xor.yaml", "--run-dir", "r")
    assert result.exit_code == 0, result.output
    assert "epoch 500/500" in result.stderr  # the progress bar
    assert png_size("r/curves.png") == (960, 360)  # loss and accuracy panels
    assert png_size("r/decision_boundary.png") == (560, 480)
    evaluation = run("eval", "r", "--json")
    assert evaluation.exit_code == 0
    assert json.loads(evaluation.stdout)["metrics"]["accuracy"] == 1.0


def test_fit_seed_and_run_dir_options(in_tmp):
    a = run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--seed", "3", "--run-dir", "a", "--set", "training.epochs=3")
    b = run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--seed", "3", "--run-dir", "b", "--set", "training.epochs=3")
    assert a.exit_code == b.exit_code == 0
    assert "seed: 3" in Path("a/config.yaml").read_text()
    assert not Path("a/curves.png").exists()  # --no-plots
    assert read_weights("a")["layers.0.W"].tobytes() == read_weights("b")["layers.0.W"].tobytes()
    again = run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", "a")
    assert again.exit_code == 2
    assert again.stderr.strip() == "error: a: already exists; runs are never overwritten, choose a new --run-dir"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--set", "optimizer.lr=-1"], "error: --set optimizer.lr=-1: optimizer.lr: Input should be greater than 0; got -1"),
        (["--set", "model.layers.0.activation=sigmod"], "error: --set model.layers.0.activation=sigmod: model.layers.0.activation: Input should be"),
        (["--seed", "-1"], "error: --seed -1: seed: Input should be greater than or equal to 0; got -1"),
    ],
)
def test_fit_bad_overrides_exit_2_without_a_run(in_tmp, args, message):
    result = run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert not Path("runs").exists()


def test_fit_bad_config_file(in_tmp):
    Path("bad.yaml").write_text((CONFIGS / "xor.yaml").read_text().replace("activation: tanh", "activation: tanhh"))
    result = run("fit", "bad.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: bad.yaml, line 12: model.layers.0.activation: Input should be 'sigmoid'")
    assert "Traceback" not in result.output and not Path("runs").exists()
    missing = run("fit", "nope.yaml")
    assert (missing.exit_code, missing.stderr) == (2, "error: nope.yaml: config file not found\n")
    Path("broken.yaml").write_text("model: [\n")
    broken = run("fit", "broken.yaml")
    assert broken.exit_code == 2 and broken.stderr.startswith("error: broken.yaml, line 2, column 1: invalid YAML")


def test_fit_hand_set_weights_of_the_wrong_shape(in_tmp):
    text = (CONFIGS / "xor_reference.yaml").read_text().replace("W: [[20, 20]]", "W: [[20, 20, 20]]")
    Path("ref.yaml").write_text(text)
    result = run("fit", "ref.yaml", "-q")
    assert result.exit_code == 2
    assert result.stderr == "error: ref.yaml, line 15: model.layers.1.weights.W: expected shape (1, 2) (units, inputs), got (1, 3)\n"
    assert not Path("runs").exists()


def test_fit_warns_on_a_mismatched_pairing(in_tmp):
    result = run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--set", "loss=mse", "--set", "metrics=[]", "--set", "training.epochs=2")
    assert result.exit_code == 0
    assert "warning: output activation 'sigmoid' does not match loss 'mse'" in result.stderr


def test_fit_divergence_exits_1(in_tmp):
    result = run(
        "fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", "d", "--set", "optimizer={name: sgd, lr: 1e30}",
        "--set", "loss=mse", "--set", "metrics=[]", "--set", "model.layers.1.activation=linear",
    )
    assert result.exit_code == 1
    assert "error: the loss became non-finite in epoch" in result.stderr
    assert json.loads(Path("d/summary.json").read_text())["status"] == "diverged"


def test_predict_trace_reproduces_the_lectures_table():
    result = run("predict", CONFIGS / "xor_reference.yaml", "--trace", "--json", "-i", "0,0", "-i", "0,1", "-i", "1,0", "-i", "1,1")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["input"] for r in records] == [[0, 0], [0, 1], [1, 0], [1, 1]]
    hidden = [r["layers"][0] for r in records]
    assert hidden[0] == pytest.approx([4.5398e-5, 4.5398e-5], rel=1e-4)
    assert hidden[1] == pytest.approx([9.3576e-14, 0.999954602], rel=1e-4)
    assert hidden[2] == pytest.approx([0.999954602, 9.3576e-14], rel=1e-4)
    outputs = [r["output"][0] for r in records]
    assert outputs == pytest.approx([4.548e-5, 0.99995, 0.99995, 4.548e-5], rel=1e-4)
    assert [r["layers"][1] for r in records] == [r["output"] for r in records]
    table = run("predict", CONFIGS / "xor_reference.yaml", "--trace", "-i", "0,1")
    assert "9.3576e-14" in table.stdout and "0.99995" in table.stdout and "layer 0" in table.stdout


def test_predict_errors(in_tmp):
    wrong = run("predict", CONFIGS / "xor_reference.yaml", "-i", "0,1,1")
    assert (wrong.exit_code, wrong.stderr) == (2, "error: --input '0,1,1': the network takes 2 inputs, got 3\n")
    text = run("predict", CONFIGS / "xor_reference.yaml", "-i", "a,b")
    assert text.exit_code == 2 and "expected 2 comma-separated numbers" in text.stderr
    untrained = run("predict", CONFIGS / "xor.yaml", "-i", "0,1")
    assert untrained.exit_code == 2
    assert "model.layers.0: no hand-set weights; predict needs a trained run directory" in untrained.stderr
    missing = run("predict", "nothing-here", "-i", "0,1")
    assert (missing.exit_code, missing.stderr) == (2, "error: nothing-here: no such run directory or config file\n")


def test_predict_from_a_trained_run(in_tmp):
    assert run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", "r").exit_code == 0
    result = run("predict", "r", "-i", "0,1", "-i", "1,1", "--json")
    outputs = [r["output"][0] for r in json.loads(result.stdout)]
    assert outputs[0] > 0.5 > outputs[1]


def test_eval_errors(in_tmp):
    missing = run("eval", "nope")
    assert (missing.exit_code, missing.stderr) == (2, "error: nope: no such run directory\n")
    Path("empty").mkdir()
    empty = run("eval", "empty")
    assert (empty.exit_code, empty.stderr) == (2, "error: empty: not a run directory (no config.yaml)\n")
    assert run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", "r", "--set", "training.epochs=2").exit_code == 0
    Path("r/weights.npz").write_bytes(b"not a zip")
    damaged = run("eval", "r")
    assert damaged.exit_code == 2 and damaged.stderr.startswith("error: r/weights.npz: damaged weights file")
    no_split = run("eval", CONFIGS.parent / "configs")
    assert no_split.exit_code == 2


def test_eval_table(in_tmp):
    assert run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", "r", "--set", "training.epochs=2").exit_code == 0
    result = run("eval", "r")
    assert result.exit_code == 0 and "loss" in result.stdout and "accuracy" in result.stdout


def test_help_lists_the_commands_and_imports_nothing_heavy():
    code = (
        "import sys; from nntrain.cli import app; "
        "from typer.testing import CliRunner; r = CliRunner().invoke(app, ['--help']); "
        "assert r.exit_code == 0 and 'fit' in r.stdout and 'predict' in r.stdout, r.stdout; "
        "heavy = [m for m in ('numpy', 'pydantic', 'matplotlib', 'sklearn', 'dask') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fit_resume(in_tmp):
    assert run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", "r", "--set", "training.epochs=3").exit_code == 0
    done = run("fit", "--resume", "r", "-q", "--no-plots")
    assert done.exit_code == 0
    assert done.stdout == "run: r\nthe run is already completed (3 epochs); nothing to do\n"
    both = run("fit", CONFIGS / "xor.yaml", "--resume", "r")
    assert (both.exit_code, both.stderr) == (
        2, "error: --resume continues a run with its own config; give no CONFIG, --set, --seed or --run-dir\n"
    )
    neither = run("fit")
    assert (neither.exit_code, neither.stderr) == (2, "error: give a CONFIG file to train, or --resume RUN\n")
    missing = run("fit", "--resume", "nope")
    assert (missing.exit_code, missing.stderr) == (2, "error: nope: no such run directory\n")


def test_fit_resume_continues_an_interrupted_run(in_tmp):
    from nntrain.config import load_config
    from nntrain.training.fit import Interrupted, fit

    def stop(epoch, step):
        if epoch == 7:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        fit(load_config(CONFIGS / "xor.yaml"), run_dir="r", on_step=stop)
    result = run("fit", "--resume", "r", "--no-plots")
    assert result.exit_code == 0, result.output
    assert "completed: 500 epochs" in result.stdout
    assert json.loads(Path("r/summary.json").read_text())["resumed"] == 1


# --------------------------------------------------------------------------------------------------
# Errors and exit codes: every command's outcome is mapped at one edge, with the codes of nntrain.errors


def test_the_exit_codes_live_in_one_place():
    import signal

    from nntrain import errors

    assert (errors.EXIT_FAILED, errors.EXIT_USER_ERROR) == (1, 2)
    assert errors.signal_exit_code(signal.SIGINT) == 130 and errors.signal_exit_code(signal.SIGTERM) == 143
    for user_error in (errors.UsageError, errors.ConfigError, errors.DataError, errors.RunError):
        assert issubclass(user_error, errors.NNTrainError) and user_error("x").exit_code == 2
    assert issubclass(errors.Diverged, errors.Failed) and errors.Diverged().exit_code == 1
    assert errors.Interrupted("x", signal.SIGTERM).exit_code == 143 and errors.Interrupted("x").exit_code == 130
    # The commands raise; only the edge turns what they raise into an exit code.
    for module in (Path(__file__).parent.parent / "nntrain" / "cli").glob("*.py"):
        text = module.read_text()
        assert ("typer.Exit" in text) == (module.name == "_app.py"), module.name
        assert 'echo(f"error:' not in text or module.name == "_app.py", module.name


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "r"
    assert run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", path, "--set", "training.epochs=2").exit_code == 0
    return path


@pytest.mark.parametrize(
    "args,message",
    [
        (["predict", "{run}", "-i", "0 1"], "error: --input '0 1': separate the values with commas, e.g. -i 0,1\n"),
        (["predict", "{run}", "-i", "0,x"], "error: --input '0,x': expected 2 comma-separated numbers, e.g. 0,1\n"),
        (["predict", "{run}"], "error: give either a CSV file of inputs or --input rows (e.g. -i 0,1)\n"),
        (["eval", "{run}", "--split", "nope"], "error: --split nope: expected one of train, val, test\n"),
        (["compare", "{run}", "--json", "--csv"], "error: --json and --csv: choose one\n"),
        (["fit", "--resume", "{run}", "--seed", "1"], "error: --resume continues a run with its own config; give no CONFIG, --set, --seed or --run-dir\n"),
    ],
)
def test_command_line_misuse_is_a_usage_error(xor_run, args, message):
    from nntrain.errors import UsageError

    result = run(*[a.format(run=xor_run) for a in args])
    assert (result.exit_code, result.stderr, result.stdout) == (2, message, "")
    assert UsageError("x").exit_code == 2


def test_runs_and_compare_of_what_is_not_there(tmp_path):
    missing = run("runs", tmp_path / "nope")
    assert (missing.exit_code, missing.stderr) == (2, f"error: {tmp_path / 'nope'}: no such directory\n")
    missing = run("compare", tmp_path / "nope")
    assert (missing.exit_code, missing.stderr) == (2, f"error: {tmp_path / 'nope'}: no such run directory\n")


def test_runs_reports_every_unreadable_run_once_after_the_table(xor_run, tmp_path):
    import shutil

    for name in ("a", "b", "c"):
        shutil.copytree(xor_run, tmp_path / name)
    (tmp_path / "a" / "metrics.csv").write_text("epoch,loss\n1,x\n")
    (tmp_path / "c" / "summary.json").write_text("{")
    result = run("runs", tmp_path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'a' / 'metrics.csv'}, line 2: damaged metrics row: loss is 'x'",
        f"error: {tmp_path / 'c' / 'summary.json'}: damaged summary: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    ]
    assert "1 run in" in result.stdout


def test_compare_says_which_runs_lack_the_metric_after_the_table(xor_run, tmp_path):
    import shutil

    shutil.copytree(xor_run, tmp_path / "a")
    shutil.copytree(xor_run, tmp_path / "b")
    (tmp_path / "b" / "metrics.csv").write_text("epoch,loss\n1,0.5\n")
    result = run("compare", tmp_path / "a", tmp_path / "b", "--metric", "accuracy")
    assert result.exit_code == 2
    assert result.stderr == "error: accuracy is not logged by b (shown last); every run logged: loss\n"
    assert "runs ranked by accuracy" in result.stdout


def every_step(sends):
    """A Trainer.train_step that sends the signals ``sends[n]`` to this process after its step n (1-based)."""
    import os

    from nntrain.training.trainer import Trainer

    step, steps = Trainer.train_step, [0]

    def train_step(self, *args, **kwargs):
        row = step(self, *args, **kwargs)
        steps[0] += 1
        for sig in sends.get(steps[0], ()):
            os.kill(os.getpid(), sig)
        return row

    return train_step


@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_signal_during_fit_exits_128_plus_the_signal(in_tmp, monkeypatch, sig, code):
    import signal

    monkeypatch.setattr("nntrain.training.trainer.Trainer.train_step", every_step({5: [getattr(signal, sig)]}))
    result = run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", "r")
    assert (result.exit_code, result.stderr) == (code, "interrupted; the run can go on with: nntrain fit --resume r\n")
    assert json.loads(Path("r/summary.json").read_text())["checkpoint"] == {"epoch": 4, "step": 1}  # one step an epoch


def test_a_second_ctrl_c_stops_at_once_and_exits_130(in_tmp, monkeypatch):
    import signal

    sends = {3: [signal.SIGINT, signal.SIGINT]}  # the second one before the step loop looks at the first
    monkeypatch.setattr("nntrain.training.trainer.Trainer.train_step", every_step(sends))
    result = run("fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", "r")
    assert (result.exit_code, result.stderr) == (130, "interrupted\n")
    summary = json.loads(Path("r/summary.json").read_text())
    assert summary["status"] == "interrupted" and "checkpoint" not in summary


def test_ctrl_c_in_any_command_exits_130(xor_run, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("nntrain.runs.judging.judge_run", interrupted)
    result = run("eval", xor_run)
    assert (result.exit_code, result.stderr, result.stdout) == (130, "interrupted\n", "")


def test_a_diverging_run_exits_1_after_its_summary_line(in_tmp):
    result = run(
        "fit", CONFIGS / "xor.yaml", "-q", "--no-plots", "--run-dir", "d", "--set", "optimizer={name: sgd, lr: 1e30}",
        "--set", "loss=mse", "--set", "metrics=[]", "--set", "model.layers.1.activation=linear",
    )
    summary = json.loads(Path("d/summary.json").read_text())
    assert result.exit_code == 1
    assert result.stdout.startswith("run: d\ndiverged: ")
    assert result.stderr.splitlines()[-1] == f"error: {summary['message']}"
    assert summary["message"].startswith("the loss became non-finite in epoch 2, step 1; try a lower learning rate")


def test_an_interrupted_sweep_exits_130_after_its_report(in_tmp, monkeypatch):
    from nntrain.sweep import execute

    def interrupted(plan, sweep_dir, **kwargs):
        runs = [{"dir": "seed=0", "status": "cancelled"}, {"dir": "seed=1", "status": "cancelled"}]
        raise execute.SweepInterrupted(execute.SweepResult(Path(sweep_dir), "interrupted", runs))

    monkeypatch.setattr("nntrain.sweep._forkserver.start", lambda: None)
    monkeypatch.setattr(execute, "run_sweep", interrupted)
    result = run("sweep", CONFIGS / "xor.yaml", "--seeds", "2", "--sweep-dir", "s", "-q")
    assert (result.exit_code, result.stdout) == (130, "2 runs: 2 cancelled\n")
    assert result.stderr == "interrupted; finished runs are in s\n"


def test_a_sweep_with_a_failed_run_exits_1_with_its_list(in_tmp, monkeypatch):
    from nntrain.sweep import execute

    def one_failed(plan, sweep_dir, **kwargs):
        runs = [{"dir": "seed=0", "status": "failed", "error": "DataError: x.csv: no such file"}]
        return execute.SweepResult(Path(sweep_dir), "completed", runs)

    monkeypatch.setattr("nntrain.sweep._forkserver.start", lambda: None)
    monkeypatch.setattr(execute, "run_sweep", one_failed)
    result = run("sweep", CONFIGS / "xor.yaml", "--seeds", "1", "--sweep-dir", "s", "-q")
    assert (result.exit_code, result.stdout) == (1, "1 run: 1 failed\n")
    assert result.stderr == "failed: seed=0: DataError: x.csv: no such file\n"
