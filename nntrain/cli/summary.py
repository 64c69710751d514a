from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, console, print_json


@command()
def summary(
    source: Annotated[
        Path, typer.Argument(metavar="CONFIG_OR_RUN", help="A YAML config or a run directory.", show_default=False)
    ],
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", metavar="KEY=VALUE", help="Override a config value by dotted path, e.g. model.layers.0.units=8 (repeatable).", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (total_params, and every layer).")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Show long names and values whole (the table may be wider than the terminal).")] = False,
):
    """The network's layers: type, output shape, activation and parameter counts, with totals."""
    from nntrain.runs.summary import model_summary

    result = model_summary(source, set_ or ())
    if as_json:
        print_json(result)
        return
    from ._tables import add_columns, add_row, plain_table

    from nntrain.runs.summary import size_text

    table = plain_table(
        f"{result['name']}: {result['inputs']} inputs, {result['dtype']}",
        caption="batch norm: γ, β (+ running mean, variance: not trained)"
        if any(layer["batchnorm_trainable"] for layer in result["layers"])
        else None,
    )
    add_columns(table, ["layer", "output shape", "activation"], ["weights", "biases", "batch norm", "params"])
    for layer in result["layers"]:
        # One op per line keeps the column narrow: dense / + batchnorm / + dropout 0.8.
        kind = layer["type"].replace(" + ", "\n  + ") + (f" {layer['keep_prob']:g}" if layer["keep_prob"] < 1 else "")
        bn = "—"
        if layer["batchnorm_trainable"]:
            bn = f"{layer['batchnorm_trainable']:,}\n(+{layer['batchnorm_non_trainable']:,})"
        add_row(
            table,
            f"{layer['index']} {kind}",
            f"(None, {layer['output_shape'][1]})",
            layer["activation"],
            f"{layer['weights']:,}",
            f"{layer['biases']:,}",
            bn,
            f"{layer['params']:,}",
        )
    out = console(wide)
    out.print(table)
    size = size_text(result["size_bytes"])
    out.print(f"Total params: {result['total_params']:,} ({size})", highlight=False)
    out.print(f"Trainable params: {result['trainable_params']:,}", highlight=False)
    out.print(f"Non-trainable params: {result['non_trainable_params']:,}", highlight=False)
    if "inputs_from" in result:
        out.print(f"Inputs: {result['inputs_from']}", highlight=False, markup=False)

