"""How many ways of stopping ``nntrain fit`` end well: the run resumes bit-identical, or says there is
nothing to resume and how to start over.

    python benchmarks/stops.py            # about 2 minutes on two cores (3-4 when they are busy)
    python benchmarks/stops.py --quick    # a quarter of each family, a smoke run
    python benchmarks/stops.py --seed 7 --kills 100 --pairs 60 --levels 20

The README's "Nothing lost" promise, tried from the outside, in four families of stop points (as
tests/test_checkpoint.py does, on a larger scale):

1. renames: ``kill -9`` at each ``rename`` syscall of a 3-epoch run checkpointed every epoch (strace
   ``-e inject=rename:signal=KILL:when=N``, N = 1 .. the number of renames counted by ``strace -c``);
2. random kill -9: SIGKILL at uniformly random moments over the whole command, start-up included
   (a delay in [0, the uninterrupted command's duration] after ``Popen``);
3. signals in pairs: a first signal and a second one 0-20 ms later -- (INT, INT), (INT, TERM),
   (TERM, HUP), (HUP, INT), (TERM, TERM) -- at random moments of a run that draws its plots; the
   stopped command must exit 0, 129, 130 or 143 without a traceback;
4. full disk: the run written into a tmpfs (mounted here; needs root) filled so that only X bytes stay
   free, for X from 0 to what the run needs at its peak; ``fit`` must succeed or exit 2 with one line
   ("No space left on device" / "cannot write"); then the filler is deleted and the run resumed.

Every stopped run is then judged the same way: a run directory that does not exist (stopped before
``create_run_dir``) counts as nothing to resume; one whose summary.json says "completed" was completed
before the stop; any other is resumed with ``nntrain fit --resume RUN --quiet --no-plots`` and must
either exit 0 with weights.npz (``.tobytes()`` of every array) and metrics.csv (without
``epoch_time_s``) equal to an uninterrupted reference run of the same config -- completed runs must too
-- or exit 2 saying "nothing to resume" / "no checkpoint.npz to resume from" and "start it over with:
nntrain fit". Anything else is a bad outcome, listed with the last line of the stderr concerned (and
the script exits 1).

Families 1, 2 and 4 run with ``--no-plots``, family 3 with plots (so plotting is stopped too). Every
``fit`` is started as the console script starts it:
``python -c "import sys; from nntrain.__main__ import main; sys.argv[0] = 'nntrain'; main()" fit ...``.
"""

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import load_average

from nntrain.runs.store import read_metrics, read_weights

FIT = [sys.executable, "-c", "import sys; from nntrain.__main__ import main; sys.argv[0] = 'nntrain'; main()", "fit"]
CONFIG = """\
name: k
data: {{source: xor, batch_size: 2}}
model: {{layers: [{{units: 4, activation: tanh, keep_prob: 0.8}}, {{units: 1, activation: sigmoid}}]}}
loss: binary_crossentropy
optimizer: {{name: adam, lr: 0.05}}
training: {{epochs: {epochs}, checkpoint_every: {every}, clip_norm: 0.5}}
metrics: [accuracy, f1]
"""
PAIRS = [
    (signal.SIGINT, signal.SIGINT),
    (signal.SIGINT, signal.SIGTERM),
    (signal.SIGTERM, signal.SIGHUP),
    (signal.SIGHUP, signal.SIGINT),
    (signal.SIGTERM, signal.SIGTERM),
]
SIGNALLED_EXITS = (0, 129, 130, 143)
NOTHING = ("nothing to resume", "no checkpoint.npz to resume from")
START_OVER = "start it over with: nntrain fit"
OUTCOMES = ("resumed", "nothing", "completed", "bad")
TIMEOUT = 300  # s for any one command: a hung process is a bad outcome, not a hung benchmark
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def default_signals():
    """In the child, before exec: SIGINT, SIGTERM and SIGHUP at their defaults (a background child of a
    non-interactive shell would otherwise inherit SIGINT ignored, and Python would keep it so)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def last_line(text):
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(empty)"


def without_times(rows):
    return [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in rows]


def write_config(work, name, epochs, every):
    path = work / name
    path.write_text(CONFIG.format(epochs=epochs, every=every))
    return path


def reference_run(work, config, run_dir, plots, repeats=1):
    """The uninterrupted run, and how long its command takes (start-up to exit): the median of
    ``repeats`` runs (the machine is shared: one timing can be far off), the others into scratch dirs."""
    durations = []
    for i in range(repeats):
        target = run_dir if i == 0 else run_dir.with_name(f"{run_dir.name}-timing-{i}")
        command = [*FIT, str(config), "--quiet", "--run-dir", str(target), *([] if plots else ["--no-plots"])]
        begin = time.monotonic()
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=default_signals)
        durations.append(time.monotonic() - begin)
        if done.returncode != 0:
            sys.exit(f"the reference run failed (exit {done.returncode}): {last_line(done.stderr)}")
    return statistics.median(durations)


def differs(reference, run_dir):
    """None if ``run_dir`` has the reference's weights and metrics, bit for bit; else what differs."""
    try:
        expected, got = read_weights(reference), read_weights(run_dir)
    except Exception as e:  # a RunError (missing, damaged) is an answer here, not a crash
        return f"its weights cannot be read ({e})"
    if sorted(expected) != sorted(got):
        return f"its weights hold {sorted(got)}, not {sorted(expected)}"
    changed = [k for k in expected if expected[k].dtype != got[k].dtype or expected[k].shape != got[k].shape or expected[k].tobytes() != got[k].tobytes()]
    if changed:
        return f"its weights differ ({', '.join(changed)})"
    try:
        rows, want = without_times(read_metrics(run_dir)), without_times(read_metrics(reference))
    except Exception as e:
        return f"its metrics cannot be read ({e})"
    if rows != want:
        first = next((i for i, (a, b) in enumerate(zip(rows, want)) if a != b), min(len(rows), len(want)))
        return f"its metrics differ ({len(rows)} rows against {len(want)}, first difference at row {first + 1})"
    return None


