"""ONNX models through onnxruntime against the PyTorch fast path, in one process, on the same audio and codes:
encoding and decoding `--seconds` of audio, in the inference windows each runs (`snac encode`'s engine; the
runtime's windows from config.json), decoding through the exact streaming step, and what onnxruntime's graph
optimizations and thread counts give; then streaming one frame at a time (the PyTorch exact streaming
decoder against the ONNX streaming step), and the start-up of a 1-second `snac encode` as a whole process.

    uv run python -m benchmarks.onnx --models 24khz --seconds 60 --repeats 3

Start-up: `snac encode` of a 1-second clip in a torch-free install (the wheel with the ONNX extra in a fresh
venv, built here) on the ONNX folder, against the dev venv's `snac encode` on the PyTorch checkpoint and
`python -c "import torch"`, alternating, each a whole fresh process (median of --repeats). Random weights in
the official layout (speed does not depend on them). The allocator is tuned as the CLI tunes it.
"""

from __future__ import annotations

import math
import os
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


def joined(pieces) -> list[np.ndarray]:
    """Codes per scale from windows' pieces."""
    return [np.concatenate(p, axis=1) for p in zip(*pieces, strict=True)]


def compare(name: str, work: Path, seconds: float, repeats: int) -> None:
    """One model's rows: encode then decode, PyTorch then each onnxruntime setting."""
    from snac_cli.engine.streaming import decode_stream, encode_stream
    from snac_cli.export.onnx_models import export_onnx
    from snac_cli.model import SNAC
    from snac_cli.runtime.onnx_model import OnnxModel

    model = SNAC.from_pretrained(str(make_checkpoint(work / name, OFFICIAL[name]))).eval()  # kept for the others
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
    for label, runtime in runs.items():  # the streaming step, 3 s of audio per call
        took, got = timed(lambda r=runtime: np.concatenate(list(r.decode_stream([codes])), axis=1), repeats)
        n = min(got.shape[1], expected.shape[1])
        error = float(np.abs(got[:, :n] - expected[:, :n]).max())
        print(f"| {name} | decode | {label} | {took:.2f} | {seconds / took:.1f} | {base / took:.2f}x | "
              f"max error {error:.1e} |")  # fmt: skip


def frame_by_frame(name: str, work: Path, seconds: float) -> None:
    """Codes pushed one frame at a time: PyTorch's exact streaming decoder against the ONNX streaming step."""
    from snac_cli.engine.stream_decoder import StreamDecoder
    from snac_cli.model import SNAC
    from snac_cli.runtime.onnx_model import OnnxModel

    model = SNAC.from_pretrained(str(work / name)).eval()
    runtime = OnnxModel(work / f"{name}-onnx")
    per_frame = [math.lcm(*model.vq_strides) // s for s in model.vq_strides]
    frames = int(seconds * model.sampling_rate / model.hop_length / math.lcm(*model.vq_strides))
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, model.codebook_size, (1, frames * k)) for k in per_frame]
    pieces = [[c[:, i * k : (i + 1) * k] for c, k in zip(codes, per_frame, strict=True)] for i in range(frames)]
    results = {}
    for label, decoder in (("torch (exact streaming decoder)", StreamDecoder(model)),
                           ("onnxruntime (streaming step)", runtime.stream_decoder())):  # fmt: skip
        times, out = [], []
        for piece in pieces:
            start = time.perf_counter()
            out.append(decoder.push(piece))
            times.append(time.perf_counter() - start)
        results[label] = np.concatenate([*out, decoder.finish()], axis=1)[0]
        total = sum(times)
        p99 = sorted(times)[int(0.99 * len(times))] * 1000
        print(f"| {name} | {label} | {seconds / total:.1f} | {statistics.median(times) * 1000:.1f} | {p99:.1f} | "
              f"{decoder.lookahead_frames} |")  # fmt: skip
    a, b = results.values()
    n = min(a.size, b.size)
    print(f"\n{name}: the two streams' audio within {float(np.abs(a[:n] - b[:n]).max()):.1e}")


def whole_processes(work: Path, repeats: int) -> None:
    """A 1-second `snac encode` in a torch-free install against the torch install, and `import torch`."""
    import soundfile as sf

    venv = work / "torch-free"
    subprocess.run(["uv", "build", "--wheel", "--out-dir", str(work / "dist"), "-q"], check=True)
    subprocess.run(["uv", "venv", "-q", str(venv)], check=True)
    wheel = next((work / "dist").glob("snac_cli-*.whl"))
    subprocess.run(["uv", "pip", "install", "-q", "--compile-bytecode", "--python", str(venv / "bin" / "python"),
                    f"{wheel}[onnx]"], check=True)  # fmt: skip
    clip = work / "clip.wav"
    sf.write(clip, speech_like(24000, 24000, seed=1).astype(np.float32), 24000)
    commands = {
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "snac encode, torch install, PyTorch checkpoint": [str(Path(sys.executable).parent / "snac"), "encode",
                                                           str(clip), str(work / "a.snac"), "-m", str(work / "24khz"),
                                                           "-f"],
        "snac encode, torch-free install, ONNX folder": [str(venv / "bin" / "snac"), "encode", str(clip),
                                                         str(work / "b.snac"), "-m", str(work / "24khz-onnx"), "-f"],
    }  # fmt: skip
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(repeats + 1):  # alternating; the first round warms the page cache
        for label, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            times[label].append(time.perf_counter() - start)
    base = statistics.median(times["python -c 'import torch'"][1:])
    table("whole process", "seconds (median)", "against import torch")
    for label, taken in times.items():
        print(f"| {label} | {statistics.median(taken[1:]):.2f} | {statistics.median(taken[1:]) / base:.2f}x |")


def main() -> None:
    args = parser(__doc__, seconds=60.0, repeats=3).parse_args()
    from snac_cli.engine.allocator import tune_allocator

    tune_allocator()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.seconds:.0f} s of audio; "
          f"medians of {args.repeats} after a warm-up\n")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        table("model", "op", "runner", "seconds", "x real time", "against torch", "same")
        for name in args.models:
            compare(name, Path(tmp), args.seconds, args.repeats)
        print()
        table("model", "decoder, one frame per push", "x real time", "ms per frame (median)", "p99 ms",
              "lookahead frames")  # fmt: skip
        for name in args.models:
            frame_by_frame(name, Path(tmp), min(args.seconds, 10.0))
        print()
        if "24khz" in args.models:
            whole_processes(Path(tmp), max(args.repeats, 5))


if __name__ == "__main__":
    main()
