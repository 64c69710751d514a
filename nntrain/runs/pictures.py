"""Pictures of a network's insides: every unit over the input plane (``neurons.png``), the net as a
graph (``network.png``), the weights' and activations' histograms at the first and last epoch
(``histograms.png``) and the decision regions over the epochs (``boundary.gif``).

Drawn as ``nntrain.runs.plots`` draws: matplotlib's object-oriented API on an Agg canvas, imported
inside the functions, written atomically. ``predict`` and ``trace`` arguments take raw input rows
(the run's standardisation is the caller's: ``Predictor``).
"""

import io
from pathlib import Path

import numpy as np

from ..errors import DataError
from .plots import DPI, _figure, _labels, _palette, _save, decision_grid

NEURONS, NETWORK, HISTOGRAMS, BOUNDARY_GIF = "neurons.png", "network.png", "histograms.png", "boundary.gif"
CELL = 200  # pixels per unit's map in neurons.png
MAX_UNITS = 16  # units of a layer drawn in neurons.png
MAX_NODES = 40  # units of a layer drawn in network.png
GIF_SIZE = (480, 420)
GIF_RESOLUTION = 120


def require_2d(x, what):
    """DataError unless x holds rows of 2 inputs: ``what`` needs the input plane."""
    width = np.shape(x)[1] if np.ndim(x) == 2 else None
    if width != 2:
        raise DataError(f"{what} need 2-D inputs (a plane to draw on); the data has {width} features")


# --------------------------------------------------------------------------------------------------
# neurons.png


