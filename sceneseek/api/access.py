"""Who may call what: API keys checked before any endpoint runs.

An ASGI middleware rather than per-route dependencies, so that every route, including
ones added later, is covered by default: anything that is not a plain read needs an
admin key unless it is listed in ``READ_POSTS``. What stays open without a key: the
static web UI (no data in it; it asks for a key when the API says 401) and the OpenAPI
docs. ``/api/*`` and ``/metrics`` need a key whenever the index has keys, and always
when the server was told to require them (bound to a non-loopback interface), so that
removing the last key never opens an exposed server.

One route carries its own credential instead: ``sceneseek search`` on this machine asks
a running server through ``LOCAL_SEARCH_PATH`` with the token ``serve`` wrote for it
(sceneseek.local_server), from a loopback address only, keys or no keys.

A key comes as ``Authorization: Bearer KEY``, ``X-API-Key: KEY`` or the
``sceneseek_key`` cookie, which ``POST /api/login`` sets for the web UI (``<img>`` and
``<video>`` cannot send headers): ``HttpOnly``, so no script can read the key, and
``SameSite=Strict``, so other sites cannot ride on it.

Guessing is rate limited before it costs anything: a key not in the shape ``key add``
makes is refused without a lookup, a key verified before is recognised by its digest,
and only then may a wrong secret cost a scrypt (16 MiB, ~50 ms), at most N failures per
window per client address and per key id (token buckets), beyond which the answer is
429 with Retry-After.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import threading
import time
from collections.abc import Callable
from http.cookies import SimpleCookie

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sceneseek.index.keys import KeyStore, Role, key_id
from sceneseek.local_server import SEARCH_PATH as LOCAL_SEARCH_PATH
from sceneseek.local_server import TOKEN_HEADER

PROTECTED_PREFIXES = ("/api/", "/metrics")
READ_METHODS = {"GET", "HEAD"}
# Writes a read key may make: searching by an uploaded picture, and marking results
# relevant or not (part of searching, stored for "more like this").
READ_POSTS = {"/api/search/image", "/api/feedback", "/api/login"}
COOKIE = "sceneseek_key"
# The web UI loads only its own files: no inline script or style, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's API docs pages load Swagger/ReDoc with an inline script from a CDN.
DOCS_PATHS = ("/docs", "/redoc")


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def required_role(method: str, path: str) -> Role | None:
    """The least role a request needs; None when it needs no key at all (the local
    search needs the local token instead: ``local_caller``)."""
    if path == LOCAL_SEARCH_PATH or not (path.startswith(PROTECTED_PREFIXES) or path == "/api"):
        return None
    if method in READ_METHODS or (method == "POST" and path in READ_POSTS):
        return "read"
    return "admin"


def presented_key(scope: Scope) -> str | None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if headers.get("x-api-key", "").strip():
        return headers["x-api-key"].strip()
    if "cookie" in headers:
        morsel = SimpleCookie(headers["cookie"]).get(COOKIE)
        if morsel is not None and morsel.value:
            return morsel.value
    return None


def local_caller(scope: Scope, token: str) -> bool:
    """A `sceneseek` command on this machine: a loopback client that presents the token
    this server announced in its index directory (sceneseek.local_server)."""
    host = (scope.get("client") or ("", 0))[0]
    wanted = TOKEN_HEADER.lower().encode("latin-1")
    presented = next((v for k, v in scope["headers"] if k.lower() == wanted), b"")
    return is_loopback(host) and hmac.compare_digest(presented, token.encode())


def client_name(scope: Scope) -> str:
    """Whom failures are counted against: the client's address, an IPv6 one by its /64
    (one machine usually holds a whole /64)."""
    host = (scope.get("client") or ("unknown", 0))[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"client:{host}"
    if address.version == 6:
        return f"client:{ipaddress.IPv6Network((int(address) >> 64 << 64, 64))}"
    return f"client:{address}"


class FailureLimiter:
    """Token buckets of failed key attempts: each name (a client, a key id) may fail
    ``failures`` times in a burst, then once per ``window_s / failures`` seconds."""

    MAX_BUCKETS = 10_000  # beyond this, buckets that have refilled are forgotten

    def __init__(
        self, failures: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = float(failures)
        self.rate = failures / window_s  # tokens per second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, when)
        self._lock = threading.Lock()

    def _tokens(self, name: str, now: float) -> float:
        tokens, when = self._buckets.get(name, (self.capacity, now))
        return min(self.capacity, tokens + (now - when) * self.rate)

    def retry_after(self, *names: str) -> float:
        """Seconds until every name may fail once more; 0 when they may now."""
        with self._lock:
            return self._wait(names, self.clock())

    def take(self, *names: str) -> float:
        """Count one attempt that may fail against every name, if they may fail once
        more: 0. Otherwise count nothing and return ``retry_after``. One step under one
        lock, so parallel attempts cannot all pass the check before any is counted."""
        with self._lock:
            now = self.clock()
            wait = self._wait(names, now)
            if wait == 0:
                self._spend(names, now)
            return wait

    def _wait(self, names: tuple[str, ...], now: float) -> float:
        missing = max(1.0 - self._tokens(name, now) for name in names)
        return 0.0 if missing <= 0 else missing / self.rate

    def _spend(self, names: tuple[str, ...], now: float) -> None:
        for name in names:
            self._buckets[name] = (self._tokens(name, now) - 1.0, now)
        if len(self._buckets) > self.MAX_BUCKETS:
            full = [n for n in self._buckets if self._tokens(n, now) >= self.capacity]
            for name in full:
                del self._buckets[name]

    def refund(self, *names: str) -> None:
        """Give back what ``spend`` took for an attempt that succeeded."""
        with self._lock:
            now = self.clock()
            for name in names:
                self._buckets[name] = (min(self.capacity, self._tokens(name, now) + 1.0), now)


class ApiKeyAuth:
    """401 without a valid key, 403 with a read key on an admin route, 429 after too
    many failed attempts from one client or at one key id."""

    def __init__(self, app: ASGIApp, keys: KeyStore, always: bool, limiter: FailureLimiter) -> None:
        self.app = app
        self.keys = keys
        self.always = always
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = required_role(scope["method"], scope["path"])
        if needed is None or not (self.always or self.keys.has_keys()):
            await self.app(scope, receive, send)
            return
        key = presented_key(scope)
        role = await self._check(scope, key) if key else None
        if isinstance(role, JSONResponse):
            response = role
        elif role is None:
            detail = "an API key is required" if key is None else "this API key is not valid"
            response = JSONResponse(
                {"detail": f"{detail} (Authorization: Bearer KEY or X-API-Key: KEY)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        elif needed == "admin" and role != "admin":
            response = JSONResponse(
                {"detail": f"{scope['method']} {scope['path']} needs an admin key"},
                status_code=403,
            )
        else:
            scope.setdefault("state", {})["role"] = role
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    async def _check(self, scope: Scope, key: str) -> Role | JSONResponse | None:
        """The key's role, None if it is not valid, or a 429 once this client or key id
        has failed too often; cheap checks first, scrypt last."""
        stored = self.keys.stored(key)
        if (role := self.keys.known_role(key, stored)) is not None:
            return role  # verified before: never limited, so a flood cannot lock it out
        ident = key_id(key)
        names = [client_name(scope)] + ([f"key:{ident}"] if ident else [])
        wait = self.limiter.take(*names)  # counted before the hash: guesses in parallel
        if wait > 0:  # cannot overrun the limit
            seconds = math.ceil(wait)
            return JSONResponse(
                {"detail": f"too many failed API key attempts; retry in {seconds} s"},
                status_code=429,
                headers={"Retry-After": str(seconds)},
            )
        if ident is None:
            return None  # not a key `key add` makes: no lookup, no hash
        # In a thread: scrypt (~50 ms) must not stall every other request on the loop.
        role = await run_in_threadpool(self.keys.role_of, key, stored)
        if role is not None:
            self.limiter.refund(*names)
        return role


class SecurityHeaders:
    """Headers that keep the UI from being framed, sniffed or made to run injected
    script: a strict Content-Security-Policy (the docs pages, which need an inline
    script, get only the framing rule), X-Frame-Options and nosniff on everything."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(DOCS_PATHS)
        policy = "frame-ancestors 'none'" if docs else CONTENT_SECURITY_POLICY
        extra = [
            (b"content-security-policy", policy.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
