"""Evaluating saved queries ("alerts") against a newly indexed video and notifying.

An alert is the same search a user would run, restricted to the new video's segments,
so an event's score is exactly the score that search shows for that moment.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sceneseek.errors import QueryError, SceneseekError
from sceneseek.index.alerts import Alert, AlertEvent, AlertStore
from sceneseek.ingest import display_path
from sceneseek.search.filters import parse_time_of_day

if TYPE_CHECKING:
    from sceneseek.library import Library

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 5.0
MAX_EVENTS_PER_ALERT = 50  # moments of one video; more would be one long event anyway


def alert_store(library: Library) -> AlertStore:
    store = library.index_store
    if not isinstance(store, AlertStore):
        raise SceneseekError(f"the {type(store).__name__} backend does not store alerts")
    return store


def validate_alert(
    query: str, threshold: float, time_of_day: str | None, webhook: str | None
) -> None:
    """Reject an alert that could never be evaluated, when it is saved rather than on
    every chunk later."""
    if not query.strip():
        raise QueryError("the alert query is empty")
    if threshold != threshold or threshold < 0:  # NaN or negative
        raise QueryError(f"threshold must be a number ≥ 0, got {threshold}")
    if time_of_day:
        parse_time_of_day(time_of_day)
    if webhook:
        url = urlparse(webhook)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise QueryError(f"webhook {webhook!r}: expected an http:// or https:// URL")


def evaluate_alerts(library: Library, video: str | Path) -> list[AlertEvent]:
    """Run every alert on one indexed video; store and notify the events not seen before
    (re-checking a video never fires twice for the same moment). Returns the new events."""
    store = alert_store(library)
    alerts = store.alerts()
    if not alerts:
        return []
    key = display_path(Path(video))
    found: list[AlertEvent] = []
    for alert in alerts:
        found.extend(_matches(library, alert, key))
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
            post_webhook(alert.webhook, {"alert": alert.to_dict(), "event": event.to_dict()})
    return new


def _matches(library: Library, alert: Alert, video: str) -> list[AlertEvent]:
    try:
        response = library.search(
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
        # A weak match (under the search's cut-off, which here weighs the video's moments
        # against each other) is not an event, whatever the alert's threshold.
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
            )
        )
    return events


def post_webhook(url: str, payload: dict[str, Any], timeout: float = WEBHOOK_TIMEOUT_S) -> bool:
    """POST the payload as JSON. Failures are logged and reported as False, never
    raised: a dead receiver must not stop live indexing."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            reply.read(1 << 16)
            return True
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("webhook %s failed: %s", url, exc)
        return False
