"""Regenerate the results shown in docs/lecture.md by running the lecture's experiments.

    python scripts/lecture.py             # run every claim; rewrite the results in docs/lecture.md and docs/lecture/
    python scripts/lecture.py 3 9         # only claims 3 and 9
    python scripts/lecture.py --check     # run every claim; exit 1 if docs/lecture.md is not what they give

Every result in docs/lecture.md sits between ``<!-- result: NAME -->`` and ``<!-- /result -->``; this
script replaces what is between them and leaves the prose alone. Figures go to docs/lecture/<NAME>.png.
The runs go to a temporary folder and are deleted. Everything is seeded and BLAS runs on one thread
(threads may sum in another order), so a rerun prints the same numbers -- timings are never shown.

Experiments use nntrain's Python API on the configs in configs/lecture/, as ``nntrain fit CONFIG
--set KEY=VALUE`` would; tests/test_lecture.py asserts the same claims.
"""

import os

# Before numpy is imported: one BLAS thread keeps sums in one order, so results repeat to the last bit.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from nntrain.config import load_config  # noqa: E402
from nntrain.training.fit import fit  # noqa: E402
from nntrain.training.gradcheck import check_config  # noqa: E402
from nntrain.runs.inference import evaluate_run, load_model, predict  # noqa: E402
from nntrain.nn.model import build_model  # noqa: E402
from nntrain.nn.optimizers import OPTIMIZERS  # noqa: E402
from nntrain.runs.store import DIAGNOSTICS, read_metrics, read_weights  # noqa: E402
from nntrain.training.trainer import prepare  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LECTURE = ROOT / "configs" / "lecture"
DOC = ROOT / "docs" / "lecture.md"
FIGURES = ROOT / "docs" / "lecture"
RUNS = None  # a temporary folder, set in main
WRITE = True  # False with --check: figures are drawn but not saved


# --------------------------------------------------------------------------------------------------
# Helpers


def train(name, *overrides):
    """Fit configs/lecture/<name>.yaml with KEY=VALUE overrides; returns the FitResult."""
    return fit(load_config(LECTURE / f"{name}.yaml", list(overrides)), runs_root=RUNS)


def every_hidden_layer(name, key, value):
    """Overrides setting ``key`` on every layer but the output layer of a lecture config."""
    n = len(load_config(LECTURE / f"{name}.yaml").model.layers)
    return [f"model.layers.{i}.{key}={value}" for i in range(n - 1)]


def epochs_to(history, loss):
    """The first epoch whose training loss is below ``loss``, or None."""
    return next((row["epoch"] for row in history if row["loss"] < loss), None)


def first_gradient_norms(run):
    """Per layer, ||dLoss/dW|| at the first step (diagnostics.csv, epoch 1)."""
    row = read_metrics(run.run_dir, DIAGNOSTICS)[0]
    return [row[f"grad_norm.layer{i}"] for i in range(sum(k.startswith("grad_norm.") for k in row))]


def g(x, digits=3):
    """A number in ``digits`` significant digits."""
    if x is None:
        return "—"
    if isinstance(x, (int, np.integer)):
        return f"{x:,}"
    return f"{x:.{digits}g}"


def e(x):
    return "—" if x is None else f"{x:.1e}"


def reached(epochs, budget):
    return f"not in {budget}" if epochs is None else str(epochs)


