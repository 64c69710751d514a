"""The tables ``nntrain runs``, ``compare`` and ``sweep`` print: rich, within the terminal's width
(80 columns included), wrapping or folding cells rather than cutting them; and the text of the values
in them (also what the other commands print).

Cheap to import (every command's module takes ``number_text`` from here): rich and the library are
imported inside the functions.
"""


def plain_table(title, **options):
    """The house style of nntrain's tables: a rule under the header, no frame, one space between columns."""
    from rich import box
    from rich.table import Table

    return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), **options)


def add_columns(table, text, numbers):
    """Columns of text (left-aligned), then of numbers (right-aligned); a cell too long folds."""
    for name in text:
        table.add_column(name, overflow="fold")
    for name in numbers:
        table.add_column(name, justify="right", overflow="fold")


# The compare table's columns but the config's: "#" and "run", then (after the config keys) the numbers.
_HEADER = ["#", "run", "best", "epoch", "final", "params", "time"]


def render(result, console):
    """Print a ``compare`` result as a rich table on ``console``, within the console's width.

    The differing config values get a column each when those fit beside the metrics; otherwise they
    share one column, a line per config section (``optimizer: name=sgd lr=0.5``).
    """
    from nntrain.runs.compare import value_text

    metric, keys, runs = result["metric"], result["differences"], result["runs"]
    better = "higher" if result["goal"] == "max" else "lower"
    # The input width: a column where the runs' differ, else said once below the table.
    widths = {r.get("inputs_from") or r.get("inputs") for r in runs} - {None}
    caption = None if keys else "the runs' configs are identical"
    if len(widths) == 1 and runs[0].get("inputs_from"):
        caption = "; ".join(filter(None, [caption, runs[0]["inputs_from"]]))
    table = plain_table(f"{plural(len(runs), 'run')} ranked by {metric} ({better} is better)", caption=caption)
    fixed = [_fixed_cells(r) for r in runs]
    config = [[value_text(r["config"][k]) if k in r["config"] else None for k in keys] for r in runs]
    if len(widths) > 1:
        keys = ["inputs", *keys]
        config = [[None if r.get("inputs") is None else str(r["inputs"]), *row] for r, row in zip(runs, config)]
    key_widths = _key_widths(_HEADER, fixed, keys, config, console.width)
    _add_compare_columns(table, keys, key_widths)
    for cells, values in zip(fixed, config):
        table.add_row(*_compare_row(cells, keys, values, as_columns=key_widths is not None))
    console.print(table)


def _fixed_cells(r):
    """A compare record's cells under ``_HEADER``; a cv directory's best as ``mean ± std``."""
    best = number_text(r["best"])
    if r.get("std") is not None:
        best = f"{best} ± {number_text(r['std'])}"
    return [
        str(r["rank"] or "—"),
        r["label"] + _status_text(r),
        best,
        number_text(r["best_epoch"]),
        number_text(r["final"]),
        count_text(r["parameters"]),
        duration_text(r["wall_time_s"]),
    ]


def _status_text(r):
    """What follows a run's label: nothing when completed, `` (diverged)``, `` (5-fold cv)``, `` (5-fold cv x 3)``."""
    if r["status"] == "cv":
        repeats = r.get("repeats") or 1
        return f" ({r['folds']}-fold cv{f' x {repeats}' if repeats > 1 else ''})"
    return "" if r["status"] in ("completed", None) else f" ({r['status']})"


def _add_compare_columns(table, keys, key_widths):
    """``#`` and ``run``, a column per config key (when ``key_widths`` says they fit), the numbers, and
    else one ``config`` column at the end."""
    for name in _HEADER[:2]:
        table.add_column(name, justify="right" if name == "#" else "left", overflow="fold")
    for key, width in zip(keys, key_widths or ()):
        table.add_column(_fold_at_dots(key, width), overflow="fold", max_width=width)
    for name in _HEADER[2:]:
        table.add_column(name, justify="right", overflow="fold")
    if keys and key_widths is None:
        table.add_column("config", overflow="fold")


def _compare_row(cells, keys, values, as_columns):
    """A run's row: its ``_HEADER`` cells with its config ``values`` (None: its config lacks the key)
    in their columns, or as one last cell."""
    if as_columns:
        return cells[:2] + ["—" if v is None else v for v in values] + cells[2:]
    if keys:
        return cells + [_sections_text(keys, values)]
    return cells


def _key_widths(header, fixed, keys, config, width):
    """Widths for a column per config key beside the other columns, or None if they do not fit.

    The other columns are as wide as their longest cell (a run's name folds at 14); a key's column
    as wide as its header and its longest value; the widest headers fold at their dots until the
    columns fit.
    """
    widths = [max(len(h), *(len(row[i]) for row in fixed)) for i, h in enumerate(header)]
    widths[1] = min(widths[1], 14)
    room = width - sum(widths) - 2 * (len(widths) + len(keys) - 1)  # two spaces between columns
    values = [max(5, *(len(row[i] or "") for row in config)) for i in range(len(keys))]
    key_widths = [max(v, len(key)) for key, v in zip(keys, values)]
    narrowest = [max(v, *map(len, key.replace(".", ".\0").split("\0"))) for key, v in zip(keys, values)]
    return _fold_to_fit(key_widths, narrowest, room)


def _fold_to_fit(widths, narrowest, room):
    """``widths`` narrowed, widest first and only as far as needed, to sum to at most ``room`` -- none
    below its ``narrowest``; None if they cannot."""
    widths = list(widths)
    while sum(widths) > room:
        foldable = [i for i, (w, n) in enumerate(zip(widths, narrowest)) if w > n]
        if not foldable:
            return None
        i = max(foldable, key=lambda i: widths[i])
        widths[i] = max(narrowest[i], widths[i] - (sum(widths) - room))
    return widths


def _fold_at_dots(key, width):
    """A dotted key in lines of at most ``width`` characters, broken after dots where it can be."""
    lines = [""]
    for part in key.replace(".", ".\0").split("\0"):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def _sections_text(keys, values):
    """``key=value`` pairs grouped by section, a line each; keys the run's config lacks are left out."""
    sections = {}
    for key, value in zip(keys, values):
        if value is not None:
            section, _, leaf = key.rpartition(".")
            sections.setdefault(section, []).append(f"{leaf}={value}")
    lines = [f"{section}: {' '.join(pairs)}" if section else " ".join(pairs) for section, pairs in sections.items()]
    return "\n".join(lines)


def plural(n, noun):
    """``1 run``, ``2 runs``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def number_text(value):
    """A number as nntrain prints it: a float to 5 significant digits, an int in full; — for none."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)


def count_text(value):
    """A parameter count, compactly: 17, 12,345, 1.2M."""
    if value is None:
        return "—"
    return f"{value / 1e6:.3g}M" if value >= 1_000_000 else f"{value:,}"


def duration_text(seconds):
    """A wall time: 0.42s, 12.3s, 4m05s, 2h07m."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m{int(seconds % 60):02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"
