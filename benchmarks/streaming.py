"""Streaming decoding, one coarsest frame at a time, as a TTS server feeds it: the exact streaming decoder
against a whole-file decode of the same codes and against the 28-token sliding window that Orpheus's
decoder and the servers built on it use (each new frame: decode the last 4 frames, keep samples 2048:4096).

    uv run python -m benchmarks.streaming --models 24khz 32khz --seconds 10 --repeats 3

Per model: real-time factor, milliseconds per frame (median and p99), lookahead (frames and ms), time from
the first frame pushed to the first audio sample out; the window's cost per frame, the samples it never
emits, and its largest error against the whole-file decode (both without the decoder's noise, so that the
error is the window's alone); and per `--lookahead` under the model's own, its cost per frame, its latency
and its error against the exact stream (on random codes and weights: a trained model's speech will show
other errors). The allocator is tuned as the CLI tunes it.
Random weights in the official layout (speed does not depend on them); random codes.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import parser, table
from tests.helpers.checkpoints import OFFICIAL, make_checkpoint


def sliding_window(model, codes: list[np.ndarray], per_frame: list[int]) -> tuple[np.ndarray, list[float]]:
    """The Orpheus decoder's approximation: per new frame, decode the last 4 frames and keep the second
    (samples 2048:4096 at 24 kHz: one frame of context before, two after). Returns audio and seconds per frame."""
    frame = math.lcm(*model.vq_strides) * model.hop_length
    frames = codes[0].shape[1] // per_frame[0]
    out, times = [], []
    for last in range(4, frames + 1):
        start = time.perf_counter()
        window = [torch.from_numpy(c[:, (last - 4) * k : last * k]) for c, k in zip(codes, per_frame, strict=True)]
        audio = model.decode(window)[0, 0, frame : 2 * frame].numpy()
        times.append(time.perf_counter() - start)
        out.append(audio)
    return np.concatenate(out), times


def lookaheads(model, pieces: list, whole: np.ndarray) -> list[tuple[int, float, float, float, float]]:
    """Per lookahead N under the model's own, one frame at a time: (N, ms per frame median, latency ms,
    max error and SNR in dB against the exact stream), over the samples written before they were final."""
    from snac_cli.engine.stream_decoder import StreamDecoder

    rows = []
    exact = StreamDecoder(model).exact_lookahead_frames
    for n in range(exact):
        decoder = StreamDecoder(model, lookahead=n)
        times, out = [], []
        for piece in pieces:
            start = time.perf_counter()
            out.append(decoder.push(piece))
            times.append(time.perf_counter() - start)
        audio = np.concatenate([*out, decoder.finish()], axis=1)[0]
        error = audio - whole
        snr = 10 * math.log10(float(np.sum(whole**2)) / max(float(np.sum(error**2)), 1e-30))
        rows.append((n, 1000 * statistics.median(times), decoder.lookahead_ms, float(np.abs(error).max()), snr))
    return rows


def measure(name: str, folder: Path, seconds: float) -> dict:
    from snac_cli import SNAC
    from snac_cli.engine.stream_decoder import StreamDecoder

    model = SNAC.from_pretrained(folder)
    frame = math.lcm(*model.vq_strides) * model.hop_length
    per_frame = [math.lcm(*model.vq_strides) // s for s in model.vq_strides]
    frames = int(seconds * model.sampling_rate / frame)
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, model.codebook_size, (1, frames * k)) for k in per_frame]
    pieces = [[c[:, i * k : (i + 1) * k] for c, k in zip(codes, per_frame, strict=True)] for i in range(frames)]

    decoder = StreamDecoder(model)
    for piece in pieces[:8]:  # warm-up
        decoder.push(piece)
    decoder.reset()
    times, out, first_audio = [], [], None
    started = time.perf_counter()
    for piece in pieces:
        start = time.perf_counter()
        audio = decoder.push(piece)
        times.append(time.perf_counter() - start)
        if first_audio is None and audio.shape[1]:
            first_audio = time.perf_counter() - started
        out.append(audio)
    out.append(decoder.finish())
    streamed_seconds = time.perf_counter() - started
    streamed = np.concatenate(out, axis=1)[0]

    whole_decoder = StreamDecoder(model, max_frames=round(6 * model.sampling_rate / frame))  # snac decode's
    start = time.perf_counter()
    whole = np.concatenate([whole_decoder.push(codes), whole_decoder.finish()], axis=1)[0]
    whole_seconds = time.perf_counter() - start

    from snac_cli.model.layers import NoiseBlock

    noise = NoiseBlock.noise  # the window's error is its own, not the noise's: both run without noise
    NoiseBlock.noise = lambda self, b, t, like: torch.zeros(b, 1, t, dtype=like.dtype)  # type: ignore[method-assign]
    try:
        window_audio, window_times = sliding_window(model, codes, per_frame)
        with torch.inference_mode():
            reference = model.decode([torch.from_numpy(c) for c in codes])[0, 0].numpy()
    finally:
        NoiseBlock.noise = noise  # type: ignore[method-assign]
    covered = reference[frame : frame + len(window_audio)]
    return {
        "lookaheads": lookaheads(model, pieces, streamed),
        "rt": frames * frame / model.sampling_rate / streamed_seconds,
        "median_ms": 1000 * statistics.median(times),
        "p99_ms": 1000 * float(np.percentile(times, 99)),
        "frame_ms": 1000 * frame / model.sampling_rate,
        "lookahead_frames": decoder.lookahead_frames,
        "lookahead_ms": decoder.lookahead_ms,
        "first_ms": 1000 * (first_audio or float("nan")),
        "exact_error": float(np.abs(streamed - whole).max()),
        "whole_rt": frames * frame / model.sampling_rate / whole_seconds,
        "window_ms": 1000 * statistics.median(window_times),
        "window_missing": len(reference) - len(window_audio),
        "window_error": float(np.abs(window_audio - covered).max()),
    }


def main() -> None:
    args = parser(__doc__, seconds=10.0, repeats=1).parse_args()
    from snac_cli import tune_allocator

    tune_allocator()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.seconds:g} s of random codes\n")
    table("model", "stream x RT", "ms per frame (median / p99)", "audio per frame ms", "lookahead",
          "first audio after", "max error vs whole", "whole-file x RT")  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            r = measure(name, make_checkpoint(Path(tmp) / name, OFFICIAL[name]), args.seconds)
            rows.append((name, r))
            print(f"| {name} | {r['rt']:.2f}x | {r['median_ms']:.1f} / {r['p99_ms']:.1f} | {r['frame_ms']:.1f} | "
                  f"{r['lookahead_frames']} frames, {r['lookahead_ms']:.0f} ms | {r['first_ms']:.0f} ms | "
                  f"{r['exact_error']:.1e} | {r['whole_rt']:.2f}x |", flush=True)  # fmt: skip
    print()
    table("model", "28-token window: ms per frame", "samples never emitted", "max error vs whole decode")
    for name, r in rows:
        print(f"| {name} | {r['window_ms']:.1f} | {r['window_missing']} | {r['window_error']:.3f} |")
    print()
    table("model", "--lookahead", "ms per frame (median)", "latency ms", "max error vs exact", "SNR vs exact dB")
    for name, r in rows:
        for n, ms, latency, error, snr in r["lookaheads"]:
            print(f"| {name} | {n} | {ms:.1f} | {latency:.0f} | {error:.3f} | {snr:.1f} |")


if __name__ == "__main__":
    main()
