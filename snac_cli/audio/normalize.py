"""Input level normalization: a gain applied before encoding, recorded in the file, undone on decode."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from snac_cli.audio.loudness import LoudnessMeter

MODES = ("loudness", "peak", "none")
LOUDNESS_TARGET = -16.0  # LUFS, the level DAC's training pipeline (which SNAC's follows) normalizes to
PEAK_TARGET = 10 ** (-1 / 20)  # -1 dBFS
PEAK_CEILING = 0.99  # loudness normalization never pushes a peak above this
MIN_GAIN = 2.0**-126  # the least a header takes (format/header.py): undoing it keeps audio a float32
MAX_GAIN = 1000.0  # +60 dB: more only lifts a noise floor, and a gain of 1e40 is no float32 (the file stores one)


def measure_gain(blocks: Iterable[np.ndarray], rate: int, channels: int, mode: str) -> float:
    """The gain `mode` calls for: loudness to -16 LUFS (peak-limited), peak to -1 dBFS, or 1 for none."""
    if mode not in MODES:
        raise ValueError(f"unknown normalization {mode!r} (one of {', '.join(MODES)})")
    if mode == "none":
        return 1.0
    meter = LoudnessMeter(rate, channels) if mode == "loudness" else None
    peak = 0.0
    for block in blocks:
        peak = max(peak, float(np.abs(block).max(initial=0.0)))
        if meter:
            meter.add(block)
    if peak == 0:
        return 1.0
    if meter is None:
        return max(min(PEAK_TARGET / peak, MAX_GAIN), MIN_GAIN)
    loudness = meter.loudness()
    gain = 10 ** ((LOUDNESS_TARGET - loudness) / 20) if math.isfinite(loudness) else 1.0
    return max(min(gain, PEAK_CEILING / peak, MAX_GAIN), MIN_GAIN)
