"""Peak memory and speed of `snac encode` and `snac decode` as the input grows (bounded-memory check).

    uv run python -m benchmarks.memory --minutes 1 8 60

Makes a speech-like 24 kHz mono WAV of each length and a checkpoint of the official 24 kHz configuration
(random weights), runs the real CLI on each in a child process, and prints wall time and peak resident
memory (the child's ru_maxrss). Also checks that decoding restores the exact length.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

from benchmarks.common import parser, table
from tests.helpers.checkpoints import OFFICIAL, make_checkpoint
from tests.helpers.signals import speech_like

ROOT = Path(__file__).resolve().parents[1]

RATE = 24000


def write_long_wav(path: Path, minutes: float) -> int:
    """A speech-like WAV of `minutes`, written a minute at a time (each minute a different seed)."""
    total = int(minutes * 60 * RATE)
    with sf.SoundFile(path, "w", RATE, 1, "PCM_16") as f:
        for i, start in enumerate(range(0, total, 60 * RATE)):
            f.write(speech_like(RATE, min(60 * RATE, total - start), seed=i))
    return total


def run(*args: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `snac` command."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "snac_cli", *args], stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        raise RuntimeError(f"snac {' '.join(args)} failed: {child.stderr.read().decode() if child.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--minutes", nargs="+", type=float, default=[1, 8])
    args = arguments.parse_args()
    table("audio", "command", "wall s", "x RT", "peak RSS MB")
    with tempfile.TemporaryDirectory() as tmp:
        model = str(make_checkpoint(Path(tmp) / "snac_24khz", OFFICIAL["24khz"]))
        for minutes in args.minutes:
            wav, snac, out = (Path(tmp) / f"{minutes:g}min.{ext}" for ext in ("wav", "snac", "out.wav"))
            frames = write_long_wav(wav, minutes)
            for name, command in [
                ("encode", ["encode", str(wav), str(snac), "-m", model, "-f", "-q"]),
                ("decode", ["decode", str(snac), str(out), "-f", "-q"]),
            ]:
                seconds, rss = run(*command)
                print(
                    f"| {minutes:g} min | {name} | {seconds:.1f} | {minutes * 60 / seconds:.1f} | {rss:.0f} |",
                    flush=True,
                )
            assert sf.info(out).frames == frames, "decoded length differs from the input's"
            for path in (wav, snac, out):
                path.unlink()


if __name__ == "__main__":
    main()
