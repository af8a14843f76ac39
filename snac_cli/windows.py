"""Inference windows and pushes, whatever runs the model (PyTorch in engine/, onnxruntime in runtime/): audio of
any length encoded window by window, each with enough context on both sides to cover the encoder's receptive
field, so that the windows' centres join into what encoding the whole would give; codes pushed through a
streaming decoder as they arrive.

Windows are whole padding units (whole coarsest codes, whole attention windows), so that every window cuts
the audio where whole-file processing would. Numpy only."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

Advance = Callable[[float], None]


def whole_units(seconds: float, sample_rate: int, unit: int) -> int:
    """How many `unit`s of samples (padding units, frames) make about `seconds` of audio: at least one."""
    return max(1, round(seconds * sample_rate / unit))


def whole_frames(codes: Sequence[Any], strides: Sequence[int]) -> int:
    """The latent steps that codes per scale, (batch, n_i) arrays or tensors, cover: checked to be one number of
    whole frames at every scale (a ValueError otherwise)."""
    if len(codes) != len(strides):
        raise ValueError(f"codes of {len(strides)} scales, not {len(codes)}")
    steps = codes[0].shape[1] * strides[0]
    if any(c.shape[1] * s != steps for c, s in zip(codes, strides, strict=True)):
        raise ValueError("codes of every scale must cover the same whole frames")
    if steps % math.lcm(*strides):
        raise ValueError("push whole frames")
    return steps


def window_end(done: int, size: int, context: int) -> int:
    """Where the window starting at `done` ends. The first has no left context and takes that much more of its
    own, so every window spans size + 2 x context: the memory one frees is the exact fit for the next."""
    return done + size + (context if done == 0 else 0)


def encoded_in_windows(
    blocks: Iterable[np.ndarray],
    run: Callable[[np.ndarray], list[np.ndarray]],
    *,
    unit: int,
    size: int,
    context: int,
    hop: int,
    strides: tuple[int, ...] | list[int],
    advance: Advance | None = None,
) -> Iterator[list[np.ndarray]]:
    """Codes per scale (channels, n_i) of audio arriving as blocks (channels, n), window by window: `run`
    encodes a span (channels, L), L a multiple of `unit`, into its codes per scale. Memory holds one window
    and its context (`size`, `context`: samples, whole units), whatever the stream's length."""
    buffer: np.ndarray | None = None
    start = 0  # absolute index of buffer[:, 0]
    done = 0  # everything before this is encoded; a multiple of the unit

    def encode_span(end: int, available: int) -> list[np.ndarray]:
        assert buffer is not None
        lo, hi = max(0, done - context), min(available, end + context)
        codes = run(buffer[:, lo - start : hi - start])
        first, last = (done - lo) // hop, (end - lo) // hop
        return [c[:, first // s : last // s] for c, s in zip(codes, strides, strict=True)]

    for block in blocks:
        buffer = block if buffer is None else np.concatenate([buffer, block], axis=1)
        while start + buffer.shape[1] >= (end := window_end(done, size, context)) + context:
            yield encode_span(end, start + buffer.shape[1])
            if advance:
                advance(end - done)
            done = end
            drop = max(0, done - context - start)
            buffer, start = buffer[:, drop:], start + drop
    if buffer is None:
        return
    total = start + buffer.shape[1]
    padded = -(-total // unit) * unit
    buffer = np.pad(buffer, ((0, 0), (0, padded - total)))
    while done < padded:
        end = min(window_end(done, size, context), padded)
        yield encode_span(end, padded)
        if advance:
            advance(min(end, total) - done)
        done = end


class Pushed(Protocol):
    """A streaming decoder (engine/stream_decoder.py, runtime/step_decoder.py): whole frames in, final audio out."""

    def push(self, codes: list[np.ndarray]) -> np.ndarray: ...

    def finish(self) -> np.ndarray: ...


def decoded_in_pushes(
    decoder: Callable[[int], Pushed], chunks: Iterable[list[np.ndarray]], advance: Advance | None = None
) -> Iterator[np.ndarray]:
    """Audio blocks (channels, n) of codes arriving in pieces of whole frames, per scale (channels, n_i), each
    pushed through one streaming decoder (`decoder(channels)`, made at the first piece) as it comes."""
    stream: Pushed | None = None
    for chunk in chunks:
        if stream is None:
            stream = decoder(chunk[0].shape[0])
        audio = stream.push([c.astype(np.int64, copy=False) for c in chunk])
        if audio.shape[1]:
            if advance:
                advance(audio.shape[1])
            yield audio
    if stream is not None:
        audio = stream.finish()
        if advance:
            advance(audio.shape[1])
        yield audio
