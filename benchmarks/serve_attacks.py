"""The abuse phase of benchmarks/serve_load.py: each attack of a hostile day (issue 18) against a real `snac
serve` on loopback, one at a time and bounded in time, beside one well-behaved client. For each: the server's
resident memory before, at peak and after; the well-behaved client's median latency beside it against its
latency alone; what went wrong (5xx answers, 1011 closes, tracebacks in the server's log)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

from websockets.sync.client import connect


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(port: int, path: str, body: bytes, timeout: float = 120, **headers: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


class Target:
    """What the attacks are aimed with: the server's port, a clip, a long clip and its `.snac`, tokens."""

    def __init__(self, port: int, wav: bytes, long_wav: bytes, long_snac: bytes, tokens: list[int]):
        self.port, self.wav, self.long_wav, self.long_snac, self.tokens = port, wav, long_wav, long_snac, tokens
        self.bad: list[str] = []  # 5xx answers and 1011 closes the attackers saw

    def status(self, status: int, what: str) -> None:
        if status >= 500 and status not in (503, 504):
            self.bad.append(f"{what}: {status}")


def long_work(t: Target, stop: threading.Event) -> None:
    """Encodes far past --timeout (each gets 504; its work must stop within a window)."""
    while not stop.is_set():
        with contextlib.suppress(OSError):
            t.status(post(t.port, "/v1/encode?normalize=none", t.long_wav), "long work")


