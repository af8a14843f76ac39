"""Running the model over audio of any length in bounded memory.

Audio and codes are cut into chunks aligned to the model's padding unit (whole coarsest codes and whole
attention windows), each run with enough context on both sides to cover the network's receptive field, so
that the chunks' centres join into what whole-file processing would give.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from .errors import UsageError
from .model import SNAC
from .model.attention import LocalMHA
from .model.fast import FastPath

# Least audio per chunk by default: `snac` then peaks under 1.5 GB of memory with the 24 kHz model
# (docs/benchmarks.md); models with attention need longer chunks to amortize their wider context.
ENCODE_CHUNK_SECONDS = 5.0
DECODE_CHUNK_SECONDS = 6.0  # the decoder's activations are larger
Progress = Callable[[int], None]  # called with the number of audio samples (model rate) just finished
_FAST_PATHS: weakref.WeakKeyDictionary[nn.Module, tuple[torch.device, torch.dtype, FastPath]] = (
    weakref.WeakKeyDictionary()
)


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` (CUDA when available, else CPU), `cpu`, `cuda` or `cuda:N`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r} (auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {name}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise UsageError(f"unsupported device {name!r} (auto, cpu, cuda or cuda:N)")
    return device


def reach(layers: list[nn.Module]) -> int:
    """How many input steps one output of `layers` (in forward order) can see on either side.

    Walks back from the output: each convolution widens the span by its kernel's reach past the padding,
    striding scales it; local attention mixes a whole window, whose far edge must be right too.
    """
    span = 0.0
    for layer in reversed(layers):
        if isinstance(layer, LocalMHA):
            span += layer.window_size
        elif isinstance(layer, nn.ConvTranspose1d):  # stride s up: an output sees about (span + k) / s inputs
            span = (span + layer.kernel_size[0]) / layer.stride[0] + 1
        elif isinstance(layer, nn.Conv1d):
            k, d, p = layer.kernel_size[0], layer.dilation[0], layer.padding[0]  # type: ignore[index]
            span = span * layer.stride[0] + max(p, (k - 1) * d - p)
    return math.ceil(span)


def fast_path(part: nn.Module) -> FastPath:
    """The encoder's or decoder's fast path, prepared once per module, device and dtype."""
    weight = next(part.parameters())
    cached = _FAST_PATHS.get(part)
    if cached is None or cached[:2] != (weight.device, weight.dtype):
        cached = _FAST_PATHS[part] = (weight.device, weight.dtype, FastPath(part))
    return cached[2]


def chunk_units(model: SNAC, chunk_seconds: float | None, default: float, context: int, ratio: int) -> int:
    """Padding units per chunk: about `chunk_seconds` of audio, or by default at least `default` seconds and
    `ratio` times the context on one side, so that recomputing the context costs at most 2 / ratio."""
    unit = model.config.pad_unit
    if chunk_seconds is not None:
        return max(1, round(chunk_seconds * model.sampling_rate / unit))
    return max(round(default * model.sampling_rate / unit), ratio * context)


def chunk_end(done: int, size: int, context: int) -> int:
    """Where the chunk starting at `done` ends. The first has no left context and takes that much more of its
    own, so every chunk spans size + 2 x context: the memory one frees is the exact fit for the next."""
    return done + size + (context if done == 0 else 0)


def encode_chunk(model: SNAC, chunk_seconds: float | None = None) -> tuple[int, int]:
    """(chunk, context on each side) for encoding, in audio samples at the model's rate, whole padding units."""
    unit = model.config.pad_unit
    context_units = math.ceil(reach(list(model.encoder.modules())) / unit)
    return chunk_units(model, chunk_seconds, ENCODE_CHUNK_SECONDS, context_units, ratio=14) * unit, context_units * unit


