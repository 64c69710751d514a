"""nntrain cv: k-fold cross-validation as a sweep of folds (nntrain.sweep.cv), its cv.json and oof.csv,
and a cv directory as one entry of nntrain compare."""

import csv
import importlib.util
import io
import json
import signal
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli as run, signal_once_completed
from nntrain.data.prepare import load_data
from nntrain.errors import NNTrainNote, NNTrainWarning
from nntrain.runs.catalog import expand, find_runs, load_run
from nntrain.runs.compare import compare
from nntrain.runs.inference import evaluate_run
from nntrain.runs.store import read_json
from nntrain.sweep import CVInterrupted, plan_cv, run_cv

XOR = Path(__file__).parent.parent / "configs" / "xor.yaml"

# 60 rows of three classes, 30 / 20 / 10 of them: five folds hold 6 / 4 / 2 each.
COUNTS = {"a": 30, "b": 20, "c": 10}

TABLE_CONFIG = """\
name: tiny
seed: 3
data: {source: csv, path: tiny.csv, target: y, split: {val: 0.2}, batch_size: 16}
model:
  layers:
    - {units: 8, activation: tanh}
    - {units: 3, activation: softmax}
loss: categorical_crossentropy
optimizer: {name: adam, lr: 0.05}
training: {epochs: 8}
metrics: [accuracy, f1]
"""

REGRESSION_CONFIG = """\
name: line
seed: 0
data: {source: csv, path: line.csv, target: t, batch_size: 8}
model:
  layers:
    - {units: 4, activation: tanh}
    - {units: 1, activation: linear}
loss: mse
optimizer: {name: adam, lr: 0.05}
training: {epochs: 5}
metrics: [mae]
"""


def write_table(folder):
    """tiny.csv (x1, x2, y: the classes of COUNTS around their own centres) and its config; the config's path."""
    rng = np.random.default_rng(0)
    labels = [name for name, n in COUNTS.items() for _ in range(n)]
    rng.shuffle(labels)
    centres = {"a": (0, 0), "b": (3, 1), "c": (-1, 4)}
    lines = ["x1,x2,y"] + [f"{centres[y][0] + rng.normal():.3f},{centres[y][1] + rng.normal():.3f},{y}" for y in labels]
    (folder / "tiny.csv").write_text("\n".join(lines) + "\n")
    (folder / "tiny.yaml").write_text(TABLE_CONFIG)
    return folder / "tiny.yaml"


def read_table(path):
    """A CSV file's header and rows of strings."""
    return csv_rows(Path(path).read_text())


def csv_rows(text):
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """The table's config, and a 5-fold cv of it on 2 workers (its CVResult)."""
    folder = tmp_path_factory.mktemp("cv")
    config = write_table(folder)
    return config, run_cv(plan_cv(config, 5), cv_dir=folder / "cv", workers=2)


# --------------------------------------------------------------------------------------------------
# The plan: the folds


def test_folds_partition_the_rows_stratified_and_repeats_draw_new_ones(tmp_path):
    config = write_table(tmp_path)
    plan = plan_cv(config, 5, repeats=2)
    assert [v.dirname for v in plan.variants[:2]] == ["repeat=0,fold=0", "repeat=0,fold=1"]
    assert [v.values for v in plan.variants[5:7]] == [{"repeat": 1, "fold": 0}, {"repeat": 1, "fold": 1}]
    assert plan.grid == {"repeat": [0, 1], "fold": [0, 1, 2, 3, 4]} and plan.name == "tiny"
    assert [v.config.seed for v in plan.variants] == [3] * 5 + [4] * 5
    labels = np.array([row[2] for row in read_table(tmp_path / "tiny.csv")[1]])
    held_out = {}
    for v in plan.variants:
        split = v.config.data.split
        assert (split.folds, split.fold, split.test) == (5, v.values["fold"], 0)
        data = load_data(v.config, np.random.default_rng(v.config.seed))
        rows = data.rows["test"]
        held_out[v.values["repeat"], v.values["fold"]] = rows
        assert {name: int((labels[rows] == name).sum()) for name in COUNTS} == {"a": 6, "b": 4, "c": 2}
        assert sorted([*data.rows["train"], *data.rows["val"], *rows]) == list(range(60))  # the rest trains
    for repeat in (0, 1):
        rows = np.concatenate([held_out[repeat, fold] for fold in range(5)])
        assert sorted(rows) == list(range(60))  # every row held out exactly once
    assert not np.array_equal(held_out[0, 0], held_out[1, 0])


