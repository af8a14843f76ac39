"""uvicorn's server as `snac serve` runs it: its limits (connections, message sizes, a deadline for a request's
headers), and its signals. The first SIGINT or SIGTERM drains: new requests get 503 (new streams close with
1013) while those at work finish, for up to `grace` seconds; then it stops as uvicorn stops. A second signal
stops it at once, with 130 or 143."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from snac_cli.serve.service import Service
from snac_cli.settings import ServeSettings

# Bytes a WebSocket message may take per token it may carry: a token's digits, a comma and a space, as
# JSON writes the largest (a 20-digit offset token), with room for the message's own keys.
BYTES_PER_TOKEN = 24


def config(app: Any, settings: ServeSettings, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration of a service app: the one place its connection limits are set."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=deadline_protocol(settings.idle_seconds),
        limit_concurrency=settings.max_connections,  # past it, uvicorn answers 503
        timeout_keep_alive=max(1, min(5, round(settings.idle_seconds))),  # an idle kept-alive connection
        ws_max_size=settings.max_message_tokens * BYTES_PER_TOKEN + 4096,  # past it, the stream closes with 1009
        # No keepalive pings: a stream sending a long message could not answer one in time (its client blocked
        # on a full socket) and was closed with 1011; a silent or dead client is closed at --idle-timeout.
        ws_ping_interval=None,
        timeout_graceful_shutdown=30,
        **options,
    )


def deadline_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's HTTP protocol, closing a connection whose request headers have not all come `seconds`
    after it opened or after its last response (clients at 1 byte a second were held for a minute)."""

    class Deadline(H11Protocol):
        timer: asyncio.TimerHandle | None = None
        waited: object = None  # the request cycle when the deadline was set: a new one has come in time

        def arm(self) -> None:
            self.disarm()
            self.waited = self.cycle
            self.timer = self.loop.call_later(seconds, self.transport.close)

        def disarm(self) -> None:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not self.waited:
                self.disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self.arm()

        def handle_websocket_upgrade(self, event: Any) -> None:
            self.disarm()
            super().handle_websocket_upgrade(event)

        def connection_lost(self, exc: Exception | None) -> None:
            self.disarm()
            super().connection_lost(exc)

    return Deadline


class DrainingServer(uvicorn.Server):
    """A uvicorn server that lets the service drain before it stops listening."""

    def __init__(self, config: uvicorn.Config, service: Service, grace: float):
        super().__init__(config)
        self.service, self.grace = service, grace

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.service.draining or self.should_exit:
            # At once: uvicorn's own second signal waited for every connection (32 s, then tracebacks).
            self.service.close()
            os._exit(128 + (sig if sig in (signal.SIGINT, signal.SIGTERM) else signal.SIGTERM))
        self.service.draining = True
        threading.Thread(target=self.drain, name="snac-drain", daemon=True).start()

    def drain(self) -> None:
        """Wait for the requests and streams at work (up to `grace` s), then stop."""
        deadline = time.monotonic() + self.grace
        while self.service.working and time.monotonic() < deadline and not self.should_exit:
            time.sleep(0.05)
        # Stopped as uvicorn stops on a signal, but the signal is not raised again once it has (uvicorn's
        # way), which would make a drained server's exit 143, not 0. A second signal is, as it should be.
        self.should_exit = True
