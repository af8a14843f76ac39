"""Tokenizing a dataset table: `snac encode DATA OUT.parquet` against the Orpheus TTS data-preparation script.

    uv run python -m benchmarks.dataset --clips 500 --repeats 1 --jobs 1 2

Builds a Parquet table in the Hugging Face `datasets` Audio layout (`audio` = {bytes: a whole WAV or FLAC
file, path}, `text`, `speaker`, `id`) of speech-like clips of 1 to 10 s (seeded) at 16 / 22.05 / 24 / 44.1 /
48 kHz, one in ten of them stereo, and a checkpoint of the official 24 kHz configuration (random weights:
speed does not depend on them). Then times, each as one whole process (start-up, model load, reading the
table and writing the result included), in turn (canonical, ours, ours, canonical, ...), medians:

- canonical: benchmarks/orpheus_prep.py, the widely copied Orpheus script with the reference SNAC 1.2.1:
  one clip at a time, decode, mix to mono, resample to 24 kHz (soxr HQ: the very input `snac` codes),
  `model.encode`, the 7 tokens of each frame built in Python with `.item()`, a Parquet written at the end;
- ours: `snac encode DATA OUT.parquet --normalize none --offsets position --base 128266` (per `--jobs`).

Checks that every row's codes and tokens are the same on both sides. Until `snac encode` writes tables,
the `ours` rows are skipped with a message. A quick check: `--clips 20`.
"""

from __future__ import annotations

import io
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
RATES = [16000, 22050, 24000, 44100, 48000]
BASE = 128266
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
WORDS = "the a quick brown fox jumps over lazy dog speech codec token model table row voice clip".split()
FEATURES = {  # the schema metadata `datasets` writes, so that `audio` loads as an Audio feature
    "audio": {"_type": "Audio"},
    "text": {"dtype": "string", "_type": "Value"},
    "speaker": {"dtype": "string", "_type": "Value"},
    "id": {"dtype": "int64", "_type": "Value"},
}


