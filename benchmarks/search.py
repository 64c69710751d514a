"""What a hyperparameter search (``nntrain sweep --search``) buys and costs: the epochs median pruning
saves and what it loses, TPE against random sampling on the same budget, and the search's own time
per trial.

    python benchmarks/search.py            # ~3 minutes on two shared cores
    python benchmarks/search.py --quick    # everything ~4x smaller: a smoke run

All three parts run in this one process, each search into a sweep directory of its own under a
temporary directory, on ``--workers`` local workers (2). The load average is printed before and after.

1. **Pruning.** configs/digits.yaml (scikit-learn's 1,797 8x8 digits; 70 % train, 10 % validation,
   one hidden ReLU layer with dropout) cut to ``--epochs`` (30) epochs, searched over
   ``optimizer.lr=loguniform(1e-4,1e-1)`` and ``model.layers.0.units=int(16,256,log)`` by TPE for
   ``--trials`` (40) trials, judged by val_loss's best epoch: once with ``prune="median"`` and once
   with ``prune="none"``, same search seed and workers, for ``--prune-seeds`` (3) search seeds (the
   order of the two alternating). Printed per seed: the epochs trained by each (the sum of every
   trial's summary.json ``epochs``), the best trial's val_loss and its number, the wall time, and
   how many leading trials the two searches share (the same values until the first pruned trial
   changes what TPE has seen); then over all seeds the cut in epochs (target >= 40 %) and the best
   val_loss of each pruned search relative to its unpruned twin's (target: within 0.5 %), beside
   how much the unpruned searches' best differs from one search seed to another, for scale.
2. **TPE against random.** The same space and runs, no pruning, ``--compare-trials`` (40) trials per
   search, for ``--seeds`` (5) search seeds with each method: mean and standard deviation over the
   seeds of the best val_loss among the first N/2 trials and among all N (in the order they were
   asked), and on how many seeds each method won. Optuna's TPE draws its first 10 trials at random
   (``n_startup_trials``) with the same seeded sampler the random search uses, so the first 10 trials
   of the two are the same and only the later ones compare the samplers: hence 40 trials, not fewer.
3. **Per-trial overhead.** A search of ``--overhead-trials`` (40) trials of configs/xor.yaml with
   ``training.epochs=1`` on 1 worker (space: lr, hidden units, activation; TPE, pruning on, so the
   pruning history travels too): the wall time of ``run_search`` minus the sum of the trials' own
   ``wall_time_s`` (summary.json), divided by the trials. The same for ``run_sweep`` of a 40-variant
   grid of the same runs (``seed=0,...,39``), a plain sweep's cost per run; the difference is the
   search's own share (ask, tell, the study's journal, plan.json rewritten every batch). Medians of
   ``--repeats`` (3), the two alternating; an untimed sweep first starts the process workers are
   forked from. Target: search overhead < 50 ms per trial.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from nntrain.errors import NNTrainWarning
from nntrain.runs.store import read_summary
from nntrain.sweep import plan_sweep, run_sweep
from nntrain.sweep.search import plan_search, run_search
from _report import load_average, numbers

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
DIGITS = CONFIGS / "digits.yaml"
XOR = CONFIGS / "xor.yaml"
DIGITS_SPACE = ["optimizer.lr=loguniform(1e-4,1e-1)", "model.layers.0.units=int(16,256,log)"]
XOR_SPACE = ["optimizer.lr=loguniform(1e-3,1e-1)", "model.layers.0.units=int(2,8)", "model.layers.0.activation=choice(tanh,relu)"]


def timed_search(root, label, config, *, workers, **settings):
    """(seconds of run_search, seconds of plan_search, the SweepResult, the sweep directory)."""
    started = time.perf_counter()
    plan = plan_search(config, **settings)
    planned = time.perf_counter()
    sweep_dir = Path(root) / label
    result = run_search(plan, sweep_dir=sweep_dir, workers=workers)
    return time.perf_counter() - planned, planned - started, result, sweep_dir


def epochs_trained(result, sweep_dir):
    return sum(read_summary(sweep_dir / r["dir"])["epochs"] for r in result.runs if (sweep_dir / r["dir"] / "summary.json").is_file())


def run_seconds(result, sweep_dir):
    return sum(read_summary(sweep_dir / r["dir"])["wall_time_s"] for r in result.runs)


def best(entries):
    values = [e["objective"] for e in entries if e.get("objective") is not None]
    return min(values) if values else float("nan")


def statuses(result):
    counts = {}
    for r in result.runs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def pruning(root, args):
    seeds = range(args.search_seed, args.search_seed + args.prune_seeds)
    print(f"1. pruning: digits, {args.epochs} epochs per trial, TPE, {args.trials} trials, {args.workers} workers, "
          f"metric val_loss (best epoch), search seeds {seeds.start}..{seeds.stop - 1}")
    print(f"   space: {'  '.join(DIGITS_SPACE)}")
    totals = {"none": dict(epochs=0, seconds=0.0), "median": dict(epochs=0, seconds=0.0)}
    diffs, unpruned = [], []
    for seed in seeds:
        outcome = {}
        for prune in (["median", "none"] if seed % 2 == 0 else ["none", "median"]):
            seconds, _, result, sweep_dir = timed_search(
                root, f"prune-{prune}-{seed}", DIGITS, workers=args.workers, method="tpe", trials=args.trials, space=DIGITS_SPACE,
                metric="val_loss", prune=prune, seed=seed, overrides=[f"training.epochs={args.epochs}"])
            objectives = [r.get("objective") if r.get("objective") is not None else float("inf") for r in result.runs]
            outcome[prune] = dict(seconds=seconds, epochs=epochs_trained(result, sweep_dir), best=best(result.runs),
                                  at=objectives.index(min(objectives)), runs=result.runs, statuses=statuses(result))
            totals[prune]["epochs"] += outcome[prune]["epochs"]
            totals[prune]["seconds"] += seconds
        shared = next((i for i, (a, b) in enumerate(zip(outcome["none"]["runs"], outcome["median"]["runs"])) if a["values"] != b["values"]),
                      args.trials)
        print(f"   search seed {seed}  (the first {shared} trials asked the same values in both searches)")
        for prune in ("none", "median"):
            o = outcome[prune]
            print(f"     prune={prune:<6} {o['epochs']:5d} epochs trained (of {args.trials * args.epochs})   best val_loss {o['best']:.4f} "
                  f"(trial {o['at']:2d})   {o['seconds']:5.1f} s   ({o['statuses']})")
        cut = 1 - outcome["median"]["epochs"] / outcome["none"]["epochs"]
        diff = outcome["median"]["best"] / outcome["none"]["best"] - 1
        diffs.append(diff)
        unpruned.append(outcome["none"]["best"])
        print(f"     epochs cut {100 * cut:5.1f} %   best val_loss pruned vs not {100 * diff:+6.2f} %   "
              f"wall time cut {100 * (1 - outcome['median']['seconds'] / outcome['none']['seconds']):5.1f} %")
    cut = 1 - totals["median"]["epochs"] / totals["none"]["epochs"]
    print(f"   all seeds: epochs trained {totals['none']['epochs']} without pruning, {totals['median']['epochs']} with; "
          f"wall time {totals['none']['seconds']:.1f} s without, {totals['median']['seconds']:.1f} s with")
    print(f"   epochs cut by pruning         {100 * cut:6.1f} %   (target >= 40 %)")
    print(f"   best val_loss, pruned vs not  {numbers([100 * d for d in diffs], 2)} %  per seed, mean {100 * statistics.mean(diffs):+.2f} %"
          f"   (target within 0.5 %; + is worse)")
    print(f"   wall time cut by pruning      {100 * (1 - totals['median']['seconds'] / totals['none']['seconds']):6.1f} %")
    if len(unpruned) > 1:
        print(f"   for scale: the unpruned searches' best val_loss differs from seed to seed by "
              f"{100 * statistics.stdev(unpruned) / statistics.mean(unpruned):.1f} % (std / mean over {len(unpruned)} seeds)")
    return cut, diffs


def compare(root, args):
    n, half = args.compare_trials, args.compare_trials // 2
    seeds = range(args.seeds)
    print(f"\n2. TPE against random: the same digits search, no pruning, {n} trials each, search seeds {seeds.start}..{seeds.stop - 1}, "
          f"{args.workers} workers")
    bests = {"tpe": {half: [], n: []}, "random": {half: [], n: []}}
    seconds = {"tpe": [], "random": []}
    for seed in seeds:
        for method in (["tpe", "random"] if seed % 2 == 0 else ["random", "tpe"]):
            took, _, result, _ = timed_search(
                root, f"{method}-{seed}", DIGITS, workers=args.workers, method=method, trials=n, space=DIGITS_SPACE,
                metric="val_loss", prune="none", seed=seed, overrides=[f"training.epochs={args.epochs}"])
            seconds[method].append(took)
            for k in (half, n):
                bests[method][k].append(best(result.runs[:k]))
    for k in (half, n):
        for method in ("tpe", "random"):
            values = bests[method][k]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            print(f"   {method:<6} best val_loss after {k:3d} trials: mean {statistics.mean(values):.4f}  std {spread:.4f}   "
                  f"(per seed {numbers(values, 4)})")
        tpe_wins = sum(t < r for t, r in zip(bests["tpe"][k], bests["random"][k]))
        ties = sum(t == r for t, r in zip(bests["tpe"][k], bests["random"][k]))
        print(f"          after {k:3d} trials TPE is better on {tpe_wins} of {len(seeds)} seeds, random on "
              f"{len(seeds) - tpe_wins - ties}, tied on {ties}")
    print(f"   wall time per search: TPE {statistics.mean(seconds['tpe']):.1f} s, random {statistics.mean(seconds['random']):.1f} s (means)")
    return {m: statistics.mean(bests[m][n]) for m in bests}


def overhead(root, args):
    n = args.overhead_trials
    print(f"\n3. overhead per trial: {n} one-epoch XOR runs on 1 worker; wall time minus the runs' own wall_time_s, "
          f"medians of {args.repeats} repeats")
    epochs = ["training.epochs=1"]
    run_sweep(plan_sweep(XOR, ["seed=0,1"], overrides=epochs), sweep_dir=Path(root) / "overhead-warm-up", workers=1)
    grid = plan_sweep(XOR, ["seed=" + ",".join(map(str, range(n)))], overrides=epochs)
    per_trial = {"search": [], "sweep": []}
    totals = {"search": [], "sweep": []}
    plannings = []
    for repeat in range(args.repeats):
        for kind in (["search", "sweep"] if repeat % 2 == 0 else ["sweep", "search"]):
            if kind == "search":
                seconds, planning, result, sweep_dir = timed_search(
                    root, f"overhead-search-{repeat}", XOR, workers=1, method="tpe", trials=n, space=XOR_SPACE,
                    metric="loss", prune="median", seed=repeat, overrides=epochs)
                plannings.append(planning)
            else:
                sweep_dir = Path(root) / f"overhead-sweep-{repeat}"
                started = time.perf_counter()
                result = run_sweep(grid, sweep_dir=sweep_dir, workers=1)
                seconds = time.perf_counter() - started
            assert len(result.runs) == n and all(r["status"] in ("completed", "pruned") for r in result.runs), statuses(result)
            totals[kind].append(seconds)
            per_trial[kind].append((seconds - run_seconds(result, sweep_dir)) / n)
    ms = {kind: 1000 * statistics.median(values) for kind, values in per_trial.items()}
    print(f"   run_search, {n} trials      {statistics.median(totals['search']):6.2f} s   overhead {ms['search']:6.1f} ms per trial   "
          f"(repeats {numbers([1000 * v for v in per_trial['search']], 1)} ms; plan_search before it {statistics.median(plannings):.2f} s)")
    print(f"   run_sweep,  {n} variants    {statistics.median(totals['sweep']):6.2f} s   overhead {ms['sweep']:6.1f} ms per run     "
          f"(repeats {numbers([1000 * v for v in per_trial['sweep']], 1)} ms)")
    print(f"   the search's own share       {ms['search'] - ms['sweep']:6.1f} ms per trial   (search overhead: target < 50 ms per trial)")
    return ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="everything ~4x smaller: a smoke run")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per digits trial (configs/digits.yaml has 100)")
    parser.add_argument("--trials", type=int, default=40, help="trials of each pruning search")
    parser.add_argument("--search-seed", type=int, default=0, help="the first pruning search seed")
    parser.add_argument("--prune-seeds", type=int, default=3, help="search seeds of the pruning comparison")
    parser.add_argument("--compare-trials", type=int, default=40, help="trials of each TPE / random search")
    parser.add_argument("--seeds", type=int, default=5, help="search seeds of TPE / random")
    parser.add_argument("--overhead-trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the overhead measures")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.trials, args.prune_seeds, args.compare_trials, args.seeds = 12, 1, 12, 2
        args.overhead_trials, args.repeats = 10, 1
    warnings.simplefilter("ignore", NNTrainWarning)  # the benchmark's own output only

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_average(2)}\n")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        pruning(root, args)
        compare(root, args)
        overhead(root, args)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average afterwards {load_average(2)}")


if __name__ == "__main__":
    main()
