"""Encode and decode speed of snac-cli against the reference SNAC 1.2.1, side by side in one run.

    uv run python -m benchmarks.speed --models 24khz 32khz --seconds 10 --repeats 5

Every measurement runs in a fresh process (so that peak memory is its own) on the same speech-like audio,
with the same random weights in the official layout (speed does not depend on the weights):

- reference: `snac.SNAC.encode` / `decode` under `torch.inference_mode()`, as its users run it;
- reference+alloc: the same with snac's allocator setting (`snac_cli.allocator.tune_allocator`), to show
  how much of the difference that setting alone makes;
- ours: what `snac encode` / `snac decode` run: chunked `encode_stream` / `decode_stream`, allocator tuned.

Prints a Markdown table of medians; `x RT` is audio seconds per wall-clock second. Decoding decodes the
reference's codes. `codes equal` compares our codes with the reference's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import parser, table

ROOT = Path(__file__).resolve().parents[1]
IMPLEMENTATIONS = ("reference", "reference+alloc", "ours")


def worker(impl: str, folder: str, op: str, seconds: float, repeats: int, codes_file: str) -> None:
    """Time one implementation and operation in this process; print the times as JSON."""
    if impl != "reference":
        from snac_cli.engine.allocator import tune_allocator

        tune_allocator()
    import torch

    from tests.helpers.signals import speech_like

    if impl == "ours":
        from snac_cli import SNAC
        from snac_cli.engine.streaming import decode_stream, encode_stream

        model = SNAC.from_pretrained(folder)
        rate = model.sampling_rate
        audio = speech_like(rate, int(seconds * rate))[None]

        def encode() -> list[np.ndarray]:
            return [np.concatenate(p, axis=1) for p in zip(*encode_stream(model, [audio]), strict=True)]

        def decode(codes: list[np.ndarray]) -> None:
            for _ in decode_stream(model, [codes]):
                pass
    else:
        import snac

        model = snac.SNAC.from_pretrained(folder).eval()
        rate = model.sampling_rate
        audio_tensor = torch.from_numpy(speech_like(rate, int(seconds * rate)))[None, None]

        def encode() -> list[np.ndarray]:
            with torch.inference_mode():
                return [c.numpy() for c in model.encode(audio_tensor)]

        def decode(codes: list[np.ndarray]) -> None:
            with torch.inference_mode():
                model.decode([torch.from_numpy(c) for c in codes])

    if op == "encode":
        run = encode
    else:
        reference_codes = list(np.load(codes_file).values())

        def run():
            return decode(reference_codes)

    result = run()  # warm-up
    if op == "encode":
        np.savez(codes_file, *result)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    print(json.dumps({"times": times}))


def measure(impl: str, folder: str, op: str, seconds: float, repeats: int, codes_file: str) -> tuple[float, float]:
    """(median seconds, peak RSS in MB) of one implementation and operation, in a child process."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.speed",
        "--worker",
        impl,
        folder,
        op,
        str(seconds),
        str(repeats),
        codes_file,
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    out = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise RuntimeError(f"{impl} {op} failed")
    return statistics.median(json.loads(out)["times"]), usage.ru_maxrss / 1024


def main() -> None:
    arguments = parser(__doc__, seconds=10.0, repeats=5)
    arguments.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = arguments.parse_args()
    if args.worker:
        impl, folder, op, seconds, repeats, codes_file = args.worker
        worker(impl, folder, op, float(seconds), int(repeats), codes_file)
        return

    import torch

    from tests.helpers.checkpoints import OFFICIAL, make_checkpoint

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"{args.seconds:g} s of speech-like audio, median of {args.repeats}")  # fmt: skip
    print()
    table("model", "op", "implementation", "seconds", "x RT", "speedup of ours", "peak RSS MB", "codes equal")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            folder = str(make_checkpoint(Path(tmp) / name, OFFICIAL[name]))
            codes = {impl: str(Path(tmp) / f"{name}-{impl}.npz") for impl in IMPLEMENTATIONS}
            for op in ("encode", "decode"):
                codes_in = {impl: codes[impl if op == "encode" else "reference"] for impl in IMPLEMENTATIONS}
                results = {
                    impl: measure(impl, folder, op, args.seconds, args.repeats, codes_in[impl])
                    for impl in IMPLEMENTATIONS
                }
                ours = results["ours"][0]
                for impl, (secs, rss) in results.items():
                    agreement = ""
                    if op == "encode" and impl == "ours":
                        a, b = np.load(codes["ours"]), np.load(codes["reference"])
                        same = sum((a[k] == b[k]).sum() for k in a.files)
                        agreement = f"{100 * same / sum(a[k].size for k in a.files):.2f}%"
                    speedup = f"{secs / ours:.2f}x" if impl != "ours" else ""
                    print(f"| {name} | {op} | {impl} | {secs:.3f} | {args.seconds / secs:.1f} | {speedup} | "
                          f"{rss:.0f} | {agreement} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
