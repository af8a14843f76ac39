"""uvicorn's server, draining on a first SIGINT or SIGTERM: new requests get 503 (new streams close with
1013) while those at work finish, for up to `grace` seconds; then it stops as uvicorn stops. A second
signal stops it at once, as uvicorn's own."""

from __future__ import annotations

import threading
import time
from types import FrameType

import uvicorn

from snac_cli.serve.service import Service


class DrainingServer(uvicorn.Server):
    """A uvicorn server that lets the service drain before it stops listening."""

    def __init__(self, config: uvicorn.Config, service: Service, grace: float):
        super().__init__(config)
        self.service, self.grace = service, grace

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.service.draining or self.should_exit:
            return super().handle_exit(sig, frame)
        self.service.draining = True
        threading.Thread(target=self.drain, name="snac-drain", daemon=True).start()

    def drain(self) -> None:
        """Wait for the requests at work (up to `grace` s), then stop."""
        deadline = time.monotonic() + self.grace
        while self.service.working and time.monotonic() < deadline and not self.should_exit:
            time.sleep(0.05)
        # Stopped as uvicorn stops on a signal, but the signal is not raised again once it has (uvicorn's
        # way), which would make a drained server's exit 143, not 0. A second signal is, as it should be.
        self.should_exit = True