def make_table(path: Path, count: int) -> float:
    """`count` rows of speech-like clips in the datasets Audio layout at `path`; returns the audio's seconds."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import soundfile as sf

    from tests.helpers.signals import speech_like

    rng = np.random.default_rng(0)
    audio, text, speaker, total = [], [], [], 0.0
    for i in range(count):
        rate, seconds, kind = int(rng.choice(RATES)), rng.uniform(1.0, 10.0), ["WAV", "FLAC"][i % 2]
        n = int(seconds * rate)
        x = speech_like(rate, n, seed=i)
        if i % 10 == 9:  # stereo: the two sides mix it to mono
            x = np.stack([x, 0.8 * speech_like(rate, n, seed=count + i)], axis=1)
        data = io.BytesIO()
        sf.write(data, x, rate, format=kind, subtype="PCM_16")
        audio.append({"bytes": data.getvalue(), "path": f"clip{i:05d}.{kind.lower()}"})
        text.append(" ".join(rng.choice(WORDS, size=int(rng.integers(3, 12)))))
        speaker.append(f"speaker{int(rng.integers(8)):02d}")
        total += n / rate
    schema = pa.schema(
        [
            ("audio", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            ("text", pa.string()),
            ("speaker", pa.string()),
            ("id", pa.int64()),
        ],
        metadata={"huggingface": json.dumps({"info": {"features": FEATURES}})},
    )
    rows = pa.table([audio, text, speaker, list(range(count))], schema=schema)
    pq.write_table(rows, path, row_group_size=100)
    return total


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=ROOT)
    return time.perf_counter() - start, done


def canonical(data: Path, model: Path, out: Path) -> list[str]:
    return [sys.executable, str(ROOT / "benchmarks" / "orpheus_prep.py"), str(data), str(model), str(out)]


def ours(data: Path, model: Path, out: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "snac_cli", "encode", str(data), str(out), "--model", str(model),
            "--normalize", "none", "--offsets", "position", "--base", str(BASE),
            "--jobs", str(jobs), "--quiet"]  # fmt: skip


def tables_supported() -> str | None:
    """None when `snac encode` writes tables; otherwise why the `ours` rows are skipped."""
    _, done = timed([sys.executable, "-m", "snac_cli", "encode", "--help"])
    if done.returncode != 0:
        return f"`snac encode --help` failed (exit {done.returncode}): {done.stderr.strip()[-500:]}"
    if "--audio-column" not in done.stdout:
        return "`snac encode` does not take tables yet (its --help has no --audio-column)"
    return None


def compare(canonical_out: Path, ours_out: Path) -> tuple[int, int, list[str]]:
    """(rows with identical codes and tokens, rows, the first differences) between the two outputs."""
    import pyarrow.parquet as pq

    reference = pq.read_table(canonical_out).to_pylist()
    mine = pq.read_table(ours_out).to_pylist()
    notes = [] if len(mine) == len(reference) else [f"{len(mine)} rows from ours, {len(reference)} canonical"]
    same = 0
    for i, (a, b) in enumerate(zip(reference, mine, strict=False)):
        problems = []
        if b.get("error") is not None:
            problems.append(f"error {b['error']!r}")
        if "id" in b and b["id"] != a["id"]:
            problems.append(f"id {b['id']} where canonical has {a['id']}")
        for k in range(3):
            if [a[f"codes_{k}"]] != b[f"codes_{k}"]:
                problems.append(f"codes_{k} differ")
        if [a["tokens"]] != b["tokens"]:
            problems.append("tokens differ")
        if a["tokens"] is None:
            problems.append("the canonical script skipped it")
        same += not problems
        if problems and len(notes) < 5:
            notes.append(f"row {i}: " + ", ".join(problems))
    return same, len(reference), notes


def main() -> None:
    arguments = parser(__doc__, repeats=1)
    arguments.add_argument("--clips", type=int, default=500)
    arguments.add_argument("--jobs", type=int, nargs="+", default=[1], help="an `ours` row per value")
    args = arguments.parse_args()
    import torch

    from tests.helpers.checkpoints import OFFICIAL, make_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data, model = work / "data.parquet", make_checkpoint(work / "snac_24khz", OFFICIAL["24khz"])
        print(f"Building the table ({args.clips} clips) ...", file=sys.stderr, flush=True)
        total = make_table(data, args.clips)
        skipped = tables_supported()
        if skipped:
            print(f"ours: skipped: {skipped}", file=sys.stderr)
        sides = {"canonical (Orpheus script, snac 1.2.1)": lambda out: canonical(data, model, out)}
        if not skipped:
            for jobs in args.jobs:
                sides[f"ours, snac encode --jobs {jobs}"] = lambda out, jobs=jobs: ours(data, model, out, jobs)
        # One import of everything first, so that the first side timed does not pay alone for cold disk caches.
        subprocess.run([sys.executable, "-c", "import torch, snac, snac_cli, pyarrow, soxr"], env=ENV, cwd=ROOT)
        times: dict[str, list[float]] = {name: [] for name in sides}
        outputs: dict[str, Path] = {}
        for round in range(args.repeats):
            names = list(sides) if round % 2 == 0 else list(sides)[::-1]
            for name in names:
                out = work / f"out-{len(outputs)}-{round}.parquet"
                print(f"run {round + 1}/{args.repeats}: {name} ...", file=sys.stderr, flush=True)
                took, done = timed(sides[name](out))
                if done.returncode != 0 and name.startswith("ours"):
                    print(f"ours: skipped: `snac encode` exited {done.returncode}: {done.stderr.strip()[-800:]}",
                          file=sys.stderr)  # fmt: skip
                    del sides[name], times[name]
                    continue
                if done.returncode != 0:
                    sys.exit(f"the canonical script failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
                times[name].append(took)
                outputs[name] = out
        print(f"{args.clips} clips, {total:.0f} s of audio ({total / 3600:.2f} h), mixed rates {RATES}, 24 kHz model")
        print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads")
        print(f"wall seconds: median of {args.repeats} whole process(es) per side, sides in turn\n")
        table("side", "wall s", "clips / s", "audio h / h", "ours / canonical (speed)")
        first = next(iter(times))
        for name, values in times.items():
            wall = statistics.median(values)
            ratio = statistics.median(times[first]) / wall
            print(f"| {name} | {wall:.1f} | {args.clips / wall:.2f} | {total / wall:.1f} | {ratio:.2f}x |")
        if skipped or len(times) == 1:
            print("\nours: not run (see above)")
        for name in list(times)[1:]:
            same, rows, notes = compare(outputs[first], outputs[name])
            print(f"\n{name}: {same} of {rows} rows with identical codes and tokens")
            for note in notes:
                print(f"- {note}")


if __name__ == "__main__":
    main()
