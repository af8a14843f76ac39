"""What every request passes: the gate that refuses it before any route (the Host and Origin rule, the token,
the body limit, a server shutting down) and counts it, and the one JSON error, `{"error": the CLI's one-line
message, "code": its kind}`, with its status."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snac_cli.errors import InputError, ModelError, OutputError, SnacError, UsageError
from snac_cli.serve.outcomes import (
    LEFT,
    Busy,
    Forbidden,
    Left,
    NotServed,
    ShuttingDown,
    TooLarge,
    TooLong,
    TooSlow,
    Unauthorized,
)

STATUS = [(Busy, 503), (Unauthorized, 401), (Forbidden, 403), (NotServed, 404), (TooSlow, 408), (TooLarge, 413),
          (Left, LEFT), (TooLong, 504), (UsageError, 400), (InputError, 422), (ModelError, 422),
          (OutputError, 500)]  # fmt: skip


def error(e: SnacError) -> JSONResponse:
    status = next((s for kind, s in STATUS if isinstance(e, kind)), 400)
    headers = {"Retry-After": "1"} if isinstance(e, Busy) else None
    return JSONResponse({"error": str(e), "code": type(e).__name__}, status_code=status, headers=headers)


class Cut(Exception):
    """A streamed response stopped part way (past --timeout): its connection is dropped, unfinished, so that
    the client cannot take a cut stream for a whole one."""


def cut(e: BaseException) -> bool:
    """Whether `e` is a Cut, or a group of errors that holds one (a task group may wrap it)."""
    return isinstance(e, Cut) or any(cut(inner) for inner in getattr(e, "exceptions", ()))


class Gate:
    """Every request's gate, as plain ASGI (a BaseHTTPMiddleware would hide a client's disconnection from the
    routes): each refused or passed on, then (HTTP) counted by path and status, and timed. A refused
    WebSocket handshake gets 403."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        refusal: Callable[[Scope, dict[str, str]], SnacError | None],
        observe: Callable[[str, int, float], None],
    ):
        self.app, self.refusal, self.observe = app, refusal, observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refused = self.refusal(scope, headers)
        if scope["type"] == "websocket":
            if isinstance(refused, Forbidden):
                return await send({"type": "websocket.close", "code": 1008, "reason": str(refused)[:120]})
            return await self.app(scope, receive, send)  # the route refuses the rest with a close code
        start, status = time.perf_counter(), [500]

        async def sent(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if refused is not None:
                answer: Response = error(refused)
                if isinstance(refused, ShuttingDown):
                    answer.headers["Connection"] = "close"
                await answer(scope, receive, sent)  # a body sent after it is dropped as it comes (uvicorn)
            else:
                await self.app(scope, receive, sent)
        except Exception as e:
            if not cut(e):
                raise
            status[0] = 504  # returning unfinished makes uvicorn drop the connection
        finally:
            self.observe(scope["path"], status[0], time.perf_counter() - start)
