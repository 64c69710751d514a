from pathlib import Path
from typing import Annotated, Optional

import typer

from ._app import command, write_output


@command()
def schema(
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Write the schema to this file (default, or -: print it).", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an output file that exists.")] = False,
):
    """The JSON Schema (Draft 2020-12) of a config file, for editors: completion, help and checks as you type.

    Point a config at it with a first line `# yaml-language-server: $schema=nntrain.schema.json`.
    """
    from nntrain.config.jsonschema import schema_text

    write_output(output, schema_text(), force)
