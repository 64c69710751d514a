from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console, overrides, print_json


@command()
def gradcheck(
    config: Annotated[
        Path, typer.Argument(metavar="CONFIG_OR_RUN", help="A YAML config, or a run directory (its config).", show_default=False)
    ],
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", metavar="KEY=VALUE", help="Override a config value by dotted path, e.g. model.layers.0.units=3 (repeatable)."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option(metavar="N", help="Override the config's seed (data, weights, dropout).")] = None,
    rows: Annotated[
        Optional[int], typer.Option(min=1, metavar="N", help="Examples in the batch; default: the config's data.batch_size.")
    ] = None,
    max_entries: Annotated[
        int, typer.Option("--max-entries", min=0, metavar="N", help="Check at most this many entries per tensor, at random; 0 = all.")
    ] = 1000,
    tolerance: Annotated[float, typer.Option("--tol", min=0.0, metavar="X", help="Largest relative error that passes.")] = 1e-5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
):
    """Compare the network's backpropagated gradients with finite differences, in float64.

    Every parameter tensor of the configured network (a run's: its config) at its initial weights, on one batch of the
    config's data: batch norm and L1/L2 penalties included, dropout masks held fixed. Prints the
    relative error ||analytic - numeric|| / (||analytic|| + ||numeric||) per tensor; exits with 1 if
    any is above --tol. Entries within 1e-6 of a ReLU or L1 kink, where no finite difference is right,
    are counted and left out.
    """
    from nntrain.config import load_config
    from nntrain.training.gradcheck import check_config

    from nntrain.runs.store import CONFIG, is_run_dir

    cfg = load_config(config / CONFIG if is_run_dir(config) else config, overrides(set_, seed))
    result = check_config(cfg, rows=rows, max_entries=max_entries or None)
    if as_json:
        tensors = [c.to_json() for c in result.tensors]
        print_json({"rows": result.rows, "tolerance": tolerance, "passed": not _failed(result, tolerance), "tensors": tensors})
    else:
        _print_table(result, tolerance)
    _verdict(result, tolerance, quiet=as_json)


def _verdict(result, tolerance, quiet):
    """Failed (exit code 1) naming every tensor above the tolerance; else, unless ``quiet``, one line."""
    from nntrain.errors import Failed

    failed = _failed(result, tolerance)
    if failed:
        names = ", ".join(f"{c.name} ({c.error:.1e})" for c in failed)
        raise Failed(f"relative error above the tolerance {tolerance:g}: {names}")
    if not quiet:
        worst = result.worst
        kinks = sum(c.kinks for c in result.tensors)
        left_out = f"; {kinks} entries at a kink left out" if kinks else ""
        typer.echo(f"ok: largest relative error {worst.error:.1e} ({worst.name}), tolerance {tolerance:g}{left_out}")


def _failed(result, tolerance):
    return [c for c in result.tensors if not c.error <= tolerance]  # NaN fails too


def _print_table(result, tolerance):
    import numpy as np
    from ._tables import add_row, plain_table

    table = plain_table(
        f"gradient norms and their relative error, float64, {result.rows} examples, eps 1e-6",
        title_justify="left",
    )
    kinks = any(c.kinks for c in result.tensors)
    for name in ("parameter", "shape", "entries", *(["kinks"] if kinks else []), "analytic", "numeric", "rel. error", ""):
        table.add_column(name, justify="left" if name in ("parameter", "shape", "") else "right", no_wrap=True)
    for c in result.tensors:
        size = int(np.prod(c.shape))
        checked = str(c.checked) if c.checked + c.kinks == size else f"{c.checked}/{size}"
        mark = "ok" if c.error <= tolerance else "FAIL"
        if not c.checked:
            mark = "all kinks"
        add_row(
            table,
            c.name,
            "x".join(map(str, c.shape)),
            checked,
            *([str(c.kinks)] if kinks else []),
            f"{c.analytic_norm:.2e}",
            f"{c.numeric_norm:.2e}",
            f"{c.error:.1e}",
            mark,
        )
    console().print(table)