def test_fold_sizes_differ_by_at_most_one(tmp_path):
    (tmp_path / "blobs.yaml").write_text(XOR.read_text().replace("source: xor", "source: blobs, n_samples: 23, classes: 2"))
    sizes = [len(load_data(v.config, np.random.default_rng(v.config.seed)).rows["test"]) for v in plan_cv(tmp_path / "blobs.yaml", 4).variants]
    assert sorted(sizes) == [5, 6, 6, 6]


def test_a_test_share_is_not_used_and_says_so(tmp_path):
    config = write_table(tmp_path)
    with pytest.warns(NNTrainNote, match="data.split.test 0.2 is not used: in cross-validation each run's test split is its held-out fold"):
        plan = plan_cv(config, 3, overrides=["data.split.test=0.2"])
    assert {v.config.data.split.test for v in plan.variants} == {0}


# --------------------------------------------------------------------------------------------------
# The cv directory


def test_every_fold_is_a_normal_run_fitted_on_its_own_training_rows(table):
    config, result = table
    cv_dir = result.cv_dir
    assert sorted(p.name for p in cv_dir.iterdir()) == ["cv.json", *(f"fold={i}" for i in range(5)), "oof.csv", "plan.json", "sweep.json"]
    evaluated = run("eval", cv_dir / "fold=2", "--split", "test", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["examples"] == 12
    _, rows = read_table(config.parent / "tiny.csv")
    x = np.array([[float(r[0]), float(r[1])] for r in rows])
    means = []
    for fold in range(5):
        run_dir = cv_dir / f"fold={fold}"
        stats = read_json(run_dir, "data.json", "data", "no data.json")["standardize"]
        fold_config = load_run(run_dir, config=True).config
        assert fold_config["data"]["split"] == {"val": 0.2, "test": 0.0, "folds": 5, "fold": fold}
        plan_config = plan_cv(config, 5).variants[fold].config
        train = load_data(plan_config, np.random.default_rng(plan_config.seed)).rows["train"]
        assert stats["mean"] == pytest.approx(x[train].mean(axis=0), rel=1e-12)
        assert stats["std"] == pytest.approx(x[train].std(axis=0), rel=1e-12)
        means.append(tuple(stats["mean"]))
    assert len(set(means)) == 5


def test_cv_json_holds_each_held_out_fold_and_numpys_mean_and_std(table):
    _, result = table
    doc = json.loads((result.cv_dir / "cv.json").read_text())
    assert doc == result.doc
    assert (doc["name"], doc["folds"], doc["repeats"], doc["status"]) == ("tiny", 5, 1, "completed")
    assert [(r["dir"], r["repeat"], r["fold"], r["status"], r["examples"]) for r in doc["runs"]] == [
        (f"fold={i}", 0, i, "completed", 12) for i in range(5)
    ]
    for entry in doc["runs"]:
        evaluated = evaluate_run(result.cv_dir / entry["dir"], "test")
        assert entry["metrics"] == {k: v for k, v in evaluated.items() if k != "examples"}
    assert list(doc["mean"]) == ["loss", "accuracy", "f1"]
    for name in doc["mean"]:
        values = [r["metrics"][name] for r in doc["runs"]]
        assert doc["mean"][name] == np.mean(values) and doc["std"][name] == np.std(values)


def test_oof_csv_has_every_row_once_with_the_predictions_of_predict(table, tmp_path):
    config, result = table
    header, oof = read_table(result.cv_dir / "oof.csv")
    assert header == ["row", "repeat", "fold", "y", "predicted_y", "p_a", "p_b", "p_c"]
    assert [int(r[0]) for r in oof] == list(range(60)) and {r[1] for r in oof} == {"0"}
    table_header, rows = read_table(config.parent / "tiny.csv")
    assert [r[3] for r in oof] == [row[2] for row in rows]  # the true class, by name
    assert sum(abs(sum(map(float, r[5:])) - 1) < 1e-5 for r in oof) == 60
    for fold in range(5):
        mine = [r for r in oof if r[2] == str(fold)]
        assert len(mine) == 12
        inputs = tmp_path / f"fold{fold}.csv"
        inputs.write_text("\n".join([",".join(table_header), *(",".join(rows[int(r[0])]) for r in mine)]) + "\n")
        predicted = run("predict", result.cv_dir / f"fold={fold}", inputs, "--proba")
        assert predicted.exit_code == 0, predicted.output
        columns, lines = csv_rows(predicted.stdout)
        assert columns == [*table_header, "predicted_y", "p_a", "p_b", "p_c"]
        # The same class and the same probabilities, digit for digit: predict standardises raw rows
        # as training and eval do (in float64, then the cast).
        assert [line[3:] for line in lines] == [r[4:] for r in mine]


def test_results_are_the_same_with_1_and_2_workers(table, tmp_path):
    config, two = table
    one = run_cv(plan_cv(config, 5), cv_dir=tmp_path / "one", workers=1)
    assert [r["metrics"] for r in one.doc["runs"]] == [r["metrics"] for r in two.doc["runs"]]
    assert (one.doc["mean"], one.doc["std"]) == (two.doc["mean"], two.doc["std"])
    assert (tmp_path / "one" / "oof.csv").read_bytes() == (two.cv_dir / "oof.csv").read_bytes()


def test_oof_of_a_regression_is_in_the_targets_units(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 20).round(2)
    (tmp_path / "line.csv").write_text("x,t\n" + "".join(f"{a},{2 * a + 100:.2f}\n" for a in x))
    (tmp_path / "line.yaml").write_text(REGRESSION_CONFIG)
    result = run_cv(plan_cv(tmp_path / "line.yaml", 4), cv_dir=tmp_path / "cv", workers=1)
    header, oof = read_table(tmp_path / "cv" / "oof.csv")
    assert header == ["row", "repeat", "fold", "t", "predicted_t"]
    assert [float(r[3]) for r in oof] == pytest.approx(2 * x + 100, rel=1e-6)
    assert list(result.doc["mean"]) == ["loss", "mae"]
    rows = [r for r in oof if r[2] == "1"]
    (tmp_path / "in.csv").write_text("x\n" + "".join(f"{x[int(r[0])]}\n" for r in rows))
    predicted = run("predict", tmp_path / "cv" / "fold=1", tmp_path / "in.csv")
    assert [line.split(",")[1] for line in predicted.stdout.splitlines()[1:]] == [r[4] for r in rows]


def test_ctrl_c_judges_and_writes_the_folds_that_finished(tmp_path):
    plan = plan_cv(XOR, 2, repeats=2, overrides=["training.epochs=300"])

    def on_result(entry):
        raise KeyboardInterrupt  # as if Ctrl-C came right after the first fold came back

    with pytest.raises(CVInterrupted) as stop:
        run_cv(plan, cv_dir=tmp_path / "cv", workers=1, on_result=on_result)
    doc = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert doc == stop.value.result.doc and doc["status"] == "interrupted"
    statuses = [r["status"] for r in doc["runs"]]
    assert statuses[0] == "completed" and statuses[2:] == ["cancelled", "cancelled"]
    assert doc["mean"]["accuracy"] == np.mean([r["metrics"]["accuracy"] for r in doc["runs"] if r["status"] == "completed"])
    header, oof = read_table(tmp_path / "cv" / "oof.csv")
    assert header == ["row", "repeat", "fold", "y", "predicted_y", "p_1"]  # one sigmoid: the second class's
    assert len(oof) == 2 * statuses.count("completed")


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs Dask's distributed (pip install 'nntrain[dask]')")
def test_a_cv_on_dask_gives_the_local_results(table, tmp_path):
    import distributed

    config, local = table
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        with pytest.warns(NNTrainWarning, match="the Dask workers read .*tiny.csv themselves"):
            on_dask = run_cv(plan_cv(config, 5), cv_dir=tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert json.loads((tmp_path / "dask" / "sweep.json").read_text())["backend"]["kind"] == "dask"
    assert [r["metrics"] for r in on_dask.doc["runs"]] == [r["metrics"] for r in local.doc["runs"]]
    assert (tmp_path / "dask" / "oof.csv").read_bytes() == (local.cv_dir / "oof.csv").read_bytes()


# --------------------------------------------------------------------------------------------------
# nntrain cv


def test_cv_command_prints_the_folds_and_their_mean_and_std(in_tmp):
    config = write_table(in_tmp)
    result = run("cv", config, "--folds", "3", "--repeats", "2", "--workers", "2", "--no-plots")
    assert result.exit_code == 0, result.output
    first, *lines = result.stdout.splitlines()
    assert first.startswith("cv: runs/tiny-cv-") and first.endswith(" (3 folds x 2 repeats on 2 local workers)")
    cv_dir = Path(first.split()[1])
    doc = json.loads((cv_dir / "cv.json").read_text())
    assert "3 folds x 2 repeats: held-out metrics" in lines[0]
    assert lines[1].split() == ["repeat", "fold", "examples", "loss", "accuracy", "f1"]
    assert [line.split()[:3] for line in lines[3:9]] == [[str(r), str(f), "20"] for r in (0, 1) for f in (0, 1, 2)]
    mean = next(line for line in lines if line.split()[:1] == ["mean"]).split()
    assert mean[1:] == [f"{doc['mean'][name]:.5g}" for name in ("loss", "accuracy", "f1")]
    std = next(line for line in lines if line.split()[:1] == ["std"]).split()
    assert std[1:] == [f"{doc['std'][name]:.5g}" for name in ("loss", "accuracy", "f1")]
    assert result.stdout.rstrip().endswith("6 runs: 6 completed")
    assert "runs 6/6" in result.stderr  # the progress bar
    as_json = run("cv", config, "--folds", "3", "--workers", "1", "--no-plots", "-q", "--json", "--cv-dir", "j")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == json.loads(Path("j/cv.json").read_text())
    assert as_json.stderr.startswith("cv: j (3 folds on 1 local worker)\n")
    assert (Path("j/fold=0/curves.png").exists(), Path(f"{cv_dir}/fold=0/curves.png").exists()) == (False, False)


def test_a_failing_fold_exits_1_and_says_why(in_tmp):
    result = run("cv", XOR, "--folds", "2", "--set", "model.inputs=3", "-q", "--workers", "1", "--cv-dir", "c", "--no-plots")
    assert result.exit_code == 1
    assert "failed: fold=0: model.inputs: the data has 2 features, not 3" in result.stderr
    assert result.stdout.rstrip().endswith("2 runs: 2 failed")
    assert json.loads(Path("c/cv.json").read_text())["mean"] == {}


@pytest.mark.parametrize(
    "args,message",
    [
        (["--folds", "1"], "error: --folds 1: expected a number of folds from 2 to 1000"),
        (["--folds", "1001"], "error: --folds 1001: expected a number of folds from 2 to 1000"),
        (["--folds", "3", "--repeats", "0"], "error: --repeats 0: expected at least 1"),
        (["--folds", "11"], "data.split.folds: 11 folds need at least 11 examples of every class; class 'c' has 10"),
        (["--folds", "3", "--workers", "0"], "error: --workers 0: expected at least 1"),
        (["--folds", "3", "--set", "optimizer.lrr=1"], "error: --set optimizer.lrr=1: optimizer.lrr: unknown key 'lrr'"),
    ],
)
def test_cv_command_bad_input_exits_2_before_any_run(in_tmp, args, message):
    config = write_table(in_tmp)
    result = run("cv", config, "--no-plots", "-q", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output and not Path("runs").exists()


def test_cv_command_config_that_does_not_exist(in_tmp):
    result = run("cv", "nope.yaml", "--folds", "3")
    assert (result.exit_code, result.stderr) == (2, "error: nope.yaml: config file not found\n")
    assert not Path("runs").exists()


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_stops_the_cv_and_keeps_the_folds_that_finished(tmp_path):
    args = ["cv", str(XOR), "--no-plots", "--folds", "2", "--repeats", "3", "--set", "training.epochs=4000", "--workers", "2", "--cv-dir", "c"]
    # settle: time for the driver to judge the completed fold
    process, out, err = signal_once_completed(args, tmp_path, tmp_path / "c" / "repeat=0,fold=0", signal.SIGINT, settle=0.3)
    assert process.returncode == 130, err
    assert "interrupted; finished runs are in c" in err and "Traceback" not in err
    doc = json.loads((tmp_path / "c" / "cv.json").read_text())
    assert doc["status"] == "interrupted" and doc["runs"][0]["status"] == "completed"
    done = [r for r in doc["runs"] if r["status"] == "completed"]
    assert doc["mean"]["accuracy"] == np.mean([r["metrics"]["accuracy"] for r in done])
    assert len(read_table(tmp_path / "c" / "oof.csv")[1]) == 2 * len(done)
    assert "held-out metrics" in out


def test_cv_dir_must_be_new(in_tmp):
    Path("taken").mkdir()
    result = run("cv", XOR, "--folds", "2", "-q", "--cv-dir", "taken")
    assert (result.exit_code, result.stderr) == (
        2, "error: taken: already exists; cross-validations are never overwritten, choose a new --cv-dir\n",
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# compare and runs on a cv directory


def test_compare_takes_a_cv_directory_as_one_entry_with_mean_and_std(table):
    config, result = table
    plain_dir = result.cv_dir.parent / "plain"  # beside the cv directory
    plain = run("fit", config, "--run-dir", plain_dir, "--no-plots", "-q")
    assert plain.exit_code == 0, plain.output
    assert expand([result.cv_dir.parent]) == [result.cv_dir, plain_dir] and len(find_runs(result.cv_dir)) == 5
    compared = compare([result.cv_dir, plain_dir])
    assert compared["metric"] == "val_accuracy"
    cv_entry = next(r for r in compared["runs"] if r["run"] == str(result.cv_dir))
    mean, std = result.doc["mean"]["accuracy"], result.doc["std"]["accuracy"]
    assert (cv_entry["best"], cv_entry["final"], cv_entry["std"], cv_entry["best_epoch"]) == (mean, mean, std, None)
    assert (cv_entry["label"], cv_entry["status"], cv_entry["folds"], cv_entry["repeats"]) == ("cv", "cv", 5, 1)
    assert cv_entry["final_metrics"]["val_loss"] == result.doc["mean"]["loss"]
    assert compared["differences"] == ["data.split.folds"]  # not the fold: every fold's own
    shown = run("compare", result.cv_dir, plain_dir)
    assert shown.exit_code == 0, shown.output
    assert f"{mean:.5g} ± {std:.5g}" in " ".join(shown.stdout.split()) and "(5-fold cv)" in shown.stdout
    listed = run("runs", result.cv_dir.parent, "--json")
    assert listed.exit_code == 0, listed.output
    assert {Path(r["run"]).name for r in json.loads(listed.stdout)} == {*(f"fold={i}" for i in range(5)), "plain"}


@pytest.mark.parametrize(
    "doc,message",
    [
        ({"runs": []}, "damaged cv record: expected runs, mean, std, folds and repeats"),
        ({"runs": [], "mean": {"loss": "low"}, "std": {"loss": 0}, "folds": 2, "repeats": 1},
         "damaged cv record: a mean, std or count that is not a number"),
        ({"runs": [{"dir": "fold=0", "status": "failed"}], "mean": {}, "std": {}, "folds": 2, "repeats": 1},
         "no fold of the cross-validation completed (see cv.json)"),
    ],
)  # fmt: skip
def test_compare_on_a_damaged_cv_directory_is_one_line(tmp_path, doc, message):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "cv.json").write_text(json.dumps(doc))
    result = run("compare", tmp_path / "c")
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
