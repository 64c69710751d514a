"""How much faster a sweep runs with 2 local workers than with 1, and that the weights do not change.

    python benchmarks/sweep.py                    # 8 XOR runs of 500 epochs, 7 repeats
    python benchmarks/sweep.py --epochs 2000 --repeats 11
    python benchmarks/sweep.py --dask             # also on a local Dask cluster (2 worker processes)
    python benchmarks/sweep.py --cli              # `nntrain sweep` in a fresh process each time

The sweep is configs/xor.yaml with ``--seeds 8``: eight runs of the lecture's 2-4-1 network. Each
repeat times ``run_sweep`` whole -- starting the worker processes, training, sending the files back
and writing them (the plan is made once beforehand) -- with 1 worker and with 2, alternating, and
the medians are compared: the target is 2 workers <= 0.6 x the time of 1 worker. An untimed sweep
first starts the process that workers are forked from (once per Python process, ~0.5 s); ``--cli``
instead times ``nntrain sweep`` end to end in a fresh interpreter each time, start-up included.
The script then checks that every run's weights are bit-identical across the 1-worker, the 2-worker
and (with --dask) the Dask sweeps, so a fast wrong answer cannot pass.

Other processes competing for the two cores shrink any gain, so each repeat also measures what the
machine gives right now for the same work without a sweep: two processes, started and warmed up
beforehand, each fitting half of the runs at once, against one process fitting them all. That ratio
(0.5 on two idle cores) is the best a 2-worker sweep could reach at that moment; it is printed beside
the sweep's, with the load average.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nntrain.sweep._forkserver import BLAS_ONE_THREAD
from nntrain.runs.store import read_weights
from nntrain.sweep import plan_sweep, run_sweep
from _report import load_average, numbers

XOR = Path(__file__).resolve().parent.parent / "configs" / "xor.yaml"


def timed_sweep(plan, root, label, cli=False, **where):
    sweep_dir = Path(root) / label
    started = time.perf_counter()
    if cli:
        epochs = plan.variants[0].config.training.epochs
        command = [sys.executable, "-c", "from nntrain.__main__ import main; main()", "sweep", str(XOR), "-q", "--no-plots",
                   "--seeds", str(len(plan.variants)), "--set", f"training.epochs={epochs}",
                   "--workers", str(where["workers"]), "--sweep-dir", str(sweep_dir)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    else:
        run_sweep(plan, sweep_dir=sweep_dir, **where)
    elapsed = time.perf_counter() - started
    doc = json.loads((sweep_dir / "sweep.json").read_text())
    assert doc["counts"] == {"completed": len(plan.variants)}, doc["counts"]
    return elapsed, sweep_dir


# A process that fits the configs it reads (one JSON line) into a temporary directory, in process: the
# sweep's work without the sweep. It warms up, says "ready", fits them all on "go" and says "done".
FITS = """
import json, sys, tempfile
from pathlib import Path
from nntrain.config import ExperimentConfig
from nntrain.training.fit import fit
configs = [ExperimentConfig.model_validate(c) for c in json.loads(sys.stdin.readline())]
with tempfile.TemporaryDirectory() as root:
    fit(configs[0], run_dir=Path(root) / "warm-up")
    print("ready", flush=True)
    sys.stdin.readline()
    for i, config in enumerate(configs):
        fit(config, run_dir=Path(root) / str(i))
    print("done", flush=True)
"""


def fits_ratio(plan):
    """Two processes each fitting half of the plan's runs at once, over one process fitting them all
    (wall times, from "go" to the last "done"): the same training without a sweep around it, on the
    cores as the machine gives them right now -- the best a 2-worker sweep could reach."""
    configs = [v.config.model_dump(mode="json") for v in plan.variants]
    return _fits([configs[0::2], configs[1::2]]) / _fits([configs])


def _fits(shares):
    env = {**os.environ, **BLAS_ONE_THREAD}  # as the sweep's workers have it
    procs = [subprocess.Popen([sys.executable, "-c", FITS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for _ in shares]
    for proc, share in zip(procs, shares):
        proc.stdin.write(json.dumps(share) + "\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.stdout.readline().strip() == "done"
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.communicate()
    return elapsed


def same_weights(a, b):
    wa, wb = read_weights(a), read_weights(b)
    return sorted(wa) == sorted(wb) and all(wa[k].tobytes() == wb[k].tobytes() for k in wa)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8, help="runs in the sweep (seeds 0..runs-1)")
    parser.add_argument("--epochs", type=int, default=500, help="epochs per run (configs/xor.yaml has 500)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--dask", action="store_true", help="also run the sweep on a local Dask cluster")
    parser.add_argument("--cli", action="store_true", help="time `nntrain sweep` in a fresh interpreter each time")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_average(2)}")
    plan = plan_sweep(XOR, seeds=args.runs, overrides=[f"training.epochs={args.epochs}"])
    how = "`nntrain sweep` in a fresh process" if args.cli else "run_sweep in this process"
    print(f"sweep: {len(plan.variants)} XOR runs (2-4-1, batch 4) of {args.epochs} epochs, {how}; "
          f"medians of {args.repeats} alternating repeats\n")
    times = {1: [], 2: []}
    ceilings = []
    dirs = {}
    with tempfile.TemporaryDirectory() as root:
        if not args.cli:
            timed_sweep(plan, root, "warm-up", workers=2)
        for repeat in range(args.repeats):
            for workers in (1, 2) if repeat % 2 == 0 else (2, 1):
                elapsed, dirs[workers] = timed_sweep(plan, root, f"w{workers}-{repeat}", cli=args.cli, workers=workers)
                times[workers].append(elapsed)
            ceilings.append(fits_ratio(plan))
        one, two = statistics.median(times[1]), statistics.median(times[2])
        print(f"  1 worker    {one:6.2f} s   (repeats {numbers(times[1])})")
        print(f"  2 workers   {two:6.2f} s   (repeats {numbers(times[2])})")
        print(f"  2 / 1       {two / one:6.3f}     (target <= 0.6; per repeat {numbers(t2 / t1 for t1, t2 in zip(times[1], times[2]))})")
        print(f"  the same fits without a sweep, 2 processes / 1: {statistics.median(ceilings):.3f} "
              f"(per repeat {numbers(ceilings)}; 0.5 on two idle cores): the best a sweep could do now")

        compared = {"2 workers": dirs[2]}
        if args.dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
                dask_times = []
                for repeat in range(args.repeats):
                    elapsed, compared["Dask"] = timed_sweep(plan, root, f"dask-{repeat}", scheduler=cluster.scheduler_address)
                    dask_times.append(elapsed)
            print(f"  Dask, 2 worker processes {statistics.median(dask_times):6.2f} s   (repeats {numbers(dask_times)};"
                  " the cluster already running)")
        for label, sweep_dir in compared.items():
            identical = all(same_weights(dirs[1] / v.dirname, sweep_dir / v.dirname) for v in plan.variants)
            print(f"  weights of all {len(plan.variants)} runs, 1 worker vs {label}: "
                  f"{'bit-identical' if identical else 'DIFFERENT'}")
            if not identical:
                sys.exit(1)
    print(f"\nload average afterwards {load_average(2)}")


if __name__ == "__main__":
    main()
