"""Channels and rates: the model's input is mono (or each channel alone) at its own rate."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import soxr


def mix_to_mono(block: np.ndarray) -> np.ndarray:
    """Average the channels; mono passes untouched."""
    return block if block.shape[0] == 1 else block.mean(axis=0, keepdims=True, dtype=np.float32)


def resample_stream(blocks: Iterable[np.ndarray], rate: int, target: int, channels: int) -> Iterator[np.ndarray]:
    """Resample blocks (channels, n) with soxr's high-quality filter; the same rate passes untouched."""
    if rate == target:
        yield from blocks
        return
    stream = soxr.ResampleStream(rate, target, channels, dtype="float32", quality="HQ")
    given = made = 0
    for block in blocks:
        given += block.shape[1]
        out = stream.resample_chunk(np.ascontiguousarray(block.T))
        made += len(out)
        if len(out):
            yield np.ascontiguousarray(out.T)
    out = stream.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)
    if len(out):
        yield np.ascontiguousarray(out.T)
    elif given and not made:  # a few samples downsampled to none: keep one, so that some audio is coded
        yield np.zeros((channels, 1), dtype=np.float32)
