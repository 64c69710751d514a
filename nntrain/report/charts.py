"""The report's charts as plotly figure dicts (``{"data": [...], "layout": {...}}``), JSON-ready:
NumPy arrays become lists, non-finite values ``None`` (a gap in the line). Names that come from the
user (runs, classes, config values) are HTML-escaped, as plotly renders a subset of HTML in text.

What each chart shows:

- ``curve``: one quantity over epochs, train solid and validation dashed, with linear / log buttons
  (log to start with when the values span more than two decades);
- ``layers``: a per-layer diagnostic over epochs (``grad_norm``, ``update_ratio``: log axis;
  ``dead`` / ``saturated``: shares from 0 to 1);
- ``regions``: a 2-D classifier's predicted probability over its input plane, with the training points;
- ``overlay``, ``bands``, ``parallel``: many runs' curves of one metric, seed groups' mean ± std,
  and the varied config keys against the metric.
"""

import html
import math

import numpy as np

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
BELOW = {"orientation": "h", "y": -0.22, "yanchor": "top", "font": {"size": 10}}  # a legend under the chart
LEGEND_RUNS = 12  # an overlay names its runs in a legend up to this many


def values(array, digits=None):
    """A 1-D array as a JSON list: floats, None where not finite; ``digits``: rounded (smaller pages)."""
    array = np.asarray(array, dtype=float)
    if digits is not None:
        array = np.round(array, digits)
    out = array.tolist()
    if not np.isfinite(array).all():
        out = [v if math.isfinite(v) else None for v in out]
    return out


def _text(value):
    return html.escape(str(value), quote=False)


def _spans_decades(arrays):
    finite = [a[np.isfinite(a)] for a in map(np.asarray, arrays)]
    finite = np.concatenate(finite) if finite else np.zeros(0)
    return len(finite) > 0 and finite.min() > 0 and finite.max() / finite.min() > 100


