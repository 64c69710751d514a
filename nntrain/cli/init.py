from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, write_output

# The starting configs nntrain/config/templates/<name>.yaml ships: name -> what it is.
TEMPLATES = {
    "xor": "the lecture's XOR: a hidden tanh layer and a sigmoid output",
    "classification": "classes from a table's columns (CSV, TSV, Parquet)",
    "regression": "a number from a table's columns",
}


@command()
def init(
    template: Annotated[
        str, typer.Argument(metavar="TEMPLATE", help=f"One of: {', '.join(TEMPLATES)}.")
    ] = "xor",
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="The file to write (default: TEMPLATE.yaml here; -: print it).", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a file that exists.")] = False,
):
    """Write a commented starting config: xor (the lecture's), classification or regression (of a table).

    Its first line points editors at the JSON Schema (`nntrain schema -o nntrain.schema.json`).
    """
    text = template_text(template)
    path = Path(f"{template}.yaml") if output is None else output
    write_output(path, text, force)
    if str(path) != "-":
        typer.echo(f"wrote {path}; train it with: nntrain fit {path}", err=True)


def template_text(name):
    """The text of template ``name``; UsageError for a name that is not one."""
    from importlib.resources import files

    from nntrain.errors import UsageError

    if name not in TEMPLATES:
        raise UsageError(f"unknown template {name!r}; expected one of: {', '.join(TEMPLATES)}")
    return files("nntrain.config").joinpath("templates", f"{name}.yaml").read_text(encoding="utf-8")
