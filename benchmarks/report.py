"""What ``nntrain report`` makes and costs, and what the live report (training.live) costs training.

    python benchmarks/report.py                  # a few minutes on two shared cores
    python benchmarks/report.py --epochs 600 --rounds 2

Printed:

1. the report of a 500-epoch run (configs/moons.yaml, 500 epochs: curves, diagnostics, decision
   regions): the page's size (and plotly.js's share of it) and the time to build it;
2. the report of a 50-run sweep (configs/xor.yaml, ``--grid optimizer.lr=`` 10 values × ``--seeds 5``,
   100 epochs each, made with ``plan_sweep`` + ``run_sweep``): size and build time;
3. the live report's cost: configs/digits.yaml (a 64-256-10 MLP, dropout, Adam) trained with and
   without ``training.live``, the sides taking turns; the wall times, and -- steadier on a shared
   machine -- the time the callback itself took: on the training thread (``epoch``: keeping the
   logs, starting a page) and in its background thread (making and writing pages), as shares of
   the training time. The target: at most 3 %.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import load_average, numbers  # noqa: E402


def timed(fn, *args, repeat=3):
    """(the last result, the best of ``repeat`` times in seconds)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    return result, min(times)


def one_run(tmp):
    from nntrain.config import load_config
    from nntrain.report import build_report
    from nntrain.report.page import plotly_js
    from nntrain.training.fit import fit

    config = load_config(ROOT / "configs" / "moons.yaml", ["training.epochs=500"])
    t0 = time.perf_counter()
    run_dir = fit(config, run_dir=tmp / "moons-500").run_dir
    trained = time.perf_counter() - t0
    out, seconds = timed(build_report, [run_dir], tmp / "moons.html")
    size, js = out.stat().st_size, len(plotly_js())
    print(f"500-epoch run (moons, trained in {trained:.1f} s): report {size / 1e6:.2f} MB "
          f"(plotly.js {js / 1e6:.2f} MB, the rest {(size - js) / 1e3:.0f} kB), built in {seconds:.2f} s (best of 3)")


def sweep(tmp):
    from nntrain.report import build_report
    from nntrain.sweep import plan_sweep, run_sweep

    lrs = ",".join(f"{0.005 * (k + 1):g}" for k in range(10))
    plan = plan_sweep(ROOT / "configs" / "xor.yaml", grid=[f"optimizer.lr={lrs}"], seeds=5, overrides=["training.epochs=100"])
    t0 = time.perf_counter()
    result = run_sweep(plan, sweep_dir=tmp / "sweep", workers=2)
    ran = time.perf_counter() - t0
    out, seconds = timed(build_report, [result.sweep_dir])
    print(f"50-run sweep (xor, 100 epochs each, run in {ran:.1f} s): report {out.stat().st_size / 1e6:.2f} MB, "
          f"built in {seconds:.2f} s (best of 3)")


def live(tmp, epochs, rounds):
    from nntrain.config import load_config
    from nntrain.report.live import LiveReport
    from nntrain.training.fit import fit

    made = []  # the callbacks started
    epoch_seconds = []  # time in LiveReport.epoch, on the training thread
    start, epoch = LiveReport.start.__func__, LiveReport.epoch

    def started(cls, *args, **kwargs):
        callback = start(cls, *args, **kwargs)
        if callback is not None:
            made.append(callback)
        return callback

    def timed_epoch(self, *args):
        t0 = time.perf_counter()
        epoch(self, *args)
        epoch_seconds.append(time.perf_counter() - t0)

    LiveReport.start, LiveReport.epoch = classmethod(started), timed_epoch
    walls = {False: [], True: []}
    shares = []
    for r in range(rounds):
        for on in (False, True):
            config = load_config(ROOT / "configs" / "digits.yaml", [f"training.epochs={epochs}", f"training.live={str(on).lower()}"])
            epoch_seconds.clear()
            t0 = time.perf_counter()
            fit(config, run_dir=tmp / f"digits-{r}-{on}")
            wall = time.perf_counter() - t0
            walls[on].append(wall)
            if on:
                callback = made[-1]
                pages = callback.spent
                shares.append((sum(epoch_seconds) / wall, pages / wall))
    without, with_ = statistics.median(walls[False]), statistics.median(walls[True])
    print(f"live report, digits MLP, {epochs} epochs, {rounds} rounds a side: wall without {numbers(walls[False])} s, "
          f"with {numbers(walls[True])} s; medians' ratio {with_ / without:.3f}")
    main, pages = statistics.median(s[0] for s in shares), statistics.median(s[1] for s in shares)
    print(f"  the callback itself: {100 * main:.2f} % of the training time on the training thread, "
          f"{100 * pages:.2f} % in its background thread (pages made and written), {100 * (main + pages):.2f} % together")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2500, help="the live benchmark's epochs of digits (about 30 s each)")
    parser.add_argument("--rounds", type=int, default=2, help="the live benchmark's fits a side")
    args = parser.parse_args()
    print(f"load average: {load_average()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one_run(tmp)
        sweep(tmp)
        live(tmp, args.epochs, args.rounds)


if __name__ == "__main__":
    main()
