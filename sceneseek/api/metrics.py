"""Prometheus metrics for ``/metrics`` and the access log, from one ASGI middleware.

Request metrics are counted as requests pass; index size, growth, ingest lag and drift
are read from the index when Prometheus scrapes (at most every ``MIN_SCRAPE_S``), so
they include what ``watch`` or ``sceneseek index`` processes stored, not only what
this server ingested. Each app has its own registry, so several apps in one process
(tests) never share counters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sceneseek.config import IndexConfig, MonitorConfig
from sceneseek.index.catalogue import has_index
from sceneseek.monitor.drift import DriftReport, measure_drift, warn_if_drifting
from sceneseek.monitor.snapshot import IndexSnapshot, read_snapshot

log = logging.getLogger(__name__)
access_log = logging.getLogger("sceneseek.api.access")

MIN_SCRAPE_S = 10.0
SEARCH_ROUTES = {
    "/api/search": "text",
    "/api/search/image": "image",
    "/api/search/similar/{segment_id}": "similar",
}
ERROR_KINDS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "index_state",
    413: "too_large",
    415: "not_an_image",
    416: "bad_range",
    422: "invalid_request",
}
# Latency buckets from a cached thumbnail (~1 ms) to a search queued behind a burst.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class IndexCollector(Collector):
    """Gauges read from the index directory, cached between close scrapes. ``settings``:
    how to reach the vector store (a Milvus server's token, say)."""

    def __init__(self, db: Path, config: MonitorConfig, settings: IndexConfig) -> None:
        self.db = db
        self.config = config
        self.settings = settings
        self._lock = threading.Lock()
        self._at = 0.0
        self._cached: tuple[IndexSnapshot, DriftReport] | None = None
        self._drifting: set[str] = set()

    def read(self) -> tuple[IndexSnapshot, DriftReport]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._at > MIN_SCRAPE_S:
                snapshot = read_snapshot(self.db, settings=self.settings)
                drift = measure_drift(self.db, self.config, settings=self.settings)
                if set(drift.drifting) - self._drifting:  # warn when it starts, not per scrape
                    warn_if_drifting(drift, self.db)
                self._drifting = set(drift.drifting)
                self._cached, self._at = (snapshot, drift), time.monotonic()
            return self._cached

    def collect(self) -> Iterator[Metric]:
        if not has_index(self.db):
            return
        snapshot, drift = self.read()

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"sceneseek_{name}", doc, labels=list(labels))

        size = gauge("index_items", "what the index holds", ("kind",))
        for kind in ("videos", "segments", "failures"):
            size.add_metric([kind], getattr(snapshot, kind))
        vectors = gauge("index_vectors", "stored embeddings per modality", ("modality",))
        for modality, count in snapshot.vectors.items():
            vectors.add_metric([modality], count)
        disk = gauge("index_bytes", "bytes on disk under the index directory", ("part",))
        for part, count in snapshot.bytes.items():
            disk.add_metric([part], count)
        hour = gauge("indexed_last_hour", "stored in the last hour (all processes)", ("kind",))
        hour.add_metric(["segments"], snapshot.segments_last_hour)
        hour.add_metric(["embeddings"], snapshot.embeddings_last_hour)
        lag = gauge(
            "ingest_lag_seconds",
            "newest video with a wall-clock start per camera: end of footage to stored"
            " (the live lag for `watch` chunks)",
            ("camera",),
        )
        for camera, seconds in snapshot.ingest_lag_seconds.items():
            lag.add_metric([camera], seconds)
        yield from (size, vectors, disk, hour, lag)
        shift = gauge("drift_cosine_shift", "1 - cos(mean recent, mean reference)", ("modality",))
        centroid = gauge(
            "drift_centroid_shift", "mean-vector move in reference spreads", ("modality",)
        )
        labels = gauge("drift_label_divergence", "Jensen-Shannon of label weights", ("modality",))
        over = gauge("drift_over_threshold", "1 when the modality is drifting", ("modality",))
        for modality, entry in drift.modalities.items():
            if entry.cosine_shift is not None:
                shift.add_metric([modality], entry.cosine_shift)
            if entry.centroid_shift is not None:
                centroid.add_metric([modality], entry.centroid_shift)
            if entry.label_divergence is not None:
                labels.add_metric([modality], entry.label_divergence)
            over.add_metric([modality], float(entry.drifting))
        yield from (shift, centroid, labels, over)


class ApiMetrics:
    """The registry of one app and the middleware that feeds it."""

    def __init__(self, db: Path, config: MonitorConfig, settings: IndexConfig) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "sceneseek_http_request_duration_seconds",
            "request latency by route",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.queries = Counter(
            "sceneseek_queries",
            "searches answered (rate: queries/s)",
            ["kind"],
            registry=self.registry,
        )
        self.errors = Counter(
            "sceneseek_errors", "error responses by kind", ["kind"], registry=self.registry
        )
        self.index = IndexCollector(db, config, settings)
        self.registry.register(self.index)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None)
        if template is None:  # refused before routing, static files, unknown paths
            template = "(refused)" if status in (401, 403, 413) else "(other)"
        self.latency.labels(scope["method"], template).observe(seconds)
        if status < 400 and template in SEARCH_ROUTES:
            self.queries.labels(SEARCH_ROUTES[template]).inc()
        if status >= 400:
            kind = ERROR_KINDS.get(status, "server" if status >= 500 else f"http_{status}")
            self.errors.labels(kind).inc()
        access_log.info(
            "%s %s %d %.1f ms",
            scope["method"],
            scope["path"],
            status,
            seconds * 1000,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "route": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "role": scope.get("state", {}).get("role"),
            },
        )


class MeasuredRequests:
    """Outermost middleware: times every request (401s and 413s included) into
    ``metrics``; the status is read from the response as it is sent."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(scope, status, time.perf_counter() - started)
