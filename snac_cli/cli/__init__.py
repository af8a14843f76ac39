"""The `snac` command line: Typer commands that parse arguments into settings, call the library (`codec`,
`batch`), and print. Nothing imports the CLI.

Heavy modules (torch, the model) load inside the library calls that need them, so that `snac --help` and
`snac info` answer at once.
"""

from snac_cli.cli import coding, editing, portable, serving, tokens  # noqa: F401 - each registers its commands on the app
from snac_cli.cli.app import app, main

__all__ = ["app", "main"]
