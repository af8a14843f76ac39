"""A request's life in `snac serve` (serve/requests.py): admitted before its body is read; its body spooled
to disk past a small size; its work stopped at the next inference window once its time is up or its client
has left, batched or not; slow and silent clients dropped; no client's work on the event loop."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from snac_cli.serve import batcher as batcher_module
from snac_cli.serve.outcomes import Left
from snac_cli.serve.requests import SPOOL_BYTES
from snac_cli.serve.service import Service
from snac_cli.settings import ServeSettings
from tests.helpers.cli import invoke
from tests.helpers.serving import request, server


def working(port: int) -> int:
    return json.loads(request(port, "GET", "/healthz")[2])["working"]


def endless(stopped: threading.Event, started: threading.Event | None = None):
    """A job that works until its `gone` is set, as the library's work stops at its next window."""

    def job(*args, **kwargs):
        gone = kwargs.get("gone") or next(a for a in args if isinstance(a, threading.Event))
        if started is not None:
            started.set()
        while not gone.is_set():
            time.sleep(0.01)
        stopped.set()
        raise Left("the client left")

    return job


def clips_until_gone(stopped: threading.Event):
    """encode_clips as the batcher calls it, working until its progress says every client is gone."""

    def clips(bodies, settings, *, model, names, progress):
        with progress("encoding", None, "clips") as advance:
            try:
                while True:
                    advance(0)
                    time.sleep(0.01)
            finally:
                stopped.set()

    return clips


def raw_request(port: int, head: bytes) -> socket.socket:
    """A connection that has sent `head` (a request line and headers, maybe part of a body), and no more."""
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(head)
    return connection


ENDPOINTS = [("/v1/encode", "encode"), ("/v1/roundtrip", "roundtrip"), ("/v1/decode?format=flac", "decode")]


@pytest.mark.parametrize(("path", "job"), ENDPOINTS)
def test_work_past_the_timeout_stops_and_frees_its_place(model, wav, monkeypatch, path, job):
    """A 504 also stops the work (before, a 60 s encode ran on 75 s after its 504, and the next request got
    504 behind it); its queue place comes back once the work has stopped, not before."""
    stopped = threading.Event()
    monkeypatch.setattr(Service, job, endless(stopped))
    with server(ServeSettings(models=(str(model),), device="cpu", workers=1, timeout_seconds=1.0)) as port:
        status, _, answer = request(port, "POST", path, wav.read_bytes())
        assert status == 504 and json.loads(answer)["code"] == "TooLong"
        assert stopped.wait(5), "the work went on after its 504"
        deadline = time.monotonic() + 5
        while working(port):
            assert time.monotonic() < deadline
            time.sleep(0.01)


@pytest.mark.parametrize("ending", ["leaves", "times out"])
def test_a_batched_encode_stops_once_every_client_in_it_is_gone(model, wav, monkeypatch, ending):
    """With --max-batch > 1 too (before, a client that left cost 25 s more of CPU, recorded as a 200)."""
    stopped = threading.Event()
    monkeypatch.setattr(batcher_module, "encode_clips", clips_until_gone(stopped))
    timeout = 1.0 if ending == "times out" else 60.0
    settings = ServeSettings(models=(str(model),), device="cpu", max_batch=4, max_wait_ms=10, timeout_seconds=timeout)
    with server(settings) as port:
        if ending == "times out":
            assert request(port, "POST", "/v1/encode", wav.read_bytes())[0] == 504
        else:
            body = wav.read_bytes()
            head = b"POST /v1/encode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body)
            with raw_request(port, head + body):
                while working(port) == 0:
                    time.sleep(0.01)
                time.sleep(0.2)
        assert stopped.wait(5), "the batch went on without any client"


def test_a_request_past_the_queue_is_refused_before_its_body_is_read(model, wav, monkeypatch):
    """503 comes before the body is sent (before, 16 clients each holding a 60 MB upload were all read)."""
    stopped, started = threading.Event(), threading.Event()
    monkeypatch.setattr(Service, "encode", endless(stopped, started))
    with server(ServeSettings(models=(str(model),), device="cpu", max_queue=1, timeout_seconds=5)) as port:
        held = threading.Thread(target=lambda: request(port, "POST", "/v1/encode", wav.read_bytes()))
        held.start()
        assert started.wait(30)
        head = b"POST /v1/encode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000000\r\n\r\n"
        with raw_request(port, head) as waiting:
            waiting.settimeout(5)
            answer = waiting.recv(4096)  # no byte of the body sent
        assert answer.startswith(b"HTTP/1.1 503"), answer[:80]
        held.join(60)