def _scale_buttons(log):
    """plotly buttons that switch the y axis between linear and log (``log``: the one active at first)."""
    return [
        {
            "type": "buttons",
            "direction": "right",
            "x": 1,
            "xanchor": "right",
            "y": 1.02,
            "yanchor": "bottom",
            "showactive": True,
            "active": 1 if log else 0,
            "pad": {"r": 0, "t": 0},
            "font": {"size": 11},
            "buttons": [
                {"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
                {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
            ],
        }
    ]


def _layout(title, xtitle="epoch", ytitle=None, log=False, buttons=True, legend=True):
    layout = {
        "title": {"text": _text(title), "x": 0.02, "font": {"size": 14}},
        "margin": {"l": 56, "r": 16, "t": 56, "b": 44},
        "xaxis": {"title": {"text": xtitle}},
        "yaxis": {"title": {"text": _text(ytitle or "")}, "type": "log" if log else "linear"},
        "showlegend": legend,
        "legend": {"font": {"size": 11}},
        "hovermode": "x unified" if legend else "closest",
    }
    if buttons:
        layout["updatemenus"] = _scale_buttons(log)
    return layout


def _line(x, y, name, color=None, dash=None, markers=False, group=None):
    trace = {
        "type": "scatter",
        "mode": "lines+markers" if markers else "lines",
        "x": values(x),
        "y": values(y),
        "name": _text(name),
        "line": {"width": 1.6},
    }
    if color:
        trace["line"]["color"] = color
    if dash:
        trace["line"]["dash"] = dash
    if markers:
        trace["marker"] = {"size": 4}
    if group:
        trace["legendgroup"] = group
    return trace


# --------------------------------------------------------------------------------------------------
# One run


def curve(title, epochs, columns):
    """One panel of learning curves: ``columns`` {column name: values per epoch}, a ``val_`` column
    dashed; every variant of a metric (``f1_<class>``) its own colour, train and validation alike."""
    variants = list(dict.fromkeys(name.removeprefix("val_") for name in columns))
    colours = {v: PALETTE[k % len(PALETTE)] for k, v in enumerate(variants)}
    markers = len(epochs) <= 20
    traces = []
    for name, ys in columns.items():
        variant = name.removeprefix("val_")
        split = "validation" if name.startswith("val_") else "train"
        label = split if len(variants) == 1 else f"{variant} ({split})"
        traces.append(_line(epochs, ys, label, colours[variant], "dash" if split == "validation" else None, markers))
    layout = _layout(title, ytitle=title, log=_spans_decades(columns.values()), legend=len(traces) > 1)
    layout["hovermode"] = "x unified"
    return {"data": traces, "layout": layout}


LAYER_CHARTS = {  # diagnostic -> (title, log axis)
    "grad_norm": ("gradient norm by layer (‖dL/dW‖)", True),
    "update_ratio": ("update ratio by layer (‖ΔW‖ / ‖W‖)", True),
    "weight_norm": ("weight norm by layer (‖W‖)", False),
    "units": ("dead (relu) and saturated (sigmoid, tanh) units", False),
}


def layers(kind, columns):
    """A diagnostic by layer over epochs: ``columns`` diagnostics.csv by column (``epoch``,
    ``grad_norm.layer0``, ...); ``kind`` a LAYER_CHARTS key (``units``: the dead and saturated shares)."""
    title, log = LAYER_CHARTS[kind]
    prefixes = ("dead", "saturated") if kind == "units" else (kind,)
    names = [c for c in columns if c.split(".")[0] in prefixes]
    epochs = columns["epoch"]
    markers = len(epochs) <= 20
    traces = []
    for name in names:
        quantity, layer = name.split(".", 1)
        k = int(layer.removeprefix("layer")) if layer.removeprefix("layer").isdigit() else 0
        label = f"{layer} {quantity}" if kind == "units" else layer
        traces.append(_line(epochs, columns[name], label, PALETTE[k % len(PALETTE)], "dot" if quantity == "saturated" else None, markers))
    layout = _layout(title, log=log, buttons=kind != "units")
    if kind == "units":
        layout["yaxis"]["range"] = [-0.02, 1.02]
        layout["yaxis"]["title"]["text"] = "share of units"
    return {"data": traces, "layout": layout}


def regions(g0, g1, p, x, labels, class_names):
    """A 2-D classifier's decision regions: ``g0``, ``g1`` (r, r) the grid (``plots.decision_grid``),
    ``p`` (r², units) its outputs; one unit shaded by P(class 1) with the 0.5 contour, several by the
    argmax class. ``x`` (n, 2) the training points (raw units), ``labels`` (n,) their classes."""
    xs, ys = values(g0[0]), values(g1[:, 0])
    shape = g0.shape
    if p.shape[1] == 1:
        z = p[:, 0].reshape(shape)
        surface = [
            {
                "type": "contour", "x": xs, "y": ys, "z": [values(row, 4) for row in z], "zmin": 0, "zmax": 1,
                "colorscale": "RdBu", "opacity": 0.6, "name": "P(class 1)",
                "contours": {"start": 0, "end": 1, "size": 0.1}, "line": {"width": 0},
                "colorbar": {"title": {"text": "P(" + _text(class_names[1]) + ")"}, "len": 0.9},
                "hovertemplate": "x0 %{x:.3g}<br>x1 %{y:.3g}<br>p %{z:.3f}<extra></extra>",
            },
            {
                "type": "contour", "x": xs, "y": ys, "z": [values(row, 4) for row in z], "showscale": False,
                "contours": {"coloring": "none", "start": 0.5, "end": 0.5, "size": 1}, "line": {"width": 2, "color": "black"},
                "hoverinfo": "skip", "name": "p = 0.5",
            },
        ]
        colours = ["#2166ac", "#b2182b"]
    else:
        k = p.shape[1]
        colours = [PALETTE[i % len(PALETTE)] for i in range(k)]
        scale = [[i / max(k - 1, 1), c] for i, c in enumerate(colours)]
        surface = [
            {
                "type": "heatmap", "x": xs, "y": ys, "z": [row.tolist() for row in p.argmax(axis=1).reshape(shape)],
                "zmin": 0, "zmax": k - 1, "colorscale": scale, "opacity": 0.35, "showscale": False,
                "hovertemplate": "x0 %{x:.3g}<br>x1 %{y:.3g}<br>class %{z}<extra></extra>",
            }
        ]
    points = []
    size = 9 if len(x) <= 100 else 5
    for k in np.unique(labels):
        mine = labels == k
        points.append(
            {
                "type": "scatter", "mode": "markers", "x": values(x[mine, 0]), "y": values(x[mine, 1]),
                "name": _text(class_names[k] if k < len(class_names) else k),
                "marker": {"size": size, "color": colours[k % len(colours)], "line": {"color": "#222", "width": 0.8}},
            }
        )
    layout = _layout("decision regions", xtitle="x[0]", ytitle="x[1]", buttons=False)
    layout["hovermode"] = "closest"
    layout["legend"] = {"orientation": "h", "y": -0.22}
    return {"data": surface + points, "layout": layout}


# --------------------------------------------------------------------------------------------------
# Many runs


def overlay(metric, curves):
    """One metric's curves of many runs: ``curves`` [(label, epochs, values, ...)] (``compare.curves``),
    best run first."""
    shown = [(label, e, v) for label, e, v, *_ in curves if len(v)]
    traces = [_line(e, v, label, PALETTE[i % len(PALETTE)] if len(shown) <= len(PALETTE) else None) for i, (label, e, v) in enumerate(shown)]
    legend = len(shown) <= LEGEND_RUNS
    layout = _layout(f"{metric} of {len(shown)} runs", ytitle=metric, log=_spans_decades([v for _, _, v in shown]), legend=legend)
    layout.update(hovermode="closest", legend=BELOW, margin={"l": 56, "r": 16, "t": 56, "b": 100})
    return {"data": traces, "layout": layout}


def bands(metric, groups):
    """Seed groups' mean ± std of one metric by epoch: ``groups`` [(label, epochs, mean, std, n runs)]."""
    traces = []
    for i, (label, epochs, mean, std, n) in enumerate(groups):
        colour = PALETTE[i % len(PALETTE)]
        name = f"{label} ({n} seeds)"
        traces.append(_line(epochs, mean + std, name, colour, group=f"g{i}") | {"line": {"width": 0, "color": colour}, "showlegend": False, "hoverinfo": "skip"})
        lower = _line(epochs, mean - std, name, colour, group=f"g{i}")
        lower.update(line={"width": 0, "color": colour}, fill="tonexty", fillcolor=_transparent(colour), showlegend=False, hoverinfo="skip")
        traces.append(lower)
        traces.append(_line(epochs, mean, name, colour, group=f"g{i}"))
    layout = _layout(f"{metric}: mean ± std over seeds", ytitle=metric, log=_spans_decades([g[2] for g in groups]))
    layout.update(hovermode="closest", legend=BELOW, margin={"l": 56, "r": 16, "t": 56, "b": 100})
    return {"data": traces, "layout": layout}


def _transparent(colour, alpha=0.2):
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def parallel(keys, rows, metric, goal):
    """Parallel coordinates: one line per run through its values of the varied ``keys`` and ``metric``.

    ``rows``: [({key: value}, metric value)]. A key of numbers is an axis of numbers; any other one
    an axis of its values' texts, in order of first appearance. Lines coloured by the metric, the
    best end of the scale bright.
    """
    dimensions = []
    for key in keys:
        column = [config.get(key) for config, _ in rows]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in column):
            dimensions.append({"label": _text(key), "values": values(column)})
        else:
            texts = [_text(v) for v in column]
            levels = list(dict.fromkeys(texts))
            dimensions.append(
                {"label": _text(key), "values": [levels.index(t) for t in texts], "tickvals": list(range(len(levels))), "ticktext": levels}
            )
    scores = values([m for _, m in rows])
    dimensions.append({"label": _text(metric), "values": scores})
    trace = {
        "type": "parcoords",
        "line": {"color": scores, "colorscale": "Viridis", "reversescale": goal == "min", "showscale": True,
                 "colorbar": {"title": {"text": _text(metric)}}},
        "dimensions": dimensions,
    }
    layout = {"title": {"text": f"varied keys against {_text(metric)}", "x": 0.02, "font": {"size": 14}}, "margin": {"l": 80, "r": 80, "t": 80, "b": 30}}
    return {"data": [trace], "layout": layout}
