"""nntrain against a plain hand-written NumPy loop of the same network, measured in the same run.

    python benchmarks/mlp.py                 # everything: a minute or two on two idle cores
    python benchmarks/mlp.py --repeats 9     # more epochs per median
    python benchmarks/mlp.py --no-torch      # skip PyTorch even if it is installed
    python benchmarks/mlp.py --profile       # where one epoch's time goes, part by part

Cases (benchmarks/README.md says what the figures mean):

- MLP epoch: 784-256-256-10, ReLU, softmax cross-entropy, Adam (lr 0.001), batch 128, 60,000
  synthetic MNIST-shaped rows (float32 in [0, 1), 10 classes), reshuffled every epoch. nntrain trains
  through its real code path: ``Trainer.train_step`` on the batches of a ``Loader``, as ``fit`` runs
  it, planned as a 10-epoch run (so with the compiled optimizer kernels of ``nntrain[fast]`` when
  Numba is installed, and then the same run with NumPy's passes beside it); the plain loop is what a
  student writes after the lecture; beside them the matrix products alone, and PyTorch (CPU) if it
  is installed, in a process of its own so that its threads cannot disturb the NumPy loops.
- XOR step: the lecture's 2-4-1 tanh/sigmoid net, binary cross-entropy, Adam (lr 0.05), batch 4;
  and ``fit`` itself on the lecture's 4 rows, where every epoch is one step.
- Start-up: ``nntrain --help`` and a one-epoch ``nntrain fit`` in fresh processes.
- Memory: peak resident memory of a process that only trains the MLP with nntrain, and of one that
  only trains it with the plain loop (``benchmarks/plain.py``, which imports nothing of nntrain).

The sides of a comparison take turns in blocks of 1/8 epoch, so that each gets the same share of
whatever else the machine is doing; after a warm-up epoch, the medians over epochs are reported.
Both NumPy loops start from the same weights and shuffle with the same generator state: they train
the same network on the same batches, and the script prints both losses to show it.
"""

import argparse
import collections
import copy
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nntrain.config import ExperimentConfig
from nntrain.data.prepare import Loader, Split
from nntrain.training.fit import fit
from nntrain.nn.model import build_model

# The baseline, beside this script.
from nntrain.training.trainer import Trainer

# The baseline, beside this script.
from plain import BATCH, HIDDEN, LR, N_CLASSES, N_FEATURES, N_ROWS, XOR_X, XOR_Y
from plain import matmul_steps, mnist_like, peak_rss, plain_mlp_steps, plain_xor_steps
from _report import load_average, mb, numbers

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

MLP_CONFIG = {
    "name": "mlp-benchmark",
    "dtype": "float32",
    # The rows go to the Loader directly; the data section only sets the batching.
    "data": {"batch_size": BATCH, "shuffle": True},
    "model": {
        "inputs": N_FEATURES,
        "layers": [
            {"units": HIDDEN, "activation": "relu", "init": "he_uniform"},
            {"units": HIDDEN, "activation": "relu", "init": "he_uniform"},
            {"units": N_CLASSES, "activation": "softmax"},
        ],
    },
    "loss": "categorical_crossentropy",
    "optimizer": {"name": "adam", "lr": LR},
    "metrics": ["accuracy"],
}

MLP_EPOCHS = 10  # the run the MLP's trainer plans for (what decides whether it uses compiled kernels)

# configs/xor.yaml
XOR_CONFIG = {
    "name": "xor-benchmark",
    "dtype": "float32",
    "data": {"source": "xor", "batch_size": 4, "shuffle": True},
    "model": {
        "inputs": 2,
        "layers": [{"units": 4, "activation": "tanh", "init": "xavier_normal"}, {"units": 1, "activation": "sigmoid"}],
    },
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "lr": 0.05},
    "metrics": ["accuracy"],
}
def nntrain_setup(raw, x, y, seed=0):
    """nntrain's trainer and loader for ``raw`` (a config dict) on rows x, y, with one generator as in fit."""
    config = ExperimentConfig.model_validate(raw)
    rng = np.random.default_rng(seed)
    trainer = Trainer(config, build_model(config, x.shape[1], rng))
    loader = Loader(Split(x, y), config.data.batch_size, config.data.shuffle, config.data.drop_last, rng)
    return trainer, loader


def start_of(trainer, loader):
    """Copies of the initial weights and of the generator as the loader will first use it: what a plain
    loop needs to start from the same weights and draw the same shuffles."""
    return [p.copy() for p in trainer.model.params], copy.deepcopy(loader.rng)


