"""nntrain.runs.store: new run directories, atomic writes, and reading a run's files back."""

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from nntrain.errors import RunError
from nntrain.runs import store as runs
from nntrain.runs.store import (
    create_run_dir,
    load_run_config,
    read_arrays,
    read_columns,
    read_metrics,
    read_summary,
    read_weights,
    write_arrays,
    write_bytes,
    write_json,
    write_metrics,
    write_text,
)


def error(call, *args, **kwargs):
    with pytest.raises(RunError) as info:
        call(*args, **kwargs)
    return str(info.value)


# --------------------------------------------------------------------------------------------------
# Run directories


def test_run_dirs_are_named_after_the_run_and_the_second_and_never_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20240102-030405")
    root = tmp_path / "deep" / "runs"  # made as needed
    made = [create_run_dir("xor", root=root) for _ in range(3)]
    assert [p.name for p in made] == ["xor-20240102-030405", "xor-20240102-030405-1", "xor-20240102-030405-2"]
    assert all(p.is_dir() and not any(p.iterdir()) for p in made)
    (made[0] / "mine").write_text("kept")
    (root / "xor-20240102-030405-3").mkdir()  # taken by another process in the same second
    assert create_run_dir("xor", root=root).name == "xor-20240102-030405-4"
    assert (made[0] / "mine").read_text() == "kept"
    assert create_run_dir("moons", root=root).name == "moons-20240102-030405"


def test_a_thousand_runs_of_one_name_in_one_second_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20240102-030405")
    for k in range(1000):
        (tmp_path / ("xor-20240102-030405" + (f"-{k}" if k else ""))).mkdir()
    assert error(create_run_dir, "xor", root=tmp_path) == f"{tmp_path}: too many runs named 'xor' in the same second"


def test_an_explicit_run_dir_is_made_exactly_with_its_parents(tmp_path):
    path = create_run_dir("xor", run_dir=tmp_path / "a" / "b" / "mine")
    assert path == tmp_path / "a" / "b" / "mine" and path.is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == [path]


@pytest.mark.parametrize("what", ["run", "sweep"])
def test_an_explicit_run_dir_that_exists_is_an_error(tmp_path, what):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "weights.npz").write_bytes(b"old")
    assert error(create_run_dir, "xor", run_dir=taken, what=what) == (
        f"{taken}: already exists; {what}s are never overwritten, choose a new --{what}-dir"
    )
    assert (taken / "weights.npz").read_bytes() == b"old"


def test_a_run_dir_under_a_file_is_not_called_existing(tmp_path):
    (tmp_path / "file").write_text("kept")
    assert error(create_run_dir, "xor", run_dir=tmp_path / "file" / "a" / "run") == (
        f"{tmp_path / 'file' / 'a' / 'run'}: cannot create the run directory: {tmp_path / 'file'} is a file, not a folder"
    )
    assert error(create_run_dir, "xor", run_dir=tmp_path / "file" / "run") == (
        f"{tmp_path / 'file' / 'run'}: cannot create the run directory: {tmp_path / 'file'} is a file, not a folder"
    )
    assert (tmp_path / "file").read_text() == "kept"


def test_a_runs_root_that_cannot_be_made_is_an_error(tmp_path):
    (tmp_path / "file").write_text("")
    assert error(create_run_dir, "xor", root=tmp_path / "file") == f"{tmp_path / 'file'}: cannot create the runs directory: File exists"
    assert error(create_run_dir, "xor", root=tmp_path / "file" / "runs") == (
        f"{tmp_path / 'file' / 'runs'}: cannot create the runs directory: Not a directory"
    )


# --------------------------------------------------------------------------------------------------
# Atomic writes


def test_every_writer_leaves_exactly_its_file(tmp_path):
    write_text(tmp_path / "config.yaml", "name: xor\n")
    write_json(tmp_path / "summary.json", {"status": "completed", "final": {"loss": 0.25}})
    write_arrays(tmp_path / "weights.npz", {"layers.0.W": np.eye(2, dtype=np.float32)})
    write_metrics(tmp_path / "metrics.csv", [{"epoch": 1, "loss": 0.5}])
    write_bytes(tmp_path / "raw", b"\x00\x01")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "metrics.csv", "raw", "summary.json", "weights.npz"]
    assert (tmp_path / "config.yaml").read_text() == "name: xor\n"
    assert (tmp_path / "summary.json").read_text() == '{\n  "status": "completed",\n  "final": {\n    "loss": 0.25\n  }\n}\n'
    assert (tmp_path / "raw").read_bytes() == b"\x00\x01"
    np.testing.assert_array_equal(read_arrays(tmp_path / "weights.npz", "weights file")["layers.0.W"], np.eye(2))


