"""The CUDA paths, checked and timed on a machine with a GPU (CI has none): the Python API against the
reference, `snac encode` / `decode --device cuda` at each precision against the CPU's codes, and a folder
of short clips batched on the GPU against the same clips one at a time.

    uv run python -m benchmarks.gpu --seconds 60 --repeats 5

Random weights in the official layout (speed does not depend on the weights); speech-like audio.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from benchmarks.common import parser, table
from tests.helpers.checkpoints import OFFICIAL, make_checkpoint
from tests.helpers.signals import speech_like


def cuda_seconds(run, repeats: int) -> float:
    """Median seconds of `run` on the GPU, synchronized, after a warm-up."""
    run()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def api_rows(name: str, folder: Path, seconds: float, repeats: int) -> list[str]:
    import snac

    from snac_cli import SNAC

    reference = snac.SNAC.from_pretrained(str(folder)).eval().cuda()
    ours = SNAC.from_pretrained(folder).cuda()
    rate = ours.sampling_rate
    audio = torch.from_numpy(speech_like(rate, int(seconds * rate)))[None, None].cuda()
    with torch.inference_mode():
        expected = reference.encode(audio)
        codes = ours.encode(audio)
        equal = np.mean([float((a == b).float().mean()) for a, b in zip(codes, expected, strict=True)])
        torch.manual_seed(0)
        theirs = reference.decode(expected)
        torch.manual_seed(0)
        mine = ours.decode(expected)
        difference = (theirs - mine).abs().max().item()
        rows = []
        for op, a, b, result in (
            ("encode", lambda: reference.encode(audio), lambda: ours.encode(audio), f"codes equal {equal:.2%}"),
            ("decode", lambda: reference.decode(expected), lambda: ours.decode(expected), f"max diff {difference:.1e}"),
        ):
            ref, own = cuda_seconds(a, repeats), cuda_seconds(b, repeats)
            rows.append(f"| {name} | {op} {seconds:g} s | {ref:.3f} | {own:.3f} | {ref / own:.2f}x | {result} |")
    return rows


def snac(*args: object) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snac_cli", *map(str, args), "-f", "-q"], check=True)
    return time.perf_counter() - start


def codes_of(path: Path) -> list[np.ndarray]:
    from snac_cli.format.container import read_snac

    return read_snac(path).codes


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([np.mean(x == y) for x, y in zip(a, b, strict=True)]))


def cli_rows(name: str, folder: Path, work: Path, seconds: float) -> list[str]:
    rate = OFFICIAL[name]["sampling_rate"]
    wav = work / f"{name}.wav"
    sf.write(wav, speech_like(rate, int(seconds * rate)), rate, subtype="FLOAT")
    cpu = work / f"{name}-cpu.snac"
    took = snac("encode", wav, cpu, "-m", folder, "--device", "cpu")
    rows = [f"| {name} | cpu | fp32 | {took:.2f} | | 100% (itself) |"]
    cpu_audio_file = work / f"{name}-cpu.wav"
    snac("decode", cpu, cpu_audio_file, "--device", "cpu")
    cpu_audio, _ = sf.read(cpu_audio_file)
    for precision in ("fp32", "bf16", "fp16"):
        out = work / f"{name}-{precision}.snac"
        encode = snac("encode", wav, out, "-m", folder, "--device", "cuda", "--precision", precision)
        decoded = work / f"{name}-{precision}.wav"
        decode = snac("decode", cpu, decoded, "--device", "cuda", "--precision", precision)
        audio, _ = sf.read(decoded)
        equal = agreement(codes_of(out), codes_of(cpu))
        rows.append(
            f"| {name} | cuda | {precision} | {encode:.2f} | {decode:.2f} | {equal:.2%}; decode max diff "
            f"{np.abs(audio - cpu_audio).max():.1e} |"
        )
    return rows


def folder_rows(folder: Path, work: Path, clips: int) -> list[str]:
    rate = OFFICIAL["24khz"]["sampling_rate"]
    source = work / "clips"
    source.mkdir()
    rng = np.random.default_rng(0)
    for i in range(clips):
        sf.write(source / f"c{i:03d}.wav", speech_like(rate, int(rate * rng.uniform(0.5, 4.0)), seed=i), rate)
    batched = snac("encode", source, work / "batched", "-m", folder, "--device", "cuda")
    alone = snac("encode", source, work / "alone", "-m", folder, "--device", "cuda", "--batch-seconds", "0")
    equal = agreement(
        [c for i in range(clips) for c in codes_of(work / "batched" / f"c{i:03d}.snac")],
        [c for i in range(clips) for c in codes_of(work / "alone" / f"c{i:03d}.snac")],
    )
    return [f"| {clips} clips, 0.5-4 s | {batched:.2f} | {alone:.2f} | {alone / batched:.2f}x | {equal:.2%} |"]


def stream_rows(name: str, folder: Path, seconds: float) -> list[str]:
    """The streaming decoder on CUDA: frame by frame against all at once, and against the CPU's stream."""
    import math

    from snac_cli import SNAC
    from snac_cli.engine.stream_decoder import StreamDecoder

    cpu, cuda = SNAC.from_pretrained(folder), SNAC.from_pretrained(folder).cuda()
    per_frame = [math.lcm(*cpu.vq_strides) // s for s in cpu.vq_strides]
    frames = int(seconds * cpu.sampling_rate / (math.lcm(*cpu.vq_strides) * cpu.hop_length))
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, cpu.codebook_size, (1, frames * k)) for k in per_frame]

    def streamed(model: SNAC, split: int) -> tuple[np.ndarray, float]:
        decoder = StreamDecoder(model)
        start = time.perf_counter()
        out = [decoder.push([c[:, i * k : (i + split) * k] for c, k in zip(codes, per_frame, strict=True)])
               for i in range(0, frames, split)]  # fmt: skip
        out.append(decoder.finish())
        torch.cuda.synchronize()
        return np.concatenate(out, axis=1), time.perf_counter() - start

    streamed(cuda, 1)  # warm-up
    one, took = streamed(cuda, 1)
    whole, _ = streamed(cuda, frames)
    on_cpu, _ = streamed(cpu, frames)
    return [
        f"| {name} | {seconds / took:.1f}x | {np.abs(one - whole).max():.1e} | {np.abs(whole - on_cpu).max():.1e} |"
    ]


