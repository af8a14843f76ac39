"""The HTTP and WebSocket face of the service (FastAPI): routes over the service's jobs, each request admitted
before its body is read (serve/requests.py); every failure is the gate's one JSON error (serve/gate.py),
never a traceback."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from snac_cli import __version__
from snac_cli.errors import SnacError, UsageError
from snac_cli.format.container import read_snac
from snac_cli.format.export import flat_tokens
from snac_cli.serve.access import authorized, rebinding
from snac_cli.serve.gate import Cut, Gate, error
from snac_cli.serve.metrics import Metrics
from snac_cli.serve.openapi import AUDIO_BODY, DESCRIPTION, SNAC_BODY, invalid
from snac_cli.serve.outcomes import ShuttingDown, TooLarge, Unauthorized
from snac_cli.serve.requests import Ticket, admitted
from snac_cli.serve.service import Service
from snac_cli.serve.streams import Pipe, stream_tokens
from snac_cli.settings import Channels, DecodeSettings, EncodeSettings, Normalize, Offsets, ServeSettings, TokenSettings

PAGE = Path(__file__).parent / "static" / "index.html"  # shipped in the package (hatch takes the folder)
AUDIO_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "raw": "application/octet-stream"}
OPEN = ("/", "/openapi.json")  # what a request may read without the token: nothing of the server's
Model = Annotated[str | None, Query(min_length=1, description="A served model's name or id [default: the first]")]
Base = Annotated[int, Query(ge=0, le=2**62)]


def create_app(settings: ServeSettings, service: Service | None = None) -> FastAPI:
    """The service's app; its models load when it starts."""
    service = service or Service(settings)
    app = FastAPI(title="snac", version=__version__, description=DESCRIPTION, on_startup=[service.load],
                  docs_url=None, redoc_url=None)  # fmt: skip
    limit = int(settings.max_body_mb * (1 << 20))
    metrics = Metrics()

    @app.exception_handler(SnacError)
    async def failed(request: Request, e: SnacError) -> JSONResponse:
        return error(e)

    @app.exception_handler(RequestValidationError)
    async def bad_query(request: Request, e: RequestValidationError) -> JSONResponse:
        return error(UsageError(invalid(e.errors())))

    @app.exception_handler(HTTPException)
    async def not_here(request: Request, e: HTTPException) -> JSONResponse:
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(e.status_code, "HTTPError")
        return JSONResponse({"error": f"{request.method} {request.url.path}: {e.detail}", "code": kind},
                            status_code=e.status_code, headers=e.headers)  # fmt: skip

    def refusal(scope: Scope, headers: dict[str, str]) -> SnacError | None:
        """What a request gets before any route sees it: 403 from another site's page or naming another
        host (without a token), 503 while the server drains, 401 without the token, 413 past the body limit.
        A WebSocket is refused here only for the Host and Origin rule; its route says the rest."""
        if settings.token is None and (forbidden := rebinding(headers, scope)):
            return forbidden
        if scope["type"] == "websocket":
            return None
        if service.draining:
            return ShuttingDown("the server is shutting down: try another, or again later")
        if scope["path"] not in OPEN and not authorized(settings.token, headers.get("authorization")):
            return Unauthorized("a valid token is needed: Authorization: Bearer TOKEN")
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > limit:
            return TooLarge(f"the body is over --max-body-mb {settings.max_body_mb:g}")
        return None

    def endpoint(path: str) -> str:
        """A route's path, or `other`: metrics get no label per arbitrary path."""
        return path if any(getattr(route, "path", None) == path for route in app.routes) else "other"

    app.add_middleware(Gate, refusal=refusal, observe=lambda path, status, seconds: metrics.observe(
        endpoint(path), status, seconds))  # fmt: skip

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        """The listening page: static, holding nothing of the server's; its calls carry the token."""
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.post("/v1/roundtrip", openapi_extra=AUDIO_BODY)
    async def roundtrip(
        request: Request, model: Model = None, normalize: Normalize = EncodeSettings.normalize, original: bool = False
    ) -> JSONResponse:
        """Audio -> `{"report": what snac roundtrip reports, "audio": the reconstruction, a base64 WAV}`; with
        `original=true`, `"original"` too: the input as a 16-bit WAV, for a browser that cannot play it."""
        encoding = EncodeSettings(normalize=normalize)
        async with admitted(service, request) as ticket:
            body = await ticket.body()
            job = partial(service.roundtrip, body, encoding, model, ticket.gone, original=original)
            report, wav, copy = await ticket.run(job)
        metrics.audio("/v1/roundtrip", report["duration_seconds"])
        answer = {"report": report, "audio": base64.b64encode(wav).decode()}
        return JSONResponse(answer | ({"original": base64.b64encode(copy).decode()} if copy else {}))

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "working": service.queue.used, "streams": service.streams.used}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        """Prometheus's text format: requests, errors, streams by close code, audio, batches, latency."""
        pushes = sum((b.sizes for b in (service.decode_batcher, service.stream_batcher) if b), Counter[int]())
        text = metrics.render(service.queue.used, service.streams.used, service.encode_batcher.sizes, pushes)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"models": list(settings.models), "default": settings.models[0]}

    @app.post("/v1/encode", openapi_extra=AUDIO_BODY)
    async def encode(
        request: Request,
        model: Model = None,
        normalize: Normalize = EncodeSettings.normalize,
        channels: Channels = EncodeSettings.channels,
        answer: Annotated[str, Query(alias="as", pattern="^(snac|codes|tokens)$")] = "snac",
        offsets: Offsets = TokenSettings.offsets,
        base: Base = TokenSettings.base,
    ) -> Response:
        """Audio in any format `snac encode` reads -> the `.snac` file it writes; `as=codes`: JSON, the codes
        per scale (channels, n_i); `as=tokens`: JSON, flat tokens per channel as `snac export` makes them."""
        encoding = EncodeSettings(channels, normalize)
        async with admitted(service, request) as ticket:
            body = await ticket.body()
            if settings.max_batch > 1:
                snac, seconds = await ticket.run(service.encode_batched(body, encoding, model, ticket.gone))
            else:
                snac, seconds = await ticket.run(partial(service.encode, body, encoding, model, ticket.gone))
        metrics.audio("/v1/encode", seconds)
        if answer == "snac":
            return Response(snac, media_type="application/octet-stream")
        codes = read_snac(snac)
        described = {"model": codes.model, "sample_rate": codes.sample_rate, "seconds": seconds}
        if answer == "codes":
            return JSONResponse({**described, "codes": [c.tolist() for c in codes.codes]})
        tokens = flat_tokens(codes, offsets.value, base)
        return JSONResponse({**described, "offsets": offsets.value, "base": base, "tokens": tokens.tolist()})

    @app.post("/v1/decode", openapi_extra=SNAC_BODY)
    async def decode(
        request: Request,
        format: Annotated[str, Query(pattern="^(wav|flac|ogg|raw)$")] = "wav",
        sample_rate: Annotated[str, Query(pattern="^(original|model|[1-9][0-9]{0,5})$")] = "original",
        seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = DecodeSettings.seed,
        model: Model = None,
        offsets: Offsets = TokenSettings.offsets,
        base: Base = TokenSettings.base,
    ) -> Response:
        """A `.snac` file -> WAV or raw 16-bit little-endian PCM streamed as it is decoded (what `snac decode
        FILE -` writes), or the FLAC or OGG file `snac decode` writes. A JSON body `{"tokens": [...]}`
        (Content-Type application/json; `model`, `offsets`, `base` as for `snac import`) is decoded as the
        `.snac` file `snac import` makes of it, parsed on a worker, within --timeout."""
        rate: str | int = int(sample_rate) if sample_rate.isdigit() else sample_rate
        decoding = DecodeSettings(rate, None, seed)
        tokens = request.headers.get("content-type", "").startswith("application/json")

        def snac_of(body: BinaryIO) -> BinaryIO:
            return service.snac_of_tokens(body, model, offsets.value, base) if tokens else body

        async with admitted(service, request) as ticket:
            body = await ticket.body()
            if format in ("wav", "raw"):

                def job(out: BinaryIO) -> float:  # on the worker: JSON tokens are parsed there
                    return service.decode_to(snac_of(body), decoding, out, raw=format == "raw", gone=ticket.gone)

                return await streamed(ticket, job, AUDIO_TYPES[format])
            audio, seconds = await ticket.run(lambda: service.decode(snac_of(body), decoding, format, ticket.gone))
        metrics.audio("/v1/decode", seconds)
        return Response(audio, media_type=AUDIO_TYPES[format])

    async def streamed(ticket: Ticket, job: Callable[[BinaryIO], float], media_type: str) -> Response:
        """Run job(out) on a worker and stream what it writes. Until its first piece, a failure is the usual
        JSON error (a `.snac` is checked through before any audio is written). Past --timeout, the job stops
        at its next step: before the first piece, with a 504; after, by dropping the connection (`Cut`)."""
        pieces = asyncio.Queue[bytes | None]()
        done = ticket.start(job, Pipe(asyncio.get_running_loop(), pieces))
        done.add_done_callback(lambda _: pieces.put_nowait(None))  # after every piece the job wrote
        first = await ticket.run(pieces.get(), work=False)
        if first is None:
            done.result()  # its error, if any
            return Response(b"", media_type=media_type)

        async def audio() -> AsyncIterator[bytes]:
            piece: bytes | None = first
            while piece is not None:
                yield piece
                try:
                    piece = await ticket.run(pieces.get(), work=False)
                except SnacError:  # past --timeout
                    raise Cut from None
            metrics.audio("/v1/decode", done.result())

        ticket.keep()
        return Ticketed(ticket, audio(), media_type=media_type)

    @app.websocket("/v1/decode/stream")
    async def decode_stream(socket: WebSocket) -> None:
        """Tokens in as a language model makes them (the protocol: serve/openapi.py's DESCRIPTION)."""
        start = time.perf_counter()
        samples, rate, code = await stream_tokens(socket, service, partial(authorized, settings.token))
        metrics.stream(code, time.perf_counter() - start)
        metrics.audio("/v1/decode/stream", samples / rate if rate else 0.0)

    return app


class Ticketed(StreamingResponse):
    """A streamed response that owns its request's ticket: closed when the response ends, however it ends
    (a client that leaves before the first piece is sent too)."""

    def __init__(self, ticket: Ticket, content: AsyncIterator[bytes], media_type: str):
        super().__init__(content, media_type=media_type)
        self.ticket = ticket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.ticket.close()
