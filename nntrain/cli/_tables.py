"""The tables the commands print: rich, within the terminal's width (80 columns included) -- a
long name or value elided in the middle (``runs/iris-2…-113202``) rather than wrapped, dotted keys
folded at their dots -- or whole with ``--wide``; and the text of the values in them (also what the
other commands print). Every text in them is the user's (names, paths, values) and goes in as a rich
``Text``, never read as markup: ``[accuracy]`` stays ``[accuracy]``.

Cheap to import (every command's module takes ``number_text`` from here): rich and the library are
imported inside the functions.
"""


ELIDED_MIN = 8  # an elided column keeps at least this many characters (or its header's longest word)
VALUE_MAX = 24  # a config value in compare's columns, at most (elided in the middle), unless --wide


def text(value):
    """A rich Text of ``value`` as it is: no markup, no highlighting."""
    from rich.text import Text

    return value if isinstance(value, Text) else Text(str(value))


def plain_table(title, caption=None, **options):
    """The house style of nntrain's tables: a rule under the header, no frame, one space between columns."""
    from rich import box
    from rich.table import Table

    return Table(
        title=None if title is None else text(title),
        caption=None if caption is None else text(caption),
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        **options,
    )


def add_columns(table, text_columns, numbers):
    """Columns of text (left-aligned), then of numbers (right-aligned); a cell too long folds."""
    for name in text_columns:
        table.add_column(text(name), overflow="fold")
    for name in numbers:
        table.add_column(text(name), justify="right", overflow="fold")


def add_row(table, *cells):
    """A row of the user's texts (see ``text``)."""
    table.add_row(*(None if c is None else text(c) for c in cells))


def elide(value, width):
    """``value`` cut in the middle to at most ``width`` characters: ``optimizer.…=0.1``."""
    if len(value) <= width:
        return value
    if width < 2:
        return "…"[:width]
    head = width // 2
    return value[:head] + "…" + value[len(value) - (width - head - 1) :]


def room(width, columns):
    """The characters ``columns`` columns of a ``plain_table`` leave for their cells in ``width``."""
    return width - (2 * columns - 1)  # one space after each cell, one between columns


def fitted_table(title, columns, rows, width, caption=None, **options):
    """A ``plain_table`` of ``rows`` (lists of str) within ``width`` columns where it can be, no cell wrapped.

    ``columns``: (header, justify, elided) each; the widest ``elided`` columns narrow first, down
    to ``ELIDED_MIN`` characters, their cells elided in the middle; the others keep their width --
    but an ``elided`` of ``"wrap"``: a column of prose (a list, a sentence), wrapped between words.
    """
    table = plain_table(title, caption=caption, **options)
    natural = [max([_width(h), *(len(r[i]) for r in rows)]) for i, (h, _, _) in enumerate(columns)]
    narrowest = [min(w, max(ELIDED_MIN, *map(len, h.split()))) if elided else w for w, (h, _, elided) in zip(natural, columns)]
    widths = _fold_to_fit(natural, narrowest, room(width, len(columns))) or narrowest
    for (header, justify, elided), w in zip(columns, widths):
        sized = w if elided is True else None
        table.add_column(text(header), justify=justify, no_wrap=elided != "wrap", min_width=sized, max_width=sized)
    for row in rows:
        add_row(table, *(elide(c, w) if elided is True else c for c, w, (_, _, elided) in zip(row, widths, columns)))
    return table


def _width(header):
    return max(map(len, header.splitlines() or [""]))


# The compare table's columns but the config's: "#" and "run", then (after the config keys) the numbers.
_HEADER = ["#", "run", "best", "epoch", "final", "params", "time"]


def render(result, console):
    """Print a ``compare`` result as a rich table on ``console``, within the console's width.

    The differing config values get a column each when those fit beside the metrics; otherwise they
    share one column, a line per config section (``optimizer: name=sgd lr=0.5``). Runs named after
    their values (a sweep's ``optimizer.lr=0.1,model.l2=0.01``) are not named again: their values
    are in the config columns. A long run name or value is elided in the middle (see ``elide``).
    """
    metric, keys, runs = result["metric"], result["differences"], result["runs"]
    better = "higher" if result["goal"] == "max" else "lower"
    wide = console.width >= 1000
    named_by_values = _named_by_values([r["label"] for r in runs], keys)
    header = [h for h in _HEADER if not (named_by_values and h == "run")]
    what = "seed groups" if result.get("grouped") else "runs"
    title = f"{len(runs)} {what if len(runs) != 1 else what[:-1]} ranked by {metric} ({better} is better)"
    caption = _caption(runs, keys)
    if result.get("grouped"):
        caption = "; ".join(filter(None, ["best: mean ± std over a group's seeds", caption]))
    table = plain_table(title, caption=caption)
    fixed = [_fixed_cells(r, named_by_values) for r in runs]
    keys, config = _config_cells(runs, keys, wide)
    key_widths = _key_widths(header, fixed, keys, config, console.width, named_by_values or wide)
    label_width = None if named_by_values else _label_width(header, fixed, keys, key_widths, console.width, wide)
    _add_compare_columns(table, header, keys, key_widths, label_width)
    for cells, values in zip(fixed, config):
        if label_width is not None:
            cells = [cells[0], elide(cells[1], label_width), *cells[2:]]
        add_row(table, *_compare_row(cells, len(header) - 5, keys, values, as_columns=key_widths is not None))
    console.print(table)


