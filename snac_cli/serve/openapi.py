"""What `/openapi.json` says beyond the routes' own signatures: the request bodies (read by the routes
themselves, after admission, so FastAPI cannot see them), the WebSocket protocol, and the one sentence a bad
query parameter gets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BINARY = {"schema": {"type": "string", "format": "binary"}}
AUDIO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Audio in any format `snac encode` reads (WAV, FLAC, OGG, MP3, AIFF, ...).",
        "content": {"audio/*": BINARY, "application/octet-stream": BINARY},
    }
}
TOKENS = {"type": "array", "items": {"type": "integer", "minimum": 0}}
SNAC_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A `.snac` file, or JSON tokens as `snac export` writes them (flat, or one list per channel).",
        "content": {
            "application/octet-stream": BINARY,
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["tokens"],
                    "properties": {"tokens": {"oneOf": [TOKENS, {"type": "array", "items": TOKENS}]}},
                }
            },
        },
    }
}

DESCRIPTION = """
Encode audio to SNAC codes and decode them back, as `snac encode` and `snac decode` do, byte for byte.
Every error is `{"error": message, "code": kind}` with its status (400 usage, 401 token, 403 Host or Origin,
404 model, 408 slow body, 413 body size, 422 input, 503 busy, 504 past `--timeout`).

**WebSocket `/v1/decode/stream`** (query: `model`, `offsets`, `base`, `on_invalid`, `lookahead` 0..1024,
`token` where the server has one). Send JSON text messages, each at most `--max-message-tokens` tokens:
`{"tokens": [...]}` as a language model makes them, or `{"codes": [[...], ...]}` (whole frames, per scale);
`{"end": true}` last (with or without tokens). Each binary message back is raw 16-bit little-endian PCM, final
as soon as it is sent; last comes `{"done": true, "samples": N, "dropped": frames}`. Close codes: 1000 done,
1007 a malformed message, 1008 bad options or a model not served, or silent past `--idle-timeout` or past
`--timeout` in all, 1009 a message over the limit, 1013 busy (`--max-streams`) or shutting down.
"""


def invalid(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one line naming each query parameter and the value it was given."""
    parts = []
    for e in errors:
        name = str(e.get("loc", ("", "?"))[-1])
        given = f"={str(e['input'])[:40]}" if e.get("input") is not None else ""
        parts.append(f"{name}{given}: {str(e.get('msg', 'invalid')).lower()}")
    return "bad query parameter " + "; ".join(parts)
