"""The HTTP and WebSocket face of the service (FastAPI): routes, the token, the limits and timeouts; every
failure is the gate's one JSON error (serve/gate.py), never a traceback."""

from __future__ import annotations

import asyncio
import base64
import hmac
import inspect
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar

from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.types import Scope

from snac_cli import __version__
from snac_cli.errors import InputError, SnacError, UsageError
from snac_cli.format.container import read_snac
from snac_cli.format.export import flat_tokens
from snac_cli.serve.gate import Cut, Gate, error
from snac_cli.serve.metrics import Metrics
from snac_cli.serve.service import Busy, Service, ShuttingDown, TooLarge, TooLong, Unauthorized
from snac_cli.serve.streams import Pipe, stream_tokens
from snac_cli.settings import (
    Channels,
    DecodeSettings,
    EncodeSettings,
    Normalize,
    Offsets,
    ServeSettings,
    TokenSettings,
)

T = TypeVar("T")
PAGE = Path(__file__).parent / "static" / "index.html"  # shipped in the package (hatch takes the folder)
AUDIO_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "raw": "application/octet-stream"}


def create_app(settings: ServeSettings, service: Service | None = None) -> FastAPI:
    """The service's app; its models load when it starts."""
    service = service or Service(settings)
    app = FastAPI(title="snac", version=__version__, on_startup=[service.load])
    limit = int(settings.max_body_mb * (1 << 20))
    metrics = Metrics()

    def authorized(header: str | None) -> bool:
        if settings.token is None:
            return True
        given = (header or "").removeprefix("Bearer ").encode()
        return hmac.compare_digest(given, settings.token.encode())  # constant time

    @app.exception_handler(SnacError)
    async def failed(request: Request, e: SnacError) -> JSONResponse:
        return error(e)

    def refusal(scope: Scope) -> JSONResponse | None:
        """What a request gets before any route sees it: 503 while the server drains, 401 without the
        token, 413 past the body limit."""
        if service.draining:
            refused = error(ShuttingDown("the server is shutting down: try another, or again later"))
            refused.headers["Connection"] = "close"
            return refused
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if scope["path"] != "/" and not authorized(headers.get("authorization")):
            return error(Unauthorized("a valid token is needed"))
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > limit:
            return error(TooLarge(f"the body is over --max-body-mb {settings.max_body_mb:g}"))
        return None

    def endpoint(path: str) -> str:
        """A route's path, or `other`: metrics get no label per arbitrary path."""
        return path if any(getattr(route, "path", None) == path for route in app.routes) else "other"

    app.add_middleware(Gate, refusal=refusal, observe=lambda path, status, seconds: metrics.observe(
        endpoint(path), status, seconds))  # fmt: skip

    async def body_of(request: Request) -> bytes:
        """The body, refused as soon as it passes the limit (a chunked body declares no length)."""
        data = bytearray()
        async for piece in request.stream():
            data += piece
            if len(data) > limit:
                raise TooLarge(f"the body is over --max-body-mb {settings.max_body_mb:g}")
        if not data:
            raise InputError("the request has no body")
        return bytes(data)

    def too_long() -> TooLong:
        return TooLong(f"the request took over --timeout {settings.timeout_seconds:g} s")

    async def work(job: Callable[[], T] | Awaitable[T], request: Request | None = None, gone: Any = None) -> T:
        """Run a job off the event loop (or await one that runs there), admitted against the queue, within
        the request timeout; with `request`, `gone` is set as soon as its client leaves (the job stops at its
        next inference window)."""
        try:
            service.admit()
        except Busy:
            if inspect.iscoroutine(job):
                job.close()  # never to run
            raise
        watcher = asyncio.ensure_future(watch(request, gone)) if request is not None else None
        try:
            running = job if inspect.isawaitable(job) else service.run(job)
            return await asyncio.wait_for(running, settings.timeout_seconds)
        except asyncio.TimeoutError:
            raise too_long() from None
        finally:
            service.done()
            if watcher is not None:
                watcher.cancel()

    async def watch(request: Request, gone: threading.Event) -> None:
        """Set `gone` when the request's client disconnects (checked every 0.1 s)."""
        while not await request.is_disconnected():
            await asyncio.sleep(0.1)
        gone.set()

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        """The listening page: static, holding nothing of the server's; its calls carry the token."""
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.post("/v1/roundtrip")
    async def roundtrip(
        request: Request, model: str | None = None, normalize: Normalize = EncodeSettings.normalize
    ) -> JSONResponse:
        """Audio -> `{"report": what snac roundtrip reports, "audio": the reconstruction, a base64 WAV}`."""
        body = await body_of(request)
        gone, encoding = threading.Event(), EncodeSettings(normalize=normalize)
        report, wav = await work(lambda: service.roundtrip(body, encoding, model or None, gone), request, gone)
        metrics.audio("/v1/roundtrip", report["duration_seconds"])
        return JSONResponse({"report": report, "audio": base64.b64encode(wav).decode()})

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "working": service.working}

    @app.get("/metrics")
    async def prometheus() -> Response:
        pushes = sum((b.sizes for b in (service.decode_batcher, service.stream_batcher) if b), Counter[int]())
        text = metrics.render(service.working, service.encode_batcher.sizes, pushes)
        return Response(text, media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"models": list(settings.models), "default": settings.models[0]}

    @app.post("/v1/encode")
    async def encode(
        request: Request,
        model: str | None = None,
        normalize: Normalize = EncodeSettings.normalize,
        channels: Channels = EncodeSettings.channels,
        answer: Annotated[str, Query(alias="as", pattern="^(snac|codes|tokens)$")] = "snac",
        offsets: Offsets = TokenSettings.offsets,
        base: Annotated[int, Query(ge=0, le=2**62)] = TokenSettings.base,
    ) -> Response:
        """Audio in any format `snac encode` reads -> the `.snac` file it writes; `as=codes`: JSON, the codes
        per scale (channels, n_i); `as=tokens`: JSON, flat tokens per channel as `snac export` makes them."""
        body = await body_of(request)
        encoding = EncodeSettings(channels, normalize)
        if settings.max_batch > 1:
            snac, seconds = await work(service.encode_batched(body, encoding, model))
        else:
            gone = threading.Event()
            snac, seconds = await work(lambda: service.encode(body, encoding, model, gone), request, gone)
        metrics.audio("/v1/encode", seconds)
        if answer == "snac":
            return Response(snac, media_type="application/octet-stream")
        codes = read_snac(snac)
        described = {"model": codes.model, "sample_rate": codes.sample_rate, "seconds": seconds}
        if answer == "codes":
            return JSONResponse({**described, "codes": [c.tolist() for c in codes.codes]})
        tokens = flat_tokens(codes, offsets.value, base)
        return JSONResponse({**described, "offsets": offsets.value, "base": base, "tokens": tokens.tolist()})

    @app.post("/v1/decode")
    async def decode(
        request: Request,
        format: Annotated[str, Query(pattern="^(wav|flac|ogg|raw)$")] = "wav",
        sample_rate: Annotated[str, Query(pattern="^(original|model|[0-9]{1,6})$")] = "original",
        seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = DecodeSettings.seed,
        model: str | None = None,
        offsets: Offsets = TokenSettings.offsets,
        base: Annotated[int, Query(ge=0, le=2**62)] = TokenSettings.base,
    ) -> Response:
        """A `.snac` file -> WAV or raw 16-bit little-endian PCM streamed as it is decoded (what `snac decode
        FILE -` writes), or the FLAC or OGG file `snac decode` writes. A JSON body `{"tokens": [...]}`
        (Content-Type application/json; `model`, `offsets`, `base` as for `snac import`) is decoded as the
        `.snac` file `snac import` makes of it."""
        body = await body_of(request)
        if request.headers.get("content-type", "").startswith("application/json"):
            body = service.snac_of_tokens(body, model, offsets.value, base)
        rate: str | int = int(sample_rate) if sample_rate.isdigit() else sample_rate
        if rate == 0:
            raise UsageError("sample_rate must be original, model, or a rate in Hz")
        decoding = DecodeSettings(rate, None, seed)
        if format in ("wav", "raw"):
            gone = threading.Event()
            job = partial(service.decode_to, body, decoding, raw=format == "raw", gone=gone)
            return await streamed(job, AUDIO_TYPES[format], gone)
        gone = threading.Event()
        audio, seconds = await work(lambda: service.decode(body, decoding, format, gone), request, gone)
        metrics.audio("/v1/decode", seconds)
        return Response(audio, media_type=AUDIO_TYPES[format])

    async def streamed(job: Callable[[BinaryIO], float], media_type: str, gone: threading.Event) -> Response:
        """Run job(out) on a worker and stream what it writes. Until its first piece, a failure is the usual
        JSON error (a `.snac` is checked through before any audio is written). Past --timeout, the job stops
        at its next step: before the first piece, with a 504; after, by dropping the connection (`Cut`)."""
        service.admit()
        loop, pieces = asyncio.get_running_loop(), asyncio.Queue[bytes | None]()
        deadline = loop.time() + settings.timeout_seconds
        done = asyncio.ensure_future(service.run(job, Pipe(loop, pieces)))
        done.add_done_callback(lambda _: pieces.put_nowait(None))  # after every piece the job wrote
        done.add_done_callback(lambda f: f.cancelled() or f.exception())  # seen, if no one waits for it any more

        async def next_piece() -> bytes | None:
            try:
                return await asyncio.wait_for(pieces.get(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                gone.set()
                raise

        try:
            first = await next_piece()
        except asyncio.TimeoutError:
            service.done()
            raise too_long() from None
        if first is None:
            service.done()
            done.result()  # its error, if any
            return Response(b"", media_type=media_type)

        async def audio() -> AsyncIterator[bytes]:
            try:
                piece: bytes | None = first
                while piece is not None:
                    yield piece
                    try:
                        piece = await next_piece()
                    except asyncio.TimeoutError:
                        raise Cut from None
                metrics.audio("/v1/decode", done.result())
            finally:  # also when the client leaves: the job then stops at its next step
                gone.set()
                service.done()

        return StreamingResponse(audio(), media_type=media_type)

    @app.websocket("/v1/decode/stream")
    async def decode_stream(socket: WebSocket) -> None:
        """Tokens in as a language model makes them, `{"tokens": [...]}` per message (or codes per scale,
        `{"codes": [[...], ...]}`, whole frames), `{"end": true}` last; raw 16-bit PCM out as soon as it is
        final, then `{"done": true, ...}`."""
        start = time.perf_counter()
        samples, rate, status = await stream_tokens(socket, service, authorized)
        metrics.observe("/v1/decode/stream", status, time.perf_counter() - start)
        metrics.audio("/v1/decode/stream", samples / rate if rate else 0.0)

    return app