def judge(work, run_dir, reference):
    """(outcome, what happened, stderr's last line) for a stopped run: see the module's docstring."""
    if not run_dir.exists():
        return "nothing", "no run directory", ""
    try:
        status = json.loads((run_dir / "summary.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        status = None
    if status == "completed":
        problem = differs(reference, run_dir)
        return ("bad", f"completed before the stop, but {problem}", "") if problem else ("completed", "", "")
    command = [*FIT, "--resume", str(run_dir), "--quiet", "--no-plots"]
    try:
        resumed = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=default_signals)
    except subprocess.TimeoutExpired:
        return "bad", f"--resume did not end within {TIMEOUT} s", ""
    err = resumed.stderr
    if "Traceback" in err:
        return "bad", f"--resume exited {resumed.returncode} with a traceback", last_line(err)
    if resumed.returncode == 2 and any(phrase in err for phrase in NOTHING):
        if START_OVER not in err:
            return "bad", "--resume says nothing to resume, but not how to start over", last_line(err)
        return "nothing", "", last_line(err)
    if resumed.returncode != 0:
        return "bad", f"--resume exited {resumed.returncode}", last_line(err)
    problem = differs(reference, run_dir)
    if problem:
        return "bad", f"resumed, but {problem}", last_line(err)
    return "resumed", "", ""


def record(family, point, outcome, detail="", stderr=""):
    return {"family": family, "point": point, "outcome": outcome, "detail": detail, "stderr": stderr}


# --------------------------------------------------------------------------------------------------
# The four families


def renames(work, stride):
    """kill -9 at the Nth rename of a 3-epoch run, for every N (every ``stride``-th with --quick)."""
    family = "renames"
    if shutil.which("strace") is None:
        return family, [], "skipped: strace is not installed"
    config = write_config(work, "renames.yaml", epochs=3, every=1)
    fit = [*FIT, str(config), "--quiet", "--no-plots"]
    reference = work / "renames-reference"
    reference_run(work, config, reference, plots=False)
    counted = subprocess.run(["strace", "-f", "-c", "-e", "trace=rename", *fit, "--run-dir", str(work / "renames-counted")],
                             cwd=work, capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
    lines = [line.split() for line in counted.stderr.splitlines() if line.rstrip().endswith(" rename")]
    if counted.returncode != 0 or not lines:
        return family, [], f"skipped: strace -c did not count the renames ({last_line(counted.stderr)})"
    total = int(lines[0][3])
    results = []
    for n in range(1, total + 1, stride):
        run_dir = work / f"rename-{n}"
        inject = f"inject=rename:signal=KILL:when={n}"
        subprocess.run(["strace", "-f", "-o", os.devnull, "-e", "trace=rename", "-e", inject, *fit, "--run-dir", str(run_dir)],
                       cwd=work, capture_output=True, timeout=TIMEOUT)  # fmt: skip
        results.append(record(family, f"kill -9 at rename {n} of {total}", *judge(work, run_dir, reference)))
    return family, results, f"{total} renames in a 3-epoch run checkpointed every epoch"


def ended(process):
    """(the stderr of ``process`` once it has ended, whether it ended within TIMEOUT); past TIMEOUT it
    is killed."""
    try:
        return process.communicate(timeout=TIMEOUT)[1], True
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[1], False


def random_kills(work, config, reference, duration, n, rng):
    """SIGKILL after a uniformly random delay in [0, duration]."""
    family = "random kill -9"
    results = []
    for i in range(n):
        run_dir = work / f"kill-{i}"
        delay = rng.uniform(0, duration)
        process = subprocess.Popen([*FIT, str(config), "--quiet", "--no-plots", "--run-dir", str(run_dir)], cwd=work,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)  # fmt: skip
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)  # a no-op once the process has ended
        ended(process)
        results.append(record(family, f"SIGKILL at {delay * 1000:.0f} ms", *judge(work, run_dir, reference)))
    return family, results, f"moments in [0, {duration:.2f} s], the uninterrupted command's duration"


def signal_pairs(work, config, reference, duration, n, rng):
    """A pair of signals 0-20 ms apart at a uniformly random moment of a run that draws its plots."""
    family = "signals in pairs"
    results = []
    for i in range(n):
        run_dir = work / f"pair-{i}"
        first, second = rng.choice(PAIRS)
        delay, gap = rng.uniform(0, duration), rng.uniform(0, 0.020)
        point = f"{first.name}+{second.name} at {delay * 1000:.0f} ms, +{gap * 1000:.1f} ms"
        process = subprocess.Popen([*FIT, str(config), "--quiet", "--run-dir", str(run_dir)], cwd=work, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=default_signals)  # fmt: skip
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, first)  # the pid itself (not reaped before communicate(), so still ours)
        time.sleep(gap)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, second)
        err, in_time = ended(process)
        if not in_time:
            results.append(record(family, point, "bad", f"did not end within {TIMEOUT} s after the signals", last_line(err)))
            continue
        problems = []
        if "Traceback" in err:
            problems.append("a traceback")
        if process.returncode not in SIGNALLED_EXITS:
            problems.append(f"exit code {process.returncode}" + (f" (killed by {signal.Signals(-process.returncode).name})" if process.returncode < 0 else ""))
        outcome, detail, resumed_err = judge(work, run_dir, reference)
        if problems:
            detail = f"the stopped fit ended with {' and '.join(problems)}" + (f"; then: {outcome}" + (f", {detail}" if detail else ""))
            results.append(record(family, point, "bad", detail, last_line(err)))
        else:
            results.append(record(family, point, outcome, detail, resumed_err if outcome == "bad" else ""))
    return family, results, f"moments in [0, {duration:.2f} s], the uninterrupted command's duration (plots drawn)"


