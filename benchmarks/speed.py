"""Encode and decode speed of snac-cli against the reference SNAC 1.2.1, side by side in one process.

    uv run python benchmarks/speed.py --models 24khz 32khz --seconds 10 --repeats 5

Both models get the same random (perturbed) weights in the official layout; speed does not depend on the
weights. Prints a Markdown table of medians; `x RT` is audio seconds per wall-clock second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import OFFICIAL, make_checkpoint  # noqa: E402  (the tests' checkpoint factory)
from signals import speech_like  # noqa: E402

from snac_cli import SNAC  # noqa: E402


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of fn() over `repeats` runs, after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_model(name: str, seconds: float, repeats: int) -> list[str]:
    import snac

    with tempfile.TemporaryDirectory() as folder:
        make_checkpoint(Path(folder), OFFICIAL[name])
        reference = snac.SNAC.from_pretrained(folder).eval()
        ours = SNAC.from_pretrained(folder)
    sr = ours.sampling_rate
    audio = torch.from_numpy(speech_like(sr, int(seconds * sr)))[None, None]
    with torch.inference_mode():
        ref_codes = reference.encode(audio)
    codes = ours.encode(audio)
    same = sum((a == b).sum().item() for a, b in zip(codes, ref_codes, strict=True))
    agreement = 100 * same / sum(c.numel() for c in codes)

    def reference_encode():
        with torch.inference_mode():
            reference.encode(audio)

    def reference_decode():
        with torch.inference_mode():
            reference.decode(ref_codes)

    rows = []
    for op, ref_fn, our_fn in [
        ("encode", reference_encode, lambda: ours.encode(audio)),
        ("decode", reference_decode, lambda: ours.decode(codes)),
    ]:
        ref_s, our_s = median_seconds(ref_fn, repeats), median_seconds(our_fn, repeats)
        rows.append(
            f"| {name} | {op} | {ref_s:.3f} | {our_s:.3f} | {ref_s / our_s:.2f}x | "
            f"{seconds / ref_s:.1f} | {seconds / our_s:.1f} | {agreement:.2f}% |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["24khz", "32khz"], choices=list(OFFICIAL))
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.seconds:g} s of speech-like audio")
    print()
    print("| model | op | reference s | ours s | speedup | reference x RT | ours x RT | codes equal |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        for row in bench_model(name, args.seconds, args.repeats):
            print(row, flush=True)


if __name__ == "__main__":
    main()
