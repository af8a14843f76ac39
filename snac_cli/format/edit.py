"""Editing codes without re-encoding: cut a span, or join files, on frame boundaries (docs/format.md)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from snac_cli.errors import InputError
from snac_cli.format.container import SnacFile, SnacHeader


def to_original(samples: int, h: SnacHeader) -> int:
    """Model-rate samples as samples at the original rate."""
    return round(samples * h.original_sample_rate / h.sample_rate)


def cut(snac: SnacFile, start: float, end: float | None, per_frame: int) -> SnacFile:
    """The frames from `start` to `end` seconds (widened to whole frames, `end` None: to the end)."""
    seconds = snac.original_length / snac.original_sample_rate
    end = seconds if end is None else min(end, seconds)
    if start < 0 or end <= start:
        raise InputError(f"empty or negative span {start:g}..{end:g} s (the file lasts {seconds:.3f} s)")
    eps = 1e-9  # a time typed on a frame boundary stays on it despite float rounding
    first = math.floor(start * snac.sample_rate / per_frame + eps)
    last = snac.frames if end >= seconds else math.ceil(end * snac.sample_rate / per_frame - eps)
    if first >= last:
        raise InputError(f"the span starts after the end of the file ({seconds:.3f} s)")
    codes = [c[:, first * n : last * n] for c, n in zip(snac.codes, snac.codes_per_frame, strict=True)]
    length = min(snac.original_length, to_original(last * per_frame, snac)) - to_original(first * per_frame, snac)
    return dataclasses.replace(snac, codes=codes, original_length=length)


def concat(files: list[SnacFile], per_frame: int, names: list[str] | None = None) -> tuple[SnacFile, bool]:
    """The files one after the other: each but the last keeps its whole last frame (its padding), so every
    file starts on a frame boundary. Returns the file and whether the inputs' gains differed (the first's is
    kept: the others then play at their normalized level). `names` name the files in errors."""
    first, names = files[0], names or [f"file {i + 1}" for i in range(len(files))]
    fields = ("fingerprint", "sample_rate", "original_sample_rate", "original_channels", "channels",
              "codebook_size", "vq_strides")  # fmt: skip
    for name, other in zip(names[1:], files[1:], strict=True):
        if differing := [f for f in fields if getattr(other, f) != getattr(first, f)]:
            raise InputError(f"{name}: cannot join it to {names[0]}: they differ in {', '.join(differing)}")
    codes = [np.concatenate(parts, axis=1) for parts in zip(*(f.codes for f in files), strict=True)]
    length = sum(to_original(f.frames * per_frame, f) for f in files[:-1]) + files[-1].original_length
    gains_differ = any(f.gain != first.gain for f in files[1:])
    return dataclasses.replace(first, codes=codes, original_length=length), gains_differ
