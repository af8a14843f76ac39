"""Decoding: `.snac` codes in, audio out at the original rate, channels and length, in bounded memory."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from snac_cli.audio.resample import resample_stream
from snac_cli.audio.writer import SNAC_TAG, check_output_format, write_stream
from snac_cli.codec.coders import Coder, load_coder
from snac_cli.codec.models import check_model
from snac_cli.errors import ContainerError
from snac_cli.format.checks import check_length
from snac_cli.format.container import SnacHeader, SnacReader
from snac_cli.progress import Advance, Progress, silent
from snac_cli.settings import DecodeSettings, ModelSettings

if TYPE_CHECKING:
    from snac_cli.engine.push_batcher import PushBatcher


@dataclass
class Decoded:
    """Audio being decoded: its rate, channels and length, and the blocks (channels, n) as they come."""

    sample_rate: int
    channels: int
    length: int | None  # samples per channel; None while unknown (a `.snac` arriving on a pipe)
    blocks: Iterator[np.ndarray]


def output_rate(sample_rate: str | int, header: SnacHeader) -> int:
    """The rate to decode to: the original, the model's, or a rate in Hz."""
    if sample_rate == "original":
        return header.original_sample_rate
    if sample_rate == "model":
        return header.sample_rate
    return int(sample_rate)


def decode(
    model: Coder,
    reader: SnacReader,
    settings: DecodeSettings = DecodeSettings(),
    *,
    original_length: int | None = None,
    frames: int | None = None,
    advance: Advance | None = None,
    batcher: PushBatcher | None = None,
) -> Decoded:
    """Decode a `.snac` stream to the original rate (or the settings'), channels and length.

    `original_length` and `frames`, when the caller already knows them (a seekable file read once before),
    let the length be known up front (and a `--lookahead` decode end exactly); otherwise they come with the
    end of the stream. A `batcher` lets its forward
    passes be shared with other threads' decodes (`snac serve`: the same audio).
    """
    h = reader.header
    facts = check_model(model, h)
    rate = output_rate(settings.sample_rate, h)
    audio = model.decode_stream(
        reader.chunks(), seed=settings.seed, window_seconds=settings.window_seconds, lookahead=settings.lookahead,
        advance=advance, batcher=batcher, frames=frames,
    )  # fmt: skip
    if h.gain != 1.0:
        audio = (block / np.float32(h.gain) for block in audio)
    audio = resample_stream(audio, facts.sample_rate, rate, h.channels)
    if h.channels != h.original_channels:
        audio = (np.repeat(block, h.original_channels, axis=0) for block in audio)

    def length() -> int:
        total = original_length if original_length is not None else reader.original_length
        assert total is not None
        if reader.original_length is not None:  # the stream has ended: its length and frame count are known
            check_length(h, reader.original_length, reader.frames, facts)
        return round(total * rate / h.original_sample_rate)

    # Everything past the original length is padding, less than one padding unit of the model's.
    holdback = math.ceil(facts.pad_unit * rate / facts.sample_rate) + 64
    known = length() if original_length is not None else None
    return Decoded(rate, h.original_channels, known, trimmed(audio, holdback, length))


def decode_file(
    source: BinaryIO,
    target: str | os.PathLike[str] | BinaryIO,
    settings: DecodeSettings = DecodeSettings(),
    *,
    model: ModelSettings = ModelSettings(),
    progress: Progress = silent,
    comment: str = SNAC_TAG,
    raw: bool = False,
    batcher: PushBatcher | None = None,
) -> float | None:
    """Decode a `.snac` stream to an audio file (or WAV on a binary stream); returns its duration when known.

    A seekable stream is checked through before any output. The model is the settings', or (name None) the
    one the file names; `comment` tags an audio file; `raw` writes 16-bit PCM without a header on a stream;
    `batcher` as for `decode`.
    """
    length, frames = verify(source) if source.seekable() else (None, 0)
    reader = SnacReader(source)
    h = reader.header
    rate = output_rate(settings.sample_rate, h)
    target_name = str(target) if isinstance(target, (str, os.PathLike)) else "-"
    subtype = settings.subtype.value if settings.subtype else None
    check_output_format(target_name, subtype, rate, h.original_channels)  # before the model loads
    coder = load_coder(model if model.name else replace(model, name=h.model))
    facts = check_model(coder, h)  # another model's file is that, not a corrupted one: before its length
    if length is not None:  # a forged length is refused before any output exists
        check_length(h, length, frames, facts)
    seconds = length / h.original_sample_rate if length is not None else None
    with progress("decoding", seconds, "s") as advance:
        decoded = decode(
            coder, reader, settings, original_length=length, frames=frames if length is not None else None,
            advance=lambda samples: advance(samples / facts.sample_rate), batcher=batcher,
        )  # fmt: skip
        write_stream(
            target, decoded.blocks, decoded.sample_rate, decoded.channels,
            subtype=subtype, length=decoded.length, comment=comment, raw=raw,
        )  # fmt: skip
    return seconds


def trimmed(blocks: Iterator[np.ndarray], holdback: int, length: Callable[[], int]) -> Iterator[np.ndarray]:
    """Pass blocks on, holding back the last `holdback` samples until `length()` is known at the end."""
    pending: np.ndarray | None = None
    written = 0
    for block in blocks:
        pending = block if pending is None else np.concatenate([pending, block], axis=1)
        if pending.shape[1] > holdback:
            out, pending = pending[:, :-holdback], pending[:, -holdback:]
            written += out.shape[1]
            yield out
    total = length()
    if pending is None or written > total:
        raise ContainerError("corrupted file: its length does not match its codes")
    rest = pending[:, : total - written]
    yield np.pad(rest, ((0, 0), (0, total - written - rest.shape[1])))


def verify(stream: BinaryIO) -> tuple[int, int]:
    """Read a seekable `.snac` stream through once, checking every checksum; returns (original length, frames)."""
    start = stream.tell()
    reader = SnacReader(stream)
    for _ in reader.chunks():
        pass
    stream.seek(start)
    assert reader.original_length is not None
    return reader.original_length, reader.frames
