"""`snac export` and `snac import`: `.snac` files to training formats for language models, and back."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from snac_cli.format.container import SnacFile, SnacHeader
from snac_cli.format.header import MAX_CHANNELS
from snac_cli.format.token_stream import text_rows
from snac_cli.format.tokens import INT64_MAX, format_text, from_tokens, to_tokens

FORMATS = ("npy", "npz", "jsonl", "tokens")
EXTENSIONS = {"npy": ".npy", "npz": ".npz", "jsonl": ".jsonl", "tokens": ".txt"}
ZIP = b"PK\x03\x04"  # how a .npz starts
INVALID = INT64_MAX  # out of range at every position of a frame: token_offsets keeps the base below it


def flat_tokens(snac: SnacFile, offsets: str, base: int) -> np.ndarray:
    """One token sequence per channel: (channels, frames * tokens per frame)."""
    return np.stack(
        [
            to_tokens([c[ch] for c in snac.codes], snac.vq_strides, snac.codebook_size, offsets, base)
            for ch in range(snac.channels)
        ]
    )


def export_bytes(snac: SnacFile, name: str, *, fmt: str, offsets: str, base: int, template: str) -> bytes:
    """A `.snac` file's codes in a training format: flat tokens (npy, jsonl, tokens) or per-scale arrays (npz)."""
    buffer = io.BytesIO()
    if fmt == "npz":
        np.savez(buffer, **{f"scale_{i}": c for i, c in enumerate(snac.codes)})  # type: ignore[arg-type]
        return buffer.getvalue()
    tokens = flat_tokens(snac, offsets, base)
    if fmt == "npy":
        np.save(buffer, tokens)
        return buffer.getvalue()
    if fmt == "jsonl":
        record: dict[str, Any] = {"file": name, "model": snac.model, "offsets": offsets, "base": base}
        return (json.dumps({**record, "tokens": tokens.tolist()}) + "\n").encode()
    if fmt == "tokens":
        return "".join(format_text(t, template) + "\n" for t in tokens).encode()
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def read_tokens(data: bytes, suffix: str, template: str, *, lenient: bool = False) -> np.ndarray:
    """Token sequences (channels, n) from .npy, .jsonl (first record) or text (one channel per line).
    Anything else than integer tokens of a 64-bit range, in rows of one length, is a ValueError; with
    `lenient`, text that is no token reads as INVALID, a token out of range for every position."""
    if suffix == ".npz" or data.startswith(ZIP):
        raise ValueError("a .npz holds codes per scale (export --format npz); tokens come as .npy, .jsonl or text")
    if suffix == ".npy":
        try:
            tokens = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as e:
            if "allow_pickle" in str(e):  # numpy's advice to unpickle: never, for a file from outside
                raise ValueError(
                    "a .npy of Python objects (pickled), which snac never loads: tokens are integers"
                ) from None
            raise ValueError(f"not a readable .npy file ({e})") from None
        except (OSError, EOFError) as e:
            raise ValueError(f"not a readable .npy file ({e})") from None
        if not np.issubdtype(tokens.dtype, np.integer) or (tokens.size and tokens.max() > INT64_MAX):
            raise ValueError(f"expected integer tokens, not {tokens.dtype} values")
    elif suffix == ".jsonl":
        tokens = integer_rows(first_record(text_of(data)).get("tokens"))
    else:
        rows = text_rows(text_of(data), template, lenient=lenient)
        tokens = integer_rows([[INVALID if n is None else n for n in row] for row in rows])
    tokens = np.atleast_2d(tokens)
    if not tokens.size:
        raise ValueError("no tokens")
    if tokens.ndim != 2:
        raise ValueError("expected tokens, one sequence per channel")
    if tokens.shape[0] > MAX_CHANNELS:
        raise ValueError(f"{tokens.shape[0]:,} channels of tokens (lines or rows), past the limit of {MAX_CHANNELS}")
    return tokens.astype(np.int64)


def text_of(data: bytes) -> str:
    """UTF-8 text, a byte order mark at its start skipped (as editors on Windows write one)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text (byte {e.start:,} is not UTF-8)") from None


def first_record(text: str) -> dict[str, Any]:
    """The first JSON record of a JSONL text, which must be an object."""
    line = next((line for line in text.splitlines() if line.strip()), None)
    if line is None:
        raise ValueError("no record in the file")
    try:
        record = json_value(line)
    except ValueError as e:
        raise ValueError(f"the first record is not JSON ({e})") from None
    if not isinstance(record, dict) or "tokens" not in record:
        raise ValueError("the first record is not an object with 'tokens'")
    return record


def json_value(text: str | bytes) -> Any:
    """One JSON value, as every JSON input snac reads is parsed: anything that is not JSON, nesting too deep
    for the parser (100,000 `[`) included, is a ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def integer_rows(value: object) -> np.ndarray:
    """A list of integers, or one list per channel, as an int64 array (channels, n)."""
    rows = value if isinstance(value, list) and value and all(isinstance(r, list) for r in value) else [value]
    for row in rows:
        if not isinstance(row, list):
            raise ValueError("'tokens' must be a list of integers, or one list per channel")
        for token in row:
            if type(token) is not int or not 0 <= token <= INT64_MAX:  # no floats, booleans or nulls
                raise ValueError(f"token {str(token)[:30]} is not an integer in 0..{INT64_MAX}")
    if len({len(row) for row in rows if isinstance(row, list)}) > 1:
        raise ValueError("channels of different lengths")
    return np.array(rows, dtype=np.int64)


def import_tokens(tokens: np.ndarray, header: SnacHeader, per_frame: int, *, offsets: str, base: int) -> SnacFile:
    """Token sequences (channels, n) -> a `.snac` file at the model's rate (`per_frame` samples per coarsest
    frame), its length the codes' length."""
    per_channel = [from_tokens(t, header.vq_strides, header.codebook_size, offsets, base) for t in tokens]
    codes = [np.stack([channel[i] for channel in per_channel]) for i in range(len(header.vq_strides))]
    frames = codes[0].shape[1] * header.vq_strides[0] // math.lcm(*header.vq_strides)
    length = frames * per_frame
    return SnacFile(**vars(header), original_length=length, codes=codes)


def export_target(path: str, fmt: str, folder: str | None) -> Path:
    """Where `snac export` writes a file's export: beside it, or in `folder` under its own name."""
    target = Path(path).with_suffix(EXTENSIONS[fmt])
    return target if folder is None else Path(folder) / target.name
