"""Quality measures for roundtrip reports."""

from __future__ import annotations

import numpy as np

from snac_cli.audio.metrics import mel_distance, si_sdr
from tests.helpers.signals import speech_like


def test_si_sdr_ignores_scale_and_ranks_noise():
    x = speech_like(16000, 16000)[None]
    noise = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    assert si_sdr(x, 0.5 * x) > 100
    assert si_sdr(x, x + 0.01 * noise) > si_sdr(x, x + 0.1 * noise) > 0


def test_mel_distance_is_zero_for_identical_audio_and_grows_with_noise():
    x = speech_like(16000, 20000)[None]
    noise = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    assert mel_distance(x, x, 16000) == 0
    assert 0 < mel_distance(x, x + 0.001 * noise, 16000) < mel_distance(x, x + 0.1 * noise, 16000)
