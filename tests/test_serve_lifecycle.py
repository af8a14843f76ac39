"""`snac serve` over time (serve/server.py, and the timeouts of serve/app.py and serve/streams.py): a
request past --timeout gets 504, or, once its audio has started to stream, a dropped connection; a stream
silent past it is closed; SIGTERM drains the server, refusing new work with 503 while the work in flight
finishes."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from snac_cli.serve.outcomes import Left
from snac_cli.serve.service import Service
from snac_cli.settings import ServeSettings
from tests.helpers.cli import invoke
from tests.helpers.serving import request, serve_process, server


def test_a_request_past_the_timeout_gets_504(model, wav):
    snac = snac_of(wav, model)
    with server(ServeSettings(models=(str(model),), device="cpu", timeout_seconds=0.001)) as port:
        for path, body in (("/v1/encode", wav.read_bytes()), ("/v1/decode?format=raw", snac)):
            status, _, answer = request(port, "POST", path, body)  # a streamed decode too, before its audio
            assert status == 504 and json.loads(answer)["code"] == "TooLong", path


def snac_of(wav: Path, model: Path) -> bytes:
    assert invoke("encode", wav, wav.with_suffix(".snac"), "-m", model).exit_code == 0
    return wav.with_suffix(".snac").read_bytes()


def test_a_streamed_decode_past_the_timeout_drops_its_connection_and_stops_its_work(model, wav, monkeypatch):
    """Once audio has gone out, a 504 cannot: the response ends unfinished (no last chunk), so that the
    client cannot take it for whole, and the job stops at its next step."""
    stopped = threading.Event()

    def endless(self, body, settings, out, *, raw, gone=None):  # audio at once, then work without end
        out.write(b"\0\0" * 1000)
        while not gone.is_set():
            time.sleep(0.01)
        stopped.set()
        raise Left("the client left")

    monkeypatch.setattr(Service, "decode_to", endless)
    with server(ServeSettings(models=(str(model),), device="cpu", timeout_seconds=1.0)) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("POST", "/v1/decode?format=raw", body=snac_of(wav, model))
        response = connection.getresponse()
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
        assert len(cut.value.partial) == 2000
        assert stopped.wait(10)
        assert request(port, "GET", "/healthz")[0] == 200  # and the server serves on


@pytest.mark.parametrize(
    "messages, reason",
    [
        (0, "no tokens for --idle-timeout 0.5 s"),
        (40, "no tokens for --idle-timeout 0.5 s"),  # messages without tokens keep no stream alive
    ],
)
def test_a_stream_silent_past_the_idle_timeout_is_closed_with_a_reason(model, messages, reason):
    settings = ServeSettings(models=(str(model),), device="cpu", idle_seconds=0.5, timeout_seconds=60)
    with server(settings) as port:
        start = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed, connect(f"ws://127.0.0.1:{port}/v1/decode/stream") as ws:
            for _ in range(messages):
                ws.send(json.dumps({"tokens": []}))
                time.sleep(0.05)
            ws.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert reason in closed.value.rcvd.reason and time.monotonic() - start < 10
        deadline = time.monotonic() + 5  # its place freed, once the server has seen the stream end
        while json.loads(request(port, "GET", "/healthz")[2])["streams"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_a_stream_that_keeps_talking_is_closed_past_the_timeout(model):
    settings = ServeSettings(models=(str(model),), device="cpu", idle_seconds=5, timeout_seconds=1.5)
    with server(settings) as port:
        start = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed, connect(f"ws://127.0.0.1:{port}/v1/decode/stream") as ws:
            while time.monotonic() - start < 30:
                ws.send(json.dumps({"tokens": list(range(7))}))
                time.sleep(0.1)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert "took over --timeout 1.5 s" in closed.value.rcvd.reason and time.monotonic() - start < 10


def at_work(port: int, client: Callable[[], None]) -> threading.Thread:
    """A client's request started in a thread, returned once the server says it is at work."""
    thread = threading.Thread(target=client)
    thread.start()
    while json.loads(request(port, "GET", "/healthz", token=None)[2])["working"] == 0:
        assert thread.is_alive(), "the request ended before the signal"
        time.sleep(0.01)
    return thread


def test_sigterm_lets_the_request_in_flight_finish_refuses_new_ones_then_ends_the_server(model, audio_file):
    """Graceful shutdown: a request at work when SIGTERM comes still gets its answer; meanwhile new requests
    get 503 with Retry-After, and new streams close at once with 1013; then the process ends
    with 0 and nothing on stderr but its start line."""
    import signal
    import subprocess

    long_clip = audio_file("long.wav", rate=16000, seconds=60.0).read_bytes()
    with serve_process(str(model), "--device", "cpu", stderr=subprocess.PIPE) as (process, port):
        answers: list[int] = []
        client = at_work(port, lambda: answers.append(request(port, "POST", "/v1/encode", long_clip)[0]))
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert client.is_alive(), "the request ended before new ones were tried"
        status, headers, body = request(port, "GET", "/healthz", token=None)
        assert status == 503 and headers["retry-after"] and json.loads(body)["code"] == "ShuttingDown"
        assert request(port, "POST", "/v1/encode", b"RIFF")[0] == 503
        with pytest.raises(ConnectionClosed) as closed, connect(f"ws://127.0.0.1:{port}/v1/decode/stream") as ws:
            ws.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013  # try again later
        assert "shutting down" in closed.value.rcvd.reason
        client.join(120)
        assert answers == [200]
        assert process.wait(60) == 0
        assert process.stderr is not None
        assert process.stderr.read().decode().strip().splitlines()[1:] == []


def test_a_second_sigterm_ends_the_server_at_once_and_leaves_nothing_behind(model, audio_file, tmp_path):
    """Before, a second SIGTERM with a streamed decode in flight exited 32 s later, with CancelledError
    tracebacks in the log."""
    import signal
    import subprocess
    import tempfile

    long_snac = snac_of(audio_file("long.wav", rate=16000, seconds=60.0), model)
    before = set(Path(tempfile.gettempdir()).glob("snac-serve-*"))
    with serve_process(str(model), "--device", "cpu", stderr=subprocess.PIPE) as (process, port):

        def client_request() -> None:  # a streamed decode, read slowly
            with contextlib.suppress(OSError, http.client.HTTPException):  # the server goes away under it
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("POST", "/v1/decode?format=wav", body=long_snac)
                response = connection.getresponse()
                while response.read(1000):
                    time.sleep(0.05)

        client = at_work(port, client_request)
        stream = contextlib.ExitStack()  # a stream at work too, never ended
        stream.enter_context(connect(f"ws://127.0.0.1:{port}/v1/decode/stream")).send(json.dumps({"tokens": [0] * 7}))
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert process.poll() is None, "the first signal drains"
        process.send_signal(signal.SIGTERM)
        start = time.monotonic()
        assert process.wait(60) == 143 and time.monotonic() - start < 3
        assert process.stderr is not None and b"Traceback" not in process.stderr.read()
    with contextlib.suppress(Exception):
        stream.close()
    client.join(60)
    assert set(Path(tempfile.gettempdir()).glob("snac-serve-*")) <= before
