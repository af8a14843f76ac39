"""`snac serve` (serve/): a real uvicorn server on 127.0.0.1 and a free port, spoken to by a real HTTP and
WebSocket client. Results equal the CLI's byte for byte; each limit and bad input gets its status and a
JSON error; the token rule holds."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from snac_cli.cli.serving import check_address, check_exposure
from snac_cli.errors import UsageError
from snac_cli.settings import ServeSettings
from tests.helpers.cli import invoke, snac
from tests.helpers.serving import TOKEN, request, serve_process, server


@pytest.fixture(scope="module")
def port(model) -> Iterator[int]:
    settings = ServeSettings(models=(str(model),), device="cpu", max_body_mb=1, token=TOKEN)
    with server(settings) as port:
        yield port


def test_encode_and_decode_give_the_clis_files_byte_for_byte(port, model, wav, tmp_path):
    assert invoke("encode", wav, tmp_path / "cli.snac", "-m", model).exit_code == 0
    status, headers, snac_bytes = request(port, "POST", "/v1/encode?normalize=loudness", wav.read_bytes())
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    assert snac_bytes == (tmp_path / "cli.snac").read_bytes()
    assert invoke("decode", tmp_path / "cli.snac", tmp_path / "cli.flac").exit_code == 0
    status, headers, audio = request(port, "POST", "/v1/decode?format=flac", snac_bytes)
    assert status == 200 and headers["content-type"] == "audio/flac"
    assert audio == (tmp_path / "cli.flac").read_bytes()
    # WAV and raw stream as they are decoded: what `snac decode FILE -` writes
    status, headers, audio = request(port, "POST", "/v1/decode?format=wav", snac_bytes)
    assert status == 200 and headers["content-type"] == "audio/wav" and "content-length" not in headers
    assert audio == snac("decode", tmp_path / "cli.snac", "-").stdout
    status, _, raw = request(port, "POST", "/v1/decode?format=raw", snac_bytes)
    assert status == 200 and raw == snac("decode", tmp_path / "cli.snac", "-", "--format", "raw").stdout


def test_a_token_stream_gives_the_audio_of_the_whole_token_file(port, model, wav, tmp_path):
    """Tokens pushed over the WebSocket one small message at a time; PCM comes back before the end, and all
    of it equals `snac decode --tokens` of the whole file (to 1 LSB: float rounding of other pieces)."""
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", model, "--normalize", "none").exit_code == 0
    assert invoke("export", tmp_path / "a.snac", "--format", "npy").exit_code == 0
    tokens = [int(t) for t in np.load(tmp_path / "a.npy")[0]]
    whole = snac("decode", "--tokens", tmp_path / "a.npy", "-", "--format", "raw", "-m", model).stdout
    pcm, before_end = b"", 0
    with connect(f"ws://127.0.0.1:{port}/v1/decode/stream?token={TOKEN}") as ws:
        for start in range(0, len(tokens), 7):
            ws.send(json.dumps({"tokens": tokens[start : start + 7]}))
            with contextlib.suppress(TimeoutError):
                while True:
                    pcm += ws.recv(timeout=0.05)
        before_end = len(pcm)
        ws.send(json.dumps({"end": True}))
        while isinstance(message := ws.recv(timeout=60), bytes):
            pcm += message
        assert json.loads(message) == {"done": True, "samples": len(pcm) // 2, "dropped": 0}
    assert 0 < before_end < len(pcm), "audio came as the tokens went in"
    ours, theirs = np.frombuffer(pcm, "<i2").astype(int), np.frombuffer(whole, "<i2").astype(int)
    assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 1


@pytest.mark.parametrize("query", ["lookahead=-1", "lookahead=abc", "base=-5", "offsets=nan", "model=/etc/passwd"])
def test_a_stream_with_bad_options_closes_at_once_with_1008_and_the_reason(port, query):
    with pytest.raises(ConnectionClosed) as closed:
        with connect(f"ws://127.0.0.1:{port}/v1/decode/stream?token={TOKEN}&{query}") as ws:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason.startswith(("the stream's options", "model '/etc/passwd' is not served"))


def test_a_stream_of_codes_per_scale_gives_the_audio_of_its_tokens(port, model, wav, tmp_path):
    """Whole frames of codes per scale, a frame a message, decode as the same codes' tokens do."""
    status, _, answer = request(port, "POST", "/v1/encode?as=codes&normalize=none", wav.read_bytes())
    codes = [scale[0] for scale in json.loads(answer)["codes"]]  # the one channel
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", model, "--normalize", "none").exit_code == 0
    assert invoke("export", tmp_path / "a.snac", "--format", "npy").exit_code == 0
    whole = snac("decode", "--tokens", tmp_path / "a.npy", "-", "--format", "raw", "-m", model).stdout
    per_frame = [len(scale) // len(codes[0]) for scale in codes]
    pcm = b""
    with connect(f"ws://127.0.0.1:{port}/v1/decode/stream?token={TOKEN}") as ws:
        for f in range(len(codes[0])):
            frame = [scale[f * k : (f + 1) * k] for scale, k in zip(codes, per_frame, strict=True)]
            ws.send(json.dumps({"codes": frame}))
        ws.send(json.dumps({"end": True}))
        while isinstance(message := ws.recv(timeout=60), bytes):
            pcm += message
    ours, theirs = np.frombuffer(pcm, "<i2").astype(int), np.frombuffer(whole, "<i2").astype(int)
    assert status == 200 and ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 1


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not json", "Expecting value"),
        ('["a list"]', "a message is a JSON object"),
        ('{"tokens": [1.5]}', "tokens must be a list of integers"),
        ('{"tokens": [99999999]}', "at index 0"),
        ('{"codes": [[1]]}', "a list of 3 scales"),
        ('{"codes": [[0], [0], [0]]}', "scale 1 holds 1 codes: not the same whole frames of 2 each"),
        ('{"codes": [[0], [0, 0], [0, 0, 0, 0, 0, 0, 0, 0]]}', "scale 2 holds 8 codes"),
        ('{"codes": [[0], [0, 4096], [0, 0, 0, 0]]}', "code 4096 at index 1 of scale 1 is out of range"),
        ('{"codes": [[0], [0, 0], [0, 0, 0, 0.5]]}', "scale 2 are not a list of integers"),
        ('{"tokens": [1, 2], "codes": [[0], [0, 0], [0, 0, 0, 0]]}', "codes inside a frame of tokens"),
    ],
)
def test_a_malformed_stream_message_closes_the_socket_with_a_reason(port, message, reason):
    with connect(f"ws://127.0.0.1:{port}/v1/decode/stream?token={TOKEN}") as ws:
        ws.send(message)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=60)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    assert reason in closed.value.rcvd.reason


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/v1/encode", b"", 422, "InputError"),  # no body
        ("POST", "/v1/encode", b"RIFF not really audio", 422, "AudioError"),
        ("POST", "/v1/encode?model=/etc", b"x", 404, "NotServed"),  # no request names a path
        ("POST", "/v1/decode", b"not a snac file", 422, "InputError"),
        ("POST", "/v1/encode", b"x" * (1 << 20 | 1), 413, "TooLarge"),
    ],
)
def test_bad_requests_get_their_status_and_a_json_error(port, method, path, body, status, code):
    got, headers, answer = request(port, method, path, body)
    assert got == status and headers["content-type"] == "application/json"
    error = json.loads(answer)
    assert error["code"] == code and "Traceback" not in error["error"] and "\n" not in error["error"]


