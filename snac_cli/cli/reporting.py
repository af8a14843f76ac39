"""How `snac` ends: every failure is one line on stderr and an exit code that says what went wrong.

The exit codes (README, "Commands"): 0 success, 2 usage, 3 input, 4 model, 5 output (the `SnacError`
classes), 70 internal error (a bug in snac), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). A closed
output pipe ends snac as it ends any Unix tool, by SIGPIPE (141 in a shell).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

import typer
import typer.core

try:  # Typer 0.2x runs its own copy of click, whose exceptions are not click's
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older Typer, over click itself
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

from snac_cli.errors import OutputError, SnacError, UsageError

INTERNAL_ERROR = 70  # EX_SOFTWARE in sysexits.h
INTERRUPTED = 130  # 128 + SIGINT, as shells report it
TERMINATED = 143  # 128 + SIGTERM
REPORT = "a bug in snac: please report it with the command that caused it; --debug shows the traceback"

state = {"debug": False, "terminated": False}


def say(message: str) -> None:
    """One line on stderr, prefixed `snac: `, with any line breaks folded."""
    typer.echo("snac: " + " ".join(message.split()), err=True)


def on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C, so that every half-written output is removed on the way out."""
    state["terminated"] = True
    raise KeyboardInterrupt


def exit_on_signals(status: int) -> None:
    """Once the command is done and reported, a signal ends the process at once with the command's own
    status: its outputs are whole and its summary said, so the code says the same (a SIGTERM during Ray's
    exit handlers, which a KeyboardInterrupt would interrupt, aborted the process with a stack dump)."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda signum, frame: os._exit(status))


def install_signal_handlers() -> None:
    signal.signal(signal.SIGTERM, on_sigterm)
    if hasattr(signal, "SIGPIPE"):  # a closed output pipe ends snac quietly, as it does `cat` (not on Windows)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def reported(run: Callable[[], Any]) -> int:
    """Run the command line; turn whatever ends it into one line on stderr and an exit code."""
    try:
        code = run()
    except click_exceptions.NoArgsIsHelpError as e:  # `snac` alone: the help, as click gives it
        typer.echo(e.format_message(), err=True)
        return UsageError.exit_code
    except click_exceptions.UsageError as e:
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        say(f"error: {e.format_message().replace('Value error, ', '')}{hint}")
        return UsageError.exit_code
    except click_exceptions.ClickException as e:
        say(f"error: {e.format_message()}")
        return e.exit_code
    except SnacError as e:
        debug_traceback()
        say(f"error: {e}")
        return e.exit_code
    except (KeyboardInterrupt, typer.Abort):
        code = INTERRUPTED
    except OSError as e:  # an I/O failure that no input or output check caught: the system's own words
        debug_traceback()
        where = f"{e.filename}: " if e.filename else ""
        say(f"error: {where}{e.strerror or e}")
        return OutputError.exit_code
    except Exception as e:
        debug_traceback()
        what = "out of memory" if isinstance(e, MemoryError) else f"{type(e).__name__}: {e}"
        say(f"internal error: {what} ({REPORT})")
        return INTERNAL_ERROR
    if code == INTERRUPTED:
        say("terminated" if state["terminated"] else "interrupted")
        return TERMINATED if state["terminated"] else INTERRUPTED
    return code or 0


def debug_traceback() -> None:
    if state["debug"]:
        traceback.print_exc()


class ReportingGroup(typer.core.TyperGroup):
    """The command group, run so that every outcome passes through `reported` (also under CliRunner)."""

    def main(self, *args: Any, standalone_mode: bool = True, **extra: Any) -> Any:
        parent: Any = super()
        code = reported(lambda: parent.main(*args, standalone_mode=False, **extra))
        if standalone_mode:
            sys.exit(code)
        return code
