"""The `snac` command group: its options, its error reporting, and the entry point."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from snac_cli import __version__
from snac_cli.cli import reporting

app = typer.Typer(
    cls=reporting.ReportingGroup,
    help="snac: a neural audio codec for the command line (SNAC, multi-scale discrete codes).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich markup would eat "[default: ...]" and other bracketed text
    context_settings={"help_option_names": ["-h", "--help"]},
)


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"snac {__version__}")
        raise typer.Exit()


@app.callback()
def common(
    *,
    version: Annotated[
        bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Encode audio to compact multi-scale codes (.snac) and back."""
    reporting.state["debug"] = debug


def main() -> None:
    from snac_cli.engine.allocator import tune_allocator

    tune_allocator()  # before any tensor exists
    hold_closed_descriptors()
    reporting.install_signal_handlers()
    # `--ray` alone means a local Ray; an address must be attached (--ray=ADDRESS), as a value is optional.
    sys.argv[1:] = ["--ray=local" if arg == "--ray" else arg for arg in sys.argv[1:]]
    # `--debug` is the group's option; after the command (`snac encode ... --debug`) it means the same.
    args = sys.argv[1:]
    end = args.index("--") if "--" in args else len(args)
    if "--debug" in args[1:end]:
        args.remove("--debug")
        sys.argv[1:] = ["--debug", *args]
    try:
        app(prog_name="snac")
    except SystemExit as done:
        finish(done.code)


def hold_closed_descriptors() -> None:
    """Put /dev/null on a standard descriptor that was closed (`snac ... >&-`), so that no file snac opens
    takes its number and receives what a library prints; `-` on it is still refused (cli/streams.py)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def finish(code: int | str | None) -> None:
    """End the process with `code`, skipping the interpreter's teardown once torch is loaded: tearing torch
    down takes 0.45 s (measured: `python -c "import torch"` 1.75 s, 1.30 s with os._exit), which every `snac`
    in a shell loop would pay. Every output is closed by then; only the standard streams need flushing. Ray's
    exit handlers stop the Ray it started, so a run that loaded Ray exits the usual way."""
    if isinstance(code, str):
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if "ray" in sys.modules:
        reporting.exit_on_signals(status)
    if "torch" not in sys.modules or "ray" in sys.modules:
        sys.exit(status)
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # closed when snac started (`>&-`)
            continue
        try:
            stream.flush()
        except OSError:  # a reader that went away: its own signal or error was already reported
            pass
    os._exit(status)