def test_a_large_body_is_spooled_to_disk_as_it_arrives(model, monkeypatch, wav):
    """Memory holds at most the first MiB of each admitted body: the rest is on disk."""
    seen: list[bool] = []

    def encode(self, body, settings, model, gone=None):
        seen.append(body._rolled)  # SpooledTemporaryFile: on disk
        raise Left("enough")

    monkeypatch.setattr(Service, "encode", encode)
    with server(ServeSettings(models=(str(model),), device="cpu")) as port:
        request(port, "POST", "/v1/encode", b"\0" * (SPOOL_BYTES // 2))
        request(port, "POST", "/v1/encode", b"\0" * (SPOOL_BYTES * 3))
    assert seen == [False, True]


@pytest.mark.parametrize(
    "head",
    [
        b"",  # an idle connection
        b"POST /v1/encode HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers that never end
        b"POST /v1/encode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nRIFF",  # a body that stops
    ],
)
def test_a_silent_client_is_dropped_after_the_idle_timeout(model, head):
    with server(ServeSettings(models=(str(model),), device="cpu", idle_seconds=0.5)) as port:
        start = time.monotonic()
        with raw_request(port, head) as silent:
            silent.settimeout(10)
            answer = b""
            while piece := silent.recv(4096):  # until the server closes the connection
                answer += piece
        assert time.monotonic() - start < 5
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:80]


def test_a_trickling_body_is_refused(model):
    """A byte at a time is never silent for long, but comes slower than a MiB per --idle-timeout."""
    with server(ServeSettings(models=(str(model),), device="cpu", idle_seconds=0.5)) as port:
        head = b"POST /v1/encode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
        start = time.monotonic()
        with raw_request(port, head) as slow:
            slow.settimeout(0.05)
            answer = b""
            while not answer and time.monotonic() - start < 10:
                try:
                    slow.sendall(b"x")
                    answer = slow.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
        assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - start < 5, answer[:80]


def test_past_max_connections_a_request_gets_503(model):
    with server(ServeSettings(models=(str(model),), device="cpu", max_connections=4)) as port:
        idle = [raw_request(port, b"") for _ in range(4)]
        time.sleep(0.2)
        status, _, _ = request(port, "GET", "/healthz")
        for connection in idle:
            connection.close()
        assert status == 503
        time.sleep(0.2)
        assert request(port, "GET", "/healthz")[0] == 200


def test_json_tokens_are_parsed_on_a_worker_under_the_timeout(model, wav, tmp_path, monkeypatch):
    """Not on the event loop (before, 14 MB of JSON tokens stalled every other client for 43 s)."""
    threads: list[str] = []
    parse = Service.snac_of_tokens

    def recorded(self, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(Service, "snac_of_tokens", recorded)
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", model).exit_code == 0
    assert invoke("export", tmp_path / "a.snac", "--format", "jsonl").exit_code == 0
    body = json.dumps({"tokens": json.loads((tmp_path / "a.jsonl").read_text())["tokens"]}).encode()
    with server(ServeSettings(models=(str(model),), device="cpu")) as port:
        for path in ("/v1/decode?format=raw", "/v1/decode?format=flac"):
            status, _, _ = request(port, "POST", path, body, **{"Content-Type": "application/json"})
            assert status == 200
    assert len(threads) == 2 and all(name.startswith("snac-worker") for name in threads), threads


def test_a_job_whose_client_left_while_it_waited_for_a_worker_never_runs(model, wav, monkeypatch):
    """Before, each leaver's queued job ran a whole inference window once a worker took it: 33 clients that
    left at once kept the queue full for 8 s."""
    runs: list[int] = []
    stopped, started = threading.Event(), threading.Event()
    hold = endless(stopped, started)

    def encode(self, body, settings, model, gone=None):
        runs.append(1)
        return hold(gone=gone)

    monkeypatch.setattr(Service, "encode", encode)
    body = wav.read_bytes()
    head = b"POST /v1/encode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body)
    with server(ServeSettings(models=(str(model),), device="cpu", workers=1)) as port:
        first = raw_request(port, head + body)  # holds the only worker
        assert started.wait(30)
        with raw_request(port, head + body):  # waits for the worker, then leaves
            while working(port) < 2:
                time.sleep(0.01)
        time.sleep(0.5)  # its leaving is seen
        first.close()
        deadline = time.monotonic() + 10
        while working(port):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        metrics = request(port, "GET", "/metrics")[2].decode().splitlines()
    assert runs == [1]
    assert 'snac_requests_total{endpoint="/v1/encode",status="499"} 2' in metrics  # left: not a 400
    assert 'snac_errors_total{endpoint="/v1/encode"} 0' in metrics
