"""Who may call what: API keys checked before any endpoint runs.

An ASGI middleware rather than per-route dependencies, so that every route, including
ones added later, is covered by default: anything that is not a plain read needs an
admin key unless it is listed in ``READ_POSTS``. What stays open without a key: the
static web UI (no data in it; it asks for a key when the API says 401) and the OpenAPI
docs. ``/api/*`` and ``/metrics`` need a key whenever the index has keys, and always
when the server was told to require them (bound to a non-loopback interface), so that
removing the last key never opens an exposed server.

A key comes as ``Authorization: Bearer KEY``, ``X-API-Key: KEY`` or the
``sceneseek_key`` cookie: the web UI sets the cookie because ``<img>`` and ``<video>``
cannot send headers; it is ``SameSite=Strict``, so other sites cannot ride on it.
"""

from __future__ import annotations

import ipaddress
from http.cookies import SimpleCookie

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sceneseek.index.keys import KeyStore, Role

PROTECTED_PREFIXES = ("/api/", "/metrics")
READ_METHODS = {"GET", "HEAD"}
# Writes a read key may make: searching by an uploaded picture, and marking results
# relevant or not (part of searching, stored for "more like this").
READ_POSTS = {"/api/search/image", "/api/feedback"}
COOKIE = "sceneseek_key"


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def required_role(method: str, path: str) -> Role | None:
    """The least role a request needs; None when it needs no key at all."""
    if not (path.startswith(PROTECTED_PREFIXES) or path == "/api"):
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


class ApiKeyAuth:
    """401 without a valid key, 403 with a read key on an admin route."""

    def __init__(self, app: ASGIApp, keys: KeyStore, always: bool) -> None:
        self.app = app
        self.keys = keys
        self.always = always

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = required_role(scope["method"], scope["path"])
        if needed is None or not (self.always or self.keys.has_keys()):
            await self.app(scope, receive, send)
            return
        key = presented_key(scope)
        # In a thread: the first check of a key runs scrypt (~50 ms), which must not stall
        # every other request on the event loop.
        role = await run_in_threadpool(self.keys.role_of, key) if key else None
        if role is None:
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