def huge_messages(t: Target, stop: threading.Event) -> None:
    """WebSocket messages at the token limit, as fast as they are answered."""
    run = (t.tokens * (4096 // len(t.tokens) + 1))[: 4096 // 7 * 7]
    while not stop.is_set():
        with contextlib.suppress(Exception), connect(f"ws://127.0.0.1:{t.port}/v1/decode/stream") as ws:
            for _ in range(3):
                ws.send(json.dumps({"tokens": run}))
            ws.send(json.dumps({"end": True}))
            while isinstance(message := ws.recv(timeout=120), bytes):
                pass
            if "done" not in message:
                t.bad.append(f"huge messages: {message[:60]}")


def held_uploads(t: Target, stop: threading.Event) -> None:
    """16 clients at once, each sending a 60 MB body (past --max-queue they must be refused unread)."""
    body = b"\0" * (60 << 20)

    def one() -> None:
        with contextlib.suppress(OSError):
            t.status(post(t.port, "/v1/encode", body), "held uploads")

    while not stop.is_set():
        clients = [threading.Thread(target=one) for _ in range(16)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(120)


def slow_clients(t: Target, stop: threading.Event) -> None:
    """200 connections: half send headers a byte a second, half say nothing at all."""
    sockets = []
    for i in range(200):
        with contextlib.suppress(OSError):
            s = socket.create_connection(("127.0.0.1", t.port))
            s.setblocking(False)
            sockets.append((s, i % 2 == 0))
    head = b"POST /v1/encode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n"
    at = 0
    while not stop.is_set():
        for s, talks in sockets:
            with contextlib.suppress(OSError):
                if talks:
                    s.send(head[at % len(head) : at % len(head) + 1])
        at += 1
        stop.wait(1)
    for s, _ in sockets:
        s.close()


def json_tokens(t: Target, stop: threading.Event) -> None:
    """14 MB of JSON tokens to /v1/decode (7 M tokens: parsed on a worker, under --timeout)."""
    run = (t.tokens * (7_000_000 // len(t.tokens) + 1))[: 7_000_000 // 7 * 7]
    body = json.dumps({"tokens": run}).encode()
    while not stop.is_set():
        with contextlib.suppress(OSError):
            t.status(post(t.port, "/v1/decode?format=flac", body, **{"Content-Type": "application/json"}), "json")


def silent_streams(t: Target, stop: threading.Event) -> None:
    """32 WebSockets that send only empty messages (they must be closed at --idle-timeout)."""
    while not stop.is_set():
        streams = []
        for _ in range(32):
            with contextlib.suppress(Exception):
                streams.append(connect(f"ws://127.0.0.1:{t.port}/v1/decode/stream"))
        for _ in range(20):
            for ws in streams:
                with contextlib.suppress(Exception):
                    ws.send(json.dumps({"tokens": []}))
            if stop.wait(0.5):
                break
        for ws in streams:
            ws.close()


def rebinding(t: Target, stop: threading.Event) -> None:
    """Another site's page: Host attacker.example, Origin of another site (each must be 403)."""
    while not stop.is_set():
        for headers in ({"Host": "attacker.example"}, {"Origin": "http://attacker.example"}):
            with contextlib.suppress(OSError):
                status = post(t.port, "/v1/encode", t.wav, **headers)
                if status != 403:
                    t.bad.append(f"rebinding: {status}")


def malformed(t: Target, stop: threading.Event) -> None:
    """100,000 nested brackets as JSON tokens, and binary WebSocket frames (400/422 and 1007, never 500/1011)."""
    while not stop.is_set():
        with contextlib.suppress(OSError):
            t.status(post(t.port, "/v1/decode", b"[" * 100_000, **{"Content-Type": "application/json"}), "nested")
        with contextlib.suppress(Exception), connect(f"ws://127.0.0.1:{t.port}/v1/decode/stream") as ws:
            ws.send(b"\x00\x01")
            ws.recv(timeout=30)
        if ws.close_code == 1011:
            t.bad.append("binary frame: 1011")


def leavers(t: Target, stop: threading.Event) -> None:
    """Clients that send a long encode and leave at once (their work must stop within a window)."""
    head = b"POST /v1/encode?normalize=none HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
    while not stop.is_set():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", t.port)) as rude:
            rude.sendall(head % len(t.long_wav) + t.long_wav)
            stop.wait(0.3)


ATTACKS: dict[str, Callable[[Target, threading.Event], None]] = {
    "1 work past --timeout": long_work,
    "2 messages at the token limit": huge_messages,
    "3 16 x 60 MB uploads": held_uploads,
    "4 200 slow and idle connections": slow_clients,
    "5 14 MB of JSON tokens": json_tokens,
    "6 32 silent streams": silent_streams,
    "7 rebinding Host / Origin": rebinding,
    "8 malformed JSON and frames": malformed,
    "10 clients leaving mid-encode": leavers,
}


def good_latency(t: Target, stop: threading.Event, seconds: list[float]) -> None:
    """A well-behaved client: small encodes one after another, their latency recorded."""
    while not stop.is_set():
        start = time.perf_counter()
        try:
            status = post(t.port, "/v1/encode", t.wav)
        except OSError as e:
            t.bad.append(f"good client: {e}")
            continue
        if status != 200:
            t.bad.append(f"good client: {status}")
        seconds.append(time.perf_counter() - start)


def measure(t: Target, pid: int, attack: Callable[[Target, threading.Event], None] | None, seconds: float) -> dict:
    """Run an attack (None: none) beside the good client for `seconds`; memory and latency."""
    before, peak, latency = rss_mb(pid), 0.0, []
    stop = threading.Event()
    threads = [threading.Thread(target=good_latency, args=(t, stop, latency))]
    if attack is not None:
        threads.append(threading.Thread(target=attack, args=(t, stop)))
    for thread in threads:
        thread.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, rss_mb(pid))
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(180)
    time.sleep(3)
    median = statistics.median(latency) if latency else float("nan")
    return {"before": before, "peak": peak, "after": rss_mb(pid), "latency": median, "requests": len(latency)}


def alone(t: Target) -> dict[str, Callable[[], None]]:
    """One request of each kind, each as large as the server lets it be: a long encode, a long decode (both
    cut at --timeout), a stream's messages at the token limit."""
    run = (t.tokens * (4096 // len(t.tokens) + 1))[: 4096 // 7 * 7]

    def stream() -> None:
        with contextlib.suppress(Exception), connect(f"ws://127.0.0.1:{t.port}/v1/decode/stream") as ws:
            for _ in range(3):  # past --timeout: closed with 1008
                ws.send(json.dumps({"tokens": run}))
            ws.send(json.dumps({"end": True}))
            while isinstance(ws.recv(timeout=120), bytes):
                pass

    tokens = json.dumps({"tokens": (t.tokens * (7_000_000 // len(t.tokens) + 1))[: 7_000_000 // 7 * 7]}).encode()
    return {
        "encode": lambda: post(t.port, "/v1/encode?normalize=none", t.long_wav) and None,
        "decode": lambda: post(t.port, "/v1/decode?format=flac", t.long_snac) and None,
        "JSON tokens": lambda: (
            post(t.port, "/v1/decode?format=flac", tokens, **{"Content-Type": "application/json"}) and None
        ),
        "stream": stream,
    }


def working_set(t: Target, pid: int) -> tuple[float, float, float]:
    """(idle RSS, the RSS once one request of every kind has run, one at a time, and one request's working
    set: the most any one of them added), in MB; prints each kind's. The first use of each kind includes
    what the process keeps (the decoder's prepared weights, the heap that the allocator keeps once grown)."""
    idle = peak = rss_mb(pid)
    most = 0.0
    for kind, request in alone(t).items():
        before, single = rss_mb(pid), threading.Thread(target=request)
        single.start()
        while single.is_alive():
            peak = max(peak, rss_mb(pid))
            time.sleep(0.02)
        most = max(most, peak - before)
        print(f"{kind} alone: {before:.0f} -> peak {peak:.0f} MB (+{peak - before:.0f})")
    return idle, peak, most


def abuse(target: Target, pid: int, seconds: float, workers: int, log: Path) -> None:
    """Each attack in turn; prints the table and the bound."""
    quiet = measure(target, pid, None, seconds)
    idle, served, one = working_set(target, pid)
    lanes = workers + 1  # the workers, and the streams' lane beside them: model work at once
    bound = idle + lanes * one * 1.1
    print(
        f"\nidle {idle:.0f} MB; {served:.0f} MB once one request of every kind has run; one request's working set "
        f"(the most one added): {one:.0f} MB; bound: {idle:.0f} + ({workers} workers + 1 stream lane) x {one:.0f} "
        f"x 1.1 = {bound:.0f} MB\n"
    )
    print("| attack | RSS MB before / peak / after | within bound | good client ms alone -> beside | ratio | errors |")
    print("|---|---|---|---|---|---|")
    for name, attack in ATTACKS.items():
        target.bad.clear()
        tracebacks = log.read_text(errors="replace").count("Traceback")
        m = measure(target, pid, attack, seconds)
        new_tracebacks = log.read_text(errors="replace").count("Traceback") - tracebacks
        errors = len(target.bad) + new_tracebacks
        within = "yes" if m["peak"] <= bound else "NO"
        print(
            f"| {name} | {m['before']:.0f} / {m['peak']:.0f} / {m['after']:.0f} | {within} "
            f"| {1000 * quiet['latency']:.0f} -> {1000 * m['latency']:.0f} | {m['latency'] / quiet['latency']:.2f} | "
            f"{errors}{' ' + '; '.join(sorted(set(target.bad))[:2]) if target.bad else ''} |"
        )
