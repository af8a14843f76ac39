"""Several short clips in one forward pass: what a folder of short files costs is then its compute, not its
per-call overhead."""

from __future__ import annotations

import numpy as np
import torch

from snac_cli.engine.streaming import encode_window
from snac_cli.model import SNAC


def batch_limit(model: SNAC, window_seconds: float | None = None) -> int:
    """The most audio samples (model rate, padded, all items together) that one batch may hold: one window's
    worth with its context, so that batches cost the memory that streaming does."""
    size, context = encode_window(model, window_seconds)
    return size + 2 * context


def encode_batch(model: SNAC, clips: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Encode whole clips (channels, n) at the model's rate in one forward pass: for each clip its codes per
    scale (channels, n_i), those `encode_stream` gives for it alone.

    Every channel of every clip is one item of the batch, padded to the longest; past its own end each
    item is masked to zeros at every convolution, so it computes what it would alone. Only float rounding
    differs (the matrix kernels sum in another order for other shapes): a code whose two nearest codebook
    entries are all but tied can flip, rarely (docs/benchmarks.md).
    """
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    unit = model.config.pad_unit
    rows = [channel for clip in clips for channel in clip]
    lengths = [-(-len(r) // unit) * unit for r in rows]
    x = torch.zeros(len(rows), 1, max(lengths + [unit]), dtype=torch.float32)
    for item, row in enumerate(rows):
        x[item, 0, : len(row)] = torch.from_numpy(np.ascontiguousarray(row, dtype=np.float32))
    with torch.inference_mode():
        _, codes = model.quantizer(model.run_encoder(x.to(device, dtype), lengths))
    codes = [c.cpu().numpy() for c in codes]
    out, item = [], 0
    for clip in clips:
        steps = lengths[item] // model.hop_length
        per_scale = [c[item : item + len(clip), : steps // s] for c, s in zip(codes, model.vq_strides, strict=True)]
        out.append(per_scale)
        item += len(clip)
    return out
