import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from conftest import make_config, run_cli as run
from nntrain.runs.catalog import load_run
from nntrain.runs.compare import (
    compare,
    differences,
    flatten,
    goal,
    metric_stats,
)
from nntrain.cli._tables import render
from nntrain.errors import NNTrainError, RunError
from nntrain.training.fit import fit
from nntrain.runs.plots import OVERLAY
from nntrain.runs.store import read_columns
from nntrain.runs.store import read_metrics, read_summary, write_json, write_metrics, writing
from test_plots import png_size


def fits_80_columns(text):
    return all(len(line) <= 80 for line in text.splitlines())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three real XOR runs: a (lr 0.05, 30 epochs), b (lr 0.01, 30 epochs), c (lr 0.05, 8 units, 15 epochs)."""
    root = tmp_path_factory.mktemp("runs")
    a = fit(make_config(training={"epochs": 30}), run_dir=root / "a").run_dir
    b = fit(make_config(training={"epochs": 30}, optimizer={"name": "adam", "lr": 0.01}), run_dir=root / "b").run_dir
    layers = [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]
    c = fit(make_config(training={"epochs": 15}, model={"layers": layers}), run_dir=root / "c").run_dir
    return root, a, b, c


@pytest.fixture
def copies(runs, tmp_path):
    """Copies of the three runs that a test may damage or rewrite."""
    root = tmp_path / "runs"
    shutil.copytree(runs[0], root)
    return root


# --------------------------------------------------------------------------------------------------
# The library


def test_compare_finds_exactly_the_changed_config_values(runs):
    root, a, b, c = runs
    result = compare([a, b, c])
    assert result["differences"] == ["model.layers.0.units", "optimizer.lr", "training.epochs"]
    by_label = {r["label"]: r for r in result["runs"]}
    assert by_label["a"]["config"] == {"model.layers.0.units": 4, "optimizer.lr": 0.05, "training.epochs": 30}
    assert by_label["b"]["config"] == {"model.layers.0.units": 4, "optimizer.lr": 0.01, "training.epochs": 30}
    assert by_label["c"]["config"] == {"model.layers.0.units": 8, "optimizer.lr": 0.05, "training.epochs": 15}
    assert by_label["c"]["parameters"] == 8 * 2 + 8 + 8 + 1 and by_label["c"]["epochs"] == 15
    assert json.loads(json.dumps(result)) == result  # JSON-able as it is


def test_compare_ranks_by_the_metric_with_best_epoch_and_final(runs):
    root, *paths = runs
    result = compare(paths, metric="loss")
    assert (result["metric"], result["goal"]) == ("loss", "min")
    expected = {}
    for path in paths:
        rows = read_metrics(path)
        best = min(rows, key=lambda r: r["loss"])
        expected[path.name] = (best["loss"], best["epoch"], rows[-1]["loss"])
    got = {r["label"]: (r["best"], r["best_epoch"], r["final"]) for r in result["runs"]}
    assert got == expected  # the same floats: both parse the same text
    assert [r["label"] for r in result["runs"]] == sorted(expected, key=lambda k: expected[k][0])
    assert [r["rank"] for r in result["runs"]] == [1, 2, 3]
    assert result["missing"] == []


def test_compare_final_metrics_are_the_summarys(runs):
    root, a, b, c = runs
    record = next(r for r in compare([a, b])["runs"] if r["label"] == "a")
    assert record["final_metrics"] == pytest.approx(read_summary(a)["final"])
    assert record["wall_time_s"] == read_summary(a)["wall_time_s"]


def test_default_metric_is_accuracy_without_validation_and_prefers_validation(runs, copies):
    root, a, b, c = runs
    assert compare([a, b])["metric"] == "accuracy"
    for name in ("a", "b"):
        add_validation(copies / name)
    result = compare([copies / "a", copies / "b"])
    assert (result["metric"], result["goal"]) == ("val_accuracy", "max")
    # Not every run has validation: the metric every run logged.
    assert compare([copies / "a", copies / "b", copies / "c"])["metric"] == "accuracy"


def logged(path):
    """The columns a run logged (metrics.csv's header without epoch), as the messages list them."""
    return ", ".join(list(read_metrics(path)[0])[1:])


def add_validation(path):
    """Give a run validation columns (what a data split produces) by rewriting its metrics.csv."""
    rows = read_metrics(path)
    for i, row in enumerate(rows):
        row["val_loss"] = row["loss"] * 1.1
        row["val_accuracy"] = min(1.0, 0.25 + 0.05 * i)
    write_metrics(path / "metrics.csv", rows)


def test_runs_without_the_metric_are_listed_last_not_ranked(runs, copies):
    add_validation(copies / "b")
    result = compare([copies / "a", copies / "b", copies / "c"], metric="val_loss")
    assert [(r["label"], r["rank"]) for r in result["runs"]] == [("b", 1), ("a", None), ("c", None)]
    assert result["missing"] == ["a", "c"]
    assert result["runs"][1]["best"] is None and result["runs"][1]["final"] is None
    assert ", ".join(result["shared"]) == logged(copies / "a")
    assert result["shared"][:2] == ["loss", "accuracy"]


def test_unknown_metric_lists_the_logged_ones(runs):
    root, a, b, c = runs
    with pytest.raises(NNTrainError) as e:
        compare([a, b], metric="val_acc")
    assert str(e.value) == f"unknown metric 'val_acc'; the runs logged: {logged(a)}"
    assert logged(a).startswith("loss, accuracy")


def test_flatten_and_differences():
    config = {"seed": 0, "model": {"layers": [{"units": 4}, {"units": 1}]}, "metrics": ["accuracy"], "x": {}}
    assert flatten(config) == {"seed": 0, "model.layers.0.units": 4, "model.layers.1.units": 1, "metrics": ["accuracy"]}
    other = {"seed": 0, "model": {"layers": [{"units": 4}, {"units": 1}, {"units": 1}]}, "metrics": ["accuracy", "mae"]}
    assert differences([config, other]) == ["metrics", "model.layers.2.units"]  # first appearance
    assert differences([{"lr": 1}, {"lr": 1.0}]) == []  # the same setting
    assert differences([{"clip": None}, {}]) == ["clip"]  # a key one lacks differs from null
    assert differences([config, config]) == []


def test_metric_stats_and_goal(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "epoch,loss,accuracy,val_loss\n1,0.9,0.5,nan\n2,0.5,0.75,0.6\n3,0.5,0.75,\n4,0.7,0.5,inf\n5,0.6,0.75,\n"
    )
    (tmp_path / "summary.json").write_text('{"status": "completed"}')
    run_ = load_run(tmp_path)
    assert metric_stats(run_, "loss", "min") == (0.5, 2, 0.6)  # the first of equal bests
    assert metric_stats(run_, "accuracy", goal("accuracy")) == (0.75, 2, 0.75)
    assert metric_stats(run_, "val_loss", "min") == (0.6, 2, None)  # final: the last logged value, inf
    assert metric_stats(run_, "mae") == (None, None, None)
    assert [goal(m) for m in ("accuracy", "val_accuracy", "loss", "val_mae", "epoch_time_s")] == [
        "max", "max", "min", "min", "min"
    ]


def test_read_columns_reads_what_read_metrics_reads(runs, tmp_path):
    root, a, b, c = runs
    columns = read_columns(a)
    rows = read_metrics(a)
    assert list(columns) == list(rows[0])
    for name, values in columns.items():
        assert values.tolist() == [row[name] for row in rows]
    (tmp_path / "metrics.csv").write_text("epoch,loss,val_loss\n1,0.5,\n2,0.25,0.3\n")
    assert np.isnan(read_columns(tmp_path)["val_loss"][0])


@pytest.mark.parametrize(
    "text,message",
    [
        ("epoch,loss\n1,0.5\n2,abc\n", "metrics.csv, line 3: damaged metrics row: loss is 'abc'"),
        ("epoch,loss\n1,0.5\n2\n", "metrics.csv, line 3: damaged metrics row: 1 values for 2 columns"),
    ],
)
def test_read_columns_names_the_damaged_line(tmp_path, text, message):
    (tmp_path / "metrics.csv").write_text(text)
    with pytest.raises(RunError, match=message):
        read_columns(tmp_path)


def test_render_fits_the_width_and_shows_the_differences(runs):
    root, a, b, c = runs
    result = compare([a, b, c])
    console = Console(width=80, record=True, file=io.StringIO())
    render(result, console)
    text = console.export_text()
    assert fits_80_columns(text)
    lines = text.splitlines()
    assert lines[0].strip() == "3 runs ranked by accuracy (higher is better)"
    # Long keys fold at their dots: model.|layers.|0.units, training.|epochs.
    assert [line.split() for line in lines[1:4]] == [
        ["model."],
        ["layers.", "training."],
        ["#", "run", "0.units", "optimizer.lr", "epochs", "best", "epoch", "final", "params", "time"],
    ]
    by_label = {line.split()[1]: line.split() for line in lines[5:]}
    assert by_label["c"][2:5] == ["8", "0.05", "15"] and by_label["b"][2:5] == ["4", "0.01", "30"]
    wide = Console(width=120, record=True, file=io.StringIO())
    render(result, wide)
    assert wide.export_text().splitlines()[1].split() == [
        "#", "run", "model.layers.0.units", "optimizer.lr", "training.epochs",
        "best", "epoch", "final", "params", "time",
    ]
    # Too narrow for a column per key: one config column, a line per section.
    narrow = Console(width=60, record=True, file=io.StringIO())
    render(result, narrow)
    text = narrow.export_text()
    assert all(len(line) <= 60 for line in text.splitlines())
    assert text.splitlines()[1].split() == ["#", "run", "best", "epoch", "final", "params", "time", "config"]
    words = " ".join(text.split())  # the config cell's lines, joined
    c_record = next(r for r in result["runs"] if r["label"] == "c")
    assert f"{c_record['rank']} c {c_record['best']:.5g} {c_record['best_epoch']} {c_record['final']:.5g} 33" in words
    assert "model.layers.0: units=8 optimizer: lr=0.05 training: epochs=15" in words


def test_render_identical_configs(runs):
    root, a, b, c = runs
    console = Console(width=80, record=True, file=io.StringIO())
    render(compare([a, a]), console)
    assert "the runs' configs are identical" in console.export_text()


# --------------------------------------------------------------------------------------------------
# nntrain compare


def test_compare_command_table(runs):
    root, a, b, c = runs
    result = run("compare", a, b)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert fits_80_columns(result.stdout)
    assert "2 runs ranked by accuracy (higher is better)" in lines[0]
    assert lines[1].split() == ["#", "run", "optimizer.lr", "best", "epoch", "final", "params", "time"]
    record = {r["label"]: r for r in compare([a, b])["runs"]}
    for row in lines[3:]:
        rank, label, lr, *_ = row.split()
        assert float(lr) == record[label]["config"]["optimizer.lr"] and int(rank) == record[label]["rank"]
    assert {row.split()[1] for row in lines[3:]} == {"a", "b"}


def test_compare_command_json_csv_and_a_folder(runs):
    root, a, b, c = runs
    as_json = run("compare", root, "--metric", "loss", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == json.loads(json.dumps(compare([a, b, c], metric="loss")))
    as_csv = run("compare", f"{root}/*", "--metric", "loss", "--csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [row["rank"] for row in rows] == ["1", "2", "3"]
    by_run = {Path(row["run"]).name: row for row in rows}
    assert by_run["b"]["optimizer.lr"] == "0.01" and by_run["c"]["model.layers.0.units"] == "8"
    assert by_run["c"]["metric"] == "loss" and float(by_run["c"]["final"]) == pytest.approx(read_metrics(c)[-1]["loss"])
    both = run("compare", root, "--json", "--csv")
    assert (both.exit_code, both.stderr) == (2, "error: --json and --csv: choose one\n")


def test_compare_command_plot_overlays_runs_of_different_lengths(runs, tmp_path):
    root, a, b, c = runs
    out = tmp_path / "cmp.png"
    result = run("compare", a, b, c, "--metric", "loss", "--plot", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"plot: {out}"
    assert png_size(out) == OVERLAY
    bad = run("compare", a, "--plot", tmp_path / "cmp.jpg")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --plot ") and "ending in .png" in bad.stderr


def test_compare_command_errors(runs, copies, tmp_path):
    root, a, b, c = runs
    unknown = run("compare", a, b, "--metric", "acc")
    assert (unknown.exit_code, unknown.stderr) == (
        2, f"error: unknown metric 'acc'; the runs logged: {logged(a)}\n"
    )
    missing = run("compare", a, tmp_path / "nope")
    assert (missing.exit_code, missing.stderr) == (2, f"error: {tmp_path / 'nope'}: no such run directory\n")
    (tmp_path / "half").mkdir()
    shutil.copy(a / "config.yaml", tmp_path / "half")
    half = run("compare", a, tmp_path / "half")
    assert (half.exit_code, half.stderr) == (2, f"error: {tmp_path / 'half'}: not a run directory (no summary.json)\n")
    (copies / "b" / "summary.json").write_text('{"status": "completed", "epo')
    damaged = run("compare", copies / "a", copies / "b")
    assert damaged.exit_code == 2
    assert damaged.stderr.startswith(f"error: {copies / 'b' / 'summary.json'}: damaged summary:")
    assert len(damaged.stderr.splitlines()) == 1 and "Traceback" not in damaged.output
    (copies / "c" / "config.yaml").write_text("name: [unclosed\n")
    bad_config = run("compare", copies / "a", copies / "c")
    assert bad_config.exit_code == 2
    assert bad_config.stderr.startswith(f"error: {copies / 'c' / 'config.yaml'}, line 2, column 1: invalid YAML:")
    assert len(bad_config.stderr.splitlines()) == 1
    write_json(copies / "a" / "summary.json", {**read_summary(a), "epochs": "many"})
    wrong_type = run("compare", copies / "a", c)
    assert wrong_type.stderr == f"error: {copies / 'a' / 'summary.json'}: damaged summary: epochs is 'many'\n"


def test_compare_command_runs_with_incompatible_metrics(copies):
    add_validation(copies / "a")
    result = run("compare", copies / "a", copies / "b", copies / "c", "--metric", "val_accuracy")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: val_accuracy is not logged by b, c (shown last); every run logged: {logged(copies / 'b')}\n"
    )
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] in (["1"], ["—"])]
    assert [row[:2] for row in rows] == [["1", "a"], ["—", "b"], ["—", "c"]]
    assert rows[1][5:8] == ["—", "—", "—"]  # best, epoch, final of a run without the metric


# --------------------------------------------------------------------------------------------------
# nntrain runs


def stamp(path, started):
    write_json(path / "summary.json", {**read_summary(path), "started": started})


def test_runs_command_lists_newest_first(copies):
    stamp(copies / "a", "2026-01-02T10:00:00+0000")
    stamp(copies / "b", "2026-01-03T10:00:00+0000")
    stamp(copies / "c", "2026-01-01T10:00:00+0000")
    result = run("runs", copies)
    assert result.exit_code == 0, result.output
    assert fits_80_columns(result.stdout)
    assert "3 runs in" in result.stdout and "newest first; metric: accuracy" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] in (["a"], ["b"], ["c"])]
    assert [row[0] for row in rows] == ["b", "a", "c"]
    b = read_summary(copies / "b")
    name, day, clock, status, epochs, params, final, best, time = rows[0]
    this_year = __import__("time").strftime("%Y") == "2026"  # the year is left out when every run started this year
    assert (day, clock, status, epochs, params) == ("01-03" if this_year else "2026-01-03", "10:00", "completed", "30", "17")
    accuracy = [row["accuracy"] for row in read_metrics(copies / "b")]
    assert float(final) == pytest.approx(accuracy[-1]) and float(best) == pytest.approx(max(accuracy))
    assert time == f"{b['wall_time_s']:.3g}s"