def nntrain_epoch(trainer, loader):
    """One epoch as fit runs it: every batch of the loader through ``Trainer.train_step``; the loss."""
    totals = trainer.new_totals()
    # As in fit: a non-finite loss is the trainer's to report, not a NumPy warning.
    with np.errstate(over="ignore", invalid="ignore"):
        for x, y, w in loader:
            trainer.train_step(x, y, totals, weight=w)
    return trainer.epoch_logs(totals)["loss"]


def nntrain_steps(trainer, loader, losses):
    """nntrain's loop as fit runs it -- ``Trainer.train_step`` on every batch of the loader -- as a
    generator: one step per ``next``, epoch after epoch; each epoch's loss goes to ``losses``."""
    while True:
        totals = trainer.new_totals()
        for step, (x, y, w) in enumerate(loader, start=1):
            trainer.train_step(x, y, totals, weight=w)
            if step == len(loader):
                losses.append(trainer.epoch_logs(totals)["loss"])
            yield


# -- Measurements --------------------------------------------------------------------------------


def stepper(steps):
    """``run(n)``: take n steps of the generator ``steps``; the seconds they took."""

    def run(n):
        t0 = time.perf_counter()
        for _ in range(n):
            next(steps)
        return time.perf_counter() - t0

    return run


def interleaved(runs, blocks, epochs, warmup=1):
    """Time ``warmup + epochs`` epochs of every side in ``runs`` (name -> ``run(n)`` as ``stepper``),
    an epoch being ``blocks`` (numbers of steps): block by block, the sides take turns, with the side
    that goes first rotating. Returns (name -> seconds of each epoch after the warm-up, name -> the
    page faults this process took during those epochs' blocks).

    Short alternating blocks give every side the same share of whatever else the machine is doing.
    """
    names = list(runs)
    times = {name: [] for name in names}
    faults = dict.fromkeys(names, 0)
    turn = 0
    for epoch in range(warmup + epochs):
        spent = dict.fromkeys(names, 0.0)
        for n in blocks:
            first = turn % len(names)
            for name in names[first:] + names[:first]:
                before = _page_faults()
                spent[name] += runs[name](n)
                if epoch >= warmup:
                    faults[name] += _page_faults() - before
            turn += 1
        if epoch >= warmup:
            for name in names:
                times[name].append(spent[name])
    return times, faults


def _page_faults():
    """Minor page faults of this process so far: memory the system hands (back) to it."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def split(total, parts):
    """``total`` steps as ``parts`` nearly equal blocks."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def bench_mlp(repeats, with_torch):
    """Seconds per epoch of nntrain, the plain loop, the matrix products alone and (if asked and
    installed) PyTorch, interleaved in blocks of 1/8 epoch; page faults per step (of the sides in this
    process); each NumPy loop's epoch losses; PyTorch's version and threads, or why it is missing."""
    torch_side, why = RemoteSteps.start("torch") if with_torch else (None, "--no-torch")
    x, y = mnist_like()
    trainer, loader = nntrain_setup(MLP_CONFIG, x, y)
    kernels = trainer.plan(MLP_EPOCHS * len(loader))  # as fit plans a run of MLP_EPOCHS epochs
    numpy_trainer, numpy_loader = nntrain_setup(MLP_CONFIG, x, y)  # the same run, with NumPy's passes
    weights, rng = start_of(trainer, loader)
    losses = {"nntrain": [], "nntrain, NumPy passes": [], "plain": []}
    runs = {
        "nntrain": stepper(nntrain_steps(trainer, loader, losses["nntrain"])),
        "plain": stepper(plain_mlp_steps(weights, x, y, rng, losses["plain"])),
        "matmul": stepper(matmul_steps(x)),
    }
    if kernels:
        runs["numpy"] = stepper(nntrain_steps(numpy_trainer, numpy_loader, losses["nntrain, NumPy passes"]))
    else:
        del losses["nntrain, NumPy passes"]
    if torch_side:
        runs["torch"] = torch_side.run
    try:
        # As in fit: a non-finite loss is the trainer's to report, not a NumPy warning.
        with np.errstate(over="ignore", invalid="ignore"):
            times, faults = interleaved(runs, split(len(loader), 8), repeats)
    finally:
        if torch_side:
            torch_side.stop()
    steps = repeats * len(loader)
    return times, {name: f / steps for name, f in faults.items()}, losses, (torch_side.info if torch_side else why), kernels


