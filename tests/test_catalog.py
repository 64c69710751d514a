"""Finding run directories and reading them back (nntrain.runs.catalog)."""

import time

import pytest

from nntrain.errors import RunError
from nntrain.runs.catalog import Run, expand, find_runs, load_run
from nntrain.runs.store import is_run_dir, iso_time, write_json


@pytest.fixture
def runs(tmp_path):
    """Three run directories a, b, c side by side in a folder (only what finding them looks at)."""
    root = tmp_path / "runs"
    paths = [root / name for name in ("a", "b", "c")]
    for path in paths:
        path.mkdir(parents=True)
        write_json(path / "summary.json", {"status": "completed"})
    return root, *paths


def test_expand_folders_globs_and_repeats(runs):
    root, a, b, c = runs
    assert expand([root]) == [a, b, c]
    assert expand([f"{root}/[ab]"]) == [a, b]
    assert expand([b, root]) == [b, a, c]  # order kept, repeats dropped
    nested = find_runs(root.parent)
    assert a in nested and b in nested and c in nested


def test_expand_errors(runs, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    cases = {
        tmp_path / "nope": "no such run directory",
        tmp_path / "empty": "not a run directory (no summary.json or config.yaml) and no run directories in it",
        tmp_path / "file.txt": "not a run directory (a file; expected a run's folder)",
        tmp_path / "nope-*": "no run directories match",
    }
    for path, message in cases.items():
        with pytest.raises(RunError) as e:
            expand([path])
        assert str(e.value) == f"{path}: {message}"


def test_a_run_directory_is_one_with_a_summary_or_a_config(tmp_path):
    (tmp_path / "config_only").mkdir()
    (tmp_path / "config_only" / "config.yaml").write_text("name: x\n")  # fit writes the config first
    (tmp_path / "summary_only").mkdir()
    write_json(tmp_path / "summary_only" / "summary.json", {"status": "running"})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "metrics.csv").write_text("epoch\n")
    assert [is_run_dir(tmp_path / name) for name in ("config_only", "summary_only", "other")] == [True, True, False]
    assert is_run_dir(str(tmp_path / "config_only")) and not is_run_dir(tmp_path / "nope")


def test_find_runs_never_descends_into_a_run(tmp_path):
    for path in (tmp_path / "sweep" / "x", tmp_path / "sweep" / "x" / "inner", tmp_path / "b"):
        path.mkdir(parents=True)
        write_json(path / "summary.json", {"status": "completed"})
    assert find_runs(tmp_path) == [tmp_path / "b", tmp_path / "sweep" / "x"]
    assert find_runs(tmp_path / "sweep" / "x") == [tmp_path / "sweep" / "x"]


def test_a_run_still_running_may_have_no_metrics_yet(tmp_path):
    write_json(tmp_path / "summary.json", {"status": "running"})
    run = load_run(tmp_path)
    assert (run.metrics, run.columns, list(run.epochs), run.config) == ({}, [], [], None)
    write_json(tmp_path / "summary.json", {"status": "completed"})
    with pytest.raises(RunError, match="no metrics.csv in the run directory"):
        load_run(tmp_path)


def test_the_start_time_reads_back_what_the_run_files_write(tmp_path):
    now = time.time()
    assert Run(tmp_path, {"started": iso_time(now)}, {}).started.timestamp() == int(now)
    assert Run(tmp_path, {}, {}).started is None and Run(tmp_path, {"started": "yesterday"}, {}).started is None
