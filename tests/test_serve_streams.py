"""WebSocket token streams under attack (serve/streams.py): a budget of their own, bounded messages decoded in
bounded steps, and every malformed message or option a close code with its reason, never 1011."""

from __future__ import annotations

import json
import threading

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from snac_cli.codec.models import load_model
from snac_cli.engine.stream_decoder import DECODE_WINDOW_SECONDS, StreamDecoder
from snac_cli.settings import ModelSettings, ServeSettings
from tests.helpers.serving import request, server


@pytest.fixture(scope="module")
def port(model):
    settings = ServeSettings(models=(str(model),), device="cpu", max_message_tokens=700, max_streams=3)
    with server(settings) as port:
        yield port


def close_of(port: int, *messages: str | bytes, query: str = "") -> tuple[int, str]:
    """The close code and reason a stream gets for these messages."""
    with pytest.raises(ConnectionClosed) as closed, connect(f"ws://127.0.0.1:{port}/v1/decode/stream{query}") as ws:
        for message in messages:
            ws.send(message)
        while True:
            ws.recv(timeout=60)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        (
            json.dumps({"tokens": list(range(7)) * 101}),
            1009,
            "707 tokens in one message: at most --max-message-tokens 700",
        ),
        (json.dumps({"codes": [[0] * 101, [0] * 202, [0] * 404]}), 1009, "707 tokens in one message"),
        ("[" * 5000 + "]" * 5000, 1007, "nested too deeply"),
        (b"\x00\x01binary", 1007, "messages are JSON text, not binary"),
        ('{"end": "true"}', 1007, "end must be true or false"),
        ('{"tokens": [1, 2], "ende": true}', 1007, "unknown key 'ende'"),
        ("not json", 1007, "not JSON"),
    ],
)
def test_a_bad_message_closes_with_its_code_and_reason(port, message, code, reason):
    got, said = close_of(port, message)
    assert (got, reason in said) == (code, True), said


def test_a_message_larger_than_its_tokens_could_be_is_refused_unread(port):
    got, _ = close_of(port, json.dumps({"tokens": []}) + " " * (700 * 24 + 8192))
    assert got == 1009  # uvicorn's own limit, from --max-message-tokens


@pytest.mark.parametrize(
    ("query", "reason"),
    [("?lookahead=5000", "lookahead must be 0..1024"), ("?lookahead=-1", "lookahead must be 0..1024"),
     ("?model=", "model is empty"), ("?base=-3", "base must be")],
)  # fmt: skip
def test_an_option_out_of_range_closes_with_1008(port, query, reason):
    got, said = close_of(port, query=query)
    assert got == 1008 and reason in said, said


def test_streams_have_a_budget_of_their_own(model, audio_file):
    """Silent streams fill --max-streams, not the queue: encodes go on (before, 16 silent streams made every
    encode 503), and a stream past the budget closes at once with 1013."""
    wav = audio_file("in.wav", rate=16000, seconds=0.5).read_bytes()
    settings = ServeSettings(models=(str(model),), device="cpu", max_queue=1, max_streams=2)
    with server(settings) as port:
        url = f"ws://127.0.0.1:{port}/v1/decode/stream"
        with connect(url) as first, connect(url) as second:
            first.send(json.dumps({"tokens": []}))
            second.send(json.dumps({"tokens": []}))
            assert (
                request(port, "GET", "/healthz")[2] and json.loads(request(port, "GET", "/healthz")[2])["streams"] == 2
            )
            assert request(port, "POST", "/v1/encode", wav)[0] == 200
            code, reason = close_of(port)
            assert code == 1013 and "--max-streams 2" in reason


def test_a_long_push_is_decoded_in_steps_of_one_window(model):
    """However many frames one push holds, the layers see at most one window at once (one message of 35,000
    tokens took the server from 6.7 to 12.3 GB before)."""
    snac = load_model(ModelSettings(str(model), "cpu"))
    decoder = StreamDecoder(snac)
    widths: list[int] = []
    push = decoder.root.push

    def recorded(x, final):
        widths.append(x.shape[1] if decoder.backend.fast else x.shape[2])
        return push(x, final)

    decoder.root.push = recorded  # type: ignore[method-assign]
    window = round(DECODE_WINDOW_SECONDS * snac.sampling_rate / decoder.frame_samples)  # frames
    frames = 8 * window
    codes = [
        [[(i * 7 + f) % snac.codebook_size for f in range(frames * decoder.frame_steps // s)]]
        for i, s in enumerate(decoder.strides)
    ]
    decoder.push(codes)
    assert len(widths) >= 8 and max(widths) <= window * decoder.frame_steps


def test_streams_run_beside_a_long_message(model):
    """A message at the limit is pushed in steps, with other streams' pushes between them: a short stream
    that starts once the long one's audio has begun is done before it (before, it waited for the whole
    message: one push)."""
    settings = ServeSettings(models=(str(model),), device="cpu", max_message_tokens=7 * 2000)
    finished: list[str] = []
    with server(settings) as port:
        started = threading.Event()

        def long_stream() -> None:
            with connect(f"ws://127.0.0.1:{port}/v1/decode/stream") as ws:
                ws.send(json.dumps({"tokens": list(range(7)) * 2000, "end": True}))
                while not isinstance(ws.recv(timeout=120), str):
                    started.set()
            finished.append("long")

        thread = threading.Thread(target=long_stream)
        thread.start()
        assert started.wait(120)
        with connect(f"ws://127.0.0.1:{port}/v1/decode/stream") as ws:
            ws.send(json.dumps({"tokens": list(range(7)) * 2, "end": True}))
            while not isinstance(answer := ws.recv(timeout=120), str):
                pass
        finished.append("short")
        thread.join(120)
    assert json.loads(answer)["done"] is True and finished == ["short", "long"]