def test_runs_command_json(copies):
    stamp(copies / "c", "2030-01-01T00:00:00+0000")
    result = run("runs", copies, "--json", "--metric", "loss")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records[0]["run"] == str(copies / "c") and len(records) == 3
    losses = [row["loss"] for row in read_metrics(copies / "c")]
    first = records[0]
    assert first["metric"] == "loss" and first["final"] == pytest.approx(losses[-1])
    assert (first["best"], first["best_epoch"]) == (pytest.approx(min(losses)), int(np.argmin(losses)) + 1)
    assert (first["status"], first["epochs"], first["parameters"]) == ("completed", 15, 33)


def test_runs_command_shows_the_readable_runs_and_reports_the_damaged(copies):
    (copies / "b" / "metrics.csv").write_text("epoch,loss\n1,x\n")
    running = copies / "sweep" / "d"
    running.mkdir(parents=True)
    write_json(running / "summary.json", {"status": "running", "name": "xor", "started": "2026-11-26T10:00:00+0000"})
    with writing(running):  # a live process writes it
        result = run("runs", copies)
    assert result.exit_code == 2
    assert result.stderr == f"error: {copies / 'b' / 'metrics.csv'}, line 2: damaged metrics row: loss is 'x'\n"
    assert "3 runs in" in result.stdout and "sweep/d" in result.stdout and "running" in result.stdout
    assert "stale" not in result.stdout and " stale " in run("runs", copies).stdout  # and once none does


