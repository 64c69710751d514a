"""HTML reports of runs (``nntrain report``; ``pip install 'nntrain[report]'``): one self-contained page
that opens offline in a browser -- plotly.js inlined once, no CDN, no request.

- one run (``nntrain.report.run``): learning curves with a log-scale toggle, per-layer diagnostics,
  a 2-D classifier's decision regions, eval plots, the network's summary and the resolved config;
- several runs, a sweep or a cv directory (``nntrain.report.many``): the compare table, overlaid
  curves, seed groups as mean ± std bands, parallel coordinates of the varied keys;
- live (``training.live``; ``nntrain.report.live``): a run callback that keeps RUN/report.html up to
  date while the run trains; the page reloads itself while the run is running.

This module imports neither plotly nor the engine: ``build_report`` does when called.
"""

from pathlib import Path

REPORT = "report.html"
SWEEP_FILE = "sweep.json"  # a sweep directory's index (nntrain.sweep.record.SWEEP_FILE)


def require():
    """UsageError unless plotly (the ``report`` extra) is installed."""
    from .page import require

    require()


def build_report(args, output=None, metric=None):
    """Write the report of ``args`` (run directories, sweep or cv directories, folders of runs, globs);
    returns the path written.

    One run: its own report, by default RUN/report.html. Several runs: their comparison, by default
    DIR/report.html for one sweep or cv directory, else ./report.html. ``metric``: the column that
    ranks several runs (compare's default when None). The page is written atomically, replacing an
    older one. UsageError for plotly missing or an output in a folder that does not exist; RunError
    for a path that is not a run, sweep or cv directory, or holds no runs.
    """
    from ..runs.store import check_output, write_bytes

    require()
    single, paths, folder, held_out = _resolve(args)
    output = Path(output) if output is not None else (folder or Path(".")) / REPORT
    check_output(output, force=True)
    if single:
        from .run import run_report

        data = run_report(paths[0])
    else:
        from .many import many_page

        title = f"{folder.name}: {len(paths)} runs" if folder else f"{len(paths)} runs"
        page, _ = many_page(paths, title, metric, held_out)
        data = page.render(_folder_line(folder, held_out))
    write_bytes(output, data)
    return output


def _folder_line(folder, held_out):
    from .page import esc

    return f"{esc(folder)}{' · cross-validation' if held_out is not None else ''}" if folder else ""


def _resolve(args):
    """(one run?, run directories, the folder whose report it is or None, a cv directory's Run or None)."""
    from ..runs.catalog import expand, find_runs, is_cv_dir
    from ..runs.store import is_run_dir

    args = [Path(a) for a in args]
    if len(args) == 1 and args[0].is_dir():
        path = args[0]
        if is_run_dir(path):
            return True, [path], path, None
        if is_cv_dir(path):
            return False, _some(path, find_runs(path)), path, _held_out(path)
        if (path / SWEEP_FILE).is_file():
            return False, _some(path, find_runs(path)), path, None
    paths = {}
    for arg in args:
        found = find_runs(arg) if arg.is_dir() and is_cv_dir(arg) else expand([arg])
        for p in found:
            paths.setdefault(p.resolve(), p)
    paths = list(paths.values())
    if len(paths) == 1 and not is_cv_dir(paths[0]):
        return True, paths, paths[0], None
    return False, paths, None, None


def _held_out(cv_dir):
    """A cv directory's Run of held-out results, or None before a fold completed."""
    from ..errors import RunError
    from ..runs.catalog import load_cv

    try:
        return load_cv(cv_dir)
    except RunError:
        return None


def _some(folder, runs):
    from ..errors import RunError

    if not runs:
        raise RunError(f"{folder}: no run directories in it (yet)")
    return runs
