from typing import Annotated

import typer

from ._app import command

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


@command()
def completion(
    shell: Annotated[str, typer.Argument(metavar="SHELL", help=f"One of: {', '.join(SHELLS)}.", show_default=False)],
):
    """Print the shell completion script for SHELL, e.g. `nntrain completion bash >> ~/.bashrc`.

    What --install-completion installs, for when it cannot tell the shell (in a container, a script).
    """
    from typer._completion_shared import get_completion_script

    from nntrain.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"unknown shell {shell!r}; expected one of: {', '.join(SHELLS)}")
    typer.echo(get_completion_script(prog_name="nntrain", complete_var="_NNTRAIN_COMPLETE", shell=shell))