def bench_xor_steps(steps, repeats):
    """Seconds per step within epochs of ``steps`` batches of 4 (the XOR table repeated)."""
    x, y = np.tile(XOR_X, (steps, 1)), np.tile(XOR_Y, (steps, 1))
    trainer, loader = nntrain_setup(XOR_CONFIG, x, y)
    weights, rng = start_of(trainer, loader)
    runs = {"nntrain": stepper(nntrain_steps(trainer, loader, [])), "plain": stepper(plain_xor_steps(weights, x, y, rng, [], XOR_CONFIG["optimizer"]["lr"]))}
    with np.errstate(over="ignore", invalid="ignore"):
        times, _ = interleaved(runs, split(steps, 8), repeats)
    return {name: [t / steps for t in ts] for name, ts in times.items()}


def bench_xor_fit(epochs, repeats):
    """Seconds per epoch of ``fit`` on configs/xor.yaml (one step per epoch; its run directory and
    files included), against the plain loop's one-step epochs on the same 4 rows."""
    config = ExperimentConfig.model_validate({**XOR_CONFIG, "training": {"epochs": epochs}})
    weights, rng = start_of(*nntrain_setup(XOR_CONFIG, XOR_X, XOR_Y))
    with tempfile.TemporaryDirectory() as runs_root:

        def run_fit(n):  # n == epochs: one fit is one block
            t0 = time.perf_counter()
            fit(config, runs_root=runs_root)
            return time.perf_counter() - t0

        runs = {"nntrain": run_fit, "plain": stepper(plain_xor_steps(weights, XOR_X, XOR_Y, rng, [], XOR_CONFIG["optimizer"]["lr"]))}
        with np.errstate(over="ignore", invalid="ignore"):
            times, _ = interleaved(runs, [epochs], repeats)
    return {name: [t / epochs for t in ts] for name, ts in times.items()}


def bench_startup(repeats=7):
    """Median seconds, each in a fresh process, of ``nntrain --help`` and of a one-epoch
    ``nntrain fit configs/xor.yaml --quiet`` to its end (its first line of output comes at the end),
    without and with its plots."""
    exe = shutil.which("nntrain")
    base = [exe] if exe else [sys.executable, "-c", "from nntrain.__main__ import main; main()"]
    times = collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as runs:
        fit_args = ["fit", str(REPO / "configs" / "xor.yaml"), "--set", "training.epochs=1", "--quiet", "--runs", runs]
        cases = {"help": ["--help"], "fit": fit_args + ["--no-plots"], "fit with plots": fit_args}
        for _ in range(repeats):
            for name, args in cases.items():
                t0 = time.perf_counter()
                subprocess.run(base + args, check=True, capture_output=True)
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def heavy_modules():
    """Which of matplotlib, sklearn, dask this process has imported (it ran fit and the trainer)."""
    return sorted({m.split(".")[0] for m in sys.modules} & {"matplotlib", "sklearn", "dask", "distributed"})


def child_memory(epochs=2, kernels=False):
    """(Child process) train the MLP with nntrain only -- with its compiled optimizer kernels if
    ``kernels`` (as fit plans a run of MLP_EPOCHS epochs), else with NumPy's passes; print sizes and
    peak resident memory as JSON."""
    at_start = peak_rss()
    x, y = mnist_like()
    trainer, loader = nntrain_setup(MLP_CONFIG, x, y)
    if kernels and not trainer.plan(MLP_EPOCHS * len(loader)):
        raise SystemExit("nntrain[fast] (Numba) is not installed")
    for _ in range(epochs):
        nntrain_epoch(trainer, loader)
    state = [a for a in trainer.optimizer.state_dict().values() if a.ndim]
    print(json.dumps({
        "data": x.nbytes + y.nbytes,
        "params": sum(p.nbytes for p in trainer.model.params),
        "optimizer": sum(a.nbytes for a in state),
        "at_start": at_start,
        "peak": peak_rss(),
    }))