def test_runs_command_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    empty = run("runs", tmp_path / "empty")
    assert (empty.exit_code, empty.stdout) == (0, f"no runs in {tmp_path / 'empty'}\n")
    assert run("runs", tmp_path / "empty", "--json").stdout == "[]\n"
    missing = run("runs", tmp_path / "nope")
    assert (missing.exit_code, missing.stderr) == (2, f"error: {tmp_path / 'nope'}: no such directory\n")
    (tmp_path / "file").write_text("x")
    a_file = run("runs", tmp_path / "file")
    assert (a_file.exit_code, a_file.stderr) == (2, f"error: {tmp_path / 'file'}: not a directory\n")


def test_runs_command_default_folder(in_tmp):
    fit(make_config(training={"epochs": 3}), runs_root="runs")
    result = run("runs")
    assert result.exit_code == 0 and "1 run in runs" in result.stdout and "xor-" in result.stdout
    unknown = run("runs", "--metric", "nope")
    assert unknown.exit_code == 2 and unknown.stderr.startswith("error: unknown metric 'nope'; the runs logged: loss")


def test_runs_that_differ_only_in_their_seed_are_one_row(tmp_path):
    from nntrain.runs.compare import compare
    from nntrain.runs.groups import grouped

    runs = {}
    for lr in (0.05, 0.5):
        for seed in (0, 1, 2):
            name = f"optimizer.lr={lr},seed={seed}"
            runs[name] = fit(make_config(seed=seed, optimizer={"name": "adam", "lr": lr}, training={"epochs": 5}), run_dir=tmp_path / name).run_dir
    each = compare(list(runs.values()))
    groups = grouped(each)
    assert groups["grouped"] and groups["differences"] == ["optimizer.lr"] and len(groups["runs"]) == 2
    for record in groups["runs"]:
        members = [r for r in each["runs"] if r["label"] in record["runs"]]
        assert record["n"] == 3 and record["status"] == "seeds" and len(members) == 3
        assert record["best"] == pytest.approx(np.mean([r["best"] for r in members]), rel=1e-12)
        assert record["std"] == pytest.approx(np.std([r["best"] for r in members]), rel=1e-12)
        assert record["label"] == f"optimizer.lr={record['config']['optimizer.lr']}"
    goal = min if groups["goal"] == "min" else max
    assert groups["runs"][0]["best"] == goal(r["best"] for r in groups["runs"])  # ranked by the mean
    table = run("compare", *runs.values())
    assert "2 seed groups ranked by" in table.stdout and " n=3" in table.stdout
    each_row = run("compare", *runs.values(), "--no-group")
    assert "6 runs ranked by" in each_row.stdout
    uneven = grouped(compare(list(runs.values())[:2] + list(runs.values())[3:4]))  # a group of two, one of one
    assert sorted(r["n"] for r in uneven["runs"]) == [1, 2]
