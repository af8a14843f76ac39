"""Encoding: audio in, `.snac` codes out, streaming in bounded memory, or short clips several per pass."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from snac_cli import __version__
from snac_cli.audio.normalize import measure_gain
from snac_cli.audio.reader import AudioReader
from snac_cli.audio.resample import mix_to_mono, resample_stream
from snac_cli.codec.coders import Coder, load_coder
from snac_cli.errors import UsageError
from snac_cli.files import atomic_output
from snac_cli.format.container import MAX_CHANNELS, SnacFile, SnacHeader, SnacWriter
from snac_cli.naming import model_id
from snac_cli.progress import Advance, Progress, silent
from snac_cli.settings import DEFAULT_MODEL, Channels, EncodeSettings, ModelSettings, Normalize

Source = str | os.PathLike[str] | BinaryIO  # a path, or a binary file or pipe
Target = str | os.PathLike[str] | BinaryIO  # a path (written atomically), or a binary stream


@dataclass
class Conditioned:
    """Audio made ready for the model: the file's header, blocks (channels, n) at the model's rate with the
    gain applied, and the original length, known once the blocks are used up."""

    header: SnacHeader
    blocks: Iterator[np.ndarray]
    length: Callable[[], int]


def condition(model: Coder, audio: AudioReader, settings: EncodeSettings, *, model_name: str) -> Conditioned:
    """Mix down (or keep channels), normalize and resample audio for the model, as a stream."""
    mix = settings.channels == Channels.mix
    coded = 1 if mix else audio.channels
    if coded > MAX_CHANNELS:
        raise UsageError(f"{audio.name}: --channels keep codes at most {MAX_CHANNELS} channels, not {coded}; use mix")

    def conditioned(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        return (mix_to_mono(b) for b in blocks) if mix else blocks

    blocks = conditioned(audio.blocks())
    gain = 1.0
    if settings.normalize != Normalize.none:  # a first pass measures the gain over the whole input: only then
        if not audio.seekable:  # can it keep its promise (a peak under 0.99), which a loud end would break
            raise UsageError(f"{audio.name}: normalizing needs the whole input: read a pipe with spool=True")
        gain = measure_gain(blocks, audio.sample_rate, coded, settings.normalize.value)
        blocks = conditioned(audio.blocks())

    facts = model.facts
    header = SnacHeader(
        model=model_name,
        fingerprint=facts.fingerprint,
        sample_rate=facts.sample_rate,
        original_sample_rate=audio.sample_rate,
        original_channels=audio.channels,
        channels=coded,
        codebook_size=facts.codebook_size,
        vq_strides=facts.vq_strides,
        gain=gain,
        tool_version=__version__,
        metadata=dict(settings.metadata),
    )
    length = 0

    def counted(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        nonlocal length
        for block in blocks:
            length += block.shape[1]
            yield block if gain == 1.0 else block * np.float32(gain)

    return Conditioned(
        header, resample_stream(counted(blocks), audio.sample_rate, facts.sample_rate, coded), lambda: length
    )


def encode(
    model: Coder,
    audio: AudioReader,
    out: BinaryIO,
    settings: EncodeSettings = EncodeSettings(),
    *,
    model_name: str,
    advance: Advance | None = None,
) -> SnacHeader:
    """Encode open audio into a `.snac` stream, written container chunk by chunk as the codes come.
    `model_name` is what the file names as its model; `advance` is called with model-rate samples done."""
    source = condition(model, audio, settings, model_name=model_name)
    pieces = model.encode_stream(source.blocks, window_seconds=settings.window_seconds, advance=advance)
    writer = SnacWriter(out, source.header)  # after the model is ready to run: a broken one writes nothing
    for codes in pieces:
        writer.write(codes)
    writer.close(source.length())
    return source.header


def encode_file(
    source: Source,
    target: Target,
    settings: EncodeSettings = EncodeSettings(),
    *,
    model: ModelSettings = ModelSettings(),
    name: str | None = None,
    progress: Progress = silent,
) -> SnacHeader:
    """Encode an audio file, or a binary stream of one, into a `.snac` file (written atomically) or stream.

    The input opens before the model loads, so that a bad input fails at once; a pipe that must be
    normalized is spooled to a temporary file first. `name` names a stream in errors."""
    spool = settings.normalize != Normalize.none
    with AudioReader(source, name=name, spool=spool) as audio:
        coder = load_coder(model)
        seconds = audio.length / audio.sample_rate if audio.length is not None else None
        output = atomic_output(target) if isinstance(target, (str, os.PathLike)) else contextlib.nullcontext(target)
        with progress("encoding", seconds, "s") as advance, output as out:
            header = encode(
                coder, audio, out, settings, model_name=model_id(model.name or DEFAULT_MODEL),
                advance=lambda samples: advance(samples / coder.facts.sample_rate),
            )  # fmt: skip
            out.flush()
    return header


def encode_clips(
    sources: list[Source],
    settings: EncodeSettings = EncodeSettings(),
    *,
    model: ModelSettings = ModelSettings(),
    names: list[str] | None = None,
    limit: int | None = None,
    progress: Progress = silent,
) -> list[SnacFile | Exception]:
    """Encode short clips (paths or binary files) several per forward pass: for each, its `SnacFile` (the
    codes `encode` would write) or the error that stopped it (any error: one clip's failure is its own).
    Clips are read whole: keep them short.

    `limit`: the most samples (model rate) per pass, all clips together [default: one inference window's
    worth]; 0 encodes each clip alone. `progress` advances by clips and forward passes; an error it raises
    stops the whole batch."""
    coder = load_coder(model)
    model_name = model_id(model.name or DEFAULT_MODEL)
    with progress("encoding", len(sources), "clips") as advance:
        return clips_encoded(coder, sources, settings, model_name, names, limit, advance)


def clips_encoded(
    coder: Coder,
    sources: list[Source],
    settings: EncodeSettings,
    model_name: str,
    names: list[str] | None,
    limit: int | None,
    advance: Advance,
) -> list[SnacFile | Exception]:
    """encode_clips' work, advancing once a clip is read and once each forward pass has run."""
    results: list[SnacFile | Exception | None] = [None] * len(sources)
    ready: list[tuple[int, SnacHeader, np.ndarray, int]] = []
    for i, source in enumerate(sources):
        advance(0)
        try:
            spool = settings.normalize != Normalize.none
            with AudioReader(source, name=names[i] if names else None, spool=spool) as audio:
                clip = condition(coder, audio, settings, model_name=model_name)
                samples = np.concatenate(list(clip.blocks), axis=1)
                ready.append((i, clip.header, samples, clip.length()))
        except Exception as e:  # libsndfile's own errors, a memory error: this clip's, not the others'
            results[i] = e
    limit, unit = coder.batch_limit() if limit is None else limit, coder.facts.pad_unit
    for i, header, samples, length in [item for item in ready if item[2].size > limit]:  # too long to batch
        parts = zip(*coder.encode_stream([samples], advance=lambda _: advance(0)), strict=True)
        results[i] = SnacFile(**vars(header), original_length=length, codes=[np.concatenate(p, axis=1) for p in parts])
    ready = sorted((item for item in ready if item[2].size <= limit), key=lambda item: item[2].shape[1])
    while ready:
        group = [ready.pop(0)]
        rows = group[0][1].channels
        while ready and (rows + ready[0][1].channels) * -(-ready[0][2].shape[1] // unit) * unit <= limit:
            rows += ready[0][1].channels
            group.append(ready.pop(0))
        advance(0)
        for (i, header, _, length), codes in zip(group, coder.encode_batch([g[2] for g in group]), strict=True):
            results[i] = SnacFile(**vars(header), original_length=length, codes=codes)
            advance(1)
    return [r for r in results if r is not None]
