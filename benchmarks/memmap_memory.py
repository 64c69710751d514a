"""Anonymous memory of training from a memory-mapped .npy of 1 GB, against the same run on a small file.

    python benchmarks/memmap_memory.py              # about a minute; needs 1.1 GB of free disk in $TMPDIR
    python benchmarks/memmap_memory.py --gb 2       # a larger file

A folder holds x.npy (float32, 784 features per row, ``--gb`` GB) and y.npy (10 classes); a second
folder the first 2,000 rows of the same. ``nntrain fit`` trains one epoch on each in a fresh process
(source npy, standardize: true, split val 0.05, batch 128, an MLP 784-64-10), while this script reads
the process's RssAnon from /proc every 5 ms. Memory-mapped pages the process reads are file pages
(RssFile): the kernel can drop them at will. RssAnon is the memory the process owns: the
interpreter, the model, its buffers, and anything copied out of the file.

The figure is peak RssAnon(1 GB file) - peak RssAnon(small file): what the data set's size costs
beyond the model's own; the goal is under 200 MB. A control run loads x.npy whole into memory and
shows what a copy would cost. Linux only (/proc).
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FEATURES, CLASSES, SMALL_ROWS = 784, 10, 2_000

CONFIG = """\
name: memmap
seed: 0
data: {{source: npy, path: {path}, standardize: true, split: {{val: 0.05}}, batch_size: 128}}
model:
  layers:
    - {{units: 64, activation: relu, init: he_uniform}}
    - {{units: 10, activation: softmax}}
loss: categorical_crossentropy
optimizer: {{name: adam, lr: 0.001}}
training: {{epochs: 1}}
metrics: [accuracy]
"""

FIT = "import sys; from nntrain.cli import main; sys.argv = ['nntrain', *sys.argv[1:]]; main()"
COPY = "import sys, numpy as np; x = np.load(sys.argv[1]); x.sum(); print(x.nbytes)"


def write_folder(folder, rows, chunk=50_000):
    """x.npy and y.npy of ``rows`` rows, written block by block (never held in memory)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    x = np.lib.format.open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        # Features on very different scales, so that standardize has work to do.
        x[start:stop] = rng.random((stop - start, FEATURES), dtype=np.float32) * np.arange(1, FEATURES + 1, dtype=np.float32)
    x.flush()
    del x
    np.save(folder / "y.npy", rng.integers(0, CLASSES, rows))


def peak_rss_anon(args):
    """Run ``args``; (peak RssAnon in MB sampled every 5 ms, peak VmRSS in MB, seconds, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    status = Path(f"/proc/{proc.pid}/status")
    anon = rss = 0
    while proc.poll() is None:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
            anon = max(anon, int(fields["RssAnon"].split()[0]))
            rss = max(rss, int(fields["VmRSS"].split()[0]))
        except (FileNotFoundError, KeyError, ProcessLookupError):
            pass
        time.sleep(0.005)
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"{args}: exit code {proc.returncode}\n{err}")
    return anon / 1024, rss / 1024, time.perf_counter() - t0, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of x.npy in GB (default 1)")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        sys.exit("needs Linux's /proc")
    rows = int(args.gb * 2**30) // (4 * FEATURES)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_folder(tmp / "large", rows)
        write_folder(tmp / "small", SMALL_ROWS)
        results = {}
        for name in ("small", "large"):
            config = tmp / f"{name}.yaml"
            config.write_text(CONFIG.format(path=tmp / name))
            results[name] = peak_rss_anon([sys.executable, "-c", FIT, "fit", str(config), "-q", "--run-dir", str(tmp / f"run-{name}")])
        control = peak_rss_anon([sys.executable, "-c", COPY, str(tmp / "large" / "x.npy")])
    size_mb = rows * FEATURES * 4 / 2**20
    print(f"x.npy: {rows:,} x {FEATURES} float32 = {size_mb:,.0f} MB; one epoch, standardize: true, val 0.05")
    for name, n in (("small", SMALL_ROWS), ("large", rows)):
        anon, rss, seconds, out = results[name]
        print(f"  {name:<6} {n:>9,} rows: peak RssAnon {anon:7.1f} MB   peak VmRSS {rss:7.1f} MB   {seconds:5.1f} s   "
              f"{out.splitlines()[-1]}")
    growth = results["large"][0] - results["small"][0]
    print(f"  control: np.load of x.npy in memory: peak RssAnon {control[0]:7.1f} MB")
    print(f"RssAnon beyond the small run: {growth:.1f} MB for a {size_mb:,.0f} MB data set (goal: under 200 MB)")


if __name__ == "__main__":
    main()
