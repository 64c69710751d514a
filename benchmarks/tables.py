"""nntrain's reading of tables against ``pandas.read_csv``, measured in the same run.

    python benchmarks/tables.py                 # a few minutes on two idle cores
    python benchmarks/tables.py --rows 100000   # a quick check
    python benchmarks/tables.py --repeats 5     # more runs per median (default 3)

Cases (benchmarks/README.md says what the figures mean):

- A million rows: a seeded CSV of 20 numeric columns, one string column of five categories and a
  0/1 target (157 MB). The baseline is a process that only does ``import pandas;
  pandas.read_csv(file)``; against it, ``nntrain fit`` of a tiny net (4 ReLU units, a sigmoid output,
  one epoch of batches of 4096, no diagnostics, ``--no-plots --quiet``) on that file: its wall time
  minus its epoch's ``epoch_time_s`` (metrics.csv), i.e. start-up, reading, encoding,
  standardising and writing the run; and the peak resident memory of each process.
- Wide: CSVs of 100 rows and 1,000, 5,000 and 10,000 columns (one in ten a string column of three
  categories, the others numbers), through ``load_data`` in a process of its own (after a warm-up
  call there): seconds, and seconds per 1,000 columns, which stay flat if the reading is linear in
  the number of columns.

The two processes of a comparison take turns (the one that goes first alternates); the figures are
medians. Peak memory is each child's ``ru_maxrss`` (``os.wait4``). Linux carries the parent's peak
over into a child it starts, so this process imports nothing heavy and leaves the work -- writing
the files too -- to children.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from _report import load_average, mb, numbers

CATEGORIES = ["red", "green", "blue", "black", "white"]
N_NUMBERS = 20
WIDE_COLUMNS = (1_000, 5_000, 10_000)
WIDE_ROWS = 100

TINY_NET = {
    "name": "tables-benchmark",
    "seed": 0,
    "dtype": "float32",
    "model": {"layers": [{"units": 4, "activation": "relu", "init": "he_uniform"}, {"units": 1, "activation": "sigmoid"}]},
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "lr": 0.01},
    "training": {"epochs": 1, "diagnostics": False},
    "metrics": ["accuracy"],
}


# -- Children: each does one thing in a fresh process ----------------------------------------------


def child_generate(path, rows, seed=0):
    """Write the million-row CSV: x1..x20 (normal, 4 decimals), colour (a string), y (0/1)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal((rows, N_NUMBERS)), 4)
    colour = rng.integers(0, len(CATEGORIES), rows)
    logit = x[:, 0] - 0.5 * x[:, 1] + x[:, 2] * x[:, 3] + (colour == 0) - 0.5
    y = (logit + rng.standard_normal(rows) > 0).astype(np.int64)
    columns = {f"x{j + 1}": x[:, j] for j in range(N_NUMBERS)}
    columns["colour"] = pa.array(np.array(CATEGORIES)[colour])
    columns["y"] = y
    write_csv(path, columns)


def child_wide(folder, repeats):
    """Write the wide CSVs, then time ``load_data`` on each (after one warm-up call); print JSON."""
    import numpy as np
    import pyarrow as pa

    from nntrain.config import ExperimentConfig
    from nntrain.data.prepare import load_data

    rng = np.random.default_rng(0)
    files = {}
    for n in WIDE_COLUMNS:
        columns = {}
        for j in range(n):
            if j % 10 == 9:
                columns[f"c{j + 1}"] = pa.array(np.array(["a", "b", "c"])[rng.integers(0, 3, WIDE_ROWS)])
            else:
                columns[f"c{j + 1}"] = np.round(rng.standard_normal(WIDE_ROWS), 4)
        columns["y"] = rng.integers(0, 2, WIDE_ROWS)
        files[n] = Path(folder) / f"wide{n}.csv"
        write_csv(files[n], columns)
    configs = {n: ExperimentConfig.model_validate({**TINY_NET, "data": {"source": "csv", "path": str(f), "target": "y"}})
               for n, f in files.items()}
    load_data(configs[WIDE_COLUMNS[0]], np.random.default_rng(0))  # warm-up: pyarrow's imports, page cache
    times = {n: [] for n in WIDE_COLUMNS}
    for _ in range(repeats):
        for n in WIDE_COLUMNS:
            t0 = time.perf_counter()
            data = load_data(configs[n], np.random.default_rng(0))
            times[n].append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "inputs": data.n_features}))  # of the widest


def write_csv(path, columns):
    """A CSV as pandas writes one: quotes only where needed, the header included."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with open(path, "wb") as f:
        f.write((",".join(columns) + "\n").encode())
        pcsv.write_csv(pa.table(columns), f, pcsv.WriteOptions(include_header=False, quoting_style="needed"))


# -- Measurements ----------------------------------------------------------------------------------


def run(cmd):
    """Run ``cmd`` in a fresh process: (wall seconds, peak resident bytes). Output is discarded
    unless it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    err = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{err.decode()}")
    return seconds, usage.ru_maxrss * 1024  # Linux: kilobytes


