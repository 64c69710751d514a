"""nntrain.report and ``nntrain report``: the page of one run and of several, the live callback, and the
pages opened in headless Chromium (Playwright): drawn without errors, holding the runs' data, offline."""

import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_config, run_cli

from nntrain.errors import UsageError
from nntrain.report import REPORT, build_report
from nntrain.report.run import decision_regions
from nntrain.runs.store import read_columns
from nntrain.training.fit import fit

pytest.importorskip("plotly", reason="the report needs plotly (nntrain[report])")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A folder of XOR runs: two learning rates × two seeds, 25 epochs each."""
    root = tmp_path_factory.mktemp("runs")
    for lr in (0.01, 0.05):
        for seed in (0, 1):
            config = make_config(seed=seed, optimizer={"name": "adam", "lr": lr}, training={"epochs": 25})
            fit(config, run_dir=root / f"lr{lr}-s{seed}")
    return root


@pytest.fixture(scope="module")
def run(runs):
    return runs / "lr0.05-s0"


def page_data(path):
    """The figures' JSON that a page holds."""
    text = Path(path).read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="figures">(.*?)</script>', text, re.S).group(1)
    return json.loads(block.replace("<\\/", "</"))


# --------------------------------------------------------------------------------------------------
# One run


def test_one_run_report_is_self_contained_and_holds_the_metrics(run):
    out = build_report([run])
    assert out == run / REPORT
    text = out.read_text(encoding="utf-8")
    assert "<script src" not in text and "<link" not in text  # nothing fetched (the browser test checks too)
    assert text.count("Plotly.newPlot") == 1 and len(text) > 4_000_000  # plotly.js inlined, once
    assert 'http-equiv="refresh"' not in text
    figures = page_data(out)
    loss = next(f for f in figures if f["layout"]["title"]["text"] == "loss")
    assert loss["data"][0]["y"] == read_columns(run)["loss"].tolist()
    titles = [f["layout"]["title"]["text"] for f in figures]
    assert any(t.startswith("gradient norm") for t in titles) and "decision regions" in titles


def test_one_run_report_escapes_user_text(tmp_path):
    run_dir = fit(make_config(training={"epochs": 2}), run_dir=tmp_path / "<i>x&y").run_dir
    text = build_report([run_dir], tmp_path / "out.html").read_text(encoding="utf-8")
    body = text[text.index("</head>") :]
    assert "<i>x&y" not in body and "&lt;i&gt;x&amp;y" in body


def test_decision_regions_cover_the_plane(run):
    figure = decision_regions(run, resolution=30)
    contour, line, *points = figure["data"]
    assert np.array(contour["z"]).shape == (30, 30) and 0 <= np.min(contour["z"]) <= np.max(contour["z"]) <= 1
    assert sorted(len(p["x"]) for p in points) == [2, 2]  # XOR's four points, two per class


