"""Streams stepping together, in process: N streams of one model, each pushed one coarsest frame at a
time (as a TTS server feeds them), either one forward pass per stream (alone) or one pass for all N
(`push_together`, what `snac serve --max-batch N` does for streams that meet). Per N: milliseconds per
frame for all N streams (the mean: with attention, most frames emit nothing and every fourth emits a
window), the ratio together / alone, and the largest difference between a
stream's audio together and alone. The allocator is tuned as the CLI tunes it; torch's default threads.

    uv run python -m benchmarks.push_batching --models 24khz --streams 1 2 4 8 --frames 60

On a CPU a forward pass has little room to spare, so the ratio says what batching costs or saves there;
on a GPU it is where a server's throughput comes from. Random weights in the official layout; random codes.
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


def run(model, codes: list[list[np.ndarray]], together: bool, device: str) -> tuple[list[float], list[np.ndarray]]:
    """Push every stream's frames, a frame at a time; (seconds per frame for all streams, each stream's audio)."""
    from snac_cli.engine.stream_decoder import StreamDecoder, push_together

    per_frame = [math.lcm(*model.vq_strides) // s for s in model.vq_strides]
    decoders = [StreamDecoder(model, seed=i) for i in range(len(codes))]
    frames = codes[0][0].shape[1] // per_frame[0]
    times, out = [], [[] for _ in codes]
    for f in range(frames):
        pushes = [d.checked([c[:, f * k : (f + 1) * k] for c, k in zip(cs, per_frame, strict=True)])
                  for d, cs in zip(decoders, codes, strict=True)]  # fmt: skip
        start = time.perf_counter()
        if together:
            audio = push_together(decoders, pushes)
        else:
            audio = [push_together([d], [p])[0] for d, p in zip(decoders, pushes, strict=True)]
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        for i, block in enumerate(audio):
            out[i].append(block)
    return times, [np.concatenate([*o, d.finish()], axis=1) for o, d in zip(out, decoders, strict=True)]


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--models", nargs="+", default=["24khz"], choices=list(OFFICIAL))
    cli.add_argument("--streams", nargs="+", type=int, default=[1, 2, 4, 8])
    cli.add_argument("--frames", type=int, default=60)
    cli.add_argument("--device", default="cpu")
    args = cli.parse_args()
    from snac_cli import SNAC, tune_allocator

    tune_allocator()
    table("model", "streams", "alone ms per frame", "together ms per frame", "together / alone", "max difference")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            model = SNAC.from_pretrained(make_checkpoint(Path(tmp) / name, OFFICIAL[name])).to(args.device)
            per_frame = [math.lcm(*model.vq_strides) // s for s in model.vq_strides]
            rng = np.random.default_rng(0)
            for n in args.streams:
                codes = [[rng.integers(0, model.codebook_size, (1, args.frames * k)) for k in per_frame]
                         for _ in range(n)]  # fmt: skip
                run(model, codes, True, args.device)  # warm-up: prepared weights, primitives
                alone_times, alone = run(model, codes, False, args.device)
                together_times, together = run(model, codes, True, args.device)
                a, t = statistics.mean(alone_times) * 1000, statistics.mean(together_times) * 1000
                difference = max(float(np.abs(x - y).max()) for x, y in zip(alone, together, strict=True))
                print(f"| {name} | {n} | {a:.1f} | {t:.1f} | {t / a:.2f} | {difference:.1e} |", flush=True)


if __name__ == "__main__":
    main()