def tree_bytes(path):
    """Bytes the files under ``path`` take on a tmpfs: each file rounded up to whole pages."""
    return sum(math.ceil(p.stat().st_size / PAGE) * PAGE for p in Path(path).rglob("*") if p.is_file())


def free_bytes(path):
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def full_disk(work, config, reference, levels):
    """The run into a tmpfs with only X bytes free, for ``levels`` values of X; then resumed with room."""
    family = "full disk"
    if levels < 1:
        return family, [], "skipped: no fill levels asked for"
    # Every file is rewritten beside its previous version (temporary name, then rename), so at its peak
    # a run needs about twice its final size, plus its checkpoint.
    need = 2 * tree_bytes(reference) + 4 * PAGE
    size = need + 16 * PAGE
    mount_point = work / "tmpfs"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        return family, [], f"skipped: cannot mount a tmpfs ({last_line(mounted.stderr)}; it needs root)"
    results = []
    try:
        for i in range(levels):
            free = round(need * i / max(levels - 1, 1))
            run_dir = mount_point / f"run-{i}"
            filler = mount_point / "filler"
            fill = max(free_bytes(mount_point) - free, 0) // PAGE * PAGE
            with open(filler, "wb") as f:  # pages are taken as they are written
                f.write(b"\0" * fill)
            left = free_bytes(mount_point)
            point = f"{left} bytes free (asked {free})"
            try:
                done = subprocess.run([*FIT, str(config), "--quiet", "--no-plots", "--run-dir", str(run_dir)], cwd=work,
                                      capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=default_signals)  # fmt: skip
            except subprocess.TimeoutExpired:
                results.append(record(family, point, "bad", f"fit did not end within {TIMEOUT} s"))
                filler.unlink()
                continue
            filler.unlink()
            err_lines = [line for line in done.stderr.splitlines() if line.strip()]
            problem = None
            if "Traceback" in done.stderr:
                problem = f"fit exited {done.returncode} with a traceback"
            elif done.returncode == 2:
                if len(err_lines) != 1 or not ("No space left on device" in err_lines[0] or "cannot write" in err_lines[0]):
                    problem = f"fit exited 2 with {len(err_lines)} lines of stderr, not one saying the disk is full"
            elif done.returncode != 0:
                problem = f"fit exited {done.returncode}"
            outcome, detail, resumed_err = judge(work, run_dir, reference)
            if problem:
                results.append(record(family, point, "bad", f"{problem}; then: {outcome}" + (f", {detail}" if detail else ""), last_line(done.stderr)))
            else:
                fit_said = f"fit: {last_line(done.stderr)}" if done.returncode else "fit: completed"
                results.append(record(family, point, outcome, detail or fit_said, resumed_err if outcome == "bad" else ""))
            if run_dir.exists():
                shutil.rmtree(run_dir)  # room for the next level
    finally:
        unmounted = subprocess.run(["umount", str(mount_point)], capture_output=True, text=True)
        if unmounted.returncode != 0:
            print(f"warning: could not unmount {mount_point}: {last_line(unmounted.stderr)}", file=sys.stderr)
    return family, results, f"a {size // 1024} KiB tmpfs; X from 0 to {need} bytes (the run's final size {tree_bytes(reference)} bytes, twice that and a checkpoint at its peak)"


