"""What guards the studio, as ASGI middleware around every request:

* ``BodyLimit`` counts the body as it streams in (chunked uploads included) and answers 413 past the limit,
  before the rest is read or spooled;
* ``HostCheck`` answers only to an allow-listed ``Host`` (loopback, unless ``--host`` or ``--token`` widens
  it), which defeats DNS rebinding;
* ``TokenAuth`` requires the token (compared as bytes, so any text works) on every request when one is set;
* ``SecurityHeaders`` forbids inline script and framing (Content-Security-Policy), and
* ``same_origin`` refuses state-changing requests sent by another site's page.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
COOKIE = "stylo_token"


async def send_error(send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return b""


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answer 413 when a request body (declared or streamed) exceeds ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body is larger than {self.limit // 2**20} MB"
        length = header(scope, b"content-length")
        if length.isdigit() and int(length) > self.limit:
            await send_error(send, 413, message, [(b"connection", b"close")])
            return
        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.limit:
                    over = True
                    raise _TooLarge
            return msg

        async def guarded_send(msg: Message) -> None:
            nonlocal started
            if over:  # whatever the app answers to a cut-off body, the client gets the 413
                return
            started = True
            await send(msg)

        try:
            await self.app(scope, counted, guarded_send)
        except _TooLarge:
            pass
        if over and not started:
            await send_error(send, 413, message, [(b"connection", b"close")])


_HOST = re.compile(r"^(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?))(?::[0-9]{1,5})?$")


def host_name(value: bytes) -> str | None:
    """The host of a ``Host`` header, parsed strictly: a name or IPv4 address, or an IPv6 literal in brackets,
    then at most ``:`` and the port's digits. ``b"127.0.0.1:8000"`` → ``"127.0.0.1"``; ``b"[::1]:8000"`` →
    ``"::1"``; anything else (``[::1].evil.com``, ``127.0.0.1:8766@evil.com``) → None."""
    match = _HOST.match(value.decode("latin-1").lower())
    if match is None:
        return None
    if match["v6"] is not None:
        try:
            return str(ipaddress.IPv6Address(match["v6"]))
        except ValueError:
            return None
    return match["name"]


class HostCheck:
    """Refuse requests whose ``Host`` header is not allowed (``allowed`` None: any host)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str] | None):
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.allowed is not None:
            raw = header(scope, b"host")
            host = host_name(raw)
            if host is None or host not in self.allowed:
                shown = raw.decode("latin-1")[:80]
                await send_error(send, 421, f"this studio does not answer to host {shown!r}")
                return
        await self.app(scope, receive, send)


def token_digest(token: str) -> str:
    """What the session cookie holds: a digest, so any token (non-ASCII too) fits in a header."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _cookie(scope: Scope, name: str) -> str:
    for part in header(scope, b"cookie").decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


class TokenAuth:
    """Every request carries the token: ``?token=``, ``Authorization: Bearer``, or the cookie set on the
    first visit with ``?token=``. Comparisons are constant-time on bytes."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app, self.token = app, token

    def _given(self, scope: Scope) -> tuple[bool, bool]:
        """(authorized, came from the query string)."""
        assert self.token is not None
        expected = self.token.encode("utf-8")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True, encoding="latin-1")
        from_query = [v.encode("latin-1") for v in query.get("token", [])]
        # parse_qs decoded %-escapes as latin-1: re-encoding gives the raw (UTF-8) bytes the client sent
        if any(hmac.compare_digest(v, expected) for v in from_query):
            return True, True
        bearer = header(scope, b"authorization").removeprefix(b"Bearer ").strip()
        if bearer and hmac.compare_digest(bearer, expected):
            return True, False
        cookie = _cookie(scope, COOKIE).encode("latin-1")
        return bool(cookie) and hmac.compare_digest(cookie, token_digest(self.token).encode()), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None:
            await self.app(scope, receive, send)
            return
        ok, from_query = self._given(scope)
        if not ok:
            await send_error(send, 401, "this studio needs its token: open the address that `stylo serve` printed")
            return
        if not from_query:
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={token_digest(self.token)}; HttpOnly; SameSite=Strict; Path=/".encode()

        async def with_cookie(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": [*msg.get("headers", []), (b"set-cookie", cookie)]}
            await send(msg)

        await self.app(scope, receive, with_cookie)


class SecurityHeaders:
    """Content-Security-Policy (no inline script), no framing, no MIME sniffing, on every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": [*msg.get("headers", []), (b"content-security-policy", CSP.encode()),
                                          (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                                          (b"referrer-policy", b"no-referrer")]}
            await send(msg)

        await self.app(scope, receive, with_headers)


def same_origin(scope: Scope) -> bool:
    """False for a state-changing request whose ``Origin`` is another site (a page elsewhere posting here)."""
    if scope.get("method", "GET") in ("GET", "HEAD", "OPTIONS"):
        return True
    origin = header(scope, b"origin")
    if not origin:
        return header(scope, b"sec-fetch-site") in (b"", b"same-origin", b"none")
    host = header(scope, b"host").decode("latin-1").lower()
    return origin.decode("latin-1").lower().split("://", 1)[-1] == host


class OriginCheck:
    """Refuse cross-site POSTs (uploads, runs, cancels): the studio's own page never sends them."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not same_origin(scope):
            await send_error(send, 403, "cross-site requests are refused")
            return
        await self.app(scope, receive, send)
