"""ONNX models through onnxruntime against the PyTorch fast path, in one process, on the same audio and codes:
encoding and decoding `--seconds` of audio, in the inference windows each runs (`snac encode`'s engine; the
runtime's windows from config.json), and what onnxruntime's graph optimizations and thread counts give.

    uv run python -m benchmarks.onnx --models 24khz --seconds 60 --repeats 3

Also the start-up a torch-free process pays: `import onnxruntime` with the runtime's module against
`import torch`, each a whole fresh process (median of --repeats). Random weights in the official layout
(speed does not depend on them). The allocator is tuned as the CLI tunes it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import parser, table
from tests.helpers.checkpoints import OFFICIAL, make_checkpoint
from tests.helpers.signals import speech_like


def timed(work, repeats: int) -> tuple[float, object]:
    """Median seconds of `repeats` runs after a warm-up, and the last result."""
    result = work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def startup(code: str, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def joined(pieces) -> list[np.ndarray]:
    """Codes per scale from windows' pieces."""
    return [np.concatenate(p, axis=1) for p in zip(*pieces, strict=True)]


def compare(name: str, work: Path, seconds: float, repeats: int) -> None:
    """One model's rows: encode then decode, PyTorch then each onnxruntime setting."""
    from snac_cli.engine.streaming import decode_stream, encode_stream
    from snac_cli.export.onnx_models import export_onnx
    from snac_cli.model import SNAC
    from snac_cli.runtime.onnx_model import OnnxModel

    model = SNAC.from_pretrained(str(make_checkpoint(work / name, OFFICIAL[name]))).eval()
    folder = work / f"{name}-onnx"
    export_onnx(model, name, folder)
    rate = model.sampling_rate
    audio = speech_like(rate, int(seconds * rate), seed=0).astype(np.float32)[None]

    def blocks() -> list[np.ndarray]:  # as a file is read: 64 Ki samples at a time
        return np.split(audio, range(1 << 16, audio.shape[1], 1 << 16), axis=1)

    base, codes = timed(lambda: joined(encode_stream(model, blocks())), repeats)
    print(f"| {name} | encode | torch (fast path) | {base:.2f} | {seconds / base:.1f} | 1.00x | |")
    runs = {f"onnxruntime, {o} optimizations, {t or 'default'} threads": OnnxModel(folder, threads=t, optimization=o)
            for o in ("all", "basic", "none") for t in (None, 1)}  # fmt: skip
    for label, runtime in runs.items():
        took, got = timed(lambda r=runtime: joined(r.encode_stream(blocks())), repeats)
        same = np.mean([np.mean(a == b) for a, b in zip(got, codes, strict=True)])
        ratio = f"{base / took:.2f}x"
        print(f"| {name} | encode | {label} | {took:.2f} | {seconds / took:.1f} | {ratio} | {same:.2%} codes |")
    base, expected = timed(lambda: np.concatenate(list(decode_stream(model, [codes])), axis=1), repeats)
    print(f"| {name} | decode | torch (fast path, exact streaming) | {base:.2f} | {seconds / base:.1f} | 1.00x | |")
    for label, runtime in runs.items():
        took, got = timed(lambda r=runtime: np.concatenate(list(r.decode_stream(codes)), axis=1), repeats)
        n = min(got.shape[1], expected.shape[1])
        error = float(np.abs(got[:, :n] - expected[:, :n]).max())
        print(f"| {name} | decode | {label} | {took:.2f} | {seconds / took:.1f} | {base / took:.2f}x | "
              f"max error {error:.1e} |")  # fmt: skip


def main() -> None:
    args = parser(__doc__, seconds=60.0, repeats=3).parse_args()
    from snac_cli.engine.allocator import tune_allocator

    tune_allocator()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.seconds:.0f} s of audio; "
          f"medians of {args.repeats} after a warm-up\n")  # fmt: skip
    table("model", "op", "runner", "seconds", "x real time", "against torch", "same")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            compare(name, Path(tmp), args.seconds, args.repeats)
    torch_start = startup("import torch", args.repeats)
    runtime_start = startup("import onnxruntime, snac_cli.runtime.onnx_model", args.repeats)
    print(f"\nstart-up, whole process: `import torch` {torch_start:.2f} s; `import onnxruntime` and the runtime "
          f"{runtime_start:.2f} s ({runtime_start / torch_start:.0%})")  # fmt: skip


if __name__ == "__main__":
    main()
