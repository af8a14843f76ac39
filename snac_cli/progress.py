"""One progress protocol for every long job: a file's audio, a folder's files.

The library opens a display with `progress(description, total, unit)` and advances it as work is done; the
CLI passes a rich bar, library users anything of that shape (or nothing: `silent`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

Advance = Callable[[float], None]  # called with the amount just done, in the display's unit


class Progress(Protocol):
    """Opens a display of `total` (None: unknown) `unit`s of work, e.g. ("encoding", 60.0, "s"); yields its
    `Advance`."""

    def __call__(
        self, description: str, total: float | None, unit: str
    ) -> contextlib.AbstractContextManager[Advance]: ...


@contextlib.contextmanager
def silent(description: str, total: float | None, unit: str) -> Iterator[Advance]:
    """No display."""
    yield lambda amount: None
