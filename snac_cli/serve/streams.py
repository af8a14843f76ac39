"""The service's streams: a WebSocket token stream decoded as it comes, and the pipe that carries a streamed
decode from its worker to the response."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import WebSocket, WebSocketDisconnect

from snac_cli.audio.wav import wav_samples
from snac_cli.errors import SnacError, UsageError
from snac_cli.serve.service import Busy, Service, ShuttingDown, Unauthorized
from snac_cli.settings import Offsets, OnInvalid, TokenSettings


async def stream_tokens(
    socket: WebSocket,
    service: Service,
    authorized: Callable[[str | None], bool],
) -> tuple[int, int, int]:
    """One WebSocket token stream, decoded by its own TokenStream. Without the token it is refused at the
    handshake (403); when busy or shutting down it closes at once with 1013, for bad options or a model not
    served with 1008, each with its reason; a malformed message closes it with 1007, no message for
    --timeout seconds with 1008. Returns (samples sent, their rate, the close code (403 for a refusal):
    1000 done, 1001 the client left, 1007, 1008, 1013, or 1011 for an error of ours)."""
    from snac_cli.codec.token_decoding import TokenStream

    query = socket.query_params
    header = socket.headers.get("authorization") or (f"Bearer {query['token']}" if "token" in query else None)
    try:
        if not authorized(header):
            raise Unauthorized("a valid token is needed")
        if service.draining:
            raise ShuttingDown("the server is shutting down: try another, or again later")
        try:
            tokens = TokenSettings(Offsets(query.get("offsets", "none")), int(query.get("base", "0")),
                                   on_invalid=OnInvalid(query.get("on_invalid", "error")))  # fmt: skip
            lookahead = int(query["lookahead"]) if "lookahead" in query else None
        except ValueError as e:
            raise UsageError(f"the stream's options: {e}") from None
        model = service.model(query.get("model"))
        service.admit()
    except SnacError as e:
        return 0, 0, await refused(socket, e)
    samples, rate, idle = 0, 0, service.settings.timeout_seconds
    try:
        await socket.accept()
        try:
            stream = await service.run(
                lambda: TokenStream(model, tokens, lookahead=lookahead, batcher=service.stream_batcher), stream=True
            )
        except ValueError as e:  # an option out of range (a negative lookahead or base): as the parse's
            return samples, rate, await closed(socket, 1008, f"the stream's options: {e}")
        rate = stream.sampling_rate
        while True:
            try:
                message = json.loads(await asyncio.wait_for(socket.receive_text(), idle))
            except asyncio.TimeoutError:
                return samples, rate, await closed(socket, 1008, f"no message for --timeout {idle:g} s")
            if not isinstance(message, dict):
                raise ValueError("a message is a JSON object")
            end = message.get("end") is True
            run = message.get("tokens", [])
            if not isinstance(run, list) or not all(type(t) is int for t in run):
                raise ValueError("tokens must be a list of integers")
            audio = await service.run(push, stream, run, message.get("codes"), end, stream=True)
            if audio.shape[1]:
                samples += audio.shape[1]
                await socket.send_bytes(wav_samples(audio, "PCM_16"))  # as `snac decode --format raw`
            if end:
                await socket.send_text(json.dumps({"done": True, "samples": samples, "dropped": stream.dropped}))
                await socket.close()
                return samples, rate, 1000
    except WebSocketDisconnect:
        return samples, rate, 1001  # the client left: its stream goes with it
    except (ValueError, SnacError) as e:  # malformed JSON, a bad token (named by its index)
        return samples, rate, await closed(socket, 1007, str(e))
    except Exception as e:  # the client gone mid-send, or a bug of ours: the socket closes, the server serves on
        return samples, rate, await closed(socket, 1011, f"internal error: {type(e).__name__}")
    finally:
        service.done()


async def refused(socket: WebSocket, e: SnacError) -> int:
    """Refuse a stream: without the token, at the handshake (403: nothing is said to whoever it is); else
    opened and closed at once, so that the close carries its code and reason to the client. (uvicorn logs
    an error for every HTTP answer to a handshake but its 403.) Returns the code."""
    if isinstance(e, Unauthorized):
        await socket.close(code=1008)
        return 403
    await socket.accept()
    return await closed(socket, 1013 if isinstance(e, Busy) else 1008, str(e))


async def closed(socket: WebSocket, code: int, reason: str) -> int:
    """Close the socket with a code and a reason (cut to fit a close frame), if it is still open."""
    with contextlib.suppress(Exception):
        await socket.close(code=code, reason=reason[:120])
    return code


class Pipe(io.RawIOBase):
    """A binary stream that a worker thread writes and the event loop reads, piece by piece."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pieces: asyncio.Queue[bytes | None]):
        self.loop, self.pieces = loop, pieces

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        piece = bytes(data)
        if piece:
            self.loop.call_soon_threadsafe(self.pieces.put_nowait, piece)
        return len(piece)


def push(stream: Any, tokens: list[int], codes: object, end: bool) -> np.ndarray:
    """A stream's audio now final (channels, n) for these tokens (then these codes per scale, if any), and
    its rest when they end it."""
    audio = stream.push(tokens)
    if codes is not None:
        audio = np.concatenate([audio, stream.push_codes(codes)], axis=1)
    return np.concatenate([audio, stream.finish()], axis=1) if end else audio