def table(header, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def vector(values, digits=3):
    return "[" + ", ".join(g(float(v), digits) for v in values) + "]"


def figure(name, draw, size=(6.4, 3.2)):
    """Draw with ``draw(fig)`` on an Agg canvas and save docs/lecture/<name>.png; returns its markdown."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig)
    if WRITE:
        FIGURES.mkdir(parents=True, exist_ok=True)
        fig.savefig(FIGURES / f"{name}.png", metadata={"Software": None})
    return f"![{name}](lecture/{name}.png)"


# --------------------------------------------------------------------------------------------------
# The claims: each returns {block name: markdown}


def claim_0():
    result = check_config(load_config(LECTURE / "00_gradcheck.yaml"))
    rows = [
        (f"`{c.name}`", "×".join(map(str, c.shape)), c.checked, e(c.analytic_norm), e(c.numeric_norm), e(c.error))
        for c in result.tensors
    ]
    text = table(["tensor", "shape", "entries", "‖analytic‖", "‖numeric‖", "relative error"], rows)
    text += f"\n\nLargest relative error: {e(result.worst.error)} (`{result.worst.name}`), on {result.rows} examples."
    return {"gradcheck": text}


def claim_1():
    rows = []
    for seed in range(3):
        run = train("01_xor_linear", f"seed={seed}")
        ev = evaluate_run(run.run_dir)
        rows.append(("`01_xor_linear.yaml`", seed, "none", g(ev["loss"]), g(ev["accuracy"])))
    run = train("01_xor_two_layers")
    ev = evaluate_run(run.run_dir)
    rows.append(("`01_xor_two_layers.yaml`", 0, "2 sigmoid units", g(ev["loss"]), g(ev["accuracy"])))
    _, model = load_model(run.run_dir)
    out = model.predict(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]))[:, 0]
    text = table(["config", "seed", "hidden layer", "loss", "accuracy"], rows)
    text += "\n\nThe trained two-layer net's outputs for 00, 01, 10, 11: " + vector(out) + "."
    return {"xor": text}


def claim_2():
    records = predict(ROOT / "configs" / "xor_reference.yaml", ["0,0", "0,1", "1,0", "1,1"])
    slide = [("[4.5·10⁻⁵, 4.5·10⁻⁵]", "4.5·10⁻⁵"), ("[9.4·10⁻¹⁴, 0.999]", "0.999"), ("[0.999, 9.4·10⁻¹⁴]", "0.999"), ("[4.5·10⁻⁵, 4.5·10⁻⁵]", "4.5·10⁻⁵")]
    rows = [
        (vector(r["input"], 1), vector(r["layers"][0], 5), hidden, g(r["output"][0], 5), out)
        for r, (hidden, out) in zip(records, slide)
    ]
    return {"reference": table(["x", "σ(W₁x + b₁), nntrain", "the slide", "output, nntrain", "the slide"], rows)}


def claim_3():
    rows, blocks = [], {}
    for name in ("03_zero_init", "03_random_init"):
        run = train(name)
        w = read_weights(run.run_dir)
        W = w["layers.0.W"]
        distinct = len({tuple(r) for r in W})
        rows.append((f"`{name}.yaml`", f"{distinct} of {len(W)}", vector(W[0]), vector(W[1]), g(evaluate_run(run.run_dir)["accuracy"])))
    blocks["init"] = table(["config", "distinct hidden units", "W₁ row 0 (trained)", "W₁ row 1", "accuracy"], rows)
    return blocks


def claim_4():
    rows = []
    for seed in range(10):
        run = train("03_random_init", f"seed={seed}")
        w = read_weights(run.run_dir)
        ev = evaluate_run(run.run_dir)
        rows.append((seed, vector(w["layers.0.W"][0]), g(float(w["layers.1.b"][0])), g(ev["loss"]), g(ev["accuracy"])))
    seeds = table(["seed", "W₁ row 0 (trained)", "b₂", "loss", "accuracy"], rows)
    # The lecture's minimal net: only two hidden units, same training.
    small = []
    for seed in range(10):
        ev = evaluate_run(train("03_random_init", f"seed={seed}", "model.layers.0.units=2").run_dir)
        small.append(ev["accuracy"])
    solved = sum(a == 1.0 for a in small)
    text = (
        f"With only the lecture's two hidden units (`--set model.layers.0.units=2`), {solved} of the 10 seeds "
        f"solve XOR; the accuracies are {', '.join(g(a) for a in small)}."
    )
    return {"seeds": seeds, "seeds_two_units": text}


def collapse(weights):
    """W' = W3 W2 W1 and b' = W3 (W2 b1 + b2) + b3 of a three-layer stack's weights."""
    (W1, W2, W3), (b1, b2, b3) = ([weights[f"layers.{i}.{k}"] for i in range(3)] for k in "Wb")
    return W3 @ W2 @ W1, W3 @ (W2 @ b1 + b2) + b3


def claim_5():
    x = np.random.default_rng(0).uniform(-3, 3, size=(1000, 2))
    _, _, trainer = prepare(load_config(LECTURE / "05_linear_stack.yaml"))
    run = train("05_linear_stack")
    _, trained = load_model(run.run_dir)
    rows = []
    for label, model in (("initial (Xavier)", trainer.model), ("trained", trained)):
        weights = model.state_dict()
        W_, b_ = collapse(weights)
        gap = np.abs(model.forward(x, logits=True) - (x @ W_.T + b_)).max()
        norms = ", ".join(g(float(np.linalg.norm(weights[f"layers.{i}.W"]))) for i in range(3))
        ev = evaluate_run(run.run_dir) if model is trained else None
        rows.append((label, norms, vector(W_[0]), g(float(b_[0])), e(gap), g(ev["loss"]) if ev else "", g(ev["accuracy"]) if ev else ""))
    header = ["weights", "‖W₁‖, ‖W₂‖, ‖W₃‖", "W' = W₃W₂W₁", "b' = W₃(W₂b₁ + b₂) + b₃", "max \\|net − (W'x + b')\\|", "loss", "accuracy"]
    return {"collapse": table(header, rows)}


def claim_6():
    rows = []
    for name, kind in (("06_regression", "y ∈ ℝ"), ("06_binary", "y ∈ {0, 1}"), ("06_multiclass", "y ∈ {0, 1, 2}")):
        config = load_config(LECTURE / f"{name}.yaml")
        run = fit(config, runs_root=RUNS)
        val = evaluate_run(run.run_dir, "val")
        metric = config.metrics[0]
        rows.append(
            (kind, f"`{config.data.source}`", config.model.layers[-1].activation, f"`{config.loss}`", g(val["loss"]), f"{metric} {g(val[metric])}")
        )
    return {"pairings": table(["target", "data", "output", "loss", "validation loss", "validation metric"], rows)}


def claim_7():
    budget = load_config(LECTURE / "07_optimizers.yaml").training.epochs
    lrs = [0.001, 0.01, 0.1, 1.0]
    variants = [
        ("SGD", ["optimizer.name=sgd"]),
        ("SGD, momentum 0.9", ["optimizer={name: sgd, momentum: 0.9}"]),
        ("Adam", []),
    ]
    rows, curves = [], {}
    for label, overrides in variants:
        cells = []
        for lr in lrs:
            run = train("07_optimizers", *overrides, f"optimizer.lr={lr}")
            cells.append(reached(epochs_to(run.history, 0.05), budget))
            if lr == 0.1:
                curves[label] = [row["loss"] for row in run.history]
        rows.append((label, *cells))
    text = table(["optimizer", *(f"lr {lr:g}" for lr in lrs)], rows)

    def draw(fig):
        ax = fig.subplots()
        for label, losses in curves.items():
            ax.plot(np.arange(1, len(losses) + 1), losses, label=label)
        ax.axhline(0.05, color="grey", lw=0.8, ls=":")
        ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel="training loss", title="XOR, lr 0.1, same start")
        ax.legend()

    return {"optimizers": text, "optimizers_figure": figure("07_optimizers", draw)}


