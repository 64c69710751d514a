from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console, print_json

SHOWN = 6  # entries of a vector shown in the tables; --json has them all


@command()
def backprop(
    source: Annotated[
        Path, typer.Argument(help="A run directory, or a config whose layers all have hand-set weights.", show_default=False)
    ],
    inputs: Annotated[
        Optional[list[str]],
        typer.Option("--input", "-i", help="The example's raw input row, comma-separated, e.g. 0,1.", show_default=False),
    ] = None,
    target: Annotated[
        Optional[str],
        typer.Option(help="Its target: a class label or name, or one number per output unit, e.g. 1.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole trace as JSON.")] = False,
):
    """Backpropagation of one example, op by op, each gradient beside its finite difference (float64).

    Forward: every op's output. Backward, from the loss: dLoss/d(output) of every op and dLoss/dW,
    dLoss/db (and batch norm's gamma, beta) of every layer, each beside its central difference
    (eps 1e-6) and their relative error |a - n| / max(|a| + |n|, 1e-3). Batch norm runs in its
    inference form (running statistics), dropout not at all: the network as predict computes it.
    """
    from nntrain.training.backprop import backprop as trace_of

    trace = trace_of(source, inputs or [], target)
    if as_json:
        print_json(trace.to_json())
        return
    _print(trace)


def _print(trace):
    from ._tables import plain_table

    out = console()
    forward = plain_table("forward, float64", title_justify="left")
    for name in ("step", "op", "output"):
        forward.add_column(name, justify="right" if name == "step" else "left")
    forward.add_row("", "input", _vector(trace.values[0]))
    for j, step in enumerate(trace.steps):
        forward.add_row(str(j), step.name, _vector(trace.values[j + 1]))
    out.print(forward)
    logits = " (from the logits)" if trace.from_logits else ""
    out.print(f"loss: {trace.loss_name}{logits}, target {_vector(trace.target)}: {trace.loss:.6g}")
    if trace.from_logits:
        out.print("the loss takes the logits: its gradient there is dLoss/d(logits) = (p - y) / n")
    out.print()

    backward = plain_table(
        "backward: each dLoss/d(...) beside its central difference (eps 1e-6)", title_justify="left"
    )
    for name in ("step", "dLoss/d", "entry", "analytic", "numeric", "rel. error"):
        backward.add_column(name, justify="left" if name in ("dLoss/d", "entry") else "right", no_wrap=True)
    for row in trace.backward:
        if row.output is None:
            backward.add_row(str(row.step), row.name, "", "fused with the loss", "", "")
            continue
        _add_gradient(backward, str(row.step), row.name, row.output, output=True)
        for p in row.params:
            _add_gradient(backward, "", p.name, p)
    out.print(backward)
    typer.echo(f"largest relative error: {trace.max_error:.1e}")


def _add_gradient(table, step, name, g, output=False):
    """One row per entry, SHOWN at most (the largest error of the rest on a last row); an op's
    ``output`` (1, width) is indexed by its unit."""
    from ._tables import number_text

    import numpy as np

    entries = list(np.ndindex(g.analytic.shape))
    for k, index in enumerate(entries[:SHOWN]):
        where = index[1:] if output else index
        table.add_row(
            step if k == 0 else "",
            name if k == 0 else "",
            "[" + ",".join(map(str, where)) + "]",
            number_text(float(g.analytic[index])),
            number_text(float(g.numeric[index])),
            f"{g.errors[index]:.1e}",
        )
    if len(entries) > SHOWN:
        rest = float(g.errors.reshape(-1)[SHOWN:].max())
        table.add_row("", "", f"+{len(entries) - SHOWN} more", "", "", f"{rest:.1e}")


def _vector(a):
    """An array's entries, row-major, SHOWN at most: "[0.5, -2e-05]" or "[... 6 of 256]"."""
    from ._tables import number_text

    import numpy as np

    flat = np.asarray(a, dtype=float).reshape(-1)
    cells = ", ".join(number_text(float(v)) for v in flat[:SHOWN])
    more = f", ... ({flat.size} entries)" if flat.size > SHOWN else ""
    return f"[{cells}{more}]"