def test_a_rewrite_replaces_the_file_in_one_step(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    write_json(path, {"status": "running"})
    renames = []
    replace = os.replace
    monkeypatch.setattr(runs.os, "replace", lambda src, dst: (renames.append((Path(src).name, Path(dst).name)), replace(src, dst)))
    write_json(path, {"status": "completed"})
    assert renames == [(".summary.json.tmp", "summary.json")]  # written under another name, then renamed
    assert json.loads(path.read_text()) == {"status": "completed"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    runs.write_json(path, {"status": "running"})

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs.os, "replace", full_disk)
    with pytest.raises(RunError, match=r"summary.json: cannot write: No space left on device; the previous version is kept"):
        runs.write_json(path, {"status": "completed"})
    assert json.loads(path.read_text()) == {"status": "running"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_a_write_that_fails_half_way_removes_its_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "weights.npz"
    write_arrays(path, {"w": np.zeros(3)})
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs.os, "fsync", full_disk)
    assert error(write_arrays, path, {"w": np.ones(3)}) == f"{path}: cannot write: No space left on device; the previous version is kept"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npz"]


def test_a_file_in_a_missing_directory_cannot_be_written(tmp_path):
    path = tmp_path / "gone" / "summary.json"
    assert error(write_json, path, {}) == f"{path}: cannot write: No such file or directory"  # nothing was there to keep
    assert not (tmp_path / "gone").exists()


def test_files_wait_for_the_disk_except_in_scratch_directories(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(runs.os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")))
    runs.write_text(tmp_path / "a.txt", "a")
    with runs.scratch_files():
        runs.write_text(tmp_path / "b.txt", "b")
        # Another thread (a Dask worker runs several runs at once) keeps its own setting.
        other = threading.Thread(target=runs.write_text, args=(tmp_path / "c.txt", "c"))
        other.start()
        other.join()
    runs.write_text(tmp_path / "d.txt", "d")
    assert [Path(p).name for p in synced] == [".a.txt.tmp", ".c.txt.tmp", ".d.txt.tmp"]
    assert [(tmp_path / f"{n}.txt").read_text() for n in "abcd"] == list("abcd")


# --------------------------------------------------------------------------------------------------
# metrics.csv and diagnostics.csv, written and read back

ROWS = [
    {"epoch": 1, "loss": 0.6931471805599453, "accuracy": 0.5, "epoch_time_s": 0.0123},
    {"epoch": 2, "loss": 1 / 3, "accuracy": 0.75, "val_loss": 2e-300, "epoch_time_s": 1e-05},
    {"epoch": 3, "loss": 0.1 + 0.2, "accuracy": 1.0, "val_loss": 123456.789, "epoch_time_s": 0.5},
]


def test_metrics_round_trip_bit_for_bit_with_columns_in_order_of_first_appearance(tmp_path):
    write_metrics(tmp_path / "metrics.csv", ROWS)
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,loss,accuracy,epoch_time_s,val_loss"
    assert read_metrics(tmp_path) == ROWS  # the empty val_loss cell of epoch 1 is left out
    columns = read_columns(tmp_path)
    assert list(columns) == ["epoch", "loss", "accuracy", "epoch_time_s", "val_loss"]
    np.testing.assert_array_equal(columns["epoch"], [1.0, 2.0, 3.0])
    assert columns["loss"].tolist() == [row["loss"] for row in ROWS]  # repr: every float exactly
    assert np.isnan(columns["val_loss"][0]) and columns["val_loss"][1:].tolist() == [2e-300, 123456.789]


def test_a_file_of_numbers_only_reads_as_the_csv_module_reads_it(tmp_path):
    full = [{k: v for k, v in row.items() if k != "val_loss"} for row in ROWS]
    write_metrics(tmp_path / "metrics.csv", full)
    fast = read_columns(tmp_path)  # every cell a number: parsed by NumPy in one call
    (tmp_path / "metrics.csv").write_text((tmp_path / "metrics.csv").read_text().replace("0.5\n", '"0.5"\n'))
    slow = read_columns(tmp_path)  # a quoted cell: the csv module
    assert list(fast) == list(slow) and all(fast[k].tolist() == slow[k].tolist() for k in fast)
    assert read_metrics(tmp_path) == full


def test_other_files_and_empty_ones(tmp_path):
    write_metrics(tmp_path / "diagnostics.csv", [{"epoch": 1, "layer": 0, "grad_norm": 0.5}])
    assert read_metrics(tmp_path, "diagnostics.csv") == [{"epoch": 1, "layer": 0.0, "grad_norm": 0.5}]
    (tmp_path / "metrics.csv").write_text("")
    assert read_columns(tmp_path) == {} and read_metrics(tmp_path) == []
    (tmp_path / "metrics.csv").write_text("epoch,loss\n")  # a run stopped before its first epoch ended
    assert read_metrics(tmp_path) == []


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return tmp_path / name


@pytest.mark.parametrize(
    "text,message",
    [
        ("loss,epoch\n0.5,1\n", "{file}: damaged: the first column must be 'epoch'"),
        ("epoch,loss,accuracy\n1,0.5,1\n2,0.4\n", "{file}, line 3: damaged metrics row: 2 values for 3 columns"),
        ("epoch,loss\n1,0.5\n2,abc\n", "{file}, line 3: damaged metrics row: loss is 'abc'"),
        ("epoch,loss\n1,0.5\n2,\n3,x\n", "{file}, line 4: damaged metrics row: loss is 'x'"),
        ('epoch,loss\n1,"' + "9" * 200_000, "{file}: damaged metrics file: field larger than field limit (131072)"),
        ("epoch,loss\n1.5,0.5\n", "{file}: damaged: an epoch that is not a whole number"),
        ("epoch,loss\n,0.5\n", "{file}: damaged: an epoch that is not a whole number"),
    ],
)
def test_a_damaged_metrics_file_says_where(tmp_path, text, message):
    file = write(tmp_path, "metrics.csv", text)
    assert error(read_metrics, tmp_path) == message.format(file=file)


def test_missing_and_unreadable_files(tmp_path):
    assert error(read_columns, tmp_path) == f"{tmp_path}: no metrics.csv in the run directory"
    assert error(read_metrics, tmp_path, "diagnostics.csv") == f"{tmp_path}: no diagnostics.csv in the run directory"
    (tmp_path / "metrics.csv").write_bytes(b"epoch,loss\n1,\xff\n")
    assert error(read_columns, tmp_path).startswith(f"{tmp_path / 'metrics.csv'}: cannot read: 'utf-8' codec can't decode byte 0xff")
    (tmp_path / "metrics.csv").unlink()
    (tmp_path / "metrics.csv").mkdir()
    assert error(read_columns, tmp_path).startswith(f"{tmp_path / 'metrics.csv'}: cannot read: [Errno 21] Is a directory")


# --------------------------------------------------------------------------------------------------
# summary.json, weights.npz, config.yaml


def test_summary_round_trip(tmp_path):
    summary = {"status": "completed", "epochs": 3, "final": {"loss": 0.1 + 0.2}, "best": {"val_loss": float("inf")}}
    write_json(tmp_path / "summary.json", summary)
    assert read_summary(tmp_path) == summary


@pytest.mark.parametrize(
    "text,problem",
    [
        ("", "damaged summary: Expecting value: line 1 column 1 (char 0)"),
        ('{"status": "completed"', "damaged summary: Expecting ',' delimiter: line 1 column 23 (char 22)"),
        ('["completed"]', "damaged summary: expected a JSON object"),
        ("3", "damaged summary: expected a JSON object"),
    ],
)
def test_a_damaged_summary(tmp_path, text, problem):
    file = write(tmp_path, "summary.json", text)
    assert error(read_summary, tmp_path) == f"{file}: {problem}"


def test_a_directory_without_a_summary_is_not_a_run(tmp_path):
    assert error(read_summary, tmp_path) == f"{tmp_path}: not a run directory (no summary.json)"


def test_weights_round_trip_and_their_errors(tmp_path):
    assert error(read_weights, tmp_path) == f"{tmp_path}: no weights.npz in the run directory (did the run finish its first epoch?)"
    arrays = {"layers.0.W": np.arange(6, dtype=np.float32).reshape(3, 2), "layers.0.b": np.zeros(3, np.float32)}
    write_arrays(tmp_path / "weights.npz", arrays)
    got = read_weights(tmp_path)
    assert sorted(got) == sorted(arrays) and all(got[k].dtype == arrays[k].dtype and (got[k] == arrays[k]).all() for k in arrays)
    np.savez(tmp_path / "weights.npz", **arrays, names=np.array(["a", "b"]))
    assert error(read_weights, tmp_path) == f"{tmp_path / 'weights.npz'}: damaged weights file: names holds <U1, not numbers"
    assert read_arrays(tmp_path / "weights.npz", "weights file", text=("names",))["names"].tolist() == ["a", "b"]
    (tmp_path / "weights.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert error(read_weights, tmp_path).startswith(f"{tmp_path / 'weights.npz'}: damaged weights file: ")


def test_objects_are_never_unpickled(tmp_path):
    np.savez(tmp_path / "weights.npz", w=np.array([{"x": 1}], dtype=object))  # kept as a pickle
    message = error(read_weights, tmp_path)
    assert message.startswith(f"{tmp_path / 'weights.npz'}: damaged weights file: ") and "allow_pickle" in message


def test_the_config_of_a_run_directory(tmp_path):
    assert error(load_run_config, tmp_path / "nope") == f"{tmp_path / 'nope'}: no such run directory"
    assert error(load_run_config, tmp_path) == f"{tmp_path}: not a run directory (no config.yaml)"
    write_text(tmp_path / "config.yaml", "name: mine\nloss: mse\nmodel: {layers: [{units: 1, activation: linear}]}\n")
    config = load_run_config(tmp_path)
    assert config.name == "mine" and config.model.layers[0].units == 1