def child_torch():
    """(Child process) the MLP in PyTorch -- CPU, float32, its default threads -- stepped on request:
    prints its version and threads as JSON, then for every number n read from stdin takes n steps
    and prints the seconds they took."""
    import torch

    x, y = mnist_like()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, N_CLASSES),
    )
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()

    def steps():
        while True:
            order = torch.randperm(N_ROWS)
            total_loss = total_correct = 0.0
            for i in range(0, N_ROWS, BATCH):
                idx = order[i : i + BATCH]
                xb, yb = xt[idx], yt[idx]
                logits = net(xb)
                loss = loss_fn(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total_loss += loss.item() * len(yb)
                total_correct += (logits.argmax(dim=1) == yb).sum().item()
                yield

    run = stepper(steps())
    print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        print(run(int(line)), flush=True)


class RemoteSteps:
    """A child process (``--child <kind>``) that takes training steps when asked, so that its
    timings interleave with this process's without sharing its threads."""

    def __init__(self, proc, info):
        self.proc, self.info = proc, info

    @classmethod
    def start(cls, kind):
        """(RemoteSteps, None), or (None, why not)."""
        import importlib.util

        if importlib.util.find_spec(kind) is None:
            return None, "not installed"
        cmd = [sys.executable, __file__, "--child", kind]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stdout.readline()
        if not first:
            lines = proc.stderr.read().strip().splitlines()
            return None, lines[-1] if lines else f"exit code {proc.wait()}"
        return cls(proc, json.loads(first)), None

    def run(self, n):
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait()


def _memory_child(module, call="child_memory()"):
    """``module.<call>`` in a fresh interpreter; (its JSON result, None) or (None, why it failed).

    The module is imported, as its own cached bytecode, rather than run as a script: compiling a
    script's source is not part of what a training process needs."""
    code = f"import {module}; {module}.{call}"
    done = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        return None, lines[-1] if lines else f"exit code {done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1]), None


# -- Profile --------------------------------------------------------------------------------------


def profile_epoch(raw, x, y, label):
    """Print where one epoch's time goes: each op's forward and backward, the loss, the optimizer, the
    metrics, the loader; the rest of the step loop is the trainer's own bookkeeping."""
    trainer, loader = nntrain_setup(raw, x, y)
    trainer.plan(MLP_EPOCHS * len(loader))  # as fit would plan a run of MLP_EPOCHS epochs
    nntrain_epoch(trainer, loader)  # warm up: buffers and optimizer state exist from here on
    t0 = time.perf_counter()
    nntrain_epoch(trainer, loader)
    unclocked = time.perf_counter() - t0
    clock = collections.Counter()

    def timed(name, fn):
        def clocked(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                clock[name] += time.perf_counter() - t0

        return clocked

    # Instance attributes shadow the methods, so the trainer's own calls go through the clocks.
    for i, layer in enumerate(trainer.model.layers):
        for op in layer:
            name = f"layer {i} {type(op).__name__} {getattr(op, 'name', '')}".rstrip()
            op.forward, op.backward = timed(f"{name} forward", op.forward), timed(f"{name} backward", op.backward)
    loss = trainer.loss
    loss.forward, loss.backward = timed("loss forward", loss.forward), timed("loss backward", loss.backward)
    trainer.optimizer.step = timed("optimizer step", trainer.optimizer.step)
    trainer.take_stats = timed("metrics on training batches", trainer.take_stats)
    t0 = time.perf_counter()
    nntrain_epoch(trainer, _ClockedLoader(loader, clock))
    total = time.perf_counter() - t0
    clock["trainer's step bookkeeping (the rest)"] = total - sum(clock.values())
    steps = len(loader)
    print(f"\none {label} epoch, {steps} steps: {total:.3f} s with the clocks, {unclocked:.3f} s without")
    print(f"  {'part':40s} {'s/epoch':>8s} {'us/step':>8s} {'share':>6s}")
    for name, t in sorted(clock.items(), key=lambda kv: -kv[1]):
        print(f"  {name:40s} {t:8.4f} {t / steps * 1e6:8.1f} {t / total:6.1%}")


class _ClockedLoader:
    """A loader whose batches are clocked: the epoch's shuffle and each batch's gather of rows."""

    def __init__(self, loader, clock):
        self.loader, self.clock = loader, clock

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        batches = iter(self.loader)
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            self.clock["loader (shuffle, gather rows)"] += time.perf_counter() - t0
            if batch is None:
                return
            yield batch


# -- Report ---------------------------------------------------------------------------------------


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl, installed with scikit-learn, would tell)"
    libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(f"{i['internal_api']} {i['version']} ({i.get('architecture')}, {i['num_threads']} threads)" for i in libs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per side, after a warm-up (default 5)")
    parser.add_argument("--xor-steps", type=int, default=2000, help="XOR steps per epoch, and epochs per fit (default 2000)")
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch even if it is installed")
    parser.add_argument("--profile", action="store_true", help="only print where one epoch's time goes (MLP, XOR)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return {"torch": child_torch}[args.child]()
    print(f"numpy {np.__version__}, BLAS: {blas_info()}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_average()}")
    if args.profile:
        profile_epoch(MLP_CONFIG, *mnist_like(), "MLP")
        profile_epoch(XOR_CONFIG, np.tile(XOR_X, (args.xor_steps, 1)), np.tile(XOR_Y, (args.xor_steps, 1)), "XOR")
        return

    med = statistics.median
    print(f"medians of {args.repeats} epochs per side after a warm-up epoch; the sides take turns in blocks of 1/8 epoch\n")
    times, faults, losses, torch_info, kernels = bench_mlp(args.repeats, not args.no_torch)
    nn, plain, matmul = med(times["nntrain"]), med(times["plain"]), med(times["matmul"])
    print("MLP 784-256-256-10, ReLU, softmax cross-entropy, Adam, batch 128, 60,000 rows, float32: s per epoch")
    print(f"  plain NumPy loop       {plain:7.3f}   (epochs {numbers(times['plain'], 3)})")
    print(f"  nntrain                {nn:7.3f}   (epochs {numbers(times['nntrain'], 3)}; optimizer kernels:"
          f" {'Numba' if kernels else 'NumPy (nntrain[fast] is not installed)'}, as fit uses them for {MLP_EPOCHS} epochs)")
    if kernels:
        print(f"  nntrain, NumPy passes  {med(times['numpy']):7.3f}   (epochs {numbers(times['numpy'], 3)}; the same run without them)")
    print(f"  matrix products alone  {matmul:7.3f}")
    if "torch" in times:
        t = med(times["torch"])
        print(f"  PyTorch {torch_info['version']}, {torch_info['threads']} threads, own process: {t:.3f}   (epochs {numbers(times['torch'], 3)})")
    else:
        print(f"  PyTorch: not timed ({torch_info})")
    print(f"  nntrain / plain        {nn / plain:7.3f}   (target <= 1.05)")
    print(f"  nntrain / products     {nn / matmul:7.3f}   (target <= 1.4)"
          + (f"; with NumPy's passes {med(times['numpy']) / matmul:.3f}" if kernels else ""))
    if "torch" in times:
        print(f"  PyTorch / nntrain      {t / nn:7.3f}   (target >= 1.5)")
    print("  same training, epoch losses: " + "; ".join(f"{name} {numbers(values, 5)}" for name, values in losses.items()))
    print(f"  page faults per step: nntrain {faults['nntrain']:.0f}, plain {faults['plain']:.0f}"
          " (memory malloc hands back to the system between steps and faults in again: see benchmarks/README.md)")

    print("\nXOR 2-4-1, tanh/sigmoid, binary cross-entropy, Adam, batch 4: microseconds per step")
    steps = bench_xor_steps(args.xor_steps, args.repeats)
    nn_s, plain_s = med(steps["nntrain"]), med(steps["plain"])
    print(f"  steps in an epoch      plain {plain_s * 1e6:6.1f}   nntrain {nn_s * 1e6:6.1f}   ratio {nn_s / plain_s:.3f}   (target <= 1.2)")
    epochs = bench_xor_fit(args.xor_steps, args.repeats)
    fit_s, plain_s = med(epochs["nntrain"]), med(epochs["plain"])
    print(f"  fit, one-step epochs   plain {plain_s * 1e6:6.1f}   nntrain {fit_s * 1e6:6.1f}   ratio {fit_s / plain_s:.3f}"
          "   (with fit's per-epoch work and its run directory)")

    startup = bench_startup()
    print(f"\nstart-up: nntrain --help {startup['help']:.3f} s (target < 0.3); a one-epoch nntrain fit configs/xor.yaml -q"
          f" to its end: {startup['fit']:.3f} s with --no-plots, {startup['fit with plots']:.3f} s with its plots (matplotlib);"
          f" heavy modules imported by the training path: {', '.join(heavy_modules()) or 'none'}")

    print("\nmemory: peak resident memory (VmHWM) of a process that only trains the MLP, 2 epochs, over its data +"
          " parameters + Adam state (target <= 50 MB)")
    sides = [("plain", "child_memory()", "plain NumPy loop"), ("mlp", "child_memory()", "nntrain"),
             ("mlp", "child_memory(kernels=True)", "nntrain, Numba")]  # fmt: skip
    for module, call, label in sides:
        mem, why = _memory_child(module, call)
        if mem:
            needed = mem["data"] + mem["params"] + mem["optimizer"]
            print(f"  {label:17s} peak {mb(mem['peak'], 1)} = {mb(needed, 1)} + {mb(mem['peak'] - needed, 1)};"
                  f" the interpreter with its imports, before any data: {mb(mem['at_start'], 1)}")
        else:
            print(f"  {label:17s} the child process failed: {why}")


if __name__ == "__main__":
    main()
