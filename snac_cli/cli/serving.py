"""`snac serve`: the codec as an HTTP and WebSocket service (the `serve` extra: FastAPI and uvicorn)."""

from __future__ import annotations

import signal
import socket
from typing import Annotated

import typer

from snac_cli.cli import options as o
from snac_cli.cli.app import app
from snac_cli.cli.reporting import say
from snac_cli.errors import UsageError
from snac_cli.serve.access import loopback, weak_token
from snac_cli.settings import ModelSettings, ServeSettings

TOKEN_VARIABLE = "SNAC_SERVE_TOKEN"


@app.command(cls=o.PlainCommand)
def serve(
    *,
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="Address to listen on; any but loopback needs --token.")
    ] = ServeSettings.host,
    port: Annotated[int, typer.Option(min=0, max=65535, metavar="PORT", help="Port (0: any free one).")] = 8000,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            help="A model to serve, loaded at start (repeatable; the first is the default) [default: 24khz].",
        ),  # fmt: skip
    ] = None,
    device: o.Device = ModelSettings.device,
    max_body_mb: Annotated[
        float, typer.Option(min=0.001, max=4096, metavar="MB", help="Largest request body; larger ones get 413.")
    ] = ServeSettings.max_body_mb,
    max_queue: Annotated[
        int,
        typer.Option(
            min=1,
            max=100_000,
            metavar="N",
            help="Requests at once, admitted before their bodies are read; past it, 503.",
        ),
    ] = ServeSettings.max_queue,
    workers: Annotated[
        int, typer.Option(min=1, max=256, metavar="N", help="Threads running the model (each holds one request).")
    ] = ServeSettings.workers,
    max_batch: Annotated[
        int, typer.Option(min=1, max=1024, metavar="N", help="Requests and streams that share a forward pass.")
    ] = ServeSettings.max_batch,
    max_wait_ms: Annotated[
        float, typer.Option(min=0, max=10_000, metavar="MS", help="How long a request waits for its batch.")
    ] = ServeSettings.max_wait_ms,
    timeout: Annotated[
        float,
        typer.Option(
            min=0.1, max=86_400, metavar="SECONDS", help="Longest a request or a stream may take; its work stops then."
        ),
    ] = ServeSettings.timeout_seconds,
    token: Annotated[
        str | None,
        typer.Option(
            metavar="TOKEN", envvar=TOKEN_VARIABLE, help="Every request must carry 'Authorization: Bearer TOKEN'."
        ),
    ] = None,
    max_streams: Annotated[
        int, typer.Option(min=1, max=100_000, metavar="N", help="WebSocket streams at once; past it, close 1013.")
    ] = ServeSettings.max_streams,
    idle_timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            max=3600,
            metavar="SECONDS",
            help="Longest a client may be silent: before its headers, in its body, between a stream's tokens.",
        ),
    ] = ServeSettings.idle_seconds,  # fmt: skip
    max_connections: Annotated[
        int, typer.Option(min=1, max=100_000, metavar="N", help="Open connections at once; past it, 503.")
    ] = ServeSettings.max_connections,
    max_message_tokens: Annotated[
        int, typer.Option(min=1, max=1 << 20, metavar="N", help="Tokens in one WebSocket message; past it, close 1009.")
    ] = ServeSettings.max_message_tokens,
) -> None:
    """Serve encoding and decoding over HTTP and WebSocket (POST /v1/encode, /v1/decode; /v1/decode/stream)."""
    settings = ServeSettings(host, port, tuple(model or ()), device, max_body_mb, max_queue, workers, max_batch,
                             max_wait_ms, timeout, token, max_streams, idle_timeout, max_connections,
                             max_message_tokens)  # fmt: skip
    check_exposure(settings)
    check_address(host, port)
    try:
        from snac_cli.engine.allocator import limit_arenas
        from snac_cli.serve.app import create_app
        from snac_cli.serve.server import DrainingServer, config
        from snac_cli.serve.service import Service
    except ImportError as e:
        raise UsageError(f"snac serve needs the serve extra: pip install 'snac-cli[serve]' ({e})") from None
    limit_arenas(2)  # before the workers and the stream lane start their threads
    service = Service(settings)
    service.load()  # here, so that a missing model is one line and its exit code, before anything listens
    # snac's commands end quietly by SIGPIPE when a reader leaves (`snac decode x.snac - | head`); a server's
    # client that leaves mid-response must end only its own connection (the load test's faults killed it).
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    say(f"serving {', '.join(settings.models)} on http://{host}:{port} (Ctrl-C stops)")
    try:
        DrainingServer(config(create_app(settings, service), settings, log_level="warning"), service,
                       grace=settings.timeout_seconds).run()  # fmt: skip
    finally:
        service.close()


def check_exposure(settings: ServeSettings) -> None:
    """Off loopback, a server without a token would serve anyone who can reach it: refuse to start."""
    if settings.token is None and not loopback(settings.host):
        raise UsageError(f"--host {settings.host} is reachable from other machines: give --token or ${TOKEN_VARIABLE}")
    if settings.token is not None and (weak := weak_token(settings.token)):
        raise UsageError(weak)


def check_address(host: str, port: int) -> None:
    """Refuse an address that cannot be listened on (taken, or not this machine's) before the models load,
    as one line: uvicorn would say it on its own log line after the start message."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
