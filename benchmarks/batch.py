"""Many short clips: `snac encode FOLDER` (batched) against one file at a time, on the same clips.

    uv run python -m benchmarks.batch --clips 200

Makes a folder of speech-like clips of 0.5 to 4 s (mono, 16 / 22.05 / 44.1 kHz) and a checkpoint of the
official 24 kHz configuration (random weights), then times, each in fresh processes:

- per-file: `snac encode CLIP OUT` once per clip, the one-off loop a single-file tool makes users write
  (timed on the first `--loop` clips, scaled to the whole folder);
- folder, one per pass: `snac encode FOLDER OUT --batch-seconds 0`, one clip per forward pass;
- folder, batched: `snac encode FOLDER OUT`, the default (short clips batched by length).

Also reports how many codes the batched run shares with the one-per-pass run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.common import parser, table
from tests.helpers.checkpoints import OFFICIAL, make_checkpoint
from tests.helpers.signals import speech_like

ROOT = Path(__file__).resolve().parents[1]


def snac(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snac_cli", *args, "-q"], check=True, capture_output=True)
    return time.perf_counter() - start


def make_clips(folder: Path, count: int) -> float:
    """`count` speech-like clips of 0.5 to 4 s at 16 / 22.05 / 44.1 kHz in `folder`; returns their seconds."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for i in range(count):
        rate, seconds = [16000, 22050, 44100][i % 3], rng.uniform(0.5, 4.0)
        sf.write(folder / f"clip{i:04d}.wav", speech_like(rate, int(seconds * rate), seed=i), rate)
        total += seconds
    return total


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--clips", type=int, default=200)
    arguments.add_argument("--loop", type=int, default=20, help="clips timed one process each")
    args = arguments.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, model = Path(tmp) / "clips", str(make_checkpoint(Path(tmp) / "snac_24khz", OFFICIAL["24khz"]))
        total = make_clips(folder, args.clips)
        clips = sorted(folder.glob("*.wav"))
        loop = sum(snac("encode", str(c), str(Path(tmp) / "one.snac"), "-m", model, "-f") for c in clips[: args.loop])
        per_file = loop / args.loop * len(clips)
        single = snac("encode", str(folder), str(Path(tmp) / "single"), "-m", model, "--batch-seconds", "0")
        batched = snac("encode", str(folder), str(Path(tmp) / "batched"), "-m", model)
        from snac_cli.format.container import read_snac

        same = count = 0
        for c in clips:
            a, b = (read_snac(Path(tmp) / d / c.with_suffix(".snac").name).codes for d in ("single", "batched"))
            same += sum(int((x == y).sum()) for x, y in zip(a, b, strict=True))
            count += sum(x.size for x in a)
        print(f"{len(clips)} clips, {total:.0f} s of audio, 24 kHz model, CPU\n")
        table("run", "seconds", "x RT", "batched is faster by")
        for name, seconds in [
            (f"per-file loop (first {args.loop}, scaled)", per_file),
            ("folder, one clip per pass", single),
            ("folder, batched (default)", batched),
        ]:
            print(f"| {name} | {seconds:.1f} | {total / seconds:.1f} | {seconds / batched:.2f}x |")
        print(f"\ncodes equal between batched and one-per-pass: {100 * same / count:.3f} %")


if __name__ == "__main__":
    main()