def _caption(runs, keys):
    """What is said once below the table: identical configs; the input width all runs share."""
    caption = None if keys else "the runs' configs are identical"
    if len({r.get("inputs_from") or r.get("inputs") for r in runs} - {None}) == 1 and runs[0].get("inputs_from"):
        caption = "; ".join(filter(None, [caption, runs[0]["inputs_from"]]))
    return caption


def _config_cells(runs, keys, wide):
    """(keys, a row of config texts per run; None where its config lacks the key), with ``inputs``
    first where the runs' input widths differ; values elided to ``VALUE_MAX`` unless ``wide``."""
    from nntrain.runs.compare import value_text

    def shown(value):
        return value_text(value) if wide else elide(value_text(value), VALUE_MAX)

    config = [[shown(r["config"][k]) if k in r["config"] else None for k in keys] for r in runs]
    if len({r.get("inputs_from") or r.get("inputs") for r in runs} - {None}) > 1:
        keys = ["inputs", *keys]
        config = [[None if r.get("inputs") is None else str(r["inputs"]), *row] for r, row in zip(runs, config)]
    return keys, config


def _named_by_values(labels, keys):
    """Whether every run's name is its values of differing config keys, ``key=value,key=value``."""
    for label in labels:
        pairs = [part.partition("=") for part in label.split(",")]
        if not all(sep and key in keys for key, sep, _ in pairs):
            return False
    return bool(labels)


def _fixed_cells(r, named_by_values=False):
    """A compare record's cells under ``_HEADER`` (without ``run`` when ``named_by_values``); a cv
    directory's best as ``mean ± std``."""
    best = number_text(r["best"])
    if r.get("std") is not None:
        best = f"{best} ± {number_text(r['std'])}" + (f" n={r['n']}" if r.get("n") else "")
    label = [] if named_by_values else [r["label"] + _status_text(r)]
    return [
        str(r["rank"] or "—"),
        *label,
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
    if r["status"] == "seeds":
        return f" ({r['n']} seeds)"
    return "" if r["status"] in ("completed", None) else f" ({r['status']})"


def _add_compare_columns(table, header, keys, key_widths, label_width):
    """``#`` and ``run`` (if in ``header``), a column per config key (when ``key_widths`` says they fit),
    the numbers, and else one ``config`` column at the end."""
    names = header[: len(header) - 5]
    for name in names:
        table.add_column(name, justify="right" if name == "#" else "left", no_wrap=True, min_width=label_width if name == "run" else None)
    for key, width in zip(keys, key_widths or ()):
        table.add_column(text(_fold_at_dots(key, width)), no_wrap=True, max_width=width)
    for name in header[len(names) :]:
        table.add_column(name, justify="right", no_wrap=True)
    if keys and key_widths is None:
        table.add_column("config", overflow="fold")


def _compare_row(cells, labels, keys, values, as_columns):
    """A run's row: its ``_HEADER`` cells (``labels`` of them before the config) with its config
    ``values`` (None: its config lacks the key) in their columns, or as one last cell."""
    if as_columns:
        return cells[:labels] + ["—" if v is None else v for v in values] + cells[labels:]
    if keys:
        return cells + [_sections_text(keys, values)]
    return cells


def _key_widths(header, fixed, keys, config, width, whole_labels=True):
    """Widths for a column per config key beside the other columns, or None if they do not fit.

    The other columns are as wide as their longest cell (a run's name, unless ``whole_labels``, is
    counted at 14: it is elided to what is left); a key's column as wide as its header and its
    longest value; the widest headers fold at their dots until the columns fit.
    """
    widths = [max(len(h), *(len(row[i]) for row in fixed)) for i, h in enumerate(header)]
    if "run" in header and not whole_labels:
        widths[1] = min(widths[1], 14)
    space = room(width, len(widths) + len(keys)) - sum(widths)
    values = [max(5, *(len(row[i] or "") for row in config)) for i in range(len(keys))]
    key_widths = [max(v, len(key)) for key, v in zip(keys, values)]
    narrowest = [max(v, *map(len, key.replace(".", ".\0").split("\0"))) for key, v in zip(keys, values)]
    return _fold_to_fit(key_widths, narrowest, space)


def _label_width(header, fixed, keys, key_widths, width, wide):
    """The width of the ``run`` column: its longest name where that fits (or ``wide``), else what the
    other columns leave it, at least ``ELIDED_MIN``."""
    longest = max(len(row[1]) for row in fixed)
    if wide:
        return longest
    others = [max(len(h), *(len(row[i]) for row in fixed)) for i, h in enumerate(header) if h != "run"]
    columns = len(header) + (len(keys) if key_widths is not None else 1 if keys else 0)
    used = sum(others) + sum(key_widths or ()) if key_widths is not None else sum(others)
    if keys and key_widths is None:
        used += 24  # the config column keeps room for a section's line
    return min(longest, max(ELIDED_MIN, room(width, columns) - used))


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
