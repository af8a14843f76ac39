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
from snac_cli.serve.outcomes import Busy, ShuttingDown, Unauthorized
from snac_cli.serve.service import Service
from snac_cli.settings import Offsets, OnInvalid, TokenSettings

MAX_LOOKAHEAD = 1024  # frames, as the command line's --lookahead
# Tokens per push of a long message: other streams' pushes run between them, and the stream's time and the
# server's drain are checked between them too.
STEP_TOKENS = 256


class Closing(Exception):
    """A stream to be closed with a code and a reason."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code


async def stream_tokens(
    socket: WebSocket,
    service: Service,
    authorized: Callable[[str | None], bool],
) -> tuple[int, int, int]:
    """One WebSocket token stream, decoded by its own TokenStream. Without the token it is refused at the
    handshake (403); past --max-streams or when shutting down it closes at once with 1013, for bad options or
    a model not served with 1008, each with its reason. Returns (samples sent, their rate, the close code:
    403 for a refusal, 1000 done, 1001 the client left, 1007 a malformed message, 1008, 1009 a message too
    large, 1013, or 1011 for an error of ours)."""
    from snac_cli.codec.token_decoding import TokenStream

    query = socket.query_params
    header = socket.headers.get("authorization") or (f"Bearer {query['token']}" if "token" in query else None)
    try:
        if not authorized(header):
            raise Unauthorized("a valid token is needed")
        if service.draining:
            raise ShuttingDown("the server is shutting down: try another, or again later")
        tokens, lookahead = options(query)
        model = service.model(query.get("model"))
        service.streams.take()
    except SnacError as e:
        return 0, 0, await refused(socket, e)
    samples, rate, settings = 0, 0, service.settings
    loop = asyncio.get_running_loop()
    deadline, heard = loop.time() + settings.timeout_seconds, loop.time()
    try:
        await socket.accept()
        try:
            stream = await service.run(
                lambda: TokenStream(model, tokens, lookahead=lookahead, batcher=service.stream_batcher), stream=True
            )
        except ValueError as e:  # an option out of range (a negative base): as the parse's
            raise Closing(1008, f"the stream's options: {e}") from None
        rate = stream.sampling_rate
        while True:
            silent = heard + settings.idle_seconds - loop.time()
            try:
                text = await asyncio.wait_for(receive_text(socket), max(0.0, min(silent, deadline - loop.time())))
            except asyncio.TimeoutError:
                if silent <= deadline - loop.time():
                    raise Closing(1008, f"no tokens for --idle-timeout {settings.idle_seconds:g} s") from None
                raise Closing(1008, f"the stream took over --timeout {settings.timeout_seconds:g} s") from None
            run, codes, end = message(text, settings.max_message_tokens)
            if run or codes:
                heard = loop.time()  # an empty message does not keep a stream alive
            steps = [run[i : i + STEP_TOKENS] for i in range(0, len(run), STEP_TOKENS)] or [[]]
            for i, piece in enumerate(steps):
                if loop.time() > deadline:
                    raise Closing(1008, f"the stream took over --timeout {settings.timeout_seconds:g} s")
                last = i == len(steps) - 1
                audio = await service.run(push, stream, piece, codes if last else None, end and last, stream=True)
                if audio.shape[1]:
                    samples += audio.shape[1]
                    await socket.send_bytes(wav_samples(audio, "PCM_16"))  # as `snac decode --format raw`
            if end:
                await socket.send_text(json.dumps({"done": True, "samples": samples, "dropped": stream.dropped}))
                await socket.close()
                return samples, rate, 1000
    except WebSocketDisconnect:
        return samples, rate, 1001  # the client left: its stream goes with it
    except Closing as e:
        return samples, rate, await closed(socket, e.code, str(e))
    except (ValueError, SnacError) as e:  # a bad token (named by its index)
        return samples, rate, await closed(socket, 1007, str(e))
    except Exception as e:  # the client gone mid-send, or a bug of ours: the socket closes, the server serves on
        return samples, rate, await closed(socket, 1011, f"internal error: {type(e).__name__}")
    finally:
        service.streams.give()


def options(query: Any) -> tuple[TokenSettings, int | None]:
    """A stream's token settings and lookahead from its query, or a UsageError (1008)."""
    try:
        tokens = TokenSettings(Offsets(query.get("offsets", "none")), int(query.get("base", "0")),
                               on_invalid=OnInvalid(query.get("on_invalid", "error")))  # fmt: skip
        lookahead = int(query["lookahead"]) if "lookahead" in query else None
    except ValueError as e:
        raise UsageError(f"the stream's options: {e}") from None
    if not 0 <= tokens.base <= 2**62:
        raise UsageError(f"the stream's options: base must be 0..2**62, not {tokens.base}")
    if lookahead is not None and not 0 <= lookahead <= MAX_LOOKAHEAD:
        raise UsageError(f"the stream's options: lookahead must be 0..{MAX_LOOKAHEAD} frames, not {lookahead}")
    if "model" in query and not query["model"]:
        raise UsageError("the stream's options: model is empty")
    return tokens, lookahead


async def receive_text(socket: WebSocket) -> str:
    """The next message's text: a binary message is malformed (1007), a close is the client leaving."""
    received = await socket.receive()
    if received["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(received.get("code", 1000))
    if received.get("text") is None:
        raise Closing(1007, "messages are JSON text, not binary")
    return received["text"]


def message(text: str, limit: int) -> tuple[list[int], object, bool]:
    """A message's (tokens, codes per scale or None, whether it ends the stream), checked: malformed is 1007,
    more than `limit` tokens (codes counted alike) 1009."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise Closing(1007, "the message is nested too deeply") from None
    except ValueError as e:
        raise Closing(1007, f"the message is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise Closing(1007, "a message is a JSON object")
    unknown = set(value) - {"tokens", "codes", "end"}
    if unknown:
        raise Closing(1007, f"unknown key {sorted(unknown)[0]!r}: a message holds tokens, codes or end")
    end, run, codes = value.get("end", False), value.get("tokens", []), value.get("codes")
    if type(end) is not bool:
        raise Closing(1007, "end must be true or false")
    if not isinstance(run, list) or not all(type(t) is int for t in run):
        raise Closing(1007, "tokens must be a list of integers")
    count = len(run) + (sum(len(s) if isinstance(s, list) else 1 for s in codes) if isinstance(codes, list) else 0)
    if count > limit:
        raise Closing(1009, f"{count} tokens in one message: at most --max-message-tokens {limit}")
    return run, codes, end


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
