"""Guessing API keys is rate limited before it costs a scrypt, per client address and
per key id; the web UI's key lives in an HttpOnly cookie set by the server; every
response carries the CSP and anti-framing headers.

Real index (an empty one: no media needed), real key store, real FastAPI app, clients
at different addresses. A few seconds (a handful of scrypt hashes)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sceneseek import Config, Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.api.access import FailureLimiter
from sceneseek.index.keys import KeyStore, key_id

WINDOW_S = 60.0  # long enough that no token refills while a test runs
FAILURES = 3


@dataclass
class Guarded:
    app: object
    keys: KeyStore
    read: str
    admin: str

    def client(self, address: str, https: bool = False) -> TestClient:
        base = "https://testserver" if https else "http://testserver"
        return TestClient(self.app, base_url=base, client=(address, 40000))  # type: ignore[arg-type]


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Guarded]:
    library = Library(tmp_path / "lib", Config(modalities=["visual"]))
    library.index_store  # noqa: B018 - creates the index, and with it the key table
    keys = KeyStore(tmp_path / "lib")
    read, admin = keys.add("read"), keys.add("admin")
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>ui</title>")
    settings = ApiSettings(
        static_dir=static, keys=keys, key_failures=FAILURES, key_failure_window_s=WINDOW_S
    )
    yield Guarded(create_app(library, settings), keys, read, admin)
    keys.close()
    library.close()


def wrong_secret(key: str) -> str:
    """A well-formed key with a real id and a wrong secret: the guess that costs a hash."""
    return f"ssk_{key_id(key)}_{secrets.token_urlsafe(32)}"


def status(client: TestClient, key: str) -> int:
    return client.get("/api/health", headers={"X-API-Key": key}).status_code


def test_wrong_secrets_for_one_key_id_are_limited_from_any_address(guarded: Guarded) -> None:
    attacker, other, user = (guarded.client(f"10.0.0.{n}") for n in (1, 2, 3))
    assert status(user, guarded.read) == 200  # verified once: recognised from then on
    assert [status(attacker, wrong_secret(guarded.read)) for _ in range(FAILURES)] == [401] * 3
    limited = attacker.get("/api/health", headers={"X-API-Key": wrong_secret(guarded.read)})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= WINDOW_S
    assert "too many failed" in limited.json()["detail"]
    # Another address guessing at the same key id is limited too ...
    assert status(other, wrong_secret(guarded.read)) == 429
    # ... but not at another key id, and the real key keeps working throughout.
    assert status(other, wrong_secret(guarded.admin)) == 401
    assert status(user, guarded.read) == 200
    assert status(attacker, guarded.read) == 200


def test_the_limit_refills_over_the_window() -> None:
    now = [0.0]
    limiter = FailureLimiter(3, 60.0, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.take("client:a", "key:1") == 0
    assert limiter.take("client:a", "key:1") == pytest.approx(20.0)  # refused: not counted
    assert limiter.retry_after("client:a") == pytest.approx(20.0)
    assert limiter.retry_after("client:b", "key:1") == pytest.approx(20.0)
    assert limiter.retry_after("client:b", "key:2") == 0
    now[0] = 19.0
    assert limiter.retry_after("key:1") == pytest.approx(1.0)
    now[0] = 20.0
    assert limiter.retry_after("key:1") == 0
    assert limiter.take("key:1") == 0
    limiter.refund("key:1")  # an attempt that turned out right costs nothing
    assert limiter.retry_after("key:1") == 0
    now[0] = 1000.0  # a long quiet spell refills to the burst, never beyond
    for _ in range(3):
        assert limiter.take("key:1") == 0
    assert limiter.retry_after("key:1") > 0


def test_parallel_attempts_cannot_overrun_the_limit() -> None:
    """Threads that all check before any counts (a clock that yields in between) get
    the burst and no more: the check and the count are one step."""
    limiter = FailureLimiter(3, 60.0, clock=lambda: time.sleep(0.01) or 0.0)
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: limiter.take("client:a"), range(8)))
    assert sum(w == 0 for w in waits) == 3


def test_a_key_is_looked_up_once_per_request(guarded: Guarded) -> None:
    statements: list[str] = []
    guarded.keys._db.set_trace_callback(statements.append)
    client = guarded.client("10.0.2.1")
    assert [status(client, k) for k in (guarded.read, guarded.read)] == [200, 200]
    assert status(client, wrong_secret(guarded.admin)) == 401
    lookups = [s for s in statements if "FROM api_keys WHERE id" in s]
    assert len(lookups) == 3  # first sight (scrypt), verified before, wrong secret


def test_malformed_keys_are_refused_cheaply_and_count_against_the_client(
    guarded: Guarded,
) -> None:
    attacker, user = guarded.client("10.0.1.1"), guarded.client("10.0.1.2")
    malformed = ["nope", "ssk_zz_x", f"ssk_{key_id(guarded.read)}_short", guarded.read + "x"]
    assert [key_id(k) for k in malformed] == [None] * 4
    assert [status(attacker, k) for k in malformed[:FAILURES]] == [401] * FAILURES
    assert status(attacker, malformed[3]) == 429
    assert status(attacker, wrong_secret(guarded.admin)) == 429  # the address is limited
    assert status(user, guarded.admin) == 200


def test_ipv6_clients_are_counted_by_their_slash_64(guarded: Guarded) -> None:
    for n in range(FAILURES):
        assert status(guarded.client(f"2001:db8::{n + 1}"), f"bad{n}") == 401
    assert status(guarded.client("2001:db8::ffff"), "bad") == 429
    assert status(guarded.client("2001:db8:0:1::1"), "bad") == 401


def test_login_sets_an_http_only_cookie_that_media_requests_use(guarded: Guarded) -> None:
    client = guarded.client("10.0.2.1")
    assert client.post("/api/login").status_code == 401
    bad = client.post("/api/login", headers={"Authorization": f"Bearer {guarded.read}x"})
    assert bad.status_code == 401 and "set-cookie" not in bad.headers
    login = client.post("/api/login", headers={"Authorization": f"Bearer {guarded.read}"})
    assert login.status_code == 204
    cookie = login.headers["set-cookie"].lower()
    assert "sceneseek_key=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "path=/" in cookie and "secure" not in cookie
    assert client.get("/api/health").status_code == 200  # the cookie alone
    served = guarded.client("10.0.2.2", https=True)
    secure = served.post("/api/login", headers={"X-API-Key": guarded.read})
    assert "secure" in secure.headers["set-cookie"].lower()


def test_every_response_forbids_framing_sniffing_and_inline_script(guarded: Guarded) -> None:
    client = guarded.client("10.0.3.1")
    auth = {"X-API-Key": guarded.read}
    for response in (
        client.get("/"),
        client.get("/api/health", headers=auth),
        client.get("/api/health"),  # a 401
        client.get("/api/videos/12345", headers=auth),  # a 404
    ):
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    docs = client.get("/docs")
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