def plot_neurons(trace, x, y, path, features=("x1", "x2"), title=None, resolution=100):
    """Each unit's activation over the input plane, one row per layer (the last: the output).

    ``trace``: raw rows (n, 2) -> a list of (n, units) activations per layer (``Sequential.trace``
    after the run's scaling); ``x`` (n, 2) raw points (drawn small, coloured by ``y``'s labels) set the
    plane's extent. A layer of more than MAX_UNITS units shows its first MAX_UNITS.
    """
    require_2d(x, "neuron maps")
    g0, g1, _ = decision_grid(lambda rows: np.zeros((len(rows), 1)), x, resolution)
    layers = trace(np.column_stack([g0.ravel(), g1.ravel()]))
    columns = min(max(a.shape[1] for a in layers), MAX_UNITS)
    fig = _figure((max(CELL * columns + 80, 480), CELL * len(layers) + 40))
    axes = fig.subplots(len(layers), columns, squeeze=False)
    labels = None if y is None else _labels(np.asarray(y))
    for i, a in enumerate(layers):
        for j in range(columns):
            ax = axes[i, j]
            if j >= a.shape[1]:
                ax.set_axis_off()
                continue
            values = a[:, j].reshape(g0.shape)
            lo, hi = float(values.min()), float(values.max())
            image = ax.contourf(g0, g1, values, levels=np.linspace(lo, hi if hi > lo else lo + 1, 12), cmap="viridis")
            if labels is not None:
                ax.scatter(x[:, 0], x[:, 1], s=8, c=[_palette(max(labels.max() + 1, 2))[k] for k in labels],
                           edgecolors="black", linewidths=0.4)  # fmt: skip
            ax.set_title(f"layer {i}, unit {j}" + (" (output)" if i == len(layers) - 1 else ""), fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(image, ax=ax, fraction=0.08, format="%.2g").ax.tick_params(labelsize="x-small")
        if a.shape[1] > columns:
            axes[i, -1].annotate(f"{columns} of {a.shape[1]} units", (1, -0.08), xycoords="axes fraction",
                                 ha="right", va="top", fontsize="x-small")  # fmt: skip
    axes[-1, 0].set_xlabel(features[0])
    axes[-1, 0].set_ylabel(features[1])
    fig.suptitle(f"{title}: every unit over the input plane" if title else "every unit over the input plane")
    _save(fig, path)


# --------------------------------------------------------------------------------------------------
# network.png


def network_columns(model):
    """The graph's columns of nodes and the kernels between them: (widths, names, [(W, skip)]), W
    (out, in) joining column k to k + 1; a residual block contributes its hidden Dense (if any) and
    its out Dense, ``skip`` marking the block's last kernel (its output adds the block's input)."""
    widths, names = [model.inputs], ["input"]
    kernels = []
    for i, layer in enumerate(model.layers):
        ws = [W for W, _ in layer.kernels()]
        for k, W in enumerate(ws):
            last = k == len(ws) - 1
            kernels.append((W, hasattr(layer, "norm") and last))
            widths.append(W.shape[0])
            block = hasattr(layer, "norm")  # a residual block: its activation comes before its out Dense
            names.append(f"layer {i}\n" + (("out" if block else layer.activation.name) if last else f"hidden, {layer.activation.name}"))
    return widths, names, kernels


def plot_network(model, path, features=None, title=None):
    """The net as a graph: a column of nodes per layer, a line per weight, its width proportional to
    |w| (the largest drawn 4 points wide) and its colour the sign (red +, blue -). Columns of more
    than MAX_NODES units show their first MAX_NODES."""
    from matplotlib.collections import LineCollection

    widths, names, kernels = network_columns(model)
    shown = [min(w, MAX_NODES) for w in widths]
    fig = _figure((max(480, 160 * len(widths)), max(360, 14 * max(shown) + 120)))
    ax = fig.subplots()
    y_of = [np.linspace(0.5, -0.5, n) * (n - 1) / max(max(shown) - 1, 1) if n > 1 else np.zeros(1) for n in shown]
    largest = max((float(np.abs(W).max()) for W, _ in kernels), default=1.0) or 1.0
    for k, (W, skip) in enumerate(kernels):
        ax.add_collection(_edges(W[: shown[k + 1], : shown[k]], k, y_of, largest, LineCollection))
        if skip:
            ax.annotate("+ input", (k + 1, y_of[k + 1][0]), xytext=(0, 10), textcoords="offset points", ha="center", fontsize="small")
    for k, ys in enumerate(y_of):
        ax.scatter(np.full(len(ys), k), ys, s=60 if len(ys) < 20 else 20, color="white", edgecolors="black", zorder=2)
        name = names[k]
        more = f"\n({shown[k]} of {widths[k]})" if widths[k] > shown[k] else ""
        ax.annotate(f"{name}{more}", (k, 0.62), ha="center", va="bottom", fontsize="small")
    for s, name in enumerate(features if features and len(features) == widths[0] <= MAX_NODES else ()):
        ax.annotate(name, (0, y_of[0][s]), xytext=(-8, 0), textcoords="offset points", ha="right", va="center", fontsize="small")
    ax.set_xlim(-0.6, len(widths) - 0.4)
    ax.set_ylim(-0.6, 0.75)
    ax.set_axis_off()
    ax.set_title(f"{title + ': ' if title else ''}weights (red +, blue -, width |w|, largest {largest:.3g})")
    _save(fig, path)


def _edges(W, k, y_of, largest, LineCollection):
    """The lines of kernel W (out, in) from column k to k + 1: width 0.2 + 4 |w| / largest, red + / blue -."""
    targets, sources = np.meshgrid(np.arange(W.shape[0]), np.arange(W.shape[1]), indexing="ij")
    segments = [[(k, y_of[k][s]), (k + 1, y_of[k + 1][t])] for t, s in zip(targets.ravel(), sources.ravel())]
    w = W.ravel()
    colours = np.where(w[:, None] >= 0, [[0.8, 0.15, 0.15, 0.8]], [[0.15, 0.3, 0.8, 0.8]])
    return LineCollection(segments, linewidths=0.2 + 4 * np.abs(w) / largest, colors=colours, zorder=1)


# --------------------------------------------------------------------------------------------------
# histograms.png


def plot_histograms(states, activations, path, title=None):
    """Per layer, its weights' histogram (top row) and its activations' (bottom row) at each of
    ``states``: [(label, {layers.<i>.<name>: array})] (e.g. the first and the last epoch) and
    ``activations``: [(label, [(n, units) per layer])], drawn as outlines over each other."""
    layers = sorted({int(k.split(".")[1]) for _, arrays in states for k in arrays})
    fig = _figure((max(260 * len(layers), 480), 460))
    axes = fig.subplots(2, len(layers), squeeze=False)
    colours = _palette(max(len(states), 2))
    for j, i in enumerate(layers):
        weights = [np.concatenate([a.ravel() for k, a in arrays.items() if k.startswith(f"layers.{i}.") and k.endswith("W")])
                   for _, arrays in states]  # fmt: skip
        _overlaid(axes[0, j], weights, [label for label, _ in states], colours)
        axes[0, j].set_title(f"layer {i}: weights", fontsize="small")
        _overlaid(axes[1, j], [per_layer[i].ravel() for _, per_layer in activations], [label for label, _ in activations], colours)
        axes[1, j].set_title(f"layer {i}: activations", fontsize="small")
    axes[0, 0].set_ylabel("count")
    axes[1, 0].set_ylabel("count")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    if title:
        fig.suptitle(title)
    _save(fig, path)


def _overlaid(ax, samples, labels, colours):
    """Histograms of ``samples`` as outlines on the same 40 bins."""
    finite = [v[np.isfinite(v)] for v in samples]
    lo = min((v.min() for v in finite if v.size), default=0.0)
    hi = max((v.max() for v in finite if v.size), default=1.0)
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 41)
    for values, label, colour in zip(finite, labels, colours):
        ax.hist(values, bins=bins, histtype="step", linewidth=1.5, color=colour, label=label)