def test_decision_regions_need_a_2d_classifier(tmp_path):
    config = make_config(data={"source": "sine", "n_samples": 40}, model={"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "linear"}]},
                         loss="mse", metrics=["mae"], training={"epochs": 2})
    run_dir = fit(config, run_dir=tmp_path / "sine").run_dir
    with pytest.raises(UsageError, match="decision regions are drawn for classifiers; this run regresses"):
        decision_regions(run_dir)
    text = build_report([run_dir]).read_text(encoding="utf-8")
    assert "no decision regions: " in text  # the page says why, and is written


def test_eval_plots_are_embedded(tmp_path):
    run_dir = fit(make_config(training={"epochs": 3}), run_dir=tmp_path / "r").run_dir
    (run_dir / "eval" / "train").mkdir(parents=True)
    (run_dir / "eval" / "train" / "roc.png").write_bytes(b"\x89PNG fake")
    text = build_report([run_dir]).read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and "train: roc" in text


# --------------------------------------------------------------------------------------------------
# Several runs


def test_several_runs_compare_bands_and_parallel_coordinates(runs, tmp_path):
    out = build_report([runs], tmp_path / "many.html")
    figures = page_data(out)
    titles = [f["layout"]["title"]["text"] for f in figures]
    assert "loss of 4 runs" in titles
    bands = next(f for f in figures if f["layout"]["title"]["text"] == "loss: mean ± std over seeds")
    means = [t for t in bands["data"] if t.get("showlegend", True)]
    assert [t["name"] for t in means] == ["optimizer.lr=0.05 (2 seeds)", "optimizer.lr=0.01 (2 seeds)"]  # best first
    losses = [read_columns(runs / f"lr0.01-s{s}")["loss"] for s in (0, 1)]
    assert np.allclose(means[1]["y"], np.mean(losses, axis=0))
    parcoords = next(f for f in figures if f["data"][0]["type"] == "parcoords")
    assert [d["label"] for d in parcoords["data"][0]["dimensions"]] == ["optimizer.lr", "accuracy"]
    assert "<td>lr0.05-s1</td>" in out.read_text(encoding="utf-8")


def test_default_outputs(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert build_report([runs / "lr0.01-s0", runs / "lr0.01-s1"]) == Path(REPORT)
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text("{}")
    for name in ("lr0.01-s0", "lr0.05-s0"):
        shutil.copytree(runs / name, tmp_path / "sweep" / name)
    assert build_report([tmp_path / "sweep"]) == tmp_path / "sweep" / REPORT


# --------------------------------------------------------------------------------------------------
# The command line and its errors


def test_cli_report(run, tmp_path):
    result = run_cli("report", run, "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"report: {tmp_path / 'r.html'}\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}/nowhere"], "{tmp}/nowhere: no such run directory"),
        (["{tmp}"], "{tmp}: not a run directory (no summary.json or config.yaml) and no run directories in it"),
        (["{run}", "-o", "{tmp}/missing/r.html"], "{tmp}/missing/r.html: folder {tmp}/missing does not exist"),
    ],
)
def test_cli_errors(args, message, run, tmp_path):
    result = run_cli("report", *(a.format(tmp=tmp_path, run=run) for a in args))
    assert result.exit_code == 2
    assert result.stderr == f"error: {message.format(tmp=tmp_path)}\n"


def test_cli_without_plotly(run, tmp_path, monkeypatch):
    import nntrain.report.page as page

    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setattr(page, "plotly_js", page.plotly_js.__wrapped__)  # not the cached copy
    result = run_cli("report", run, "-o", tmp_path / "r.html")
    assert result.exit_code == 2
    assert result.stderr == "error: the report needs plotly: pip install 'nntrain[report]'\n"


# --------------------------------------------------------------------------------------------------
# Live


def test_live_report_while_training_and_at_the_end(tmp_path):
    pages = {}

    def on_epoch(epoch, logs):  # the first epoch's page, written in the background: wait for it
        path, deadline = tmp_path / "live" / REPORT, time.monotonic() + 10
        while epoch == 1 and not path.is_file() and time.monotonic() < deadline:
            time.sleep(0.01)
        if epoch == 1:
            pages[epoch] = path.read_text(encoding="utf-8")

    fit(make_config(training={"epochs": 40, "live": True}), run_dir=tmp_path / "live", on_epoch=on_epoch)
    [(epoch, running)] = pages.items()
    assert 'http-equiv="refresh" content="3"' in running and "running" in running
    final = (tmp_path / "live" / REPORT).read_text(encoding="utf-8")
    assert 'http-equiv="refresh"' not in final and "completed" in final
    loss = next(f for f in page_data(tmp_path / "live" / REPORT) if f["layout"]["title"]["text"] == "loss")
    assert loss["data"][0]["y"] == read_columns(tmp_path / "live")["loss"].tolist()


def test_live_report_of_a_resumed_run_starts_from_its_checkpoint(tmp_path):
    from nntrain.report.live import LiveReport
    from nntrain.runs.store import write_metrics

    run_dir = fit(make_config(training={"epochs": 6}), run_dir=tmp_path / "r").run_dir
    rows = [{"epoch": e, "loss": 1.0 / e} for e in range(1, 7)]
    write_metrics(run_dir / "metrics.csv", rows)
    callback = LiveReport.start(run_dir, make_config(training={"epochs": 10, "live": True}), ["loss"], epochs=4)
    assert [row["epoch"] for row in callback.history] == [1, 2, 3, 4]  # epochs 5, 6 come again
    assert LiveReport.start(run_dir, make_config(), ["loss"]) is None  # training.live off


