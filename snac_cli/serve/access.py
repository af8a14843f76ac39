"""Who may use a server: the token (`Authorization: Bearer TOKEN`), and, for a server without one, the Host
and Origin rule that keeps other sites' pages out of it (DNS rebinding). No FastAPI here: the command line
checks a token and an address with it before the serve extra is imported."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from snac_cli.serve.outcomes import Forbidden


def weak_token(token: str) -> str | None:
    """Why a token cannot be the server's (None: it can): a header carries printable ASCII without spaces."""
    if len(token) < 16:
        return "--token must be at least 16 characters"
    if not all("!" <= c <= "~" for c in token):
        return "--token must be printable ASCII without spaces (it travels in an HTTP header)"
    return None


def authorized(token: str | None, header: str | None) -> bool:
    """Whether an Authorization header carries the token as `Bearer TOKEN` (the scheme in any case, RFC
    7235), compared in constant time; every request is, without a token."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def loopback(host: str) -> bool:
    """Whether a host name or address names this machine's loopback."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def rebinding(headers: dict[str, str], scope: Mapping[str, Any]) -> Forbidden | None:
    """Against DNS rebinding and other sites' pages, for a server without a token (which a browser on this
    machine can reach): the Host must name loopback, and a POST or WebSocket that carries an Origin must come
    from the server's own (curl and the like send none)."""
    host = headers.get("host")
    if host is not None and not loopback(urlsplit(f"//{host}").hostname or ""):
        return Forbidden(
            f"Host {host[:60]!r} is not this server's: a server without --token answers loopback names only"
        )
    origin = headers.get("origin")
    if origin is None or (scope["type"] == "http" and scope.get("method") in ("GET", "HEAD")):
        return None
    own = urlsplit(origin)
    if own.scheme not in ("http", "ws") or own.netloc != host:
        return Forbidden(f"a request from the page of {origin[:60]!r} is not this server's own page's")
    return None
