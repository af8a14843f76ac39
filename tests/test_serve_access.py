"""Who may use `snac serve` (serve/access.py): the token as `Bearer TOKEN`, and, without a token, only this
machine's own names in Host and only the server's own page as an Origin (against DNS rebinding)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from snac_cli.cli.serving import check_exposure
from snac_cli.errors import UsageError
from snac_cli.serve.access import authorized, loopback
from snac_cli.settings import ServeSettings
from tests.helpers.serving import TOKEN, request, server


@pytest.fixture(scope="module")
def open_port(checkpoint) -> Iterator[int]:
    """A server without a token, on loopback."""
    with server(ServeSettings(models=(str(checkpoint("tiny-lm")),), device="cpu")) as port:
        yield port


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "192.0.2.1", "127.0.0.1.example"])
def test_a_server_without_a_token_answers_only_loopback_host_names(open_port, host):
    for path in ("/v1/models", "/metrics", "/healthz", "/"):
        status, _, answer = request(open_port, "GET", path, token=None, Host=host)
        assert status == 403 and json.loads(answer)["code"] == "Forbidden", path


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_loopback_host_names_are_answered(open_port, host):
    assert request(open_port, "GET", "/v1/models", token=None, Host=host.format(port=open_port))[0] == 200


def test_posts_and_streams_from_another_sites_page_are_refused(open_port):
    own = f"http://127.0.0.1:{open_port}"
    for origin in ("http://attacker.example", "null", f"http://localhost:{open_port + 1}"):
        status, _, answer = request(open_port, "POST", "/v1/encode", b"RIFF", token=None, Origin=origin)
        assert status == 403 and json.loads(answer)["code"] == "Forbidden", origin
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{open_port}/v1/decode/stream", origin=origin)  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
    assert request(open_port, "POST", "/v1/encode", b"RIFF", token=None, Origin=own)[0] == 422  # its own page
    assert request(open_port, "POST", "/v1/encode", b"RIFF", token=None)[0] == 422  # curl sends no Origin
    with connect(f"ws://127.0.0.1:{open_port}/v1/decode/stream", origin=own) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"end": True}))
        assert json.loads(ws.recv(timeout=30))["done"] is True


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),  # the scheme is case-insensitive (RFC 7235)
        (f"BEARER {TOKEN}", True),
        (TOKEN, False),  # no scheme
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        ("Bearer ", False),
        (None, False),
    ],
)
def test_the_token_comes_as_a_bearer_token(header, accepted):
    assert authorized(TOKEN, header) is accepted


@pytest.mark.parametrize(
    "token", [" " * 16, "a-token-with-a space", "ä-token-of-enough-length", "tab\tseparated-token"]
)
def test_a_token_no_header_can_carry_is_refused_at_start(token):
    with pytest.raises(UsageError, match="printable ASCII"):
        check_exposure(ServeSettings(host="0.0.0.0", token=token))


def test_a_token_server_checks_the_token_and_not_the_host(checkpoint):
    settings = ServeSettings(models=(str(checkpoint("tiny-lm")),), device="cpu", token=TOKEN)
    with server(settings) as port:
        assert request(port, "GET", "/v1/models", Host="snac.internal.example")[0] == 200
        assert request(port, "GET", "/v1/models", token=None, Authorization=f"bearer {TOKEN}")[0] == 200
        assert request(port, "GET", "/v1/models", token=None, Authorization=TOKEN)[0] == 401
        status, _, schema = request(port, "GET", "/openapi.json", token=None)  # open: nothing of the server's
        assert status == 200 and "/v1/encode" in json.loads(schema)["paths"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [("localhost", True), ("app.localhost", True), ("127.0.0.2", True), ("[::1]", True), ("::1", True),
     ("0.0.0.0", False), ("example.org", False), ("localhost.example", False), ("", False)],
)  # fmt: skip
def test_loopback_names(host, expected):
    assert loopback(host) is expected