# --------------------------------------------------------------------------------------------------


def print_table(families):
    header = ["family", "stop points", "resumed bit-identical", "nothing to resume", "completed before the stop", "bad"]
    rows = []
    for family, results, _ in families:
        counts = {o: sum(r["outcome"] == o for r in results) for o in OUTCOMES}
        rows.append([family, len(results), counts["resumed"], counts["nothing"], counts["completed"], counts["bad"]])
    totals = ["all", *(sum(row[i] for row in rows) for i in range(1, len(header)))]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, totals)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    print("  ".join("-" * w for w in widths))
    print(line(totals))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of each count: a smoke run")
    parser.add_argument("--seed", type=int, default=20240601, help="seed of the random moments, pairs and gaps")
    parser.add_argument("--kills", type=int, default=40, help="random kill -9 moments")
    parser.add_argument("--pairs", type=int, default=30, help="random moments for a pair of signals")
    parser.add_argument("--levels", type=int, default=10, help="fill levels of the full disk")
    parser.add_argument("--epochs", type=int, default=1000, help="epochs of the run in families 2-4")
    parser.add_argument("--every", type=int, default=10, help="checkpoint_every of the run in families 2-4")
    args = parser.parse_args()
    stride = 1
    if args.quick:
        args.kills, args.pairs, args.levels, stride = max(1, args.kills // 4), max(1, args.pairs // 4), max(2, args.levels // 4), 4

    started = time.monotonic()
    rng = random.Random(args.seed)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_average(2)}")
    print(f"seed {args.seed}; runs of {args.epochs} epochs checkpointed every {args.every} (3 epochs, every 1, for renames)")
    families = []
    with tempfile.TemporaryDirectory(prefix="nntrain-stops-") as tmp:
        work = Path(tmp)
        config = write_config(work, "k.yaml", epochs=args.epochs, every=args.every)
        reference, reference_plots = work / "reference", work / "reference-plots"
        duration = reference_run(work, config, reference, plots=False, repeats=3)
        duration_plots = reference_run(work, config, reference_plots, plots=True, repeats=3)
        print(f"uninterrupted command (median of 3): {duration:.2f} s without plots, {duration_plots:.2f} s with plots\n")

        steps = [
            lambda: renames(work, stride),
            lambda: random_kills(work, config, reference, duration, args.kills, rng),
            lambda: signal_pairs(work, config, reference_plots, duration_plots, args.pairs, rng),
            lambda: full_disk(work, config, reference, args.levels),
        ]
        for step in steps:
            begin = time.monotonic()
            family, results, note = step()
            families.append((family, results, note))
            print(f"{family}: {len(results)} stop points in {time.monotonic() - begin:.0f} s; {note}", flush=True)

    print()
    print_table(families)
    for family, results, _ in families:
        absent = sum(r["outcome"] == "nothing" and r["detail"] == "no run directory" for r in results)
        if absent:
            print(f"({family}: {absent} of the \"nothing to resume\" stopped before the run directory was made)")
    bad = [r for _, results, _ in families for r in results if r["outcome"] == "bad"]
    print(f"\nbad outcomes: {len(bad)}")
    for r in bad:
        print(f"- {r['family']}, {r['point']}: {r['detail']}")
        if r["stderr"]:
            print(f"    stderr: {r['stderr']}")
    print(f"\nwall time {time.monotonic() - started:.0f} s; load average afterwards {load_average(2)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