def main() -> None:
    arguments = parser(__doc__, seconds=60.0, repeats=5)
    arguments.add_argument("--clips", type=int, default=100)
    arguments.add_argument("--stream-only", action="store_true", help="only the streaming decoder's section")
    args = arguments.parse_args()
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folders = {name: make_checkpoint(work / name, OFFICIAL[name]) for name in args.models}
        print("\nThe streaming decoder on CUDA: frame by frame, against all at once and against the CPU\n")
        table("model", "frame by frame x RT", "max diff, frames vs whole", "max diff, CUDA vs CPU")
        for name in args.models:
            for row in stream_rows(name, folders[name], min(args.seconds, 10.0)):
                print(row, flush=True)
        if args.stream_only:
            return
        print("\nThe Python API on CUDA, fp32, median of", args.repeats, "\n")
        table("model", "op", "reference s", "ours s", "speedup", "result")
        for name in args.models:
            for row in api_rows(name, folders[name], args.seconds, args.repeats):
                print(row, flush=True)
        print("\n`snac encode` / `decode` whole processes, against the CPU's codes and audio\n")
        table("model", "device", "precision", "encode s", "decode s", "codes equal to the CPU's")
        for name in args.models:
            for row in cli_rows(name, folders[name], work, args.seconds):
                print(row, flush=True)
        print("\nA folder of short clips on CUDA: batched against one clip per pass\n")
        table("folder", "batched s", "one per pass s", "speedup", "codes equal")
        for row in folder_rows(
            folders.get("24khz") or make_checkpoint(work / "24", OFFICIAL["24khz"]), work, args.clips
        ):
            print(row, flush=True)


if __name__ == "__main__":
    main()
