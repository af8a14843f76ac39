"""Issue 5's scenario at full size: a folder of short clips with a corrupt one, one command, killed halfway,
then run again.

    uv run python -m benchmarks.resume --clips 200 --signal KILL

Makes the clips of `benchmarks/batch.py` plus a corrupt `broken.wav`, starts `snac encode FOLDER OUT` with
the official 24 kHz configuration (random weights), kills it once half the outputs exist (SIGKILL leaves no
chance to clean up; INT is Ctrl-C), runs the same command again and checks what the second run did. Prints
each check; exits 1 if any fails.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.batch import make_clips
from benchmarks.common import parser
from tests.helpers.checkpoints import OFFICIAL, make_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--clips", type=int, default=200)
    arguments.add_argument("--signal", choices=["KILL", "INT"], default="KILL")
    args = arguments.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "clips", Path(tmp) / "out"
        model = str(make_checkpoint(Path(tmp) / "snac_24khz", OFFICIAL["24khz"]))
        make_clips(folder, args.clips)
        (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVE but nothing after")
        command = [sys.executable, "-m", "snac_cli", "encode", str(folder), str(out), "-m", model, "-q"]

        started = time.perf_counter()
        child = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        while len(list(out.glob("*.snac"))) < args.clips // 2 and child.poll() is None:
            time.sleep(0.02)
        child.send_signal(getattr(signal, f"SIG{args.signal}"))
        child.wait()
        first = time.perf_counter() - started
        done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.snac")}
        left = len(list(out.glob(".*.part")))

        started = time.perf_counter()
        rerun = subprocess.run(command, capture_output=True, text=True)
        second = time.perf_counter() - started
        records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
        status = {Path(r["input"]).name: r["status"] for r in records}
        after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.snac")}

        print(
            f"first run: killed with SIG{args.signal} after {first:.1f} s, {len(done)} of {args.clips} outputs, "
            f"{left} partial files left"
        )
        print(f"second run: {second:.1f} s, exit code {rerun.returncode}; {rerun.stderr.strip().splitlines()[0]}\n")
        checks = {
            "the second run exits 3 (a file failed)": rerun.returncode == 3,
            f"all {args.clips} outputs exist": len(after) == args.clips,
            "outputs of the first run were not rewritten": all(after[n] == t for n, t in done.items()),
            "manifest: those outputs are 'skipped'": sum(s == "skipped" for s in status.values()) == len(done),
            "manifest: the rest are 'ok'": sum(s == "ok" for s in status.values()) == args.clips - len(done),
            "manifest: broken.wav is 'failed'": status.get("broken.wav") == "failed",
            "no partial files are left": not list(out.glob(".*.part")),
        }
        for name, passed in checks.items():
            print(f"{'ok  ' if passed else 'FAIL'} {name}")
        sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
