"""Every answer of `snac serve` that is not a result is the gate's one JSON error (serve/gate.py): query
values, unknown paths and methods, malformed bodies; its messages name query parameters, never the
server's own paths; `/metrics` counts what happened; `/openapi.json` says what a request sends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from snac_cli.settings import ServeSettings
from tests.helpers.cli import invoke
from tests.helpers.serving import request, server


@pytest.fixture(scope="module")
def port(model) -> Iterator[int]:
    with server(ServeSettings(models=(str(model),), device="cpu")) as port:
        yield port


@pytest.fixture(scope="module")
def snac_file(model, tmp_path_factory) -> bytes:
    import numpy as np
    import soundfile as sf

    folder = tmp_path_factory.mktemp("gate")
    sf.write(folder / "in.wav", (0.1 * np.sin(np.arange(16000) / 7)).astype(np.float32), 16000)
    assert invoke("encode", folder / "in.wav", folder / "in.snac", "-m", model).exit_code == 0
    return (folder / "in.snac").read_bytes()


def one_error(answer: bytes) -> dict[str, str]:
    error = json.loads(answer)
    assert set(error) == {"error", "code"} and "\n" not in error["error"] and "Traceback" not in error["error"]
    return error


@pytest.mark.parametrize(
    ("path", "named"),
    [("/v1/decode?format=mp3", "format=mp3"), ("/v1/decode?seed=-1", "seed=-1"),
     ("/v1/encode?normalize=bogus", "normalize=bogus"), ("/v1/encode?as=xml", "as=xml"),
     ("/v1/encode?base=-3", "base=-3"), ("/v1/encode?channels=all", "channels=all"),
     ("/v1/decode?sample_rate=0", "sample_rate=0"), ("/v1/encode?model=", "model"), ("/v1/decode?model=", "model"),
     ("/v1/roundtrip?model=", "model")],
)  # fmt: skip
def test_a_bad_query_value_is_a_400_that_names_it(port, path, named):
    status, _, answer = request(port, "POST", path, b"RIFF")
    error = one_error(answer)
    assert status == 400 and error["code"] == "UsageError" and named in error["error"], error


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/nowhere", 404, "NotFound"), ("GET", "/v1/encode", 405, "MethodNotAllowed")],
)
def test_unknown_paths_and_methods_get_the_json_error(port, method, path, status, code):
    got, _, answer = request(port, method, path)
    assert got == status and one_error(answer)["code"] == code


@pytest.mark.parametrize(
    ("body", "said"),
    [(b"[" * 100_000, "the request's tokens"), (b'{"tokens": []}', "there are no tokens"),
     (b'{"tokens": ' + b"[" * 5000 + b"]" * 5000 + b"}", "the request's tokens")],
)  # fmt: skip
def test_malformed_json_tokens_are_a_422(port, body, said):
    status, _, answer = request(port, "POST", "/v1/decode", body, **{"Content-Type": "application/json"})
    error = one_error(answer)
    assert status == 422 and error["code"] == "InputError" and said in error["error"], error


def test_messages_never_show_the_servers_paths_or_the_clis_options(port, snac_file):
    status, _, answer = request(port, "POST", "/v1/decode?format=ogg&sample_rate=200000", snac_file)
    error = one_error(answer)["error"]
    assert status == 400 and "snac-serve-" not in error and "/tmp" not in error and "--" not in error, error
    assert "sample_rate" in error


def test_metrics_count_streams_by_close_code_apart_from_errors(model, snac_file):
    """A stream done (1000) or left (1001) is no error; a client that left is 499, not a 400."""
    with server(ServeSettings(models=(str(model),), device="cpu")) as port:
        url = f"ws://127.0.0.1:{port}/v1/decode/stream"
        with connect(url) as ws:
            ws.send(json.dumps({"tokens": list(range(7)), "end": True}))
            while not isinstance(ws.recv(timeout=60), str):
                pass
        with connect(url) as ws:
            ws.send(json.dumps({"tokens": list(range(7))}))
        with connect(url) as ws:
            ws.send("not json")
        deadline = time.monotonic() + 30
        while True:  # a stream is counted when the server has seen it end, which may come after the client
            status, headers, text = request(port, "GET", "/metrics")
            lines = text.decode().splitlines()
            if sum(line.startswith("snac_streams_total") for line in lines) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert 'snac_streams_total{close="1000"} 1' in lines
    assert 'snac_streams_total{close="1001"} 1' in lines
    assert 'snac_streams_total{close="1007"} 1' in lines
    assert 'snac_errors_total{endpoint="/v1/decode/stream"} 1' in lines
    assert not any("snac_requests_total" in line and "/v1/decode/stream" in line for line in lines)
    families = {line.split()[2] for line in lines if line.startswith("# TYPE")}
    assert families == {line.split()[2] for line in lines if line.startswith("# HELP")}


def test_openapi_says_what_each_request_sends(port):
    status, _, answer = request(port, "GET", "/openapi.json")
    schema = json.loads(answer)
    assert status == 200
    for path in ("/v1/encode", "/v1/decode", "/v1/roundtrip"):
        assert schema["paths"][path]["post"]["requestBody"]["required"] is True, path
    assert "application/json" in schema["paths"]["/v1/decode"]["post"]["requestBody"]["content"]
    assert "text/plain" in schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert "/v1/decode/stream" in schema["info"]["description"]  # the WebSocket protocol
