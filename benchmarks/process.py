"""Whole processes, as a shell pipeline pays for them: `snac encode` / `decode` against a script that does the
same job with the reference SNAC 1.2.1, and `snac encode` of a 1-second clip against `import torch` alone.

    uv run python -m benchmarks.process --models 24khz 32khz --seconds 60 --repeats 5

Each measurement is one fresh process, start-up included (Python, torch, the model load, reading and
writing the files); the two sides run in turn (A, B, A, B, ...) and the table gives medians. The reference
script reads the WAV with soundfile, encodes under `torch.inference_mode()` and saves the codes with numpy
(or loads them, decodes and writes a WAV); `snac` runs with `--normalize none` so that both do the same
job, with its own allocator setting as every `snac` run has it. Inputs are at the model's rate (no
resampling on either side). Random weights in the official layout: speed does not depend on the weights.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

from benchmarks.common import parser, table
from tests.helpers.checkpoints import OFFICIAL, make_checkpoint
from tests.helpers.signals import speech_like

REFERENCE = {
    "encode": """
import sys, numpy as np, soundfile as sf, torch, snac
model = snac.SNAC.from_pretrained(sys.argv[1]).eval()
audio, rate = sf.read(sys.argv[2], dtype="float32")
with torch.inference_mode():
    codes = model.encode(torch.from_numpy(audio)[None, None])
np.savez(sys.argv[3], *[c.numpy() for c in codes], length=len(audio))
""",
    "decode": """
import sys, numpy as np, soundfile as sf, torch, snac
model = snac.SNAC.from_pretrained(sys.argv[1]).eval()
saved = np.load(sys.argv[2])
codes = [torch.from_numpy(saved[f"arr_{i}"]) for i in range(len(model.vq_strides))]
with torch.inference_mode():
    audio = model.decode(codes)[0, 0, : int(saved["length"])].numpy()
sf.write(sys.argv[3], audio, model.sampling_rate)
""",
}
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}


def seconds_of(command: list[str], env: dict[str, str] = ENV) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def alternate(commands: dict[str, list[str]], repeats: int, env: dict[str, str] = ENV) -> dict[str, float]:
    """Median seconds of each command, run in turn, after one warm-up run of each (disk caches)."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round in range(repeats + 1):
        for name, command in commands.items():
            took = seconds_of(command, env)
            if round:
                times[name].append(took)
    return {name: statistics.median(values) for name, values in times.items()}


def jobs(name: str, folder: Path, work: Path, seconds: float, repeats: int) -> list[str]:
    """Table rows for one model: encode and decode, reference script and `snac`."""
    rate = OFFICIAL[name]["sampling_rate"]
    wav = work / f"{name}.wav"
    sf.write(wav, speech_like(rate, int(seconds * rate)), rate, subtype="FLOAT")
    python, snac = sys.executable, [sys.executable, "-m", "snac_cli"]
    npz, code = work / f"{name}.npz", work / f"{name}.snac"
    encode = {
        "reference": [python, "-c", REFERENCE["encode"], str(folder), str(wav), str(npz)],
        "snac": [*snac, "encode", str(wav), str(code), "-m", str(folder), "--normalize", "none", "-f", "-q"],
    }
    decode = {
        "reference": [python, "-c", REFERENCE["decode"], str(folder), str(npz), str(work / "reference.wav")],
        "snac": [*snac, "decode", str(code), str(work / "snac.wav"), "-f", "-q"],
    }
    rows = []
    for op, commands in (("encode", encode), ("decode", decode)):
        result = alternate(commands, repeats)
        rows.append(
            f"| {name} | {op} {seconds:g} s | {result['reference']:.2f} | {result['snac']:.2f} | "
            f"{result['reference'] / result['snac']:.2f}x |"
        )
    return rows


def start_up(folder: Path, work: Path, repeats: int) -> list[str]:
    """`snac encode` of a 1-second clip against `python -c "import torch"`, with and without bytecode writing."""
    rate = OFFICIAL["24khz"]["sampling_rate"]
    clip = work / "one-second.wav"
    sf.write(clip, speech_like(rate, rate), rate)
    commands = {
        "import torch": [sys.executable, "-c", "import torch"],
        "snac encode": [sys.executable, "-m", "snac_cli", "encode", str(clip), str(work / "one.snac"), "-m",
                        str(folder), "-f", "-q"],
    }  # fmt: skip
    rows = []
    for label, extra in (("", {}), ("PYTHONDONTWRITEBYTECODE=1", {"PYTHONDONTWRITEBYTECODE": "1"})):
        result = alternate(commands, repeats, {**ENV, **extra})
        ratio = result["snac encode"] / result["import torch"]
        rows.append(
            f"| {label or '(default)'} | {result['import torch']:.2f} | {result['snac encode']:.2f} | {ratio:.2f}x |"
        )
    return rows


def main() -> None:
    arguments = parser(__doc__, seconds=60.0, repeats=5)
    arguments.add_argument("--start-up-only", action="store_true", help="only the 1-second clip against import torch")
    args = arguments.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folders = {name: make_checkpoint(work / name, OFFICIAL[name]) for name in {*args.models, "24khz"}}
        print(f"Start-up: median of {args.repeats} alternating runs, seconds per whole process")
        print()
        table("environment", "import torch", "snac encode (1 s clip, 24khz)", "ratio")
        for row in start_up(folders["24khz"], work, args.repeats):
            print(row, flush=True)
        if args.start_up_only:
            return
        print()
        print(f"Whole jobs: median of {args.repeats} alternating runs, seconds per whole process")
        print()
        table("model", "job", "reference script", "snac", "speedup")
        for name in args.models:
            for row in jobs(name, folders[name], work, args.seconds, args.repeats):
                print(row, flush=True)


if __name__ == "__main__":
    main()