def claim_8():
    cases = [
        ("SGD", "sgd", dict(lr=0.1)),
        ("SGD, momentum 0.9", "sgd", dict(lr=0.1, momentum=0.9)),
        ("SGD, Nesterov 0.9", "sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("Adam", "adam", dict(lr=0.1)),
        ("AdamW, weight decay 0.01", "adamw", dict(lr=0.1, weight_decay=0.01)),
        ("RMSprop", "rmsprop", dict(lr=0.1)),
        ("Adagrad", "adagrad", dict(lr=1.0)),
    ]
    missing = sorted(set(OPTIMIZERS) - {name for _, name, _ in cases})
    if missing:
        raise SystemExit(f"claim 8: add the new optimizers to the table: {', '.join(missing)}")
    rows = []
    for label, name, options in cases:
        w = np.array([0.0])
        optimizer = OPTIMIZERS[name](**options)
        trajectory = []
        for _ in range(2000):
            optimizer.step([w], [2 * w - 10])  # d/dw (w² − 10w + 25)
            trajectory.append(float(w[0]))
        far = [i for i, v in enumerate(trajectory) if abs(v - 5) >= 1e-3]  # trajectory[i]: after step i + 1
        settled = None if far and far[-1] == len(trajectory) - 1 else (far[-1] + 2 if far else 1)
        options_text = ", ".join(f"{k}={v}" for k, v in options.items())
        rows.append((label, f"`{OPTIMIZERS[name].__name__}({options_text})`", reached(settled, 2000), f"{trajectory[-1]:.6f}"))
    return {"quadratic": table(["optimizer", "Python", "steps until \\|w − 5\\| < 10⁻³ for good", "w after 2,000 steps"], rows)}


def claim_9():
    names = {"09_vanishing": "sigmoid, N(0, 0.01²)", "09_relu_he": "ReLU, He", "09_batchnorm": "sigmoid, N(0, 0.01²), batch norm"}
    norms, rows = {}, []
    for name, label in names.items():
        run = train(name)
        norms[label] = first_gradient_norms(run)
        ev = evaluate_run(run.run_dir)
        n = norms[label]
        rows.append((f"`{name}.yaml`", label, e(n[0]), e(n[4]), e(n[-1]), e(n[0] / n[-1]), g(ev["loss"]), g(ev["accuracy"])))
    text = table(["config", "hidden layers", "‖∇W‖ layer 0", "layer 4", "layer 8 (output)", "layer 0 / layer 8", "loss", "accuracy"], rows)

    def draw(fig):
        ax = fig.subplots()
        for label, n in norms.items():
            ax.plot(range(len(n)), n, marker="o", label=label)
        ax.set(yscale="log", xlabel="layer", ylabel="‖dLoss/dW‖ at the first step", title="9 layers, XOR")
        ax.legend(fontsize="small")

    return {"vanishing": text, "vanishing_figure": figure("09_gradient_norms", draw)}


def claim_10():
    rows = []
    for label, overrides in (("none", []), ("`--set training.clip_norm=1`", ["training.clip_norm=1"])):
        run = train("10_exploding", *overrides)
        n = first_gradient_norms(run)
        where = run.summary.get("diverged_at")
        status = f"diverged in epoch {where['epoch']}" if where else run.summary["status"]
        clipped = sum(row["clipped_steps"] for row in run.history) if overrides else "—"
        accuracy = "—" if where else g(evaluate_run(run.run_dir)["accuracy"])
        rows.append((label, e(min(n)), e(max(n)), status, clipped, e(run.history[-1]["loss"]), accuracy))
    header = ["clipping", "min ‖∇W‖ at step 1", "max", "status", "steps clipped", "last logged loss", "accuracy"]
    return {"exploding": table(header, rows)}


def claim_11():
    config = load_config(LECTURE / "11_unscaled.yaml")
    _, data, _ = prepare(config)
    std = np.asarray(data.train.x).std(axis=0)
    rows = []
    for label, overrides in (("raw", []), ("standardised", ["data.standardize=true"])):
        run = train("11_unscaled", *overrides)
        val = evaluate_run(run.run_dir, "val")
        rows.append((label, reached(epochs_to(run.history, 0.2), config.training.epochs), g(run.history[-1]["loss"]), g(val["accuracy"])))
    text = (
        f"The raw features' standard deviations range from {g(float(std.min()))} to {g(float(std.max()))}.\n\n"
        + table(["inputs", "epochs to training loss < 0.2", "final training loss", "validation accuracy"], rows)
    )
    return {"standardize": text}


def claim_12():
    rows, curves = [], {}
    seeds = range(5)
    variants = [
        ("sigmoid, Xavier", "12_deep_sigmoid", []),
        ("sigmoid, Xavier, batch norm", "12_deep_sigmoid_batchnorm", []),
        ("ReLU, He", "09_relu_he", ["training.epochs=1000"]),
        ("ReLU, He, batch norm", "09_relu_he", ["training.epochs=1000", *every_hidden_layer("09_relu_he", "batchnorm", "true")]),
    ]
    for label, name, overrides in variants:
        epochs = []
        for seed in seeds:
            run = train(name, *overrides, f"seed={seed}")
            epochs.append(epochs_to(run.history, 0.05))
            if seed == 0 and name.startswith("12"):
                curves[label] = [row["loss"] for row in run.history]
        rows.append((label, *(reached(n, 1000) for n in epochs)))
    text = table(["8 hidden layers of 16", *(f"seed {s}" for s in seeds)], rows)

    def draw(fig):
        ax = fig.subplots()
        for label, losses in curves.items():
            ax.plot(np.arange(1, len(losses) + 1), losses, label=label)
        ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel="training loss", title="8 sigmoid layers, XOR, seed 0")
        ax.legend()

    return {"batchnorm": text, "batchnorm_figure": figure("12_batchnorm", draw)}


