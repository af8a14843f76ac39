"""Exact streaming decoding: codes pushed in any pieces, audio out as soon as it is final, equal to decoding
the whole sequence at once, with no context decoded twice.

Every layer of the decoder runs as a stream over the time axis and keeps the state it needs: a convolution
holds the left history of its kernel and emits an output once its right reach has arrived; a transposed
convolution one input step; local attention whole windows; a residual unit holds its input until its branch
catches up. The decoder's noise is positional (model/layers.py: `positional_noise`), so it does not depend on
how the codes were split either. Several streams, at any positions once past their start, can step
together as one batch (`push_together`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from snac_cli.engine.layer_backend import Backend
from snac_cli.engine.stream_blocks import build
from snac_cli.model import SNAC
from snac_cli.model.fast import prepared
from snac_cli.windows import whole_frames, whole_units

if TYPE_CHECKING:
    from snac_cli.engine.push_batcher import PushBatcher

# Audio per forward pass of the streaming decoder: no context is decoded twice, so the step trades memory
# against per-step overhead only. In one process, 10 s: 24 kHz 8.7x real time at 0.75 s, 9.4x at 3 s, 10.0x
# at 6 s; peaks for a 60 s file 1.32 GB at 3 s, 1.52 GB at 6 s. The models with attention have the larger
# decoders: 32 kHz peaks at 1.44 GB at 1 s and 3.0 GB at 6 s (40 s); 44 kHz (60 s) at 1.60 GB at 0.75 s and
# 1.40 GB at 0.5 s, 7 % slower (since oneDNN runs the matrix products: its heap layout costs memory).
DECODE_WINDOW_SECONDS = 3.0
DECODE_WINDOW_SECONDS_ATTENTION = 0.5


class StreamDecoder:
    """Decodes codes pushed in any pieces of whole frames into audio blocks, each final when returned: the
    concatenation equals decoding the whole sequence (positional noise; the end padded as a file's is).

    `lookahead_frames` / `lookahead_ms`: how many frames past the last audio sample returned must have been
    pushed before that sample is returned: by default the model's right reach, whole attention windows
    included (`exact_lookahead_frames`), so that every sample is final. A smaller `lookahead` returns audio
    sooner, each push decoding the samples not yet final as if the last frame pushed repeated (as a stream's
    end is padded); they are approximate, and the decoder's own state stays exact, so errors never build up.
    When the stream's length is known before its end (`frames`: a file's), the push that reaches it guesses
    nothing, so that `finish` decodes the end exactly.
    `batch` streams step together; each push then carries codes (batch, n_i) per scale. With a `batcher`,
    pushes from other threads' streams may share a forward pass with this one's (engine/push_batcher.py)."""

    def __init__(
        self,
        model: SNAC,
        *,
        seed: int = 0,
        batch: int = 1,
        max_frames: int | None = None,
        lookahead: int | None = None,
        batcher: PushBatcher | None = None,
        frames: int | None = None,
    ):
        self.model, self.seed, self.batch, self.batcher = model, seed, batch, batcher
        self.frames = frames  # the stream's length in frames, when known before its end
        self.strides = list(model.vq_strides)
        self.frame_steps = math.lcm(*self.strides)  # latent steps per frame
        self.frame_samples = self.frame_steps * model.hop_length
        self.unit_steps = model.config.pad_unit // model.hop_length  # whole frames and attention windows
        # Every push, however long, is decoded in steps of one window (bounded memory: a token stream's one
        # push of 2,800 tokens kept 1.1 GB before).
        seconds = DECODE_WINDOW_SECONDS if model.attn_window_size is None else DECODE_WINDOW_SECONDS_ATTENTION
        self.max_steps = (
            max_frames or whole_units(seconds, model.sampling_rate, self.frame_samples)
        ) * self.frame_steps
        device = next(model.parameters()).device
        self.backend = Backend(prepared(model.decoder) if device.type == "cpu" else None)
        self.device, self.dtype = device, next(model.parameters()).dtype
        self.reset()
        samples = self.lookahead_samples()
        self.exact_lookahead_frames = math.ceil(samples / self.frame_samples)
        if lookahead is not None and lookahead < 0:
            raise ValueError(f"lookahead must be 0 or more frames, not {lookahead}")
        self.early = lookahead is not None and lookahead < self.exact_lookahead_frames
        if lookahead is not None and self.early:
            samples = lookahead * self.frame_samples
        self.lookahead_frames = math.ceil(samples / self.frame_samples)
        self.lookahead_ms = 1000 * samples / model.sampling_rate

    def reset(self) -> None:
        """Start a new stream (the same seed)."""
        self.root = build(self.model.decoder.model, self.backend, self.seed, self.batch, [])
        self.steps = 0  # latent steps pushed
        self.last: list[torch.Tensor] | None = None  # the last frame's codes: the end is padded with them
        self.given = 0  # samples returned, final or (with a smaller lookahead) not

    def lookahead_samples(self) -> int:
        """The most samples, over the frames of a long stream, that are pushed but not yet final."""
        worst, frames = 0, 4 * math.ceil(self.unit_steps / self.frame_steps) + 64
        for n in range(1, frames + 1):
            final = self.root.ready(n * self.frame_steps, False)
            worst = max(worst, n * self.frame_samples - final)
        return worst

    def push(self, codes: Sequence[np.ndarray | torch.Tensor]) -> np.ndarray:
        """Codes per scale, (batch, n_i) or (n_i,), whole frames: returns the audio now final, (batch, samples).
        With a `batcher`, the push may share its forward pass with other streams' (the same audio)."""
        tensors = self.checked(codes)
        if self.batcher is not None and tensors[0].shape[1] and (key := self.step_key(tensors)) is not None:
            return self.batcher.push(self, tensors, key)
        return push_together([self], [tensors])[0]

    def checked(self, codes: Sequence[np.ndarray | torch.Tensor]) -> list[torch.Tensor]:
        """Codes per scale as (batch, n_i) tensors on the model's device, checked to be whole frames."""
        tensors = [torch.as_tensor(np.asarray(c) if not isinstance(c, torch.Tensor) else c) for c in codes]
        tensors = [t.reshape(self.batch, -1).to(self.device, torch.long) for t in tensors]
        whole_frames(tensors, self.strides)
        return tensors

    def step_key(self, codes: list[torch.Tensor]) -> tuple[object, ...] | None:
        """What a push must share with others' to step together with them (None: it steps alone): the
        model, the steps pushed, and the stream's state shape, which repeats with the position modulo a
        padding unit once every layer is past its start (before, only streams at the same position match).
        A smaller lookahead guesses on a copy of each stream's state: those streams step alone."""
        if self.early:
            return None
        position = self.steps % self.unit_steps if self.root.settled() else -1 - self.steps
        return (id(self.model), self.max_steps, codes[0].shape[1], position)

    def pushed(self, codes: list[torch.Tensor]) -> None:
        """Count codes in (their audio being decoded): the last frame is kept, as the end is padded with it."""
        self.last = [t[:, -(self.frame_steps // s) :] for t, s in zip(codes, self.strides, strict=True)]
        self.steps += codes[0].shape[1] * self.strides[0]

    def unseen(self, audio: np.ndarray, start: int) -> np.ndarray:
        """Of final audio from sample `start` on, what was not returned early."""
        end = start + audio.shape[1]
        audio = audio[:, max(0, self.given - start) :]
        self.given = max(self.given, end)
        return audio

    def guess(self) -> np.ndarray:
        """The samples up to `lookahead_frames` before the last frame pushed, beyond those final: decoded on a
        copy of the state, as if the last frame repeated until they were final."""
        target = (self.steps // self.frame_steps - self.lookahead_frames) * self.frame_samples
        ended = self.frames is not None and self.steps >= self.frames * self.frame_steps  # finish decodes it exactly
        if target <= self.given or self.last is None or ended:
            return np.zeros((self.batch, 0), dtype=np.float32)
        twin = self.root.copy()
        frames = self.exact_lookahead_frames - self.lookahead_frames
        with torch.inference_mode():
            latent = self.model.quantizer.from_codes([p.repeat(1, frames) for p in self.last])  # (B, D, steps)
            out = twin.push(latent.transpose(1, 2) if self.backend.fast else latent, False)
        audio = out.reshape(self.batch, -1).float().cpu().numpy()
        start = twin.emitted - audio.shape[1]
        self.given, given = target, self.given
        return audio[:, given - start : target - start]

    def finish(self) -> np.ndarray:
        """The rest of the audio, up to the end of the last frame pushed. The stream can then be `reset`."""
        if self.last is None:
            return np.zeros((self.batch, 0), dtype=np.float32)
        total = self.steps
        pad_frames = (-total % self.unit_steps) // self.frame_steps  # whole attention windows, as a file's end
        tail = [p.repeat(1, pad_frames) for p in self.last]
        start = self.root.emitted
        audio = self.run(tail, final=True)[:, : max(0, total * self.model.hop_length - start)]
        self.last = None
        return self.unseen(audio, start)

    def run(self, codes: list[torch.Tensor], final: bool) -> np.ndarray:
        """Decode codes through the layers in steps of at most `max_steps` latent steps (bounded memory)."""
        out = []
        steps = codes[0].shape[1] * self.strides[0]
        step = max(self.frame_steps, self.max_steps // self.frame_steps * self.frame_steps)
        for start in range(0, max(steps, 1), step):
            end = min(steps, start + step)
            piece = [c[:, start // s : end // s] for c, s in zip(codes, self.strides, strict=True)]
            with torch.inference_mode():
                if end > start:
                    latent = self.model.quantizer.from_codes(piece)  # (B, D, steps)
                else:  # nothing left to push but the end itself
                    latent = torch.zeros(self.batch, self.model.latent_dim, 0, device=self.device, dtype=self.dtype)
                x = latent.transpose(1, 2) if self.backend.fast else latent
                audio = self.root.push(x, final and end == steps)
            out.append(audio.reshape(self.batch, -1).float().cpu().numpy())
        return np.concatenate(out, axis=1)


def push_together(decoders: list[StreamDecoder], codes: list[list[torch.Tensor]]) -> list[np.ndarray]:
    """Each stream's push of checked codes, in one forward pass: the streams' states stacked as one batch
    (all with the same `step_key`), each getting the audio its own push would give. Positional noise is
    drawn per row for its own stream, and every layer treats the rows alike, so only the arithmetic of a
    larger batch can differ (within float rounding)."""
    first = decoders[0]
    if codes[0][0].shape[1] == 0:
        return [np.zeros((d.batch, 0), dtype=np.float32) for d in decoders]
    starts = [d.root.emitted for d in decoders]
    if len(decoders) == 1:
        audio = first.run(codes[0], final=False)
    else:
        batch = copy.copy(first)
        batch.batch = sum(d.batch for d in decoders)
        batch.root = first.root.stacked([d.root for d in decoders[1:]])
        audio = batch.run([torch.cat(scale) for scale in zip(*codes, strict=True)], final=False)
        rows = np.cumsum([0] + [d.batch for d in decoders])
        for i in [*range(1, len(decoders)), 0]:  # the first stream last: the others' positions move from its
            decoders[i].root.follow(batch.root, first.root, slice(rows[i], rows[i + 1]))
    out, row = [], 0
    for decoder, pushed, start in zip(decoders, codes, starts, strict=True):
        decoder.pushed(pushed)
        mine = decoder.unseen(audio[row : row + decoder.batch], start)
        out.append(np.concatenate([mine, decoder.guess()], axis=1) if decoder.early else mine)
        row += decoder.batch
    return out
