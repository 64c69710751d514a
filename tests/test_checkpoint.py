import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_config
from nntrain.training.checkpoint import load_checkpoint
from nntrain.errors import RunError
from nntrain.training.fit import Interrupted, fit, resume
from nntrain.runs.store import read_metrics, read_weights

# 2 steps per epoch, shuffling, dropout, batch norm, a schedule, clipping and early stopping's
# bookkeeping: everything that carries state from one step to the next.
CONFIG = make_config(
    data={"source": "xor", "batch_size": 2},
    model={"layers": [{"units": 6, "activation": "relu", "keep_prob": 0.8, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}]},
    training={
        "epochs": 20,
        "clip_norm": 0.5,
        "schedule": {"name": "cosine", "warmup_epochs": 2},
        "early_stopping": {"monitor": "loss", "patience": 100},
        "checkpoint_every": 3,
    },
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
    assert not (run_dir / "checkpoint.npz").exists()


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


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_real_signal_to_nntrain_fit(tmp_path, sig, code):
    config = Path(__file__).parent.parent / "configs" / "xor.yaml"
    cmd = [sys.executable, "-c", "from nntrain.cli import main; main()", "fit", str(config), "-q",
           "--set", "training.epochs=10000000", "--set", "training.checkpoint_every=1000", "--run-dir", "r"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (tmp_path / "r" / "checkpoint.npz").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "interrupted; the run can go on with: nntrain fit --resume r" in err
    assert "Traceback" not in err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs"] >= 1000
    state, _ = load_checkpoint(tmp_path / "r")
    assert state["epoch"] * 1 + state["step"] >= summary["epochs"]
