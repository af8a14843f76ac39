"""Running the model over audio of any length in bounded memory.

Audio and codes are cut into inference windows aligned to the model's padding unit (whole coarsest codes and whole
attention windows), each run with enough context on both sides to cover the network's receptive field, so
that the windows' centres join into what whole-file processing would give.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from snac_cli.engine.push_batcher import PushBatcher
from snac_cli.engine.stream_decoder import StreamDecoder
from snac_cli.model import SNAC
from snac_cli.progress import Advance  # here called with audio samples (model rate) just finished
from snac_cli.windows import decoded_in_pushes, encoded_in_windows, whole_units

# Least audio per window by default, in samples (memory follows samples, not seconds): 5 s at 24 kHz, where
# `snac` peaks under 1.5 GB (docs/benchmarks.md). Models with attention need longer windows to amortize their
# wider context: at least 6 contexts, 148,224 samples (32 kHz: 4.6 s, 1.46 GB peak where 7 contexts peaked at
# 1.56 GB and 14 at 1.70 GB; 44.1 kHz: 3.4 s, 1.43 GB, where 7 contexts peaked at 1.51-1.56 GB).
ENCODE_WINDOW_SAMPLES = 120_000
ENCODE_CONTEXTS = 6  # recomputing the context then costs at most 2 / 6 of a window's work


def window_units(model: SNAC, window_seconds: float | None, *, default: int, context: int, ratio: int) -> int:
    """Padding units per window: about `window_seconds` of audio, or by default at least `default` samples and
    `ratio` times the context on one side, so that recomputing the context costs at most 2 / ratio."""
    unit = model.config.pad_unit
    if window_seconds is not None:
        return whole_units(window_seconds, model.sampling_rate, unit)
    return max(round(default / unit), ratio * context)


def encode_window(model: SNAC, window_seconds: float | None = None) -> tuple[int, int]:
    """(window, context on each side) for encoding, in audio samples at the model's rate, whole padding units."""
    unit = model.config.pad_unit
    context_units = math.ceil(model.encoder_reach() / unit)
    units = window_units(model, window_seconds, default=ENCODE_WINDOW_SAMPLES, context=context_units,
                         ratio=ENCODE_CONTEXTS)  # fmt: skip
    return units * unit, context_units * unit


def encode_stream(
    model: SNAC,
    blocks: Iterable[np.ndarray],
    *,
    window_seconds: float | None = None,
    advance: Advance | None = None,
) -> Iterator[list[np.ndarray]]:
    """Encode audio arriving as blocks (channels, n) at the model's rate: yields codes per scale (channels, n_i).

    Memory holds one window and its context, whatever the length of the stream.
    """
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    size, context = encode_window(model, window_seconds)

    def run(span: np.ndarray) -> list[np.ndarray]:
        x = torch.from_numpy(span).to(device, dtype)[:, None, :]  # (C, 1, L)
        with torch.inference_mode():
            _, codes = model.quantizer(model.run_encoder(x))
        return [c.cpu().numpy() for c in codes]

    yield from encoded_in_windows(blocks, run, unit=model.config.pad_unit, size=size, context=context,
                                  hop=model.hop_length, strides=model.vq_strides, advance=advance)  # fmt: skip


def decode_stream(
    model: SNAC,
    chunks: Iterable[list[np.ndarray]],
    *,
    seed: int = 0,
    window_seconds: float | None = None,
    lookahead: int | None = None,
    advance: Advance | None = None,
    batcher: PushBatcher | None = None,
    frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Decode codes arriving in pieces of whole frames, per scale (channels, n_i), as container chunks bring
    them: yields audio blocks (channels, n) as they become final. However the codes are split, the audio is
    that of decoding the whole sequence at once (engine/stream_decoder.py), noise included: it is positional,
    drawn from `seed`. It covers every frame; trimming to the original length is the caller's.

    `window_seconds` bounds the audio decoded per forward pass (memory); it does not change the result.
    A `lookahead` under the model's own yields audio sooner, approximate where fewer frames follow it, but
    at the end when the stream's length in `frames` is known before it (a file's). A `batcher` lets its
    forward passes be shared with other threads' streams (the same audio)."""
    window = None if window_seconds is None else whole_units(window_seconds, model.sampling_rate, frame(model))

    def decoder(batch: int) -> StreamDecoder:
        return StreamDecoder(model, seed=seed, batch=batch, max_frames=window, lookahead=lookahead, batcher=batcher,
                             frames=frames)  # fmt: skip

    return decoded_in_pushes(decoder, chunks, advance)


def frame(model: SNAC) -> int:
    """Samples (model rate) per coarsest frame."""
    return math.lcm(*model.vq_strides) * model.hop_length
