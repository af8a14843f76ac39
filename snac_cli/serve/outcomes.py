"""How a request can end besides its answer: the service's own errors (each with its HTTP status in
serve/gate.py), and `watched`, the progress that stops a request's work once its client is gone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from snac_cli.errors import SnacError
from snac_cli.progress import Advance, Progress


class Flag(Protocol):
    def is_set(self) -> bool: ...


class Busy(SnacError):
    """The service is at its limit of requests (or streams) at work."""


class Unauthorized(SnacError):
    """A request without the server's token."""


class Forbidden(SnacError):
    """A request from a page of another origin, or naming a host that is not the server's (DNS rebinding)."""


class ShuttingDown(Busy):
    """The server is draining: requests at work finish, new ones are refused."""


class NotServed(SnacError):
    """A request named a model this service does not serve."""


class TooLarge(SnacError):
    """A request body over --max-body-mb."""


class TooLong(SnacError):
    """A request past --timeout: its work stops at its next inference window."""


class TooSlow(SnacError):
    """A client silent for longer than --idle-timeout in the middle of its request."""


LEFT = 499  # the status of a request whose client left (nginx's): counted, but neither an answer nor an error


class Left(SnacError):
    """The client went away: its work stopped at the next inference window."""


def watched(gone: Flag | None) -> Progress:
    """A progress display that shows nothing and stops the work, at its next step, once `gone` is set."""

    @contextlib.contextmanager
    def progress(description: str, total: float | None, unit: str) -> Iterator[Advance]:
        def advance(amount: float) -> None:
            if gone is not None and gone.is_set():
                raise Left("the client left, or its time ran out")

        advance(0)  # before the first window too
        yield advance

    return progress