def claim_13():
    variants = [
        ("none", []),
        ("L2 0.01", every_hidden_layer("13_overfitting", "l2", 0.01)),
        ("dropout, keep_prob 0.5", every_hidden_layer("13_overfitting", "keep_prob", 0.5)),
    ]
    seeds = range(5)
    rows, curves = [], {}
    for label, overrides in variants:
        gaps, vals = [], []
        for seed in seeds:
            run = train("13_overfitting", *overrides, f"seed={seed}")
            penalty = load_model(run.run_dir)[1].penalty()  # in both losses below; only the data loss is compared
            train_loss = evaluate_run(run.run_dir)["loss"] - penalty
            val_loss = evaluate_run(run.run_dir, "val")["loss"] - penalty
            gaps.append(val_loss - train_loss)
            vals.append(val_loss)
            if seed == 0:
                curves[label] = run.history
        rows.append((label, *(g(x, 2) for x in gaps), g(float(np.mean(gaps)), 2), g(float(np.mean(vals)), 2)))
    text = table(["regularisation", *(f"seed {s}" for s in seeds), "mean gap", "mean validation loss"], rows)

    def draw(fig):
        axes = fig.subplots(1, len(curves), sharey=True)
        for ax, (label, history) in zip(axes, curves.items()):
            epochs = [row["epoch"] for row in history]
            ax.plot(epochs, [row.get("data_loss", row["loss"]) for row in history], label="training (batch mean)")
            ax.plot(epochs, [row["val_loss"] - row.get("penalty", 0.0) for row in history], label="validation")
            ax.set(yscale="log", xlabel="epoch", title=label)
        axes[0].set_ylabel("cross-entropy")
        axes[0].legend(fontsize="small")

    return {"overfitting": text, "overfitting_figure": figure("13_overfitting", draw, size=(7.2, 2.8))}