# --------------------------------------------------------------------------------------------------
# boundary.gif


def animate_boundary(predictors, x, y, path, features=("x1", "x2"), title=None, fps=8):
    """The decision regions over the epochs as a GIF: one frame per (epoch, predict) of ``predictors``
    (predict: raw rows (n, 2) -> probabilities), the training points x (n, 2), labels y, on the same
    plane and colour scale in every frame; the last frame is held a second longer."""
    from matplotlib.animation import PillowWriter
    from matplotlib.colors import ListedColormap

    require_2d(x, "decision regions")
    x = np.asarray(x, dtype=float)
    labels = _labels(np.asarray(y))
    fig = _figure(GIF_SIZE)
    ax = fig.subplots()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.gif")
    writer = PillowWriter(fps=fps)
    frames = list(predictors)
    with writer.saving(fig, str(tmp), DPI):
        for n, (epoch, predict) in enumerate(frames):
            ax.clear()
            g0, g1, p = decision_grid(predict, x, GIF_RESOLUTION)
            classes = max(p.shape[1], 2, int(labels.max()) + 1)
            if p.shape[1] == 1:
                ax.contourf(g0, g1, p[:, 0].reshape(g0.shape), levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.75)
                ax.contour(g0, g1, p[:, 0].reshape(g0.shape), levels=[0.5], colors="black", linewidths=1.2)
                palette = [(0.13, 0.4, 0.67), (0.7, 0.09, 0.17)]
            else:
                palette = _palette(classes)
                regions = p.argmax(axis=1).reshape(g0.shape)
                ax.contourf(g0, g1, regions, levels=np.arange(classes + 1) - 0.5, cmap=ListedColormap(palette), alpha=0.35)
            ax.scatter(x[:, 0], x[:, 1], s=50 if len(x) <= 100 else 10, c=[palette[k] for k in labels],
                       edgecolors="black" if classes > 2 else "white", linewidths=0.8, zorder=3)  # fmt: skip
            ax.set_xlabel(features[0])
            ax.set_ylabel(features[1])
            ax.set_title(f"{title + ': ' if title else ''}epoch {epoch}")
            for _ in range(fps if n == len(frames) - 1 else 1):
                writer.grab_frame()
    from .store import write_bytes

    data = tmp.read_bytes()
    tmp.unlink()
    write_bytes(path, data)  # atomically, as the PNGs
    return len(frames)


def gif_frames(path):
    """The number of frames of a GIF (for tests and checks), read with Pillow."""
    from PIL import Image

    with Image.open(io.BytesIO(Path(path).read_bytes())) as image:
        return image.n_frames