# Children run as on a user's machine, from compiled bytecode: pip compiles what it installs, and an
# editable install compiles at its first import -- unless PYTHONDONTWRITEBYTECODE says not to, as
# some sandboxes and containers do (then every run compiles nntrain's modules anew: 0.1-0.2 s).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_nntrain():
    """Bytecode for nntrain's modules, as an installed copy has it."""
    import compileall

    import nntrain

    compileall.compile_dir(Path(nntrain.__file__).parent, quiet=1)


def nntrain_command():
    exe = shutil.which("nntrain")
    return [exe] if exe else [sys.executable, "-c", "from nntrain.__main__ import main; main()"]


def bench_rows(folder, rows, repeats):
    """(pandas [(s, bytes)], nntrain [(s outside the epoch, bytes, wall s, epoch s)])."""
    csv = folder / "rows.csv"
    run([sys.executable, __file__, "--child", "generate", str(csv), str(rows)])
    print(f"{rows:,} rows x {N_NUMBERS} numbers + 1 string column + a 0/1 target: {csv.stat().st_size / 1e6:.0f} MB of CSV")
    config = folder / "tiny.json"  # JSON is YAML
    config.write_text(json.dumps({**TINY_NET, "data": {"source": "csv", "path": str(csv), "target": "y", "batch_size": 4096}}))
    pandas_cmd = [sys.executable, "-c", f"import pandas; pandas.read_csv({str(csv)!r})"]
    out = {"pandas": [], "nntrain": []}
    for r in range(repeats):
        for side in (["pandas", "nntrain"] if r % 2 == 0 else ["nntrain", "pandas"]):
            if side == "pandas":
                out["pandas"].append(run(pandas_cmd))
                continue
            run_dir = folder / f"run{r}"
            wall, peak = run(nntrain_command() + ["fit", str(config), "--quiet", "--no-plots", "--run-dir", str(run_dir)])
            epoch = epoch_seconds(run_dir / "metrics.csv")
            out["nntrain"].append((wall - epoch, peak, wall, epoch))
            shutil.rmtree(run_dir)
    return out


def epoch_seconds(metrics):
    import csv

    with open(metrics, newline="") as f:
        return sum(float(row["epoch_time_s"]) for row in csv.DictReader(f))


def bench_wide(folder, repeats):
    """(columns -> median seconds of load_data, inputs of the widest table)."""
    done = subprocess.run([sys.executable, __file__, "--child", "wide", str(folder), str(repeats)],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"the wide-table child failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {int(n): statistics.median(t) for n, t in result["times"].items()}, result["inputs"]


# -- Report ----------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per median (default 3)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the long CSV (default 1,000,000)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        return (child_generate if kind == "generate" else child_wide)(rest[0], int(rest[1]))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_average()}; medians of {args.repeats}\n")
    med = statistics.median
    compile_nntrain()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = bench_rows(folder, args.rows, args.repeats)
        pandas_s, pandas_b = med(s for s, _ in out["pandas"]), med(b for _, b in out["pandas"])
        nn_s, nn_b = med(s for s, *_ in out["nntrain"]), med(b for _, b, *_ in out["nntrain"])
        walls, epochs = [w for *_, w, _ in out["nntrain"]], [e for *_, e in out["nntrain"]]
        print(f"  pandas.read_csv, whole process       {pandas_s:6.2f} s   (runs {numbers(s for s, _ in out['pandas'])})")
        print(f"  nntrain fit, outside its epoch       {nn_s:6.2f} s   (wall {numbers(walls)}; epoch {numbers(epochs)})")
        print(f"  ratio                                {nn_s / pandas_s:6.2f}     (target <= 1.5)")
        print(f"  peak memory: pandas {mb(pandas_b)}, nntrain {mb(nn_b)}, ratio {nn_b / pandas_b:.2f} (target <= 1.5)")
        print(f"  (this process's own peak, a floor under the children's: {mb(_own_peak())})")

        print(f"\nwide: {WIDE_ROWS} rows, one column in ten a string (3 categories), through load_data in process")
        times, inputs = bench_wide(folder, args.repeats)
    for n, t in times.items():
        print(f"  {n:6,} columns   {t:6.3f} s   {t / n * 1000:6.3f} s per 1,000 columns")
    print(f"  {WIDE_COLUMNS[-1]:,} columns (-> {inputs:,} inputs): "
          f"{times[WIDE_COLUMNS[-1]]:.3f} s (target < 2 s)")


def _own_peak():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main()
