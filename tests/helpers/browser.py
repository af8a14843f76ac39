"""A headless Chromium driven over the DevTools protocol (a WebSocket), for the listening page's test: no
driver beyond Debian's `chromium` and the websockets client the serve extra brings."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from websockets.sync.client import ClientConnection, connect

# As this workplace's probe starts it: no sandbox as root, and nothing that reaches for the network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1100,900", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One page of the browser: `call` a DevTools method, `evaluate` JavaScript."""

    def __init__(self, ws: ClientConnection):
        self.ws, self.ids = ws, itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        sent = next(self.ids)
        self.ws.send(json.dumps({"id": sent, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=120))
            if message.get("id") == sent:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 120) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:g} s for {expression}")
            time.sleep(0.2)
        return value


@contextlib.contextmanager
def browser(url: str) -> Iterator[Page]:
    """A headless Chromium showing `url`, its first page driven over DevTools."""
    executable = chromium()
    assert executable, "no chromium: .ci/run installs Debian's"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:  # chromium may still write there
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError, ValueError):
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                        pages = [t for t in json.load(answer) if t.get("type") == "page"]
                    if pages:
                        break
                assert process.poll() is None and time.monotonic() < deadline, "chromium did not start"
                time.sleep(0.2)
            with connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as ws:
                page = Page(ws)
                page.call("Page.enable")
                page.call("Runtime.enable")
                # Navigated here, not on the command line: the first page listed may still be about:blank,
                # complete, before chromium starts loading a URL it was given (a CI run failed that way).
                page.call("Page.navigate", url=url)
                page.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")
                yield page
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
            if process.poll() is None:
                process.kill()
