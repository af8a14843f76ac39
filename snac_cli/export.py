"""`snac export` and `snac import`: `.snac` files to training formats for language models, and back."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .container import SnacFile, SnacHeader
from .tokens import format_text, from_tokens, parse_text, to_tokens

FORMATS = ("npy", "npz", "jsonl", "tokens")
EXTENSIONS = {"npy": ".npy", "npz": ".npz", "jsonl": ".jsonl", "tokens": ".txt"}


def flat_tokens(snac: SnacFile, offsets: str, base: int) -> np.ndarray:
    """One token sequence per channel: (channels, frames * tokens per frame)."""
    return np.stack(
        [
            to_tokens([c[ch] for c in snac.codes], snac.vq_strides, snac.codebook_size, offsets, base)
            for ch in range(snac.channels)
        ]
    )


def export_bytes(snac: SnacFile, name: str, fmt: str, offsets: str, base: int, template: str) -> bytes:
    """A `.snac` file's codes in a training format: flat tokens (npy, jsonl, tokens) or per-scale arrays (npz)."""
    buffer = io.BytesIO()
    if fmt == "npz":
        np.savez(buffer, **{f"scale_{i}": c for i, c in enumerate(snac.codes)})
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


def read_tokens(data: bytes, suffix: str, template: str) -> np.ndarray:
    """Token sequences (channels, n) from .npy, .jsonl (first record) or text (one channel per line)."""
    if suffix == ".npy":
        tokens = np.load(io.BytesIO(data), allow_pickle=False)
    elif suffix == ".jsonl":
        tokens = np.array(json.loads(data.decode().splitlines()[0])["tokens"], dtype=np.int64)
    else:
        lines = [line for line in data.decode().splitlines() if line.strip()]
        rows = [parse_text(line, template) for line in lines]
        if len({len(r) for r in rows}) > 1:
            raise ValueError("channels of different lengths")
        tokens = np.array(rows, dtype=np.int64)
    tokens = np.atleast_2d(np.asarray(tokens))
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer) or not tokens.size:
        raise ValueError("expected integer tokens, one sequence per channel")
    return tokens.astype(np.int64)


def import_tokens(tokens: np.ndarray, header: SnacHeader, hop_length: int, offsets: str, base: int) -> SnacFile:
    """Token sequences (channels, n) -> a `.snac` file at the model's rate, its length the codes' length."""
    per_channel = [from_tokens(t, header.vq_strides, header.codebook_size, offsets, base) for t in tokens]
    codes = [np.stack([channel[i] for channel in per_channel]) for i in range(len(header.vq_strides))]
    frames = codes[0].shape[1] * header.vq_strides[0] // math.lcm(*header.vq_strides)
    length = frames * math.lcm(*header.vq_strides) * hop_length
    return SnacFile(**vars(header), original_length=length, codes=codes)


def header_for(model_name: str, channels: int) -> tuple[SnacHeader, int]:
    """The header a file made by `model_name` would have (at the model's rate), and the model's hop."""
    from .codec import model_id
    from .model.pretrained import find_checkpoint, read_config

    config = read_config(find_checkpoint(model_name)[0])
    header = SnacHeader(
        model=model_id(model_name),
        fingerprint=config.fingerprint(),
        sample_rate=config.sampling_rate,
        original_sample_rate=config.sampling_rate,
        original_channels=channels,
        channels=channels,
        codebook_size=config.codebook_size,
        vq_strides=config.vq_strides,
        tool_version=__version__,
    )
    return header, config.hop_length


def default_output(path: str, fmt: str) -> Path:
    return Path(path).with_suffix(EXTENSIONS[fmt])
