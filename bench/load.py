"""Load: N concurrent clients against `sceneseek serve`, with and without an ingest job.

Usage: python bench/load.py [--clients 50 100] [--seconds 30] [--db DIR] [--json]

Starts ``sceneseek serve`` on 127.0.0.1 (a free port; loopback only) over a fresh copy
of an index of the sample media (built once under bench/out/load-base), then for each
client count runs two phases of ``--seconds`` each: searches only, and the same load
while an ingest job runs through the API (copies of the sample videos, resubmitted
until the phase ends). Each
client (one asyncio task, keep-alive connection) loops over a fixed mix: text searches,
filtered searches (camera, zone, time of day) and thumbnails. Reports per request kind
p50/p95/p99, requests/s, errors (any non-2xx or transport failure), and the query p99
with ingest over without: "ingest does not starve queries".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_latency import free_port, percentile, start_server  # noqa: E402

from sceneseek import Library  # noqa: E402
from sceneseek.eval.samples import build_sample_media  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "a cat",
    "a cup of coffee",
    "a rocket launch",
    "the shipment will arrive late",
    "a man talking on the phone in a car",
    "street with bicycles",
    "gate closed sign",
    "una taza de café",
]
FILTERS = [
    {"camera": "cam-01"},
    {"zone": "lobby"},
    {"time_of_day": "08:00-18:00"},
    {"camera": "cam-01", "zone": "lobby"},
]
MIX = ["text"] * 6 + ["filtered"] * 2 + ["thumbnail"] * 2  # 60 / 20 / 20 %


@dataclass
class Phase:
    clients: int
    ingest: bool
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind -> ms
    errors: dict[str, int] = field(default_factory=dict)  # "kind status" -> count
    ingest_jobs: int = 0
    ingest_files_done: int = 0  # within the measured window
    ingest_tail_s: float = 0.0  # how long the last job ran on after the window

    def record(self, kind: str, ms: float, error: str | None) -> None:
        self.latencies.setdefault(kind, []).append(ms)
        if error:
            self.errors[f"{kind} {error}"] = self.errors.get(f"{kind} {error}", 0) + 1

    def summary(self) -> dict[str, Any]:
        every = [ms for values in self.latencies.values() for ms in values]
        queries = self.latencies.get("text", []) + self.latencies.get("filtered", [])
        return {
            "clients": self.clients,
            "ingest": self.ingest,
            "seconds": round(self.seconds, 1),
            "requests": len(every),
            "requests_per_s": round(len(every) / self.seconds, 1),
            "queries_per_s": round(len(queries) / self.seconds, 1),
            "errors": sum(self.errors.values()),
            "error_kinds": self.errors,
            "ingest_jobs": self.ingest_jobs,
            "ingest_files_done": self.ingest_files_done,
            "ingest_tail_s": round(self.ingest_tail_s, 1),
            "by_kind": {kind: stats(values) for kind, values in sorted(self.latencies.items())},
            "queries": stats(queries),
        }


def stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.50), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
    }


def prepare(base: Path, db: Path, media: Path) -> list[Path]:
    """Index the sample media into ``base`` (skipped when unchanged) and copy it to
    ``db``, so every run starts from the same index; returns the sample videos."""
    samples = build_sample_media(media)
    library = Library(base)
    try:
        library.index([samples.root], camera="cam-01", zone="lobby")
    finally:
        library.close()
    shutil.rmtree(db, ignore_errors=True)
    shutil.copytree(base, db)
    return [samples.speech, samples.silent]  # short ones: progress shows within a phase


async def client_loop(
    client: httpx.AsyncClient, phase: Phase, segments: list[int], stop: float, seed: int
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < stop:
        kind = rng.choice(MIX)
        params: dict[str, str | int] = {}
        if kind == "thumbnail":
            url = f"/api/segments/{rng.choice(segments)}/thumbnail.jpg"
        else:
            url, params = "/api/search", {"q": rng.choice(QUERIES), "top_k": 10}
            if kind == "filtered":
                params.update(rng.choice(FILTERS))
        started = time.perf_counter()
        try:
            response = await client.get(url, params=params)
            error = None if response.is_success else str(response.status_code)
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        phase.record(kind, (time.perf_counter() - started) * 1000, error)


async def keep_ingesting(
    client: httpx.AsyncClient, phase: Phase, videos: list[Path], work: Path, stop: float
) -> None:
    """Submit copies of the sample videos (new content hashes, so they really index) and
    resubmit as each job finishes, until the phase ends."""
    round_number = 0
    while time.monotonic() < stop:
        round_number += 1
        folder = work / f"round-{phase.clients}-{round_number}"
        folder.mkdir(parents=True, exist_ok=True)
        copies = []
        for video in videos:
            copy = folder / video.name
            shutil.copyfile(video, copy)
            with copy.open("ab") as handle:
                handle.write(f"{folder.name}".encode())  # distinct hash, same decode
            copies.append(str(copy))
        body = {"paths": copies, "camera": "cam-02", "zone": "dock"}
        job = (await client.post("/api/ingest", json=body)).json()
        phase.ingest_jobs += 1
        while time.monotonic() < stop:
            await asyncio.sleep(0.5)
            job = (await client.get(f"/api/ingest/{job['id']}")).json()
            if job["status"] in ("done", "failed"):
                break
        phase.ingest_files_done += job["done"]
    # Let a job still running finish before the next phase measures "without ingest".
    while job["status"] in ("queued", "running"):
        await asyncio.sleep(0.5)
        job = (await client.get(f"/api/ingest/{job['id']}")).json()


async def run_phase(
    base: str, clients: int, seconds: float, ingest: bool, videos: list[Path], work: Path
) -> Phase:
    phase = Phase(clients, ingest)
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        found = (await client.get("/api/search", params={"q": "a", "top_k": 50})).json()
        segments = [r["thumbnail_segment_id"] for r in found["results"]]
        started = time.monotonic()
        stop = started + seconds
        feeding = (
            asyncio.create_task(keep_ingesting(client, phase, videos, work, stop))
            if ingest
            else None
        )
        await asyncio.gather(
            *(client_loop(client, phase, segments, stop, seed) for seed in range(clients))
        )
        phase.seconds = time.monotonic() - started
        if feeding is not None:  # the last job finishes outside the measured window
            await feeding
            phase.ingest_tail_s = time.monotonic() - started - phase.seconds
    return phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase")
    parser.add_argument("--base", type=Path, default=ROOT / "bench/out/load-base")
    parser.add_argument("--db", type=Path, default=ROOT / "bench/out/load-lib")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if any(n < 1 or n > 200 for n in args.clients) or not 1 <= args.seconds <= 600:
        parser.error("clients 1..200 and seconds 1..600: this is a bounded loopback test")

    media = ROOT / "bench/out/load-media"
    videos = prepare(args.base, args.db, media)
    work = ROOT / "bench/out/load-ingest"
    shutil.rmtree(work, ignore_errors=True)
    load_before = [round(x, 1) for x in os.getloadavg()]
    server = start_server(args.db, port := free_port())
    base = f"http://127.0.0.1:{port}"
    phases: list[Phase] = []
    try:
        httpx.get(f"{base}/api/search", params={"q": "warm up"}, timeout=120)
        for clients in args.clients:
            for ingest in (False, True):
                phase = asyncio.run(run_phase(base, clients, args.seconds, ingest, videos, work))
                phases.append(phase)
                print(f"done: {clients} clients, ingest {ingest}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report: dict[str, Any] = {
        "db": str(args.db),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,  # other work on the machine skews the numbers
        "phases": [p.summary() for p in phases],
        "ratios": {},
    }
    for clients in args.clients:
        without, with_ingest = (p.summary() for p in phases if p.clients == clients)
        report["ratios"][str(clients)] = round(
            with_ingest["queries"]["p99_ms"] / without["queries"]["p99_ms"], 2
        )
    if args.json:
        print(json.dumps(report))
        return
    print(f"{report['cpus']} CPUs, load average before: {report['load_average_before']}")
    print(
        f"{'clients':>7} {'ingest':>6} {'req/s':>7} {'q/s':>6} {'errors':>6} "
        f"{'kind':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    )
    for row in report["phases"]:
        for kind, s in {**row["by_kind"], "queries": row["queries"]}.items():
            print(
                f"{row['clients']:>7} {'yes' if row['ingest'] else 'no':>6} "
                f"{row['requests_per_s']:>7} {row['queries_per_s']:>6} {row['errors']:>6} "
                f"{kind:>9} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['p99_ms']:>8}"
            )
    for row in report["phases"]:
        if row["ingest"]:
            print(
                f"{row['clients']} clients: {row['ingest_jobs']} ingest job(s), "
                f"{row['ingest_files_done']} files indexed within the {row['seconds']} s window, "
                f"the last job done {row['ingest_tail_s']} s after it"
            )
    for clients, ratio in report["ratios"].items():
        print(f"{clients} clients: query p99 with ingest / without = {ratio}x")


if __name__ == "__main__":
    main()