def claim_14():
    config = load_config(LECTURE / "14_parameters.yaml")
    model = build_model(config, 2, np.random.default_rng(0))
    rows = []
    for i, ops in enumerate(model.layers):
        W, b = ops[0].params["W"], ops[0].params["b"]
        rows.append((i, f"{W.shape[1]} → {W.shape[0]}", f"{W.size:,}", f"{b.size:,}", f"{W.size + b.size:,}"))
    rows.append(("total", "", "", "", f"{model.count_params()[0]:,}"))
    return {"parameters": table(["layer", "features", "weights", "biases", "parameters"], rows)}


CLAIMS = {n: globals()[f"claim_{n}"] for n in range(15) if f"claim_{n}" in globals()}


# --------------------------------------------------------------------------------------------------
# Writing docs/lecture.md

BLOCK = re.compile(r"(<!-- result: (?P<name>[\w-]+) -->\n)(.*?)(<!-- /result -->)", re.S)


def fill(text, results):
    """``text`` with each named result block replaced; raises if a result has no block."""
    missing = set(results) - {m.group("name") for m in BLOCK.finditer(text)}
    if missing:
        raise SystemExit(f"{DOC.relative_to(ROOT)} has no block for: {', '.join(sorted(missing))}")
    return BLOCK.sub(lambda m: m.group(1) + results[m.group("name")] + "\n" + m.group(4) if m.group("name") in results else m.group(0), text)


def main(argv=None):
    global RUNS, WRITE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("claims", nargs="*", type=int, help="claim numbers (default: all)")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/lecture.md is out of date; write nothing")
    args = parser.parse_args(argv)
    unknown = [n for n in args.claims if n not in CLAIMS]
    if unknown:
        parser.error(f"no experiment for claim {unknown[0]}; there are: {', '.join(map(str, CLAIMS))}")
    WRITE = not args.check
    results = {}
    with tempfile.TemporaryDirectory() as runs, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning about a pairing is the point of some experiments
        RUNS = Path(runs)
        for n in args.claims or CLAIMS:
            print(f"claim {n} ...", file=sys.stderr, flush=True)
            results.update(CLAIMS[n]())
    text = DOC.read_text(encoding="utf-8")
    new = fill(text, results)
    if args.check:
        if new != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run python scripts/lecture.py", file=sys.stderr)
            return 1
        print(f"{DOC.relative_to(ROOT)} is up to date", file=sys.stderr)
        return 0
    DOC.write_text(new, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
