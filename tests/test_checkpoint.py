import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import make_config
from nntrain.training.checkpoint import load_checkpoint
from nntrain.errors import RunError
from nntrain.training.fit import Interrupted, fit, resume
from nntrain.runs.store import read_metrics, read_weights

# 2 steps per epoch, shuffling, dropout, batch norm, a schedule, clipping, class weights, metrics'
# sums and early stopping's bookkeeping: everything that carries state from one step to the next.
CONFIG = make_config(
    data={"source": "xor", "batch_size": 2},
    model={"layers": [{"units": 6, "activation": "relu", "keep_prob": 0.8, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}]},
    training={
        "epochs": 20,
        "clip_norm": 0.5,
        "schedule": {"name": "cosine", "warmup_epochs": 2},
        "early_stopping": {"monitor": "loss", "patience": 100},
        "checkpoint_every": 3,
        "class_weight": {"1": 2.0},
    },
    metrics=["accuracy", "log_loss", {"name": "f1", "average": "per_class"}, {"name": "recall", "weighted": True}],
)


def interrupt_at(global_step):
    def on_step(epoch, step):
        if (epoch - 1) * 2 + step == global_step:
            os.kill(os.getpid(), signal.SIGINT)

    return on_step


def without_times(rows):
    return [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return fit(CONFIG, run_dir=tmp_path_factory.mktemp("ref") / "run").run_dir


@pytest.mark.parametrize("global_step", [1, 2, 3, 10, 25, 39])  # 1 and 3 are mid-epoch
def test_interrupt_and_resume_is_bit_identical(global_step, reference, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(Interrupted) as info:
        fit(CONFIG, run_dir=run_dir, on_step=interrupt_at(global_step))
    assert info.value.exit_code == 130
    assert f"nntrain fit --resume {run_dir}" in str(info.value)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    checkpoint = summary["checkpoint"]  # epochs done, steps done of the next one: the step just finished
    assert checkpoint["epoch"] * 2 + checkpoint["step"] == global_step and checkpoint["step"] in (1, 2)
    result = resume(run_dir)
    assert result.status == "completed" and result.summary["resumed"] == 1
    expected, got = read_weights(reference), read_weights(run_dir)
    assert sorted(expected) == sorted(got)
    for key in expected:
        assert expected[key].tobytes() == got[key].tobytes(), key
    assert without_times(read_metrics(run_dir)) == without_times(read_metrics(reference))
    assert csv_without_times(run_dir) == csv_without_times(reference)  # as written: 13, not 13.0
    # A stop at an epoch's last step keeps that epoch's diagnostics row, which that step computed.
    assert read_metrics(run_dir, "diagnostics.csv") == read_metrics(reference, "diagnostics.csv")
    assert not (run_dir / "checkpoint.npz").exists()


def csv_without_times(run_dir):
    """metrics.csv's cells as text, without epoch_time_s."""
    import csv

    rows = list(csv.DictReader((run_dir / "metrics.csv").read_text().splitlines()))
    return [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in rows]


def test_a_second_interrupt_after_resuming_still_ends_identical(reference, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(Interrupted):
        fit(CONFIG, run_dir=run_dir, on_step=interrupt_at(5))
    with pytest.raises(Interrupted):
        resume(run_dir, on_step=interrupt_at(17))
    resume(run_dir)
    for key, value in read_weights(reference).items():
        assert read_weights(run_dir)[key].tobytes() == value.tobytes()
    assert json.loads((run_dir / "summary.json").read_text())["resumed"] == 2


def test_periodic_checkpoints_while_training(tmp_path):
    seen = []

    def on_epoch(epoch, logs):
        if (tmp_path / "run" / "checkpoint.npz").exists():
            state, groups = load_checkpoint(tmp_path / "run")
            seen.append(state["epoch"])

    fit(CONFIG, run_dir=tmp_path / "run", on_epoch=on_epoch)
    assert sorted(set(seen)) == [3, 6, 9, 12, 15, 18]
    assert not (tmp_path / "run" / "checkpoint.npz").exists()


def test_resuming_a_completed_run_does_nothing(reference):
    before = (reference / "weights.npz").read_bytes()
    result = resume(reference)
    assert not result.trained and result.status == "completed"
    assert (reference / "weights.npz").read_bytes() == before


def test_resume_errors(tmp_path):
    with pytest.raises(RunError, match="nope: no such run directory"):
        resume(tmp_path / "nope")
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        fit(CONFIG, run_dir=run_dir, on_epoch=lambda e, logs: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(RunError, match="no checkpoint.npz to resume from"):
        resume(run_dir)
    (run_dir / "checkpoint.npz").write_bytes(b"garbage")
    with pytest.raises(RunError, match="checkpoint.npz: damaged checkpoint"):
        resume(run_dir)


UNRAISABLE_STOP = """
import sys, time
from nntrain.errors import SignalReceived, stop_on_signals
stop_on_signals()
class Finalized:
    def __del__(self):  # where a signal's exception cannot be raised: Python prints it and goes on
        raise {stop}
try:
    Finalized()
    for _ in range(1000):
        time.sleep(0.001)
    print("went on")
except KeyboardInterrupt as e:
    print("raised again:", type(e).__name__, getattr(e, "signum", 2))
"""


@pytest.mark.parametrize("stop,expected", [("KeyboardInterrupt", "KeyboardInterrupt 2"), ("SignalReceived(15)", "SignalReceived 15")])
def test_a_stop_python_cannot_raise_where_its_signal_lands_is_raised_again(stop, expected):
    """A signal landing in a finalizer or a callback (during an import, say): not "Exception ignored
    in ..." with a traceback and a command that goes on, but the stop, raised at the next chance."""
    done = subprocess.run([sys.executable, "-c", UNRAISABLE_STOP.format(stop=stop)], capture_output=True, text=True, timeout=60)
    assert done.stdout == f"raised again: {expected}\n" and done.stderr == "", (done.stdout, done.stderr)


# The console script, with an atexit hook that says when the interpreter's clean-up runs.
CLEAN_UP_SAYS_SO = "import atexit, sys; atexit.register(sys.stderr.write, 'clean-up'); from nntrain.__main__ import main; main()"


@pytest.mark.parametrize("args,code", [(["--version"], 0), (["fit", "missing.yaml"], 2)])
def test_a_command_that_ends_by_itself_ends_with_the_interpreters_clean_up(tmp_path, args, code):
    done = subprocess.run([sys.executable, "-c", CLEAN_UP_SAYS_SO, *args], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == code and done.stderr.endswith("clean-up"), done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_a_real_signal_to_nntrain_fit(tmp_path, sig, code):
    """The run checkpoints and says how to go on; the process then ends at once, without the
    interpreter's clean-up (which C code a signal cut short could crash), here its atexit hooks."""
    config = Path(__file__).parent.parent / "configs" / "xor.yaml"
    cmd = [sys.executable, "-c", CLEAN_UP_SAYS_SO, "fit", str(config), "-q",
           "--set", "training.epochs=10000000", "--set", "training.checkpoint_every=1000", "--run-dir", "r"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (tmp_path / "r" / "checkpoint.npz").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "interrupted; the run can go on with: nntrain fit --resume r" in err
    assert "Traceback" not in err and "clean-up" not in err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs"] >= 1000
    state, _ = load_checkpoint(tmp_path / "r")
    assert state["epoch"] * 1 + state["step"] >= summary["epochs"]


# --------------------------------------------------------------------------------------------------
# Damaged checkpoints: every part is checked before anything is restored from it


@pytest.fixture(scope="module")
def mid_epoch(tmp_path_factory):
    """A run of CONFIG interrupted after step 1 of epoch 5: a mid-epoch checkpoint with early stopping."""
    run_dir = tmp_path_factory.mktemp("mid") / "run"
    with pytest.raises(Interrupted):
        fit(CONFIG, run_dir=run_dir, on_step=interrupt_at(9))
    return run_dir


def rewritten(run_dir, tmp_path, change):
    """A copy of ``run_dir`` whose checkpoint is rewritten by ``change(state, groups)`` (in place)."""
    import shutil

    from nntrain.training.checkpoint import save_checkpoint

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    state, groups = load_checkpoint(copy)
    change(state, groups)
    save_checkpoint(copy, state, **groups)
    return copy


def _set(path, value):
    def change(state, groups):
        *parents, last = path
        target = state
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def _drop(key):
    return lambda state, groups: state.pop(key)


def _arrays(group, key, value):
    def change(state, groups):
        if value is None:
            del groups[group][key]
        else:
            groups[group][key] = value

    return change


@pytest.mark.parametrize(
    "change,message",
    [
        (_drop("rng"), "incomplete state"),
        (_set(["epoch"], "4"), "epoch and step must be integers"),
        (_set(["step"], 1.0), "epoch and step must be integers"),
        (_set(["rng", "state", "state"], -1), "rng is not a generator's state"),
        (_set(["rng", "bit_generator"], "MT19937"), "rng is not a generator's state"),
        (_set(["rng", "uinteger"], 2**40), "rng is not a generator's state"),
        (_set(["rng_epoch_start"], None), "rng_epoch_start is not a generator's state"),
        (_set(["totals", "seen"], 0), "totals are not an epoch's partial sums"),
        (_set(["totals", "sums", "loss"], "x"), "totals are not an epoch's partial sums"),
        (_set(["early_stopping"], {"best": "low", "best_epoch": 1, "wait": 0}), "early_stopping is not early stopping's counters"),
        (_set(["early_stopping"], {"best": 0.5, "wait": 0}), "early_stopping is not early stopping's counters"),
        (_set(["epoch"], 21), "epoch 21, step 1 out of range"),
        (_set(["step"], 3), "epoch 4, step 3 out of range"),
        (_set(["epoch"], -1), "epoch -1, step 1 out of range"),
        (_set(["totals", "sums"], {"data_loss": 0.5, "penalty": 0.0}), "totals: sums of data_loss, penalty, not of the run's loss and metrics"),
        (_arrays("optimizer", "t", np.array(2.5)), "optimizer state: t is not a count of steps"),
        (_arrays("optimizer", "t", np.array([9, 9])), "optimizer state: t is not a count of steps"),
        (_arrays("optimizer", "m.0", None), "optimizer state: missing m.0"),
        (_arrays("optimizer", "v.0", np.zeros(1)), "optimizer state: v.0 has shape (1,), expected (37,)"),
        (_arrays("optimizer", "w.0", np.zeros(1)), "optimizer state: unexpected w.0"),
        (_arrays("best", "layers.0.W", np.zeros((2, 2))), "early stopping's best weights: layers.0.W has shape (2, 2), expected (6, 2)"),
        (_arrays("pending", "prediction", np.zeros((2, 3))), "pending rows: prediction of shape (2, 3)"),
        (_arrays("pending", "y", np.zeros(2)), "pending rows: y of shape (2,)"),
        (_arrays("pending", "w", None), "pending rows: prediction, y, not what this run keeps"),
        (_arrays("pending", "z", np.zeros(2)), "pending rows: prediction, w, y, z, not what this run keeps"),
    ],
)
def test_a_damaged_checkpoint_says_what_is_wrong(mid_epoch, tmp_path, change, message):
    run_dir = rewritten(mid_epoch, tmp_path, change)
    with pytest.raises(RunError) as info:
        resume(run_dir)
    assert str(info.value) == f"{run_dir / 'checkpoint.npz'}: damaged checkpoint: {message}"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"  # nothing resumed


def test_a_checkpoint_of_another_model(mid_epoch, tmp_path):
    run_dir = rewritten(mid_epoch, tmp_path, _arrays("model", "layers.0.W", np.zeros((3, 2))))
    with pytest.raises(RunError, match=r"checkpoint does not fit config.yaml: layers.0.W has shape \(3, 2\), the config needs \(6, 2\)$"):
        resume(run_dir)


def test_a_checkpoint_whose_metrics_are_cut_short(mid_epoch, tmp_path):
    run_dir = rewritten(mid_epoch, tmp_path, lambda state, groups: None)
    lines = (run_dir / "metrics.csv").read_text().splitlines(keepends=True)
    (run_dir / "metrics.csv").write_text("".join(lines[:-1]))
    with pytest.raises(RunError) as info:
        resume(run_dir)
    assert str(info.value) == f"{run_dir}: metrics.csv has 3 epochs, the checkpoint 4"


def test_the_mid_epoch_checkpoint_still_resumes_identically(mid_epoch, reference, tmp_path):
    run_dir = rewritten(mid_epoch, tmp_path, lambda state, groups: None)
    assert load_checkpoint(run_dir)[0]["step"] == 1
    resume(run_dir)
    for key, value in read_weights(reference).items():
        assert read_weights(run_dir)[key].tobytes() == value.tobytes(), key


def _npy(header, data=bytes(48)):
    """A .npy member with this header (version 1.0), padded as numpy pads it."""
    text = header.encode("latin1")
    text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


def _zip(member, compression=None):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression or zipfile.ZIP_STORED) as z:
        z.writestr("state.npy", member)
    return buffer.getvalue()


def _damaged_compression(method):
    """A member compressed with ``method`` whose compressed bytes are damaged (the CRC stays right)."""
    import zipfile

    data = bytearray(_zip(_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (40,), }", bytes(320)), method))
    start = 30 + len("state.npy") + (14 if method == zipfile.ZIP_LZMA else 0)
    for i in range(start + 4, start + 12):
        data[i] ^= 0x5A
    return bytes(data)


def _with_fields(data, changes):
    """``data`` (a one-member zip) with fields of its local header and directory entry replaced:
    {(offset in the local header, offset in the directory entry): (struct format, value or function)}."""
    import struct

    data = bytearray(data)
    directory = data.find(b"PK\x01\x02")
    for offsets, (form, value) in changes.items():
        for offset in (offsets[0], directory + offsets[1]):
            size = struct.calcsize(form)
            old = struct.unpack(form, data[offset : offset + size])[0]
            data[offset : offset + size] = struct.pack(form, value(old) if callable(value) else value)
    return bytes(data)


def _damaged_files():
    import zipfile

    good = _zip(_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }"))
    flipped = bytearray(good)
    flipped[-30] ^= 0xFF
    return {
        "not a zip": b"not a zip at all",
        "cut short": good[: len(good) // 2],
        "a bad CRC": good.replace(bytes(48), b"\x01" * 48),
        "a damaged directory": bytes(flipped),
        "an unknown compression": _with_fields(good, {(8, 10): ("<H", 99)}),
        "an encrypted member": _with_fields(good, {(6, 8): ("<H", lambda flags: flags | 1)}),
        "a member longer than the file": _with_fields(
            _zip(_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }")),
            {(18, 20): ("<I", lambda size: size + 100_000), (22, 24): ("<I", lambda size: size + 100_000)},
        ),
        "damaged deflate data": _damaged_compression(zipfile.ZIP_DEFLATED),
        "damaged bzip2 data": _damaged_compression(zipfile.ZIP_BZIP2),
        "damaged lzma data": _damaged_compression(zipfile.ZIP_LZMA),
        "a header that is not a dict": _zip(_npy("[1, 2]")),
        "a header with bytes keys": _zip(_npy("{'descr': '<f8', b'fortran_order': False, 'shape': (6,), }")),
        "a header cut short": _zip(_npy("{'descr': '<f8', 'fortran_order': False, 'shape': ((((")),
        "a shape too large for C": _zip(_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1180591620717411303424,), }")),
        "a shape too large for memory": _zip(_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000000,), }")),
        "pickled objects": _zip(_npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }")),
    }


@pytest.mark.parametrize("kind", list(_damaged_files()))
def test_what_a_damaged_npz_raises_is_a_damaged_checkpoint(tmp_path, kind):
    (tmp_path / "checkpoint.npz").write_bytes(_damaged_files()[kind])
    with pytest.raises(RunError, match=f"^{tmp_path / 'checkpoint.npz'}: damaged checkpoint: ") as info:
        load_checkpoint(tmp_path)
    assert "\n" not in str(info.value).strip()


@pytest.mark.parametrize("text", ["[" * 100_000, "not json", '{"epoch": 1}', "[1, 2]"])
def test_a_damaged_state_document(tmp_path, text):
    from nntrain.runs.store import write_arrays

    write_arrays(tmp_path / "checkpoint.npz", {"state": np.array(text)})
    with pytest.raises(RunError, match=f"^{tmp_path / 'checkpoint.npz'}: damaged checkpoint: "):
        load_checkpoint(tmp_path)


KILLED_CONFIG = """\
name: k
data: {source: xor, batch_size: 2}
model: {layers: [{units: 4, activation: tanh, keep_prob: 0.8}, {units: 1, activation: sigmoid}]}
loss: binary_crossentropy
optimizer: {name: adam, lr: 0.05}
training: {epochs: 3, checkpoint_every: 1, clip_norm: 0.5}
metrics: [accuracy, f1]
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to kill the run at a rename")
def test_a_run_killed_at_any_rename_resumes_bit_identical_or_says_it_cannot(tmp_path):
    """kill -9 at every rename a run makes (each file it writes is renamed into place): the run then
    resumes to the weights and metrics of the run never killed, or -- killed before its first
    checkpoint -- says there is nothing to resume and how to start over."""
    (tmp_path / "k.yaml").write_text(KILLED_CONFIG)
    fit_command = [sys.executable, "-c", "from nntrain.__main__ import main; main()", "fit", "k.yaml", "--quiet", "--no-plots"]
    subprocess.run([*fit_command, "--run-dir", "reference"], cwd=tmp_path, check=True, capture_output=True)
    renames = subprocess.run(
        ["strace", "-f", "-c", "-e", "trace=rename", *fit_command, "--run-dir", "counted"], cwd=tmp_path, capture_output=True, text=True
    )
    total = int(next(line.split()[3] for line in renames.stderr.splitlines() if line.rstrip().endswith("rename")))
    outcomes = []
    for n in range(1, total + 1):
        run_dir = f"killed{n}"
        inject = f"inject=rename:signal=KILL:when={n}"
        subprocess.run(["strace", "-f", "-o", os.devnull, "-e", "trace=rename", "-e", inject, *fit_command, "--run-dir", run_dir], cwd=tmp_path, capture_output=True)
        resumed = subprocess.run([*fit_command[:4], "--resume", run_dir, "--quiet", "--no-plots"], cwd=tmp_path, capture_output=True, text=True)
        if resumed.returncode == 2 and "resume" in resumed.stderr:  # killed before its first checkpoint
            assert "nothing to resume" in resumed.stderr or "no checkpoint.npz to resume from" in resumed.stderr
            assert "start it over with: nntrain fit " in resumed.stderr, resumed.stderr
            outcomes.append("nothing to resume")
            continue
        assert resumed.returncode == 0, (n, resumed.stderr)
        expected, got = read_weights(tmp_path / "reference"), read_weights(tmp_path / run_dir)
        assert all(expected[k].tobytes() == got[k].tobytes() for k in expected), n
        assert without_times(read_metrics(tmp_path / run_dir)) == without_times(read_metrics(tmp_path / "reference")), n
        outcomes.append("resumed")
    # Before the first checkpoint: config.yaml, summary.json, and the first checkpoint's own files --
    # metrics.csv, diagnostics.csv, weights.npz, snapshots.npz (XOR is 2-D), then checkpoint.npz
    # itself. Every later stop resumes.
    assert outcomes == ["nothing to resume"] * 7 + ["resumed"] * (total - 7) and total >= 15, outcomes


def test_two_processes_cannot_write_one_run(tmp_path):
    from nntrain.runs.store import writing

    run_dir = tmp_path / "run"
    with pytest.raises(Interrupted):
        fit(CONFIG, run_dir=run_dir, on_step=interrupt_at(3))
    with writing(run_dir):  # as a resume in another process would hold it
        with pytest.raises(RunError, match=r"run: another nntrain process is writing this run; let it finish or stop it first$"):
            resume(run_dir)
    assert resume(run_dir).status == "completed"  # once it is free


@pytest.mark.slow
def test_a_run_killed_without_a_word_is_stale_until_resumed(tmp_path):
    from conftest import run_cli

    config = Path(__file__).parent.parent / "configs" / "xor.yaml"
    cmd = [sys.executable, "-c", "from nntrain.__main__ import main; main()", "fit", str(config), "-q", "--no-plots",
           "--set", "training.epochs=10000000", "--set", "training.checkpoint_every=1000", "--run-dir", "r"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not (tmp_path / "r" / "checkpoint.npz").exists() and time.time() < deadline:
        time.sleep(0.05)
    live = run_cli("runs", tmp_path, "--json")
    assert json.loads(live.stdout)[0]["status"] == "running"  # its process holds the run's lock
    proc.kill()
    proc.wait(timeout=60)
    stale = run_cli("runs", tmp_path)
    assert " stale " in stale.stdout and "nntrain fit --resume RUN continues it" in stale.stdout
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "running"  # the file is left as it was


@pytest.mark.slow
@pytest.mark.parametrize("first,second", [(signal.SIGINT, signal.SIGINT), (signal.SIGINT, signal.SIGTERM), (signal.SIGTERM, signal.SIGHUP)])
def test_two_signals_in_quick_succession_anywhere_end_in_one_message_and_a_run_that_goes_on(tmp_path, first, second):
    """A signal and then a second one 3 ms later, at moments spread over a whole `nntrain fit` -- its
    start-up, its epochs, its plots: never a traceback or a silent death; exit 0 (done before), or
    128 + a signal with one message; and the run, where there is one, resumes to the weights of the
    run never stopped or says there is nothing to resume."""
    (tmp_path / "k.yaml").write_text(KILLED_CONFIG.replace("epochs: 3", "epochs: 40"))
    # As the console script: it imports nntrain.__main__, then calls its main -- and says when it does
    # (a signal before that meets Python's own start-up).
    started = "import sys; from nntrain.__main__ import main; sys.stderr.write('python\\n'); sys.stderr.flush(); main()"
    fit_command = [sys.executable, "-c", started, "fit", "k.yaml", "--quiet"]
    begin = time.monotonic()
    subprocess.run([*fit_command, "--run-dir", "reference"], cwd=tmp_path, check=True, capture_output=True)
    duration = time.monotonic() - begin
    messages = ("interrupted", "interrupted; the run can go on with: nntrain fit --resume", "interrupted while drawing the plots; the run itself is completed")
    for i in range(12):
        run_dir = tmp_path / f"r{i}"
        process = subprocess.Popen([*fit_command, "--run-dir", run_dir.name], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        assert process.stderr.readline() == "python\n"
        time.sleep(0.005 + duration * i / 11)  # past the two lines between the message and main()
        for sig in (first, second):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            time.sleep(0.003)
        err = process.communicate(timeout=60)[1]
        assert "Traceback" not in err and process.returncode in (0, 129, 130, 143), (i, process.returncode, err)
        if process.returncode:
            assert err.splitlines()[-1].startswith(messages), (i, err)
        if not run_dir.exists() or (run_dir / "summary.json").exists() and json.loads((run_dir / "summary.json").read_text())["status"] == "completed":
            continue
        resumed = subprocess.run([*fit_command[:4], "--resume", run_dir.name, "-q", "--no-plots"], cwd=tmp_path, capture_output=True, text=True)
        if resumed.returncode == 2:
            assert "nothing to resume" in resumed.stderr or "no checkpoint.npz to resume from" in resumed.stderr, resumed.stderr
            continue
        assert resumed.returncode == 0, resumed.stderr
        expected, got = read_weights(tmp_path / "reference"), read_weights(run_dir)
        assert all(expected[k].tobytes() == got[k].tobytes() for k in expected), i


def test_a_run_killed_before_its_first_file_says_there_is_nothing_to_resume(tmp_path):
    # kill -9 between making the run directory and writing config.yaml leaves it empty.
    (tmp_path / "r").mkdir()
    with pytest.raises(RunError, match=r"r: the run stopped before it wrote its first files \(the directory is empty\): nothing to resume; start it over with: nntrain fit CONFIG$"):
        resume(tmp_path / "r")
    # A signal between its config.yaml and its summary.json (both whole, no temporary file left).
    (tmp_path / "r" / "config.yaml").write_text("name: r\n")
    with pytest.raises(RunError, match=r"r: the run stopped while it wrote its first files \(no summary.json\): nothing to resume; start it over with: nntrain fit .*r/config.yaml$"):
        resume(tmp_path / "r")
