"""What the screen shows: the progress line at a terminal's width (under a pseudo-terminal and tmux),
plain progress lines elsewhere, NO_COLOR, tables within 80 columns with the user's text as it is,
the conventions (--version, -h, completion, metavars) and messages that name what the user typed."""

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
import uuid
from pathlib import Path

import pytest
from conftest import CLI, run_cli as run

from nntrain.cli._progress import RUNNING_LINES, layout, line_text, metric_items, running_lines

CONFIGS = Path(__file__).parent.parent / "configs"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CLOCK = re.compile(r"\d:\d\d:\d\d eta (\d:\d\d:\d\d|-:--:--)")


def in_terminal(args, columns, cwd, env=()):
    """(exit code, everything written) of ``nntrain *args`` under a pseudo-terminal ``columns`` wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    environ.update({"TERM": "xterm-256color", **dict(env)})
    process = subprocess.Popen([*CLI, *map(str, args)], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=environ)
    os.close(slave)
    out = b""
    while select.select([master], [], [], 60)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return process.wait(timeout=60), out.decode()


def frames(output):
    """Each line as the terminal showed it at some moment: control sequences out, split at CR/LF."""
    return [f for f in re.split(r"[\r\n]", ANSI.sub("", output)) if f.strip()]


LOGS = {"loss": 0.0003247, "accuracy": 1.0, "val_loss": 1.9447, "val_accuracy": 0.79167, "epoch_time_s": 0.01}


@pytest.mark.parametrize("width", [60, 80, 200])
def test_the_line_keeps_count_bar_and_times_and_fills_the_rest_with_metrics(width):
    count, times = "epoch 100/300", "0:01:02 eta 0:10:00"
    items = metric_items(LOGS)
    bar, shown = layout(width, count, times, items)
    line = line_text(width, count, 100, 300, times, items).plain
    assert len(line) <= width and line.startswith(count + " ━") and times in line and bar >= 8
    assert shown == items[: len(shown)] and shown[0] == "val_loss 1.9447"  # the monitored one first
    assert len(shown) == (1 if width == 60 else 2 if width == 80 else 4)


def test_metrics_are_ordered_monitored_then_loss_then_the_rest():
    assert metric_items(LOGS, "val_accuracy") == ["val_accuracy 0.79167", "loss 0.0003247", "accuracy 1", "val_loss 1.9447"]
    assert metric_items({"loss": 0.5, "accuracy": 1.0}) == ["loss 0.5", "accuracy 1"]


RUNNING = [
    ("trial=07", 23, 100, "val_loss", 0.41234567),
    ("trial=08", 5, 100, "val_loss", 1.2),
    ("model.layers.0.units=64,optimizer.lr=0.001,seed=3", 12345, 20000, "val_accuracy", 0.98765),
]


@pytest.mark.parametrize("width", [60, 80, 200])
def test_a_line_per_running_run_within_the_width_its_columns_aligned(width):
    lines = running_lines(width, RUNNING)
    assert len(lines) == 3 and all(len(line) <= width for line in lines)
    assert lines[0].startswith("  trial=07 ") and lines[0].endswith("  epoch  23/100      val_loss 0.41235")
    assert lines[1].endswith("  epoch   5/100      val_loss 1.2") and lines[2].endswith("epoch 12345/20000  val_accuracy 0.98765")
    assert len({line.index("epoch") for line in lines}) == 1
    long_name = RUNNING[2][0]
    assert (long_name in lines[2]) == (width == 200) and ("…" in lines[2]) == (width < 200)  # cut in the middle
    assert lines[2].startswith("  model.la") and "seed=3  epoch" in lines[2]


def test_a_narrow_terminal_keeps_the_epoch_and_many_runs_end_in_a_count():
    narrow = running_lines(30, RUNNING)
    assert all(len(line) <= 30 and "epoch" in line and "val_" not in line for line in narrow)
    many = [(f"seed={i}", i + 1, 50, "loss", 0.5) for i in range(12)]
    lines = running_lines(80, many)
    assert len(lines) == RUNNING_LINES and lines[-1] == f"  … {12 - RUNNING_LINES + 1} more running"
    assert lines[0] == "  seed=0  epoch  1/50  loss 0.5" and running_lines(80, []) == []


@pytest.mark.parametrize("columns", [60, 80])
def test_a_sweep_under_a_terminal_shows_its_running_runs_and_leaves_nothing(tmp_path, columns):
    args = ["sweep", CONFIGS / "xor.yaml", "--seeds", "2", "--workers", "1", "--no-plots", "--sweep-dir", "s"]
    code, output = in_terminal([*args, "--set", "training.epochs=20000"], columns, tmp_path)
    assert code == 0, output
    shown = frames(output)
    assert all(len(f) <= columns for f in shown if f.startswith(("runs ", "  seed=")))
    running = [f for f in shown if f.startswith("  seed=")]
    assert running and all(re.fullmatch(r"  seed=[01]  epoch +\d+/20000  loss \S+", f) for f in running), running
    assert any(re.search(r"epoch +([2-9]|\d\d+)\d*/20000", f) for f in running)  # seen while running, past epoch 1
    assert shown[-1] == "2 runs: 2 completed" and output.rstrip().endswith(shown[-1])


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_fit_under_a_terminal_draws_within_its_width_and_leaves_no_frame(tmp_path, columns):
    args = ["fit", CONFIGS / "iris.yaml", "--run-dir", "r", "--no-plots", "--set", "training.epochs=300"]
    code, output = in_terminal(args, columns, tmp_path)
    assert code == 0, output
    shown = frames(output)
    bars = [f for f in shown if f.startswith("epoch ")]
    assert bars and all(len(f) <= columns for f in bars)
    for bar in bars:
        assert re.match(r"epoch +\d+/300 ━+ ", bar) and CLOCK.search(bar), bar
    assert "val_loss" in bars[-1] and "epoch 300/300" in bars[-1]  # the monitored metric fits even at 60
    done = next(i for i, f in enumerate(shown) if f.startswith("completed: 300 epochs"))
    assert shown[0] == "run: r" and len(shown[done]) <= columns  # the final line breaks between metrics
    assert all(f.startswith("  ") and len(f) <= columns for f in shown[done + 1 :])
    assert output.rstrip().endswith(shown[-1])  # the bar erased itself before the summary


def test_no_bar_before_a_failure_nor_for_a_completed_run(tmp_path):
    code, output = in_terminal(["fit", CONFIGS / "xor.yaml", "--set", "optimzer.lr=1"], 80, tmp_path)
    assert code == 2 and "epoch" not in output and "━" not in output
    assert in_terminal(["fit", CONFIGS / "xor.yaml", "--run-dir", "r", "-q", "--no-plots"], 80, tmp_path)[0] == 0
    code, output = in_terminal(["fit", "--resume", "r"], 80, tmp_path)
    assert code == 0 and "━" not in output and "nothing to do" in output


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_screen_after_fit_in_tmux_at_80_columns(tmp_path):
    session = f"nntrain-test-{uuid.uuid4().hex[:8]}"
    command = " ".join([*CLI[:2], repr(CLI[2]), "fit", str(CONFIGS / "iris.yaml"), "--run-dir", "r", "--no-plots", "--set", "training.epochs=200"])
    script = tmp_path / "run.sh"
    script.write_text(f"cd {tmp_path}\n{command}\necho __done__\nsleep 60\n")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", f"sh {script}"], check=True)
    try:
        deadline, screen = time.monotonic() + 60, ""
        while "__done__" not in screen and time.monotonic() < deadline:
            time.sleep(0.2)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    lines = [line for line in screen.splitlines() if line.strip()]
    # The summary line (wrapped by the terminal where longer) follows the run's path: no frame between.
    assert lines[0] == "run: r" and lines[1].startswith("completed: 200 epochs in ") and lines[-1] == "__done__", screen
    assert not any("━" in line or line.startswith("epoch") for line in lines), screen


def test_without_a_terminal_progress_is_plain_lines(tmp_path):
    environ = {**os.environ, "NNTRAIN_PROGRESS_SECONDS": "0"}
    args = [*CLI, "fit", str(CONFIGS / "iris.yaml"), "--run-dir", "r", "--no-plots", "--set", "training.epochs=3"]
    result = subprocess.run(args, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "\x1b" not in result.stderr + result.stdout and "\r" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "1/3"], ["epoch", "2/3"], ["epoch", "3/3"]]
    assert all(CLOCK.search(line) and "val_loss" in line and "val_accuracy" in line for line in lines)
    environ.pop("NNTRAIN_PROGRESS_SECONDS")
    default = subprocess.run([*args[:6], "r2", *args[7:]], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60)
    assert [line.split()[:2] for line in default.stderr.splitlines()] == [["epoch", "3/3"]]  # every 10 s, and the last


def test_no_color_is_respected(tmp_path):
    args = ["fit", CONFIGS / "xor.yaml", "--run-dir", "r", "--no-plots", "--set", "training.epochs=50"]
    colours = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7]|38;)[0-9;]*m")
    assert colours.search(in_terminal(args, 80, tmp_path)[1])
    code, output = in_terminal(["fit", CONFIGS / "xor.yaml", "--run-dir", "r2", "--no-plots"], 80, tmp_path, {"NO_COLOR": "1"})
    assert code == 0 and not colours.search(output) and "epoch" in output


# --------------------------------------------------------------------------------------------------
# Conventions


def test_version_short_help_and_completion():
    from nntrain import __version__

    assert run("--version").stdout == f"nntrain {__version__}\n"
    for command in ([], ["fit"], ["compare"], ["runs"], ["eval"], ["gradcheck"], ["summary"], ["completion"]):
        result = run(*command, "-h")
        assert result.exit_code == 0 and "Usage: nntrain" in result.stdout, command
    assert "--install-completion" in run("-h").stdout and "--show-completion" in run("-h").stdout
    script = run("completion", "bash")
    assert script.exit_code == 0 and "_NNTRAIN_COMPLETE" in script.stdout and "complete " in script.stdout
    assert "compdef" in run("completion", "zsh").stdout and "complete --command nntrain" in run("completion", "fish").stdout
    assert run("completion", "tcsh").stderr == "error: unknown shell 'tcsh'; expected one of: bash, zsh, fish, powershell, pwsh\n"


def test_flags_show_no_type_and_arguments_one_metavar_style():
    help_text = run("fit", "-h").stdout
    assert "<bool>" not in help_text and "<path>" not in help_text and "<int>" not in help_text
    assert re.search(r"--quiet +-q +No progress bar", help_text)
    assert re.search(r"--set +KEY=VALUE", help_text) and "Usage: nntrain fit [OPTIONS] [CONFIG]" in help_text
    assert re.search(r"Usage: nntrain eval \[OPTIONS\] RUN *\n", run("eval", "-h").stdout)
    assert "Usage: nntrain compare [OPTIONS] RUN..." in run("compare", "-h").stdout
    assert "Usage: nntrain gradcheck [OPTIONS] CONFIG_OR_RUN" in run("gradcheck", "-h").stdout


# --------------------------------------------------------------------------------------------------
# Messages that name what the user typed


def error_of(*args):
    result = run(*args)
    assert result.exit_code == 2, result.output
    return result.stderr


def test_set_seed_and_union_errors_name_what_was_typed():
    xor = CONFIGS / "xor.yaml"
    assert error_of("gradcheck", xor, "--set", "optimzer.lr=0.1").startswith(
        "error: --set optimzer.lr=0.1: optimzer: unknown key 'optimzer'; expected one of: "
    )
    assert error_of("gradcheck", xor, "--set", "optimizer.name=SGD") == (
        "error: --set optimizer.name=SGD: optimizer.name: 'SGD' is not one of sgd, adam, rmsprop, adagrad, adamw"
        " (names are lower case)\n"
    )
    assert error_of("data", xor, "--seed", "-1").startswith("error: --seed -1: seed: ")


def test_a_tab_and_a_key_given_twice(tmp_path):
    text = (CONFIGS / "xor.yaml").read_text()
    (tmp_path / "tab.yaml").write_text(text.replace("optimizer:", "optimizer:\n\tlr: 1\n#", 1))
    assert "invalid YAML: a tab; YAML indents with spaces, never tabs" in error_of("gradcheck", tmp_path / "tab.yaml")
    lines = text.splitlines()
    loss = next(i for i, line in enumerate(lines, 1) if line.startswith("loss:"))
    (tmp_path / "twice.yaml").write_text(text + "loss: mse\n")
    assert error_of("gradcheck", tmp_path / "twice.yaml") == (
        f"error: {tmp_path / 'twice.yaml'}: line {len(lines) + 1}: the key 'loss' again (first on line {loss}); "
        "a key appears once in a mapping\n"
    )


def test_a_config_where_a_run_directory_is_expected(in_tmp):
    xor = CONFIGS / "xor.yaml"
    assert error_of("eval", xor) == (
        f"error: RUN {xor}: a config file, not a run directory; train it first: nntrain fit {xor}, "
        "then nntrain eval the run directory it writes\n"
    )
    assert error_of("fit", "--resume", xor) == f"error: --resume {xor}: a config file, not a run directory; nntrain fit {xor} trains it\n"


def test_gradcheck_takes_a_run_directory(in_tmp):
    assert run("fit", CONFIGS / "xor.yaml", "--run-dir", "r", "-q", "--no-plots", "--set", "training.epochs=2").exit_code == 0
    result = run("gradcheck", "r")
    assert result.exit_code == 0 and result.stdout.splitlines()[-1].startswith("ok: largest relative error")


def test_a_directory_as_output_does_not_speak_of_a_previous_version(in_tmp):
    os.mkdir("d")
    from nntrain.errors import RunError
    from nntrain.runs.store import write_text

    with pytest.raises(RunError) as e:
        write_text(Path("d"), "x")
    assert "previous version" not in str(e.value)


# --------------------------------------------------------------------------------------------------
# Tables: within 80 columns, the user's text as it is


def fits(text, width=80):
    return all(len(line) <= width for line in text.splitlines())


def test_runs_and_compare_show_markup_as_text_and_fit_80_columns(in_tmp):
    xor = CONFIGS / "xor.yaml"
    for name, metrics in (("br/[bold]exp", "[accuracy]"), ("br/plain", "[accuracy, f1]")):
        result = run("fit", xor, "--run-dir", name, "-q", "--no-plots", "--set", "training.epochs=3", "--set", f"metrics={metrics}")
        assert result.exit_code == 0, result.output
    listing = run("runs", "br")
    assert fits(listing.stdout) and "[bold]exp " in listing.stdout and "interrupte\n" not in listing.stdout
    table = run("compare", "br/[bold]exp", "br/plain")
    assert fits(table.stdout) and "[accuracy]" in table.stdout and "[accuracy, f1]" in table.stdout, table.stdout


def test_compare_shows_a_model_level_value_once_and_runs_named_by_their_values_without_names(in_tmp):
    # A sweep's runs: directories named after their values (here made by fit, as a sweep's workers do).
    for lr in ("0.1", "0.01"):
        for l2 in ("0.01", "0.001"):
            name = f"s/optimizer.lr={lr},model.l2={l2}"
            args = ["--set", f"optimizer.lr={lr}", "--set", f"model.l2={l2}", "--set", "training.epochs=3"]
            assert run("fit", CONFIGS / "iris.yaml", "--run-dir", name, "-q", "--no-plots", *args).exit_code == 0
    result = run("compare", "s")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("#"))
    assert header.split() == ["#", "model.l2", "optimizer.lr", "best", "epoch", "final", "params", "time"]
    assert fits(result.stdout) and "layers" not in result.stdout and "optimizer.lr=" not in result.stdout
    assert [line.split()[0] for line in lines[lines.index(header) + 2 :]][:4] == ["1", "2", "3", "4"]  # a line per run


def test_wide_shows_long_names_whole(in_tmp):
    name = "runs/" + "a-very-long-experiment-name-" * 3 + "end"
    assert run("fit", CONFIGS / "xor.yaml", "--run-dir", name, "-q", "--no-plots", "--set", "training.epochs=2").exit_code == 0
    narrow, wide = run("runs"), run("runs", "--wide")
    assert fits(narrow.stdout) and "…" in narrow.stdout and name[5:] not in narrow.stdout
    assert name[5:] in wide.stdout and not fits(wide.stdout)


def test_cv_and_predict_show_user_text_as_it_is(tmp_path):
    from conftest import run_cli
    from nntrain.cli.cv import _table

    doc = {"folds": 2, "repeats": 1, "runs": [{"repeat": 0, "fold": 0, "status": "completed", "examples": 3, "metrics": {"[bold]m": 0.5}}],
           "mean": {"[bold]m": 0.5}, "std": {"[bold]m": 0.0}}  # fmt: skip
    from rich.console import Console

    out = Console(width=80, record=True)
    out.print(_table(doc))
    assert "[bold]m" in out.export_text()
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i % 3},{i % 5},[red]x{i % 2}\n" for i in range(40)))
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: c\ndata: {{source: csv, path: {csv.name}, target: label}}\n"
        "model: {layers: [{units: 4, activation: tanh}, {units: 1, activation: sigmoid}]}\n"
        "loss: binary_crossentropy\ntraining: {epochs: 2}\n"
    )
    assert run_cli("fit", config, "-q", "--no-plots", "--run-dir", tmp_path / "r").exit_code == 0
    result = run_cli("predict", tmp_path / "r", "-i", "1,2")
    assert result.exit_code == 0 and "[red]x" in result.stdout


def test_the_final_line_of_fit_breaks_between_metrics_at_the_terminals_width(monkeypatch):
    import os

    from nntrain.cli.fit import _wrapped

    items = ["loss 0.00045879", "accuracy 1", "val_loss 1.9447", "val_accuracy 0.79167", "f1 0.5"]
    monkeypatch.setattr("shutil.get_terminal_size", lambda *a, **k: os.terminal_size((40, 24)))
    text = _wrapped("completed: 500 epochs in 0.07 s; ", items)
    assert all(len(line) <= 40 for line in text.splitlines()) and len(text.splitlines()) > 1
    assert text.replace("\n  ", " ") == "completed: 500 epochs in 0.07 s; " + ", ".join(items)
    monkeypatch.setattr("shutil.get_terminal_size", lambda *a, **k: os.terminal_size((200, 24)))
    assert "\n" not in _wrapped("completed: 500 epochs in 0.07 s; ", items)
