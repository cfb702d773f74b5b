"""Evaluating saved queries ("alerts") against a newly indexed video and notifying.

An alert is the same search a user would run, restricted to the new video's segments,
so an event's score is exactly the score that search shows for that moment. An alert
whose query states a people-event condition ("a person in the loading zone after 22:00")
searches the video's people events, and fires once per event (by its id), however many
segments the event spans.

Webhooks reach only loopback and the hosts the config lists (``alerts.webhook_hosts``):
checked when an alert is saved and again on every post, where the host is resolved
once, every address it resolves to is checked, and the connection goes to the checked
address (a name that re-resolves elsewhere in between cannot redirect it). Redirects
are not followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from sceneseek.errors import QueryError, SceneseekError
from sceneseek.index.alerts import Alert, AlertEvent, AlertStore
from sceneseek.index.base import Index
from sceneseek.ingest import display_path
from sceneseek.records import to_json
from sceneseek.search.filters import parse_time_of_day, plain_text

if TYPE_CHECKING:
    from sceneseek.search.engine import SearchResponse

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 5.0
MAX_EVENTS_PER_ALERT = 50  # moments of one video; more would be one long event anyway


class AlertSearch(Protocol):
    """The search an alert runs (``Library.search``), so that an event's score is the
    score search shows for that moment."""

    def __call__(
        self,
        query: str,
        *,
        top_k: int,
        camera: str | None,
        zone: str | None,
        time_of_day: str | None,
        video: str | None,
    ) -> SearchResponse: ...


def alert_store(store: Index) -> AlertStore:
    """The index as the store of alerts, if its backend keeps them."""
    if not isinstance(store, AlertStore):
        raise SceneseekError(f"the {type(store).__name__} backend does not store alerts")
    return store


@dataclass(frozen=True)
class SavedAlerts:
    """The alerts saved in one index, and their evaluation on its newly indexed videos.
    Receives the index, the search to run and the hosts webhooks may reach."""

    store: Index
    search: AlertSearch
    webhook_hosts: Sequence[str]

    def add(
        self,
        query: str,
        camera: str | None,
        zone: str | None,
        time_of_day: str | None,
        threshold: float,
        webhook: str | None,
    ) -> int:
        query = plain_text(query)
        camera, zone = (plain_text(t) if t else None for t in (camera, zone))
        validate_alert(query, threshold, time_of_day, webhook, self.webhook_hosts)
        return alert_store(self.store).add_alert(
            " ".join(query.split()), threshold, camera, zone, time_of_day, webhook
        )

    def evaluate(self, video: str | Path) -> list[AlertEvent]:
        """Run every alert on one indexed video; store and notify the events not seen
        before (re-checking a video never fires twice for the same moment). Returns the
        new events."""
        store = alert_store(self.store)
        alerts = store.alerts()
        if not alerts:
            return []
        key = display_path(Path(video))
        found: list[AlertEvent] = []
        for alert in alerts:
            found.extend(self._matches(alert, key))
        new = store.add_alert_events(found)
        by_id = {a.id: a for a in alerts}
        for event in new:
            alert = by_id[event.alert_id]
            log.info(
                "alert %d %r: %s %.1f-%.1f s score %.2f",
                alert.id,
                alert.query,
                event.video,
                event.start,
                event.end,
                event.score,
            )
            if alert.webhook:
                post_webhook(
                    alert.webhook,
                    {"alert": to_json(alert), "event": to_json(event)},
                    self.webhook_hosts,
                )
        return new

    def _matches(self, alert: Alert, video: str) -> list[AlertEvent]:
        try:
            response = self.search(
                alert.query,
                top_k=MAX_EVENTS_PER_ALERT,
                camera=alert.camera,
                zone=alert.zone,
                time_of_day=alert.time_of_day,
                video=video,
            )
        except SceneseekError as exc:  # one broken alert must not stop the others
            log.warning("alert %d %r could not run: %s", alert.id, alert.query, exc)
            return []
        now = datetime.now().astimezone()
        events = []
        for moment in response.results:
            # A weak match (under the search's cut-off, which here weighs the video's
            # moments against each other) is not an event, whatever the alert's threshold.
            if moment.video != video or moment.below_cutoff or moment.score < alert.threshold:
                continue
            wall = moment.segments[0].wall_start
            events.append(
                AlertEvent(
                    id=0,
                    alert_id=alert.id,
                    query=alert.query,
                    video=video,
                    start=round(moment.start, 2),
                    end=round(moment.end, 2),
                    score=round(moment.score, 4),
                    wall_time=wall + timedelta(seconds=moment.start) if wall else None,
                    created=now,
                    event_id=moment.event.id if moment.event else None,
                )
            )
        return events


def validate_alert(
    query: str,
    threshold: float,
    time_of_day: str | None,
    webhook: str | None,
    webhook_hosts: Sequence[str] = (),
) -> None:
    """Reject an alert that could never be evaluated, or whose webhook may not be
    reached, when it is saved rather than on every chunk later."""
    if not query.strip():
        raise QueryError("the alert query is empty")
    if threshold != threshold or threshold < 0:  # NaN or negative
        raise QueryError(f"threshold must be a number ≥ 0, got {threshold}")
    if time_of_day:
        parse_time_of_day(time_of_day)
    if webhook:
        webhook_address(webhook, webhook_hosts)


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> IpAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # no IPv6 zone
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:a.b.c.d is a.b.c.d
    return mapped or address


def webhook_address(url: str, allowed: Sequence[str]) -> str:
    """The one address a webhook POST may connect to: the URL's host resolved now, with
    every address it resolves to on loopback or listed in ``allowed`` (names, addresses,
    CIDR networks). QueryError saying why not, otherwise."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise QueryError(f"webhook {url!r}: expected an http:// or https:// URL")
    host = parts.hostname
    try:
        default = 443 if parts.scheme == "https" else 80
        found = socket.getaddrinfo(host, port or default, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise QueryError(f"webhook {url!r}: cannot resolve {host}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    names = {entry.lower().rstrip(".") for entry in allowed}
    networks = []
    for entry in allowed:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name
    if host.lower().rstrip(".") not in names:
        refused = [
            a
            for a in addresses
            if not _address(a).is_loopback and not any(_address(a) in n for n in networks)
        ]
        if refused:
            raise QueryError(
                f"webhook {url!r}: {host} ({', '.join(refused)}) is not on this machine; "
                "webhooks may only reach loopback and the hosts listed in the config "
                "(alerts.webhook_hosts)"
            )
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a name (Host header) over a connection to an address checked before."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS likewise; the certificate is still checked against the name."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post_webhook(
    url: str,
    payload: dict[str, Any],
    allowed: Sequence[str] = (),
    timeout: float = WEBHOOK_TIMEOUT_S,
) -> bool:
    """POST the payload as JSON, if the URL's host may be reached (``webhook_address``).
    Failures, refusals and redirects are logged and reported as False, never raised: a
    dead receiver must not stop live indexing."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    parts = urlsplit(url)
    try:
        address = webhook_address(url, allowed)
        connection = (_PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP)(
            parts.hostname or "", parts.port, address, timeout
        )
        try:
            target = parts.path or "/"
            connection.request(
                "POST",
                f"{target}?{parts.query}" if parts.query else target,
                body,
                {"Content-Type": "application/json"},
            )
            reply = connection.getresponse()
            reply.read(1 << 16)
        finally:
            connection.close()
    except (QueryError, OSError, http.client.HTTPException) as exc:
        log.warning("webhook %s failed: %s", url, exc)
        return False
    if 300 <= reply.status < 400:
        log.warning("webhook %s answered a redirect (%d), which is not followed", url, reply.status)
    elif reply.status >= 400:
        log.warning("webhook %s answered %d %s", url, reply.status, reply.reason)
    return 200 <= reply.status < 300
