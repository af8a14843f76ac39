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
from snac_cli.errors import SnacError
from snac_cli.serve.service import Busy, Service
from snac_cli.settings import Offsets, OnInvalid, TokenSettings


async def stream_tokens(
    socket: WebSocket, service: Service, authorized: Callable[[str | None], bool]
) -> tuple[int, int, int]:
    """One WebSocket token stream, decoded by its own TokenStream; malformed messages close it with a reason.
    Returns (samples sent, their rate, the close code: 1000 done, 1001 the client left, 1007 a bad message,
    1008 refused, 1013 too busy)."""
    from snac_cli.codec.token_decoding import TokenStream

    query = socket.query_params
    header = socket.headers.get("authorization") or (f"Bearer {query['token']}" if "token" in query else None)
    if not authorized(header):
        await socket.close(code=1008, reason="a valid token is needed")
        return 0, 0, 1008
    try:
        tokens = TokenSettings(Offsets(query.get("offsets", "none")), int(query.get("base", "0")),
                               on_invalid=OnInvalid(query.get("on_invalid", "error")))  # fmt: skip
        lookahead = int(query["lookahead"]) if "lookahead" in query else None
        model = service.model(query.get("model"))
        service.admit()
    except (ValueError, SnacError) as e:
        code = 1013 if isinstance(e, Busy) else 1008
        await socket.close(code=code, reason=str(e)[:120])
        return 0, 0, code
    samples, rate = 0, 0
    try:
        await socket.accept()
        stream = await service.run(
            lambda: TokenStream(model, tokens, lookahead=lookahead, batcher=service.push_batcher), stream=True
        )
        rate = stream.sampling_rate
        while True:
            message = json.loads(await socket.receive_text())
            if not isinstance(message, dict):
                raise ValueError("a message is a JSON object")
            end = message.get("end") is True
            run = message.get("tokens", [])
            if not isinstance(run, list) or not all(type(t) is int for t in run):
                raise ValueError("tokens must be a list of integers")
            audio = await service.run(push, stream, run, end, stream=True)
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


def push(stream: Any, tokens: list[int], end: bool) -> np.ndarray:
    """A stream's audio now final (channels, n) for these tokens, and its rest when they end it."""
    audio = stream.push(tokens)
    return np.concatenate([audio, stream.finish()], axis=1) if end else audio
