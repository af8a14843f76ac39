"""Load and fault test of `snac serve`, on loopback only and bounded in time: a real server process, then
32 concurrent clients mixing encode, decode and WebSocket token streams for a fixed time, then a fault
phase beside well-behaved clients.

    uv run python -m benchmarks.serve_load --model 24khz --clients 32 --seconds 30 --fault-seconds 15
    uv run python -m benchmarks.serve_load --model 24khz --abuse-seconds 10

With --abuse-seconds, the abuse phase alone (benchmarks/serve_attacks.py): each attack of issue 18 in turn
against a server with --workers 2 --timeout 5 --idle-timeout 2, beside one well-behaved client.

Load phase: throughput (audio seconds per second, each request's audio counted once), latency p50 / p95 /
p99 per kind, time from a stream's first tokens to its first audio, errors (any status but 200, any stream
not ending with its done message), and the server's resident memory before and after. Fault phase, for the
same length of time: clients that drop a stream halfway, send garbage, send bodies over the limit, and open
connections (HTTP and WebSocket) that stay silent; beside them, well-behaved clients whose errors must stay
at 0. Memory after the faults is compared with memory before them. Random weights in the official layout.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from websockets.sync.client import connect

from benchmarks.common import parser
from benchmarks.serve_attacks import Target, abuse
from tests.helpers.checkpoints import OFFICIAL, make_checkpoint
from tests.helpers.serving import serve_process
from tests.helpers.signals import speech_like

CLIP_SECONDS = 2.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("POST", path, body=body)
    response = connection.getresponse()
    return response.status, response.read()


def stream(port: int, tokens: list[int], drop_at: int | None = None) -> tuple[bool, float | None]:
    """Send a token stream a frame (7 tokens) per message; (ended with its done message, first audio after s)."""
    first, start = None, time.perf_counter()
    with connect(f"ws://127.0.0.1:{port}/v1/decode/stream", open_timeout=60) as ws:
        for i in range(0, len(tokens), 7):
            if drop_at is not None and i >= drop_at:
                ws.socket.close()  # gone without a close frame
                return True, first
            ws.send(json.dumps({"tokens": tokens[i : i + 7]}))
            with contextlib.suppress(TimeoutError):
                while isinstance(message := ws.recv(timeout=0), bytes):
                    first = first if first is not None else time.perf_counter() - start
        ws.send(json.dumps({"end": True}))
        while isinstance(message := ws.recv(timeout=300), bytes):
            first = first if first is not None else time.perf_counter() - start
        return json.loads(message).get("done") is True, first


class Clients:
    """Well-behaved clients, each looping over encode, decode and stream requests until told to stop."""

    def __init__(self, port: int, wav: bytes, snac: bytes, tokens: list[int]):
        self.port, self.wav, self.snac, self.tokens = port, wav, snac, tokens
        self.latency: dict[str, list[float]] = {"encode": [], "decode": [], "stream": []}
        self.first_audio: list[float] = []
        self.errors: list[str] = []
        self.audio_seconds = 0.0
        self.stop = threading.Event()

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            kind = rng.choice(("encode", "decode", "stream"))
            start = time.perf_counter()
            try:
                if kind == "stream":
                    ok, first = stream(self.port, self.tokens)
                    if first is not None:
                        self.first_audio.append(first)
                    status = 200 if ok else 0
                else:
                    status, _ = post(self.port, "/v1/encode" if kind == "encode" else "/v1/decode",
                                     self.wav if kind == "encode" else self.snac)  # fmt: skip
            except Exception as e:  # counted, never raised: the test goes on
                self.errors.append(f"{kind}: {type(e).__name__}: {e}")
                continue
            if status != 200:
                self.errors.append(f"{kind}: status {status}")
                continue
            self.latency[kind].append(time.perf_counter() - start)
            self.audio_seconds += CLIP_SECONDS

    def phase(self, clients: int, seconds: float) -> float:
        """Run `clients` threads for `seconds` (then let the requests in flight finish); returns the wall time."""
        self.stop.clear()
        threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        self.stop.set()
        for thread in threads:
            thread.join(600)
        return time.perf_counter() - start


def faults(port: int, wav: bytes, tokens: list[int], limit_mb: float, stop: threading.Event) -> dict[str, int]:
    """Misbehaving clients until `stop`: each kind counted by how often it was done and answered as it should."""
    done = {"dropped streams": 0, "garbage": 0, "oversized": 0, "silent sockets": 0}
    silent: list[socket.socket] = []
    rng = random.Random(7)
    while not stop.is_set():
        kind = rng.choice(list(done))
        with contextlib.suppress(Exception):
            if kind == "dropped streams":
                stream(port, tokens, drop_at=rng.randrange(7, len(tokens), 7))
                done[kind] += 1
            elif kind == "garbage":
                status, body = post(port, rng.choice(("/v1/decode", "/v1/encode")), os.urandom(rng.randrange(1, 5000)))
                done[kind] += status in (400, 404, 413, 422) and b'"error"' in body
            elif kind == "oversized":
                status, _ = post(port, "/v1/encode", wav * (int(limit_mb * (1 << 20)) // len(wav) + 1))
                done[kind] += status == 413
            else:  # a TCP connection that says nothing, and a WebSocket that never sends
                silent.append(socket.create_connection(("127.0.0.1", port)))
                ws = connect(f"ws://127.0.0.1:{port}/v1/decode/stream", open_timeout=60)
                silent.append(ws.socket)
                done[kind] += 1
        time.sleep(0.05)
    for s in silent:
        with contextlib.suppress(OSError):
            s.close()
    return done


def quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    q = np.percentile(values, [50, 95, 99]) * 1000
    return f"{q[0]:.0f} / {q[1]:.0f} / {q[2]:.0f}"


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--model", default="24khz", choices=list(OFFICIAL))
    cli.add_argument("--clients", type=int, default=32)
    cli.add_argument("--seconds", type=float, default=30.0)
    cli.add_argument("--fault-seconds", type=float, default=15.0)
    cli.add_argument("--max-batch", type=int, default=1, help="the server's --max-batch")
    cli.add_argument("--max-wait-ms", type=float, default=10.0, help="the server's --max-wait-ms")
    cli.add_argument("--abuse-seconds", type=float, default=0.0, help="run the abuse phase alone, each attack so long")
    args = cli.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_checkpoint(Path(tmp) / args.model, OFFICIAL[args.model])
        rate = OFFICIAL[args.model]["sampling_rate"]
        wav_path = Path(tmp) / "clip.wav"
        sf.write(wav_path, speech_like(rate, int(CLIP_SECONDS * rate)), rate)
        snac = Path(tmp) / "clip.snac"
        run = [sys.executable, "-m", "snac_cli"]
        subprocess.run([*run, "encode", wav_path, snac, "-m", folder, "-q"], check=True)
        subprocess.run([*run, "export", snac, "--format", "npy"], check=True)
        tokens = [int(t) for t in np.load(snac.with_suffix(".npy"))[0]]
        limit_mb = 1.0
        log = Path(tmp) / "server.log"
        if args.abuse_seconds:
            long_wav = Path(tmp) / "long.wav"
            sf.write(long_wav, speech_like(rate, 120 * rate), rate)
            subprocess.run([*run, "encode", long_wav, long_wav.with_suffix(".snac"), "-m", folder, "-q"], check=True)
            options = ("--workers", "2", "--timeout", "5", "--idle-timeout", "2", "--max-body-mb", "64")
            with log.open("wb") as log_file, serve_process(str(folder), *options, stderr=log_file) as (server, port):
                long_snac = long_wav.with_suffix(".snac").read_bytes()
                target = Target(port, wav_path.read_bytes(), long_wav.read_bytes(), long_snac, tokens)
                abuse(target, server.pid, args.abuse_seconds, 2, log)
                alive = server.poll() is None and post(port, "/v1/encode", wav_path.read_bytes())[0] == 200
                print(
                    f"\nserver still serving after the attacks: {alive}; tracebacks in its log: "
                    f"{log.read_text(errors='replace').count('Traceback')}"
                )
            return
        options = ("--max-queue", "1000", "--max-streams", "1000", "--max-body-mb", str(limit_mb),
                   "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms))  # fmt: skip
        with log.open("wb") as log_file, serve_process(str(folder), *options, stderr=log_file) as (server, port):
            Clients(port, wav_path.read_bytes(), snac.read_bytes(), tokens).phase(2, 3)  # warm-up
            clients = Clients(port, wav_path.read_bytes(), snac.read_bytes(), tokens)
            before = rss_mb(server.pid)
            wall = clients.phase(args.clients, args.seconds)
            after = rss_mb(server.pid)
            print(f"torch threads per server: default; {args.clients} clients for {args.seconds:g} s, "
                  f"{args.model}, {CLIP_SECONDS:g} s clips, --max-batch {args.max_batch} "
                  f"--max-wait-ms {args.max_wait_ms:g}\n")  # fmt: skip
            print(
                "| phase | requests | audio s per s | encode ms p50/p95/p99 | decode ms p50/p95/p99 | "
                "stream ms p50/p95/p99 | first audio ms p50/p95/p99 | errors | RSS MB before -> after |"
            )
            print("|---|---|---|---|---|---|---|---|---|")
            count = sum(len(v) for v in clients.latency.values())
            print(
                f"| load | {count} | {clients.audio_seconds / wall:.2f} | {quantiles(clients.latency['encode'])} | "
                f"{quantiles(clients.latency['decode'])} | {quantiles(clients.latency['stream'])} | "
                f"{quantiles(clients.first_audio)} | {len(clients.errors)} | {before:.0f} -> {after:.0f} |"
            )
            good = Clients(port, clients.wav, clients.snac, tokens)
            stop = threading.Event()
            result: dict[str, dict[str, int]] = {}
            bad = threading.Thread(target=lambda: result.update(f=faults(port, clients.wav, tokens, limit_mb, stop)))
            bad.start()
            wall = good.phase(max(1, args.clients // 4), args.fault_seconds)
            stop.set()
            bad.join(600)
            time.sleep(2)
            settled = rss_mb(server.pid)
            count = sum(len(v) for v in good.latency.values())
            print(
                f"| faults (beside {max(1, args.clients // 4)} good clients) | {count} | "
                f"{good.audio_seconds / wall:.2f} | {quantiles(good.latency['encode'])} | "
                f"{quantiles(good.latency['decode'])} | {quantiles(good.latency['stream'])} | "
                f"{quantiles(good.first_audio)} | {len(good.errors)} | {after:.0f} -> {settled:.0f} |"
            )
            errors = clients.errors[:3] + good.errors[:3]
            print(
                f"\nfaults answered as they should: {result.get('f')}; memory after them "
                f"{100 * (settled - after) / after:+.1f} % of before them; errors: {errors}"
            )
            alive = server.poll() is None and post(port, "/v1/encode", clients.wav)[0] == 200
            print(f"server still serving after the faults: {alive}")
        lines = log.read_text(errors="replace").splitlines()
        print(f"server exit code {server.returncode}; its stderr ends:", *lines[-8:], sep="\n  ")


if __name__ == "__main__":
    main()
