"""Integrated loudness (ITU-R BS.1770-4), measured block by block so that any length fits in memory."""

from __future__ import annotations

import math

import numpy as np

from snac_cli.audio.biquad import Biquad

# K-weighting as pyloudnorm designs it at any rate: RBJ-cookbook biquads, a +4 dB high shelf at 1500 Hz
# (Q = 1/sqrt 2) then a high pass at 38 Hz (Q = 0.5).
SHELF_GAIN_DB, SHELF_Q, SHELF_HZ = 4.0, 1 / math.sqrt(2), 1500.0
HIGHPASS_Q, HIGHPASS_HZ = 0.5, 38.0
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs; further channels count 1.0
BLOCK_SECONDS, STEP_SECONDS = 0.4, 0.1  # gating blocks of 400 ms, overlapping by 75 %
ABSOLUTE_GATE, RELATIVE_GATE = -70.0, -10.0


def k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two K-weighting biquads (b, a) at a sample rate."""
    a_gain = 10 ** (SHELF_GAIN_DB / 40)
    w0 = 2 * math.pi * SHELF_HZ / rate
    alpha, cos, root = math.sin(w0) / (2 * SHELF_Q), math.cos(w0), math.sqrt(a_gain)
    shelf_b = [
        a_gain * ((a_gain + 1) + (a_gain - 1) * cos + 2 * root * alpha),
        -2 * a_gain * ((a_gain - 1) + (a_gain + 1) * cos),
        a_gain * ((a_gain + 1) + (a_gain - 1) * cos - 2 * root * alpha),
    ]
    shelf_a = [
        (a_gain + 1) - (a_gain - 1) * cos + 2 * root * alpha,
        2 * ((a_gain - 1) - (a_gain + 1) * cos),
        (a_gain + 1) - (a_gain - 1) * cos - 2 * root * alpha,
    ]
    w0 = 2 * math.pi * HIGHPASS_HZ / rate
    alpha, cos = math.sin(w0) / (2 * HIGHPASS_Q), math.cos(w0)
    pass_b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
    pass_a = [1 + alpha, -2 * cos, 1 - alpha]
    return [(np.array(b) / a[0], np.array(a) / a[0]) for b, a in ((shelf_b, shelf_a), (pass_b, pass_a))]


class LoudnessMeter:
    """Feed audio (channels, n) with `add`, in any block sizes; `loudness()` gives LUFS (-inf for silence)."""

    def __init__(self, rate: int, channels: int):
        self.filters = [Biquad(b, a) for b, a in k_weighting(rate)]
        self.state: list[np.ndarray] | None = None
        self.step = max(1, round(STEP_SECONDS * rate))
        self.steps_per_block = round(BLOCK_SECONDS / STEP_SECONDS)
        self.weights = np.array([CHANNEL_WEIGHTS[i] if i < len(CHANNEL_WEIGHTS) else 1.0 for i in range(channels)])
        self.partial = np.zeros(channels)  # energy of the step being filled
        self.filled = 0
        self.steps: list[np.ndarray] = []  # energy (channels,) of each complete 100 ms step

    def add(self, block: np.ndarray) -> None:
        x = block.astype(np.float64)
        if self.state is None:  # start the filters at rest
            self.state = [np.zeros((x.shape[0], 2)) for _ in self.filters]
        for i, biquad in enumerate(self.filters):
            x, self.state[i] = biquad(x, self.state[i])
        squares = x**2
        pos = 0
        while pos < squares.shape[1]:
            take = min(self.step - self.filled, squares.shape[1] - pos)
            self.partial += squares[:, pos : pos + take].sum(axis=1)
            self.filled += take
            pos += take
            if self.filled == self.step:
                self.steps.append(self.partial)
                self.partial, self.filled = np.zeros_like(self.partial), 0

    def loudness(self) -> float:
        """Integrated loudness in LUFS. BS.1770 measures 400 ms blocks; a clip shorter than one block (which
        it leaves unmeasured) is measured as one block of its own length, gated alike."""
        if len(self.steps) < self.steps_per_block:
            samples = len(self.steps) * self.step + self.filled
            if not samples:
                return -math.inf
            energy = (np.sum(self.steps, axis=0) + self.partial) / samples  # (channels,) mean square
            with np.errstate(divide="ignore"):
                level = float(-0.691 + 10 * np.log10(energy @ self.weights))
            return level if level >= ABSOLUTE_GATE else -math.inf
        steps = np.array(self.steps)  # (n_steps, channels)
        window = np.ones(self.steps_per_block)
        # Mean square per 400 ms block and channel, from the sums of its four steps.
        blocks = np.stack([np.convolve(steps[:, c], window, "valid") for c in range(steps.shape[1])], axis=1)
        blocks /= self.step * self.steps_per_block
        with np.errstate(divide="ignore"):
            block_loudness = -0.691 + 10 * np.log10(blocks @ self.weights)
            gated = blocks[block_loudness >= ABSOLUTE_GATE]
            if not len(gated):
                return -math.inf
            relative = -0.691 + 10 * np.log10(gated.mean(axis=0) @ self.weights) + RELATIVE_GATE
            gated = blocks[(block_loudness > ABSOLUTE_GATE) & (block_loudness > relative)]
            return float(-0.691 + 10 * np.log10(gated.mean(axis=0) @ self.weights))