def test_live_report_without_plotly_is_a_usage_error(tmp_path, monkeypatch):
    import nntrain.report.page as page
    from nntrain.report.live import LiveReport

    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setattr(page, "plotly_js", page.plotly_js.__wrapped__)
    with pytest.raises(UsageError, match=r"pip install 'nntrain\[report\]'"):
        LiveReport(tmp_path, make_config(training={"live": True}), ["loss"])


# --------------------------------------------------------------------------------------------------
# In a real browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian's chromium package)")
    playwright = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (pip install playwright)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, path):
    """(page, errors, requests) of a report opened from its file, once plotly has drawn every chart."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://") else route.abort())
    page.goto(Path(path).resolve().as_uri())
    n = len(page_data(path))
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length === {n}", timeout=20_000)
    return page, errors, requests


def test_browser_draws_one_run(browser, run, tmp_path):
    out = build_report([run], tmp_path / "one.html")
    page, errors, requests = open_page(browser, out)
    try:
        assert errors == []
        assert requests == [out.resolve().as_uri()]  # the page itself, nothing else
        drawn = page.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => [d.layout.title.text, d.data.map(t => t.y)])"
        )
        loss = next(ys for title, ys in drawn if title == "loss")
        assert loss[0] == read_columns(run)["loss"].tolist()
        assert page.locator(".js-plotly-plot .main-svg").count() > 0
        page.locator(".updatemenu-button", has_text="log").first.click()  # the log toggle
        assert page.evaluate("document.querySelectorAll('.js-plotly-plot')[0].layout.yaxis.type") == "log"
        assert errors == []
    finally:
        page.close()


def test_browser_draws_several_runs(browser, runs, tmp_path):
    out = build_report([runs], tmp_path / "many.html")
    page, errors, requests = open_page(browser, out)
    try:
        assert errors == [] and requests == [out.resolve().as_uri()]
        kinds = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => d.data[0].type)")
        assert "parcoords" in kinds
    finally:
        page.close()


@pytest.mark.slow  # waits for the page's own reload (3 s)
def test_browser_live_page_reloads_while_running(browser, tmp_path):
    from nntrain.report.live import LiveReport

    run_dir = fit(make_config(training={"epochs": 5}), run_dir=tmp_path / "r").run_dir
    live = LiveReport(run_dir, make_config(training={"epochs": 50, "live": True}), ["loss", "accuracy"])
    rows = read_columns(run_dir)
    history = [{"epoch": int(e), "loss": float(l)} for e, l in zip(rows["epoch"], rows["loss"])]
    (run_dir / REPORT).write_bytes(live.page(history, []))
    page, errors, _ = open_page(browser, run_dir / REPORT)
    try:
        history.append({"epoch": 6, "loss": 0.125})
        (run_dir / REPORT).write_bytes(live.page(history, []))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the page reloads itself (meta refresh, 3 s)
            try:
                ys = page.evaluate("document.querySelectorAll('.js-plotly-plot')[0]?.data?.[0]?.y")
            except Exception:  # noqa: BLE001 -- evaluated mid-navigation
                ys = None
            if ys and ys[-1] == 0.125:
                break
            time.sleep(0.2)
        assert ys and ys[-1] == 0.125 and len(ys) == 6
        assert errors == []
    finally:
        page.close()


def test_fit_live_says_where_the_report_is_and_a_resume_keeps_its_config(tmp_path):
    xor = Path(__file__).parent.parent / "configs" / "xor.yaml"
    result = run_cli("fit", xor, "--live", "-q", "--no-plots", "--set", "training.epochs=5", "--run-dir", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == f"report: {tmp_path / 'r' / 'report.html'} (live: open it in a browser)"
    assert "training:" in (tmp_path / "r" / "config.yaml").read_text() and "live: true" in (tmp_path / "r" / "config.yaml").read_text()
    assert (tmp_path / "r" / "report.html").is_file()
    again = run_cli("fit", "--resume", tmp_path / "r", "--live")
    assert (again.exit_code, again.stderr) == (2, "error: --resume continues a run with its own config; its training.live says whether it does what --live asks\n")
