"""A `snac serve` app on a real uvicorn server in a thread, and a plain HTTP client for it (shared by the
service's tests and the listening page's)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from snac_cli.serve.app import create_app
from snac_cli.settings import ServeSettings

TOKEN = "a-token-of-enough-length"


@contextlib.contextmanager
def server(settings: ServeSettings) -> Iterator[int]:
    """A uvicorn server with these settings in a thread of this process; yields its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        running.should_exit = True
        thread.join(30)


def request(port: int, method: str, path: str, body: bytes | None = None, token: str | None = TOKEN, **headers):
    """(status, headers, body) of one HTTP request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()
