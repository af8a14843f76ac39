"""A `snac serve` app on a real uvicorn server in a thread, and a plain HTTP client for it (shared by the
service's tests and the listening page's)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import uvicorn

from snac_cli.serve.app import create_app
from snac_cli.serve.server import config
from snac_cli.settings import ServeSettings

TOKEN = "a-token-of-enough-length"


@contextlib.contextmanager
def server(settings: ServeSettings) -> Iterator[int]:
    """A uvicorn server with these settings in a thread of this process; yields its port."""
    port = free_port()
    running = uvicorn.Server(config(create_app(settings), replace(settings, port=port), log_level="error"))
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve_process(model: str, *options: str, stderr: Any = None) -> Iterator[tuple[subprocess.Popen, int]]:
    """`snac serve -m MODEL OPTIONS` as its own process on a free port: yields (process, port) once it listens,
    and ends it (SIGTERM, then SIGKILL) on the way out unless it has ended already."""
    port = free_port()
    command = [sys.executable, "-m", "snac_cli", "serve", "-m", model, "--port", str(port), *options]
    process = subprocess.Popen(command, stderr=stderr)
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port)).close()
                break
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
