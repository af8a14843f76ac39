"""The `snac` command line: thin Typer commands over the library."""

from __future__ import annotations

from typing import Annotated

import typer

from . import __version__

app = typer.Typer(help="snac: a neural audio codec for the command line (SNAC, multi-scale codes).", no_args_is_help=True)


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"snac {__version__}")
        raise typer.Exit()


@app.callback()
def common(
    version: Annotated[
        bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Encode audio to compact multi-scale codes and back."""


def main() -> None:
    app()