def test_a_file_made_by_a_model_not_served_is_refused(port, checkpoint, wav, tmp_path):
    other = checkpoint("tiny")
    assert invoke("encode", wav, tmp_path / "other.snac", "-m", other).exit_code == 0
    status, _, answer = request(port, "POST", "/v1/decode", (tmp_path / "other.snac").read_bytes())
    assert status == 404 and json.loads(answer)["code"] == "NotServed"


def test_every_request_needs_the_token(port):
    assert request(port, "GET", "/healthz")[0] == 200
    for token in (None, "wrong", TOKEN[:-1]):
        status, _, answer = request(port, "GET", "/v1/models", token=token)
        assert status == 401 and json.loads(answer)["code"] == "Unauthorized"
    for query in ("", "?token=wrong"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{port}/v1/decode/stream{query}")
        assert refused.value.response.status_code == 403  # refused at the handshake


def test_off_loopback_a_server_needs_a_token():
    for host in ("127.0.0.1", "::1", "localhost"):
        check_exposure(ServeSettings(host=host))
    for host in ("0.0.0.0", "192.0.2.7", "example.org"):
        with pytest.raises(UsageError, match="give --token"):
            check_exposure(ServeSettings(host=host))
        check_exposure(ServeSettings(host=host, token=TOKEN))
    with pytest.raises(UsageError, match="at least 16"):
        check_exposure(ServeSettings(token="short"))


def test_past_the_queue_a_request_gets_503_with_retry_after(model, wav):
    settings = ServeSettings(models=(str(model),), device="cpu", max_queue=1)
    with server(settings) as port:
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda: results.append(request(port, "POST", "/v1/encode", wav.read_bytes())[0]))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        status, headers, _ = request(port, "GET", "/healthz")
    assert status == 200 and 200 in results
    assert set(results) <= {200, 503}
    assert 503 in results, "six encodes at once through a queue of one"


