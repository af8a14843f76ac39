"""The codec as a library: audio in, `.snac` codes out, and back, streaming in bounded memory.

from snac_cli.codec import load_model, encode, decode
model = load_model("24khz")
with AudioReader("speech.wav") as audio, open("speech.snac", "wb") as out:
    encode(model, "24khz", audio, out)
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import torch

from . import __version__
from .audio import SNAC_TAG, AudioReader, check_output_format, mix_to_mono, resample_stream, write_stream
from .container import MAX_CHANNELS, SnacFile, SnacHeader, SnacReader, SnacWriter
from .errors import ContainerError, ModelError, UsageError
from .inference import (
    Progress,
    batch_limit,
    decode_stream,
    encode_batch,
    encode_stream,
    resolve_device,
)
from .model import SNAC
from .naming import model_id  # noqa: F401 - part of the library API: codec.model_id
from .normalize import measure_gain

# progress_bar(description, seconds or None, model rate) opens a display and yields its callback (or None).
ProgressBar = Callable[[str, float | None, int], contextlib.AbstractContextManager[Progress | None]]


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def load_model(name: str, device: str = "auto", precision: str = "fp32") -> SNAC:
    """A model by short name, Hub repo id or local folder, on a device (`auto` picks CUDA when present).

    `bf16` and `fp16` are faster on GPUs but lossy: codes differ from fp32's; fp16 needs CUDA.
    """
    target = resolve_device(device)
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r} (fp32, bf16 or fp16)")
    if precision == "fp16" and target.type != "cuda":
        raise UsageError("fp16 runs on CUDA only; use fp32 or bf16 on the CPU")
    return SNAC.from_pretrained(name).to(device=target, dtype=PRECISIONS[precision])


@dataclass
class Conditioned:
    """Audio made ready for the model: the file's header, blocks (channels, n) at the model's rate with the
    gain applied, and the original length, known once the blocks are used up."""

    header: SnacHeader
    blocks: Iterator[np.ndarray]
    length: Callable[[], int]


def condition(
    model: SNAC,
    model_name: str,
    audio: AudioReader,
    channels: str = "mix",
    normalize: str = "loudness",
    metadata: dict[str, str] | None = None,
) -> Conditioned:
    """Mix down (or keep channels), normalize and resample audio for the model, as a stream."""
    if channels not in ("mix", "keep"):
        raise ValueError(f"unknown channel mode {channels!r} (mix or keep)")
    coded = 1 if channels == "mix" else audio.channels
    if coded > MAX_CHANNELS:
        raise UsageError(f"{audio.name}: --channels keep codes at most {MAX_CHANNELS} channels, not {coded}; use mix")

    def conditioned(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        return (mix_to_mono(b) for b in blocks) if channels == "mix" else blocks

    blocks = conditioned(audio.blocks())
    if normalize != "none":  # a first pass measures the gain over the whole input: only then can it keep its
        if not audio.seekable:  # promise (a peak under 0.99), which a loud end after a quiet start would break
            raise UsageError(f"{audio.name}: normalizing needs the whole input: read a pipe with spool=True")
        gain = measure_gain(blocks, audio.sample_rate, coded, normalize)
        blocks = conditioned(audio.blocks())
    else:
        gain = 1.0

    header = SnacHeader(
        model=model_name,
        fingerprint=model.config.fingerprint(),
        sample_rate=model.sampling_rate,
        original_sample_rate=audio.sample_rate,
        original_channels=audio.channels,
        channels=coded,
        codebook_size=model.codebook_size,
        vq_strides=tuple(model.vq_strides),
        gain=gain,
        tool_version=__version__,
        metadata=metadata or {},
    )
    length = 0

    def counted(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        nonlocal length
        for block in blocks:
            length += block.shape[1]
            yield block if gain == 1.0 else block * np.float32(gain)

    return Conditioned(
        header, resample_stream(counted(blocks), audio.sample_rate, model.sampling_rate, coded), lambda: length
    )


def encode(
    model: SNAC,
    model_name: str,
    audio: AudioReader,
    out: BinaryIO,
    channels: str = "mix",
    normalize: str = "loudness",
    metadata: dict[str, str] | None = None,
    chunk_seconds: float | None = None,
    progress: Progress | None = None,
) -> SnacHeader:
    """Encode audio into a `.snac` stream, written chunk by chunk as the codes come."""
    source = condition(model, model_name, audio, channels, normalize, metadata)
    writer = SnacWriter(out, source.header)
    for codes in encode_stream(model, source.blocks, chunk_seconds, progress):
        writer.write(codes)
    writer.close(source.length())
    return source.header


def encode_clips(
    model: SNAC,
    model_name: str,
    sources: list[str | os.PathLike[str] | BinaryIO],
    channels: str = "mix",
    normalize: str = "loudness",
    metadata: dict[str, str] | None = None,
    names: list[str] | None = None,
    limit: int | None = None,
) -> list[SnacFile | Exception]:
    """Encode short clips (paths or binary files) several per forward pass: for each, its `SnacFile` (the
    codes `encode` would write) or the error that stopped it (any error: one clip's failure is its own).
    Clips are read whole: keep them short.

    `limit`: the most samples (model rate) per pass, all clips together [default: one chunk's worth];
    0 encodes each clip alone."""
    results: list[SnacFile | Exception | None] = [None] * len(sources)
    ready: list[tuple[int, SnacHeader, np.ndarray, int]] = []
    for i, source in enumerate(sources):
        try:
            with AudioReader(source, name=names[i] if names else None, spool=normalize != "none") as audio:
                clip = condition(model, model_name, audio, channels, normalize, metadata)
                samples = np.concatenate(list(clip.blocks), axis=1)
                ready.append((i, clip.header, samples, clip.length()))
        except Exception as e:  # libsndfile's own errors, a memory error: this clip's, not the others'
            results[i] = e
    limit, unit = batch_limit(model) if limit is None else limit, model.config.pad_unit
    for i, header, samples, length in [item for item in ready if item[2].size > limit]:  # too long to batch
        codes = [np.concatenate(parts, axis=1) for parts in zip(*encode_stream(model, [samples]), strict=True)]
        results[i] = SnacFile(**vars(header), original_length=length, codes=codes)
    ready = sorted((item for item in ready if item[2].size <= limit), key=lambda item: item[2].shape[1])
    while ready:
        group = [ready.pop(0)]
        rows = group[0][1].channels
        while ready and (rows + ready[0][1].channels) * -(-ready[0][2].shape[1] // unit) * unit <= limit:
            rows += ready[0][1].channels
            group.append(ready.pop(0))
        for (i, header, _, length), codes in zip(group, encode_batch(model, [g[2] for g in group]), strict=True):
            results[i] = SnacFile(**vars(header), original_length=length, codes=codes)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def check_model(model: SNAC, header: SnacHeader) -> None:
    """A file decodes only with the model that made it."""
    if model.config.fingerprint() != header.fingerprint or model.vq_strides != list(header.vq_strides):
        raise ModelError(
            f"the file was made by model {header.model} (config {header.fingerprint}), "
            f"which differs from the one given (config {model.config.fingerprint()})"
        )


@dataclass
class Decoded:
    """Audio being decoded: its rate, channels and length, and the blocks (channels, n) as they come."""

    sample_rate: int
    channels: int
    frames: int | None  # None while the length is still unknown (a `.snac` arriving on a pipe)
    blocks: Iterator[np.ndarray]


def decode(
    model: SNAC,
    reader: SnacReader,
    sample_rate: int | None = None,
    seed: int = 0,
    original_length: int | None = None,
    chunk_seconds: float | None = None,
    progress: Progress | None = None,
) -> Decoded:
    """Decode a `.snac` stream to the original rate (or `sample_rate`), channels and length.

    `original_length`, when the caller already knows it (a seekable file read once before), lets the
    length be known up front; otherwise it comes with the end of the stream.
    """
    h = reader.header
    check_model(model, h)
    rate = sample_rate or h.original_sample_rate
    audio = decode_stream(model, reader.chunks(), seed, chunk_seconds, progress)
    if h.gain != 1.0:
        audio = (block / np.float32(h.gain) for block in audio)
    audio = resample_stream(audio, model.sampling_rate, rate, h.channels)
    if h.channels != h.original_channels:
        audio = (np.repeat(block, h.original_channels, axis=0) for block in audio)

    def length() -> int:
        total = original_length if original_length is not None else reader.original_length
        assert total is not None
        if reader.original_length is not None:  # the stream has ended: its length and frame count are known
            check_length(model, h, reader.original_length, reader.frames)
        return round(total * rate / h.original_sample_rate)

    # Everything past the original length is padding, less than one padding unit of the model's.
    holdback = math.ceil(model.config.pad_unit * rate / model.sampling_rate) + 64
    frames = length() if original_length is not None else None
    return Decoded(rate, h.original_channels, frames, trimmed(audio, holdback, length))


def decode_file(
    stream: BinaryIO,
    target: str | os.PathLike[str] | BinaryIO,
    model_for: Callable[[str], SNAC],
    sample_rate: str | int = "original",
    subtype: str | None = None,
    seed: int = 0,
    chunk_seconds: float | None = None,
    progress_bar: ProgressBar | None = None,
    comment: str = SNAC_TAG,
) -> float | None:
    """Decode a `.snac` stream to an audio file (or WAV on a binary stream); returns its duration when known.

    A seekable stream is checked through before any output. `model_for(name)` gives the model for the name
    the file holds; `sample_rate` is original, model, or a rate in Hz; `comment` tags an audio file.
    """
    length, frames = verify(stream) if stream.seekable() else (None, 0)
    reader = SnacReader(stream)
    h = reader.header
    rate = {"original": h.original_sample_rate, "model": h.sample_rate}.get(sample_rate, sample_rate)  # type: ignore[call-overload]
    target_name = str(target) if isinstance(target, (str, os.PathLike)) else "-"
    check_output_format(target_name, subtype, rate, h.original_channels)  # before the model loads
    model = model_for(h.model)
    if length is not None:  # a forged length is refused before any output exists
        check_length(model, h, length, frames)
    seconds = length / h.original_sample_rate if length is not None else None
    with (progress_bar or no_progress_bar)("decoding", seconds, model.sampling_rate) as progress:
        decoded = decode(model, reader, rate, seed, length, chunk_seconds, progress)
        write_stream(target, decoded.blocks, decoded.sample_rate, decoded.channels, subtype, decoded.frames, comment)
    return seconds


def no_progress_bar(description: str, seconds: float | None, rate: int) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def trimmed(blocks: Iterator[np.ndarray], holdback: int, length: Callable[[], int]) -> Iterator[np.ndarray]:
    """Pass blocks on, holding back the last `holdback` frames until `length()` is known at the end."""
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


def check_length(model: SNAC, header: SnacHeader, original_length: int, frames: int) -> None:
    """The header's length must be what the codes cover, less the encoder's padding (under one padding unit):
    a longer one would decode to made-up silence, or ask for any amount of memory (a forged file)."""
    covered = frames * math.lcm(*header.vq_strides) * model.hop_length  # samples at the model's rate
    length = original_length * header.sample_rate / header.original_sample_rate
    if not covered - model.config.pad_unit - 1 < length <= covered + 1:
        raise ContainerError(
            f"corrupted file: its length ({original_length:,} samples) does not match its codes ({frames:,} frames)"
        )
