"""Reconstruction quality for listening tests: SI-SDR and a multi-resolution log-mel distance (numpy)."""

from __future__ import annotations

import numpy as np

MEL_RESOLUTIONS = ((512, 40), (1024, 80), (2048, 128))  # (window, mel bands); hop = window / 4


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (higher is better), over all channels together."""
    s, e = reference.astype(np.float64).ravel(), estimate.astype(np.float64).ravel()
    target = float(e @ s) / max(float(s @ s), 1e-20) * s
    noise = e - target
    return float(10 * np.log10(max(float(target @ target), 1e-20) / max(float(noise @ noise), 1e-20)))


def mel_filters(rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular filters (n_mels, n_fft // 2 + 1) evenly spaced on the HTK mel scale up to Nyquist."""
    mel = np.linspace(0, 2595 * np.log10(1 + rate / 2 / 700), n_mels + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - freqs) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0, np.minimum(rising, falling))


def log_mel_frames(x: np.ndarray, rate: int, n_fft: int, n_mels: int, batch: int = 1024):
    """log10 mel magnitudes of x (channels, n), yielded in batches of frames (channels, frames, n_mels)."""
    hop = n_fft // 4
    x = np.pad(x, ((0, 0), (n_fft // 2, n_fft // 2)))
    n_frames = 1 + max(0, (x.shape[1] - n_fft) // hop)
    filters, window = mel_filters(rate, n_fft, n_mels).T, np.hanning(n_fft)
    for first in range(0, n_frames, batch):
        starts = hop * np.arange(first, min(first + batch, n_frames))
        spectrum = np.abs(np.fft.rfft(x[:, starts[:, None] + np.arange(n_fft)] * window, axis=-1))
        yield np.log10(np.maximum(spectrum @ filters, 1e-5))


def mel_distance(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    """Mean absolute log-mel difference over three resolutions (lower is better; 0 for identical audio)."""
    distances = []
    for n_fft, n_mels in MEL_RESOLUTIONS:
        pairs = zip(
            log_mel_frames(reference, rate, n_fft, n_mels), log_mel_frames(estimate, rate, n_fft, n_mels), strict=True
        )
        total = count = 0.0
        for a, b in pairs:
            total += np.abs(a - b).sum()
            count += a.size
        distances.append(total / count)
    return float(np.mean(distances))
