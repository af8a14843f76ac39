"""Real-sounding test signals, synthesized: no audio files are needed to run the tests."""

from __future__ import annotations

import numpy as np


def speech_like(sr: int, n: int, seed: int = 0) -> np.ndarray:
    """A voiced, formant-filtered pulse train with a wandering pitch and syllable-rate envelope, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) + 10 * rng.standard_normal()
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    source = sum(np.sin(k * phase) / k for k in range(1, 30) if k * 150 < sr / 2)
    formants = sum(
        np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) for f in (500, 1500, 2500)
    )
    envelope = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    noise = 0.05 * rng.standard_normal(n)  # breath
    x = (0.6 * source + 0.2 * formants * source + noise) * envelope
    return (0.9 * x / max(np.abs(x).max(), 1e-9)).astype(np.float32)


def music_like(sr: int, n: int, seed: int = 0) -> np.ndarray:
    """Plucked harmonic notes on a scale with decaying envelopes, plus a soft noise percussion, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    note_len = max(sr // 4, 1)
    for start in range(0, n, note_len):
        length = min(note_len * 2, n - start)
        t = np.arange(length) / sr
        f0 = 220 * 2 ** (rng.choice([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
        note = sum(np.sin(2 * np.pi * k * f0 * t) * 0.6**k for k in range(1, 8) if k * f0 < sr / 2)
        x[start : start + length] += note * np.exp(-4 * t)
        hit = min(length, sr // 50)
        x[start : start + hit] += 0.3 * rng.standard_normal(hit) * np.linspace(1, 0, hit)
    return (0.8 * x / max(np.abs(x).max(), 1e-9)).astype(np.float32)
