"""Loudness measured block by block equals pyloudnorm's whole-signal BS.1770 measurement."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest

from snac_cli.audio.loudness import LoudnessMeter
from snac_cli.audio.normalize import LOUDNESS_TARGET, PEAK_CEILING, measure_gain
from tests.helpers.signals import music_like, speech_like


@pytest.mark.parametrize("rate", [8000, 24000, 44100, 48000])
@pytest.mark.parametrize("block", [777, 48000])
def test_streamed_loudness_equals_pyloudnorm(rate, block):
    x = np.stack([speech_like(rate, rate * 5 + 11) * 0.3, music_like(rate, rate * 5 + 11) * 0.05])
    meter = LoudnessMeter(rate, 2)
    for i in range(0, x.shape[1], block):
        meter.add(x[:, i : i + block])
    expected = pyloudnorm.Meter(rate).integrated_loudness(x.T.astype(np.float64))
    assert meter.loudness() == pytest.approx(expected, abs=1e-6)


def test_silence_has_no_loudness():
    for n in (16000, 100):
        meter = LoudnessMeter(16000, 1)
        meter.add(np.zeros((1, n)))
        assert meter.loudness() == -math.inf


@pytest.mark.parametrize("seconds", [0.05, 0.2, 0.39])
def test_a_clip_under_one_gating_block_is_measured_as_one_block(seconds):
    """BS.1770 leaves a clip under 400 ms unmeasured; snac measures it as one block, so that normalizing
    it is not silently skipped: a steady tone reads as loud short as long."""
    tone = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)[None]
    long, short = LoudnessMeter(16000, 1), LoudnessMeter(16000, 1)
    long.add(tone)
    short.add(tone[:, : int(seconds * 16000)])
    assert short.loudness() == pytest.approx(long.loudness(), abs=0.3)
    gain = measure_gain([tone[:, : int(seconds * 16000)]], 16000, 1, "loudness")
    assert gain == pytest.approx(measure_gain([tone], 16000, 1, "loudness"), rel=0.05)


def test_loudness_gain_reaches_the_target_unless_it_would_clip():
    quiet = speech_like(16000, 48000)[None] * 0.01
    gain = measure_gain([quiet], 16000, 1, "loudness")
    meter = LoudnessMeter(16000, 1)
    meter.add(quiet * gain)
    assert meter.loudness() == pytest.approx(LOUDNESS_TARGET, abs=0.01) or np.abs(quiet * gain).max() == pytest.approx(
        PEAK_CEILING
    )
    assert np.abs(quiet * gain).max() <= PEAK_CEILING + 1e-6


def test_peak_and_none_gains():
    x = speech_like(16000, 16000)[None] * 0.25
    assert measure_gain([x], 16000, 1, "peak") * np.abs(x).max() == pytest.approx(10 ** (-1 / 20))
    assert measure_gain([x], 16000, 1, "none") == 1.0
    assert measure_gain([np.zeros((1, 100))], 16000, 1, "peak") == 1.0


@pytest.mark.parametrize("mode", ["peak", "loudness"])
@pytest.mark.parametrize("level", [1e-40, 1e-30, 1e-12])
def test_near_silence_gets_a_finite_gain_of_at_most_60_db(mode, level):
    gain = measure_gain([np.full((1, 48000), level, dtype=np.float32)], 48000, 1, mode)
    assert math.isfinite(gain) and 0 < gain <= 1000.0 and np.isfinite(np.float32(gain))
