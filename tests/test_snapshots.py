"""nntrain.training.snapshots: the schedule, the file, and a resumed run's snapshots."""

import numpy as np
import pytest

from conftest import XOR, make_config
from nntrain.errors import RunError
from nntrain.training.fit import fit, resume
from nntrain.training.snapshots import SNAPSHOTS, log_schedule, read_snapshots, stack, unstack


def test_the_log_schedule_has_about_60_distinct_epochs_first_and_last():
    s = log_schedule(500)
    assert len(s) == 60 and s[0] == 1 and s[-1] == 500 and s == sorted(set(s))
    assert log_schedule(10) == list(range(1, 11))
    big = log_schedule(10**6)
    assert 60 <= len(big) and big[:4] == [1, 2, 3, 4] and big[-1] == 10**6


def test_a_2d_run_keeps_the_log_schedule_by_default(tmp_path):
    run = fit(make_config(training={"epochs": 100}), run_dir=tmp_path / "r").run_dir
    kept = read_snapshots(run)
    assert sorted(kept) == log_schedule(100)
    last = np.load(run / "weights.npz")
    np.testing.assert_array_equal(kept[100]["layers.0.W"], last["layers.0.W"])
    with np.load(run / SNAPSHOTS) as f:
        assert f["layers.0.W"].shape == (60, 4, 2) and f["epochs"].dtype == np.int64


def test_every_k_epochs_and_the_last(tmp_path):
    run = fit(make_config(training={"epochs": 23, "snapshots": 5}), run_dir=tmp_path / "r").run_dir
    assert sorted(read_snapshots(run)) == [1, 5, 10, 15, 20, 23]


def test_a_run_on_other_inputs_keeps_none_and_plot_says_how_to_get_them(tmp_path):
    config = make_config(
        data={"source": "sine", "n_samples": 40, "batch_size": 10},
        model={"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "linear"}]},
        loss="mse",
        metrics=["mae"],
        training={"epochs": 2},
    )
    run = fit(config, run_dir=tmp_path / "r").run_dir
    assert not (run / SNAPSHOTS).exists()
    with pytest.raises(RunError, match=r"kept no weight snapshots .*set training.snapshots: K .* and fit again"):
        read_snapshots(run)


def test_early_stopping_keeps_the_last_epoch_run(tmp_path):
    config = make_config(
        training={"epochs": 400, "snapshots": 100, "early_stopping": {"monitor": "loss", "patience": 1, "min_delta": 10}}
    )
    result = fit(config, run_dir=tmp_path / "r")
    stopped = result.summary["epochs"]
    assert stopped < 100 and sorted(read_snapshots(result.run_dir)) == [1, stopped]


def test_a_resumed_run_ends_with_the_snapshots_of_an_uninterrupted_one(tmp_path):
    config = make_config(training={"epochs": 60, "checkpoint_every": 7, "snapshots": 4})
    whole = fit(config, run_dir=tmp_path / "whole").run_dir
    def stop_at_30(epoch, logs):
        if epoch == 30:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(config, run_dir=tmp_path / "cut", on_epoch=stop_at_30)
    cut = tmp_path / "cut"
    # the file on disk went beyond the checkpoint (epoch 28): those come again on resume
    assert max(read_snapshots(cut)) >= 28
    resume(cut)
    a, b = read_snapshots(whole), read_snapshots(cut)
    assert sorted(a) == sorted(b)
    for epoch in a:
        for name in a[epoch]:
            np.testing.assert_array_equal(a[epoch][name], b[epoch][name])


def test_stack_and_unstack_round_trip_and_damage_is_a_run_error(tmp_path):
    kept = {1: {"w": np.ones(3)}, 5: {"w": np.zeros(3)}}
    arrays = stack(kept)
    assert arrays["epochs"].tolist() == [1, 5] and arrays["w"].shape == (2, 3)
    back = unstack(dict(arrays), "f")
    assert sorted(back) == [1, 5] and back[1]["w"].tolist() == [1, 1, 1]
    with pytest.raises(RunError, match="damaged snapshots"):
        unstack({"epochs": np.array([1, 2]), "w": np.ones((3, 2))}, "f")
