"""One HTTP request's life in the service: admitted against the queue before its body is read, its body
spooled to disk past a small size under the body limit and the idle limit, its job run on a worker within
--timeout, and its work stopped at the next inference window once the client leaves or its time is up. The
queue place is given back when that work has stopped, not when the client was answered: abandoned work
counts against the queue until it ends, so that it cannot pile up."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, BinaryIO, TypeVar

from starlette.requests import ClientDisconnect, Request

from snac_cli.errors import InputError
from snac_cli.serve.outcomes import Left, TooLarge, TooLong, TooSlow
from snac_cli.serve.service import Service

T = TypeVar("T")
# Bodies up to this size stay in memory; larger ones go to disk as they arrive, so that memory is bounded
# by --max-queue x 1 MiB and the workers' own (16 clients holding 60 MB uploads took 2.0 GB before).
SPOOL_BYTES = 1 << 20


class Ticket:
    """An admitted request: `gone` is set once its client leaves or --timeout passes (its job then stops at
    its next inference window); its queue place is given back when the last of its work has stopped."""

    def __init__(self, service: Service, request: Request):
        self.service, self.request, self.gone = service, request, threading.Event()
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + service.settings.timeout_seconds
        self.timer = loop.call_at(self.deadline, self.gone.set)
        self.watcher: asyncio.Future[None] | None = None  # started once the body is read: until then a
        # disconnection shows in the body's reading (and watching would take the body's own messages)
        self.jobs: list[asyncio.Future[Any]] = []  # work on a worker; each stops when `gone` is set
        self.files: list[BinaryIO] = []  # the body: closed once the last of the work has stopped
        self.kept = self.closed = False  # kept: handed to a streamed response, which closes it when it ends

    async def watch(self) -> None:
        """Set `gone` when the client disconnects (checked every 0.1 s)."""
        with contextlib.suppress(Exception):
            while not await self.request.is_disconnected():
                await asyncio.sleep(0.1)
        self.gone.set()

    def left(self) -> float:
        """Seconds before --timeout."""
        return self.deadline - asyncio.get_running_loop().time()

    def too_long(self) -> TooLong:
        return TooLong(f"the request took over --timeout {self.service.settings.timeout_seconds:g} s")

    async def body(self) -> BinaryIO:
        """The request's body as a file at its start: refused past --max-body-mb (a chunked body declares no
        length), past --timeout, and when it comes too slowly."""
        settings = self.service.settings
        limit, idle = int(settings.max_body_mb * (1 << 20)), settings.idle_seconds
        file = tempfile.SpooledTemporaryFile(SPOOL_BYTES, dir=self.service.scratch)  # noqa: SIM115 - closed last
        self.files.append(file)  # type: ignore[arg-type]
        pieces, size, start = self.request.stream().__aiter__(), 0, asyncio.get_running_loop().time()
        try:
            while True:
                # A body must come at 1 MiB per --idle-timeout at least (a trickle of a byte a second never
                # stays silent), and within --timeout.
                slow = start + idle * (1 + size / SPOOL_BYTES) - asyncio.get_running_loop().time()
                wait = min(slow, self.left())
                try:
                    piece = await asyncio.wait_for(pieces.__anext__(), max(wait, 0.0))
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    if wait == slow:
                        raise TooSlow(f"the body came slower than 1 MiB per --idle-timeout {idle:g} s") from None
                    raise self.too_long() from None
                size += len(piece)
                if size > limit:
                    raise TooLarge(f"the body is over --max-body-mb {settings.max_body_mb:g}")
                file.write(piece)
        except ClientDisconnect:
            raise Left("the client left") from None
        if not size:
            raise InputError("the request has no body")
        file.seek(0)
        self.watcher = asyncio.ensure_future(self.watch())
        return file  # type: ignore[return-value]

    def start(self, job: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Start a job on a worker, as this request's work: one whose client has gone by the time a worker
        takes it does not run at all (leavers' jobs queued behind the workers each ran a window first)."""

        def unless_gone(*args: Any) -> T:
            if self.gone.is_set():
                raise Left("the client left, or its time ran out, before a worker was free")
            return job(*args)

        running = self.service.run(unless_gone, *args)
        self.jobs.append(running)
        return running

    async def run(self, job: Callable[[], T] | Awaitable[T], *, work: bool = True) -> T:
        """Run a job on a worker (or await one: `work`, one that a batcher runs there) within --timeout: past
        it, 504, and the job stops at its next inference window."""
        running = self.start(job) if callable(job) else asyncio.ensure_future(job)
        if work and not callable(job):
            self.jobs.append(running)
        try:
            return await asyncio.wait_for(asyncio.shield(running), max(self.left(), 0.0))
        except asyncio.TimeoutError:
            self.gone.set()
            raise self.too_long() from None

    def keep(self) -> None:
        """Hand the ticket to a streamed response, which `close`s it when it ends."""
        self.kept = True

    def close(self) -> None:
        """The request is over: stop its work; once that has stopped, close its body and give its queue place
        back."""
        if self.closed:
            return
        self.closed = True
        self.timer.cancel()
        if self.watcher is not None:
            self.watcher.cancel()
        running = [job for job in self.jobs if not job.done()]
        if running:
            self.gone.set()
        remaining = [len(running)]

        def stopped(job: asyncio.Future[Any] | None) -> None:
            if job is not None and not job.cancelled():
                job.exception()  # seen: no one waits for it any more
            remaining[0] -= 1
            if remaining[0] <= 0:
                for file in self.files:
                    file.close()
                self.service.queue.give()

        for job in running:
            job.add_done_callback(stopped)
        if not running:
            stopped(None)


@contextlib.asynccontextmanager
async def admitted(service: Service, request: Request) -> AsyncIterator[Ticket]:
    """A request admitted against --max-queue (503 past it) before anything of its body is read."""
    service.queue.take()
    ticket = Ticket(service, request)
    try:
        yield ticket
    finally:
        if not ticket.kept:
            ticket.close()
