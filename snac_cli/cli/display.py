"""What the CLI shows on stderr while it works: the library's `Progress` as a rich bar, on a terminal only."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from snac_cli.progress import Advance, Progress, silent


def progress_bar(quiet: bool) -> Progress:
    """A rich bar on stderr, or nothing when asked to be quiet or stderr is not a terminal."""
    return silent if quiet or sys.stderr is None or not sys.stderr.isatty() else rich_bar


@contextlib.contextmanager
def rich_bar(description: str, total: float | None, unit: str) -> Iterator[Advance]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    done = "{task.completed:.1f}/{task.total:.1f}" if unit == "s" else "{task.completed:.0f}/{task.total:.0f}"
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn(f"{done} {unit}")]
    with Progress(
        *columns, TimeElapsedColumn(), TimeRemainingColumn(), transient=True, console=stderr_console()
    ) as display:
        task = display.add_task(description, total=total)
        yield lambda amount: display.advance(task, amount)


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
