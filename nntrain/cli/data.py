from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console, overrides, print_json

TOP_SHOWN = 3  # categories named per column in the table


@command()
def data(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="YAML experiment config.", show_default=False)],
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", metavar="KEY=VALUE", help="Override a config value by dotted path, e.g. data.split.val=0.1 (repeatable)."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option(metavar="N", help="Override the config's seed (the split).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every column, the target, inputs, splits).")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Show long names and values whole (the table may be wider than the terminal).")] = False,
):
    """What training would see of the config's data, without training; writes nothing.

    Each column with its type as training encodes it, its missing cells (in the whole file, and in
    the training split), its values in the training split and the inputs it becomes; the target's
    classes per split or its range; the input width, the splits' sizes and the rows left out.
    """
    from nntrain.config import load_config
    from nntrain.data.describe import describe_data

    result = describe_data(load_config(config, overrides(set_, seed)))
    if as_json:
        print_json(result)
        return
    out = console(wide)
    for line in _header(result):
        out.print(line, highlight=False, markup=False)
    out.print()
    out.print(_columns_table(result, out.width))
    out.print()
    out.print(_classes_table(result["target"]) if result["target"]["kind"] == "classes" else _values_table(result["target"]))
    out.print()
    out.print(f"inputs: {_inputs_text(result)}", highlight=False, markup=False)


def _header(result):
    """Where the data comes from, its rows (and those left out) and splits."""
    if result["path"] is None:
        origin = f"{result['source']}: {'scikit-learn' if ':' in result['source'] else 'built-in'} set"
    else:
        origin = f"{result['path']}: {result['source']}" + (f", delimiter {result['delimiter']!r}" if result["delimiter"] else "")
    rows = result["rows"]
    text = f"rows: {rows['read']}"
    if rows["dropped"]:
        reasons = ", ".join(f"{d['rows']} without {name!r} ({d['why']})" for name, d in rows["dropped"].items())
        text = f"rows: {rows['read']} read, {rows['used']} used; left out: {reasons}"
    splits = ", ".join(f"{name} {n}" for name, n in result["splits"].items())
    return [origin, text, f"splits: {splits}"]


def _columns_table(result, width):
    from ._tables import fitted_table

    columns = [("column", "left", True), ("type", "left", False)]
    columns += [(name, "right", False) for name in ("missing", "in train", "inputs")] + [("values (train)", "left", "wrap")]
    rows = [
        [
            column["name"],
            column["type"],
            str(column["missing"]),
            str(column["missing_train"]),
            str(column["inputs"]) if column["type"] != "target" else "—",
            _values_text(column),
        ]
        for column in result["columns"]
    ]
    return fitted_table(
        f"{len(result['columns'])} columns",
        columns,
        rows,
        width,
        caption="missing: cells in the whole file, then in the training split; values: the training split's",
        caption_justify="left",
    )


def _values_text(column):
    """min/mean/max of a number, the categories of a category (the most frequent first)."""
    from ._tables import number_text

    if "categories" in column:
        n = column["categories"]
        noun = ("class", "classes") if column["type"] == "target" else ("category", "categories")
        top = ", ".join(f"{t['value']} ({t['count']})" for t in column["top"][:TOP_SHOWN])
        more = ", …" if n > TOP_SHOWN else ""
        folded = f"; {column['other']} as <other>" if column.get("other") else ""
        return f"{n} {noun[n != 1]}: {top}{more}{folded}"
    if "mean" in column:
        if column["mean"] is None:
            return "—"
        return f"{number_text(column['min'])} to {number_text(column['max'])}, mean {number_text(column['mean'])}"
    return ""


def _classes_table(target):
    """Each class's rows per split, with its share of the split."""
    from ._tables import add_columns, add_row, number_text, plain_table

    classes = target["classes"]
    weighted = "weight" in classes[0]
    splits = [k for k in classes[0] if k not in ("name", "weight")]
    totals = {split: sum(c[split] for c in classes) for split in splits}
    table = plain_table(f"target {target['name']}: {len(classes)} classes")
    add_columns(table, ["class"], splits + ["weight"] * weighted)
    for c in classes:
        weight = [number_text(c["weight"])] if weighted else []
        add_row(table, c["name"], *(_share(c[split], totals[split]) for split in splits), *weight)
    return table


def _share(n, total):
    return f"{n} ({100 * n / total:.0f}%)" if total else str(n)


def _values_table(target):
    """min / mean / std / max of each regression target per split."""
    from ._tables import add_columns, add_row, number_text, plain_table

    names = target["name"] if isinstance(target["name"], list) else [target["name"]]
    table = plain_table(f"target {', '.join(names)}")
    add_columns(table, ["target", "split"], ["min", "mean", "std", "max"])
    for column in target["columns"]:
        for split, stats in column.items():
            if split != "name":
                add_row(table, column["name"], split, *(number_text(stats[k]) for k in ("min", "mean", "std", "max")))
    return table


def _inputs_text(result):
    inputs = result["inputs"]
    text = inputs["encoding"] or f"{inputs['width']} input{'s' * (inputs['width'] != 1)}: the features as they are"
    if result["standardize"]:
        text += "; standardised (mean 0, std 1 on the training split)"
    if result["scale_target"]:
        text += "; targets scaled likewise"
    return text
