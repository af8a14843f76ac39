"""The exact streaming decoder through the ONNX streaming step (export/step_graph.py): codes pushed in any
pieces of whole frames, audio out as soon as it is final, equal to decoding the whole sequence at once; the
stream's state is one array per push, numpy and onnxruntime alone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from snac_cli.errors import UsageError
from snac_cli.runtime.noise import positional_noise
from snac_cli.windows import whole_frames, whole_units

if TYPE_CHECKING:
    from snac_cli.runtime.onnx_model import OnnxModel

UNKNOWN_END = 1 << 40  # the step's `end` while the stream's length is not known: past any position
STEP_SECONDS = 3.0  # the most audio per call of the step (memory), as the PyTorch decoder's window


class StepDecoder:
    """Pushes of whole frames (codes per scale, (batch, n_i) or (n_i,)) -> the audio now final, (batch, samples);
    `finish` gives the rest and ends the stream, `reset` starts a new one (the same seed).

    The step takes whole latent units (whole frames and whole attention windows); frames short of one wait
    for the next push. `lookahead_frames` / `lookahead_ms`: the most frames pushed past a sample before it is
    returned. A shorter `lookahead` (the PyTorch decoder's early, approximate audio) is not offered here; a
    `batcher` or a known length (`frames`), which the PyTorch decoder takes, change nothing here: each stream
    steps alone, and its end is exact whenever it comes."""

    def __init__(
        self, model: OnnxModel, *, seed: int = 0, batch: int = 1, max_frames: int | None = None,
        lookahead: int | None = None, **_: Any,
    ):  # fmt: skip
        self.model, self.seed, self.batch = model, seed, batch
        model.graph("step")  # opened (and checked) now: before any audio is written
        self.strides, self.unit, self.hop = model.vq_strides, model.latent_unit, model.hop_length
        self.frame_steps = math.lcm(*self.strides)
        self.frame_samples = self.frame_steps * self.hop
        frames = max_frames or whole_units(STEP_SECONDS, model.sampling_rate, self.frame_samples)
        self.max_steps = max(self.unit, frames * self.frame_steps // self.unit * self.unit)
        samples = model.step_delay + (self.unit - self.frame_steps) * self.hop  # the delay, and a unit's wait
        self.exact_lookahead_frames = self.lookahead_frames = math.ceil(samples / self.frame_samples)
        self.lookahead_ms = 1000 * samples / model.sampling_rate
        if lookahead is not None and lookahead < self.exact_lookahead_frames:
            raise UsageError(f"ONNX models decode with their exact lookahead ({self.exact_lookahead_frames} frames) "
                             "only: leave out --lookahead")  # fmt: skip
        self.reset()

    def reset(self) -> None:
        """Start a new stream (the same seed)."""
        self.state = np.zeros((self.batch, self.model.state_size), dtype=np.float32)
        self.position = 0  # latent steps through the step
        self.pending = [np.zeros((self.batch, 0), dtype=np.int64) for _ in self.strides]  # short of a unit
        self.last: list[np.ndarray] | None = None  # the last frame: a stream's end is padded with it
        self.given = 0  # samples returned

    def push(self, codes: Sequence[np.ndarray]) -> np.ndarray:
        arrays = [np.asarray(c, dtype=np.int64).reshape(self.batch, -1) for c in codes]
        steps = whole_frames(arrays, self.strides)
        self.model.check_in_codebook(arrays)
        if steps == 0:
            return np.zeros((self.batch, 0), dtype=np.float32)
        self.last = [a[:, -(self.frame_steps // s) :] for a, s in zip(arrays, self.strides, strict=True)]
        self.pending = [np.concatenate([p, a], axis=1) for p, a in zip(self.pending, arrays, strict=True)]
        whole = self.pending[0].shape[1] * self.strides[0] // self.unit * self.unit
        return self.run(whole, UNKNOWN_END)

    def finish(self) -> np.ndarray:
        """The rest of the audio, up to the end of the last frame pushed."""
        if self.last is None:
            return np.zeros((self.batch, 0), dtype=np.float32)
        pushed = self.position + self.pending[0].shape[1] * self.strides[0]  # latent steps
        pad = (-pushed % self.unit) // self.frame_steps  # whole units, as a file's end is padded
        self.pending = [np.concatenate([p, np.tile(f, (1, pad))], axis=1) for p, f in zip(self.pending, self.last,
                                                                                         strict=True)]  # fmt: skip
        end = pushed + pad * self.frame_steps
        flush = self.model.flush_steps
        self.pending = [np.pad(p, ((0, 0), (0, flush // s))) for p, s in zip(self.pending, self.strides, strict=True)]
        before = self.given
        audio = self.run(end + flush - self.position, end)[:, : max(0, pushed * self.hop - before)]
        self.given, self.last = before + audio.shape[1], None
        return audio

    def run(self, steps: int, end: int) -> np.ndarray:
        """`steps` pending latent steps (whole units) through the step, at most `max_steps` a call: the audio
        they make final that was not returned (none before the stream's start)."""
        out = [np.zeros((self.batch, 0), dtype=np.float32)]
        while steps > 0:
            n = min(steps, self.max_steps)
            codes = [p[:, : n // s] for p, s in zip(self.pending, self.strides, strict=True)]
            self.pending = [p[:, n // s :] for p, s in zip(self.pending, self.strides, strict=True)]
            audio, self.state = self.model.step(codes, self.position, end, self.noise(n), self.state)
            first = self.position * self.hop - self.model.step_delay  # the position of audio[:, 0, 0]
            out.append(audio[:, 0, max(0, self.given - first) :])
            self.given = max(self.given, first + audio.shape[2])
            self.position += n
            steps -= n
        return np.concatenate(out, axis=1)

    def noise(self, n: int) -> list[np.ndarray]:
        """Each noise layer's noise for a step of `n` latent steps from the stream's position."""
        out = []
        for k, (rate, delay) in enumerate(self.model.step_noises):
            rows = [(self.seed, item, self.position * rate - delay) for item in range(self.batch)]
            out.append(positional_noise(k, n * rate, rows)[:, None, :])
        return out
