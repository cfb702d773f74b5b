"""Alert webhooks reach only this machine and the hosts the config lists: refused when
the alert is saved and again when posting (against the addresses the host resolves to
then), redirects not followed. Real HTTP receivers on this machine; no network needed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sceneseek import Config, Library
from sceneseek.alerts import alert_store, post_webhook
from sceneseek.api import ApiSettings, create_app
from sceneseek.config import AlertsConfig
from sceneseek.errors import QueryError

FORBIDDEN = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.1.2.3:8080/hook",
    "http://192.168.1.10/hook",
    "https://8.8.8.8/hook",  # the internet
    "http://[::ffff:169.254.169.254]/hook",  # the same, IPv4 mapped in IPv6
    "http://[fe80::1]/hook",
    "http://2852039166/hook",  # 169.254.169.254 written as one number: a name to parsers
    "http://0251.0376.0251.0376/hook",  # and in octal
]


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", 0))
        self.server.bodies.append(self.rfile.read(length))  # type: ignore[attr-defined]
        redirect = self.server.redirect  # type: ignore[attr-defined]
        self.send_response(307 if redirect else 200)
        if redirect:
            self.send_header("Location", redirect)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def receiver(host: str = "127.0.0.1", redirect: str | None = None) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((host, 0), Receiver)
    server.bodies = []  # type: ignore[attr-defined]
    server.redirect = redirect  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def lan_address() -> str | None:
    """This machine's own non-loopback address, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_loopback_webhooks_are_posted(tmp_path: Path) -> None:
    with receiver() as server:
        port = server.server_address[1]
        assert post_webhook(f"http://127.0.0.1:{port}/hook?x=1", {"event": "cat"})
        assert post_webhook(f"http://localhost:{port}/hook", {"event": "dog"})
        assert server.bodies == [b'{"event": "cat"}', b'{"event": "dog"}']  # type: ignore[attr-defined]
        library = Library(tmp_path / "lib", Config(modalities=["visual"]))
        try:
            assert library.add_alert("a cat", webhook=f"http://127.0.0.1:{port}/hook") > 0
        finally:
            library.close()


@pytest.mark.parametrize("url", FORBIDDEN)
def test_other_hosts_are_refused_when_an_alert_is_saved(tmp_path: Path, url: str) -> None:
    library = Library(tmp_path / "lib", Config(modalities=["visual"]))
    try:
        with pytest.raises(QueryError, match="not on this machine.*alerts.webhook_hosts"):
            library.add_alert("a cat", webhook=url)
        with TestClient(create_app(library, ApiSettings(static_dir=None))) as client:
            refused = client.post("/api/alerts", json={"query": "a cat", "webhook": url})
        assert refused.status_code == 400 and "webhook_hosts" in refused.json()["detail"]
        assert library.alerts() == []
    finally:
        library.close()


def test_listed_networks_are_allowed_when_saved(tmp_path: Path) -> None:
    allowed = Config(modalities=["visual"], alerts=AlertsConfig(webhook_hosts=["10.1.0.0/16"]))
    library = Library(tmp_path / "lib", allowed)
    try:
        assert library.add_alert("a cat", webhook="http://10.1.2.3:8080/hook") > 0
        with pytest.raises(QueryError, match="not on this machine"):
            library.add_alert("a cat", webhook="http://10.2.0.1/hook")
    finally:
        library.close()


def test_posting_checks_the_address_again(tmp_path: Path) -> None:
    """An alert saved before the allow-list (or under another config) is still refused
    when it fires; listing the address lets it through."""
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    with receiver("0.0.0.0") as server:
        url = f"http://{address}:{server.server_address[1]}/hook"
        library = Library(tmp_path / "lib", Config(modalities=["visual"]))
        try:
            store = alert_store(library.index_store)
            store.add_alert("a cat", 2.0, None, None, None, url)  # unchecked
        finally:
            library.close()
        assert not post_webhook(url, {"event": "cat"})
        assert server.bodies == []  # type: ignore[attr-defined]
        assert post_webhook(url, {"event": "cat"}, [f"{address}/32"])
        assert len(server.bodies) == 1  # type: ignore[attr-defined]


def test_redirects_are_not_followed() -> None:
    with receiver() as target:
        elsewhere = f"http://127.0.0.1:{target.server_address[1]}/elsewhere"
        with receiver(redirect=elsewhere) as first:
            url = f"http://127.0.0.1:{first.server_address[1]}/hook"
            assert not post_webhook(url, {"event": "cat"})
            assert len(first.bodies) == 1  # type: ignore[attr-defined]
        assert target.bodies == []  # type: ignore[attr-defined]