def test_metrics_count_requests_errors_audio_and_latency(model, wav):
    with server(ServeSettings(models=(str(model),), device="cpu")) as port:
        assert request(port, "POST", "/v1/encode", wav.read_bytes())[0] == 200
        assert request(port, "POST", "/v1/decode", b"junk")[0] == 422
        assert request(port, "GET", "/no/such/path")[0] == 404
        status, headers, text = request(port, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    lines = text.decode().splitlines()
    assert 'snac_requests_total{endpoint="/v1/encode",status="200"} 1' in lines
    assert 'snac_errors_total{endpoint="/v1/decode"} 1' in lines
    assert 'snac_requests_total{endpoint="other",status="404"} 1' in lines  # no label per arbitrary path
    assert 'snac_audio_seconds_total{endpoint="/v1/encode"} 1.000' in lines
    assert 'snac_request_seconds_count{endpoint="/v1/encode"} 1' in lines
    assert 'snac_request_seconds_bucket{endpoint="/v1/encode",le="+Inf"} 1' in lines
    assert "snac_requests_working 0" in lines


def test_clients_that_leave_mid_response_never_stop_the_server(model, wav, tmp_path):
    """`snac serve` as a process: clients that drop their connection before reading the answer, and streams
    dropped halfway without a close frame, end only their own connection (SIGPIPE once killed the server)."""
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", model).exit_code == 0
    snac_bytes = (tmp_path / "a.snac").read_bytes()
    with serve_process(str(model), "--device", "cpu", "--max-queue", "100") as (server_process, port):
        for _ in range(12):
            with socket.create_connection(("127.0.0.1", port)) as rude:
                rude.sendall(b"POST /v1/decode?format=raw HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                             % len(snac_bytes) + snac_bytes)  # fmt: skip
                rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            with connect(f"ws://127.0.0.1:{port}/v1/decode/stream", open_timeout=60) as ws:
                for _ in range(40):  # most answered with audio after the client has gone
                    ws.send(json.dumps({"tokens": list(range(7)) * 16}))
                ws.socket.close()  # no close frame
        time.sleep(3)
        assert server_process.poll() is None, "the server died"
        assert request(port, "GET", "/healthz", token=None)[0] == 200


def test_encode_answers_codes_or_tokens_as_json_as_snac_export_makes_them(port, model, wav, tmp_path):
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", model).exit_code == 0
    assert invoke("export", tmp_path / "a.snac", "--format", "npz").exit_code == 0
    exported = invoke("export", tmp_path / "a.snac", "--format", "npy", "--offsets", "position", "--base", "10")
    assert exported.exit_code == 0
    status, headers, answer = request(port, "POST", "/v1/encode?as=codes", wav.read_bytes())
    assert status == 200 and headers["content-type"] == "application/json"
    codes = json.loads(answer)["codes"]
    with np.load(tmp_path / "a.npz") as exported:
        assert [np.array(c).tolist() for c in codes] == [exported[k].tolist() for k in exported.files]
    status, _, answer = request(port, "POST", "/v1/encode?as=tokens&offsets=position&base=10", wav.read_bytes())
    assert status == 200 and json.loads(answer)["tokens"] == np.load(tmp_path / "a.npy").tolist()


def test_decode_takes_json_tokens_as_snac_import_takes_them(port, model, wav, tmp_path):
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", model).exit_code == 0
    assert invoke("export", tmp_path / "a.snac", "--format", "npy", "--offsets", "scale").exit_code == 0
    imported = invoke("import", tmp_path / "a.npy", tmp_path / "b.snac", "-m", model, "--offsets", "scale")
    assert imported.exit_code == 0, imported.output
    expected = snac("decode", tmp_path / "b.snac", "-", "--format", "raw").stdout
    tokens = np.load(tmp_path / "a.npy").tolist()
    json_body = {"Content-Type": "application/json"}
    body = json.dumps({"tokens": tokens}).encode()
    status, _, raw = request(port, "POST", "/v1/decode?format=raw&offsets=scale", body, **json_body)
    assert status == 200 and raw == expected
    for bad in (b"{", b'{"tokens": [1.5]}', b'{"tokens": [1, 2]}', b'{"codes": []}'):
        status, _, answer = request(port, "POST", "/v1/decode", bad, **json_body)
        assert status == 422 and json.loads(answer)["code"] == "InputError", answer


def test_a_client_that_leaves_mid_request_frees_its_work_at_once(model, audio_file):
    """The work of a client that disconnects stops at its next inference window, not at its end."""
    long_clip = audio_file("long.wav", rate=16000, seconds=90.0).read_bytes()
    with server(ServeSettings(models=(str(model),), device="cpu")) as port:
        start = time.perf_counter()
        assert request(port, "POST", "/v1/encode?normalize=none", long_clip)[0] == 200
        whole = time.perf_counter() - start

        def working() -> int:
            return json.loads(request(port, "GET", "/healthz")[2])["working"]

        with socket.create_connection(("127.0.0.1", port)) as rude:
            rude.sendall(b"POST /v1/encode?normalize=none HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                         b"Content-Length: %d\r\n\r\n" % (TOKEN.encode(), len(long_clip)) + long_clip)  # fmt: skip
            while working() == 0:
                time.sleep(0.01)
        left = time.perf_counter()
        while working():
            time.sleep(0.01)
        freed = time.perf_counter() - left
    assert freed < whole / 2, (freed, whole)


def test_an_address_already_taken_is_one_usage_error_before_any_model_loads():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(UsageError, match="cannot listen on 127.0.0.1"):
            check_address("127.0.0.1", taken.getsockname()[1])
    with pytest.raises(UsageError, match="cannot listen on 192.0.2.1"):  # not this machine's
        check_address("192.0.2.1", 8000)