def encode_stream(
    model: SNAC,
    blocks: Iterable[np.ndarray],
    chunk_seconds: float | None = None,
    progress: Progress | None = None,
) -> Iterator[list[np.ndarray]]:
    """Encode audio arriving as blocks (channels, n) at the model's rate: yields codes per scale (channels, n_i).

    Memory holds one chunk and its context, whatever the length of the stream.
    """
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    unit = model.config.pad_unit
    size, context = encode_chunk(model, chunk_seconds)
    fast = fast_path(model.encoder) if device.type == "cpu" else None  # GPUs: cuDNN in the modules' layout
    buffer: np.ndarray | None = None
    start = 0  # absolute index of buffer[:, 0]
    done = 0  # everything before this is encoded; a multiple of the unit

    def encode_span(end: int, available: int) -> list[np.ndarray]:
        assert buffer is not None
        lo, hi = max(0, done - context), min(available, end + context)
        x = torch.from_numpy(buffer[:, lo - start : hi - start]).to(device, dtype)[:, None, :]  # (C, 1, L)
        with torch.inference_mode():
            _, codes = model.quantizer(fast(model.encoder.block, x) if fast else model.encoder(x))
        first, last = (done - lo) // model.hop_length, (end - lo) // model.hop_length
        return [c[:, first // s : last // s].cpu().numpy() for c, s in zip(codes, model.vq_strides, strict=True)]

    for block in blocks:
        buffer = block if buffer is None else np.concatenate([buffer, block], axis=1)
        while start + buffer.shape[1] >= (end := chunk_end(done, size, context)) + context:
            yield encode_span(end, start + buffer.shape[1])
            if progress:
                progress(end - done)
            done = end
            drop = max(0, done - context - start)
            buffer, start = buffer[:, drop:], start + drop
    if buffer is None:
        return
    total = start + buffer.shape[1]
    padded = -(-total // unit) * unit
    buffer = np.pad(buffer, ((0, 0), (0, padded - total)))
    while done < padded:
        end = min(chunk_end(done, size, context), padded)
        yield encode_span(end, padded)
        if progress:
            progress(min(end, total) - done)
        done = end


def batch_limit(model: SNAC, chunk_seconds: float | None = None) -> int:
    """The most audio samples (model rate, padded, all items together) that one batch may hold: one chunk's
    worth with its context, so that batches cost the memory that streaming does."""
    size, context = encode_chunk(model, chunk_seconds)
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
        _, codes = model.quantizer(fast_path(model.encoder)(model.encoder.block, x.to(device, dtype), lengths))
    codes = [c.cpu().numpy() for c in codes]
    out, item = [], 0
    for clip in clips:
        steps = lengths[item] // model.hop_length
        per_scale = [c[item : item + len(clip), : steps // s] for c, s in zip(codes, model.vq_strides, strict=True)]
        out.append(per_scale)
        item += len(clip)
    return out


def decode_stream(
    model: SNAC,
    chunks: Iterable[list[np.ndarray]],
    seed: int = 0,
    chunk_seconds: float | None = None,
    progress: Progress | None = None,
) -> Iterator[np.ndarray]:
    """Decode codes arriving in chunks (per scale, (channels, n_i)): yields audio blocks (channels, n).

    The decoder's noise is seeded per chunk (seed + chunk index), so decoding is deterministic. The audio
    covers every latent frame, including any padding; trimming is the caller's.
    """
    device = next(model.parameters()).device
    strides = model.vq_strides
    unit = model.config.pad_unit // model.hop_length  # latent frames
    context_units = math.ceil(reach(list(model.decoder.modules())) / unit)
    context = context_units * unit
    size = chunk_units(model, chunk_seconds, DECODE_CHUNK_SECONDS, context_units, ratio=10) * unit
    fast = fast_path(model.decoder) if device.type == "cpu" else None
    buffers: list[np.ndarray] | None = None
    start = done = 0  # in latent frames
    index = 0

    def decode_span(end: int, available: int) -> np.ndarray:
        assert buffers is not None
        lo, hi = max(0, done - context), min(available, end + context)
        codes = [
            torch.from_numpy(b[:, (lo - start) // s : (hi - start) // s]).to(device)
            for b, s in zip(buffers, strides, strict=True)
        ]
        with torch.inference_mode(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed + index)
            latent = model.quantizer.from_codes(codes)
            audio = fast(model.decoder.model, latent) if fast else model.decoder(latent)  # (C, 1, samples)
        hop = model.hop_length
        return audio[:, 0, (done - lo) * hop : (end - lo) * hop].float().cpu().numpy()

    for chunk in chunks:
        chunk = [c.astype(np.int64, copy=False) for c in chunk]
        buffers = chunk if buffers is None else [np.concatenate(p, axis=1) for p in zip(buffers, chunk, strict=True)]
        while start + buffers[-1].shape[1] * strides[-1] >= (end := chunk_end(done, size, context)) + context:
            yield decode_span(end, start + buffers[-1].shape[1] * strides[-1])
            index += 1
            if progress:
                progress((end - done) * model.hop_length)
            done = end
            drop = max(0, done - context - start)  # a multiple of the unit, so of every stride
            buffers, start = [b[:, drop // s :] for b, s in zip(buffers, strides, strict=True)], start + drop
    if buffers is None:
        return
    total = start + buffers[0].shape[1] * strides[0]
    if total == 0:
        return
    padded = -(-total // unit) * unit
    # Whole attention windows are needed: repeat the last code into the padding, decode, then cut it off.
    buffers = [
        np.pad(b, ((0, 0), (0, (padded - total) // s)), mode="edge") for b, s in zip(buffers, strides, strict=True)
    ]
    while done < total:
        end = min(chunk_end(done, size, context), padded)
        block = decode_span(end, padded)
        keep = (min(end, total) - done) * model.hop_length
        yield block[:, :keep]
        if progress:
            progress(keep)
        done = end
        index += 1
