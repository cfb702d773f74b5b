"""Search latency through HTTP vs in-process ``Library.search``, same index and queries.

Usage: python bench/http_latency.py [--db DIR] [--dataset DIR] [--requests N] [--build]

Starts ``sceneseek serve`` on 127.0.0.1 (a separate process, as in real use), warms both
sides with every query once, then alternates one in-process search and one HTTP search
(httpx, keep-alive) per query so drift hits both equally. Prints p50/p95 of each and the
ratio of the p50s; issue #5 wants HTTP within 1.5x of in-process. ``--build`` first
indexes the benchmark's videos into --db (unchanged files are skipped).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

from sceneseek import Library
from sceneseek.eval.benchmark import index_dataset
from sceneseek.eval.runner import load_dataset

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(db: Path, port: int, timeout: float = 180.0) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "sceneseek.cli", "serve", "--db", str(db)]
    # Logs go to a file, not a pipe: the access log line per request would fill an
    # unread pipe and stall the server.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the server runs
    server = subprocess.Popen([*command, "--port", str(port)], stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"server did not answer on port {port} within {timeout:.0f} s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5), 2),
        "p95_ms": round(percentile(values, 0.95), 2),
        "mean_ms": round(statistics.fmean(values), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "bench/out/bench-lib")
    parser.add_argument("--dataset", type=Path, default=ROOT / "bench/data/sceneseek-bench")
    parser.add_argument("--requests", type=int, default=170, help="timed searches per side")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--build", action="store_true", help="index the dataset into --db first")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    dataset = load_dataset(args.dataset)
    library = Library(args.db)
    if args.build:
        index_dataset(library, dataset)
    queries: list[dict[str, Any]] = [
        {
            "q": q.text,
            "top_k": args.top_k,
            **{k: v for k, v in asdict(q.filters).items() if v is not None},
        }
        for q in dataset.queries
    ]

    def in_process(params: dict[str, Any]) -> float:
        started = time.perf_counter()
        library.search(
            params["q"],
            top_k=params["top_k"],
            camera=params.get("camera"),
            zone=params.get("zone"),
            time_of_day=params.get("time_of_day"),
        )
        return (time.perf_counter() - started) * 1000

    server = start_server(args.db, port := free_port())
    local: list[float] = []
    remote: list[float] = []
    server_side: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

            def over_http(params: dict[str, Any]) -> float:
                started = time.perf_counter()
                response = client.get("/api/search", params=params)
                response.raise_for_status()
                answer = response.json()
                elapsed = (time.perf_counter() - started) * 1000
                server_side.append(answer["took_ms"])
                return elapsed

            for params in queries:  # warm-up: models, caches, connections
                in_process(params)
                over_http(params)
            server_side.clear()
            for i in range(args.requests):
                params = queries[i % len(queries)]
                if i % 2:
                    local.append(in_process(params))
                    remote.append(over_http(params))
                else:
                    remote.append(over_http(params))
                    local.append(in_process(params))
    finally:
        server.terminate()
        server.wait(timeout=30)
        library.close()

    report = {
        "db": str(args.db),
        "queries": len(queries),
        "requests_per_side": args.requests,
        "in_process": summary(local),
        "http": summary(remote),
        "http_engine_took_ms": summary(server_side),
        "p50_ratio": round(percentile(remote, 0.5) / percentile(local, 0.5), 3),
        "target_ratio": TARGET_RATIO,
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"{report['queries']} queries, {args.requests} timed searches per side, db {args.db}")
    print(f"{'':18}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name, key in (
        ("in-process", "in_process"),
        ("HTTP", "http"),
        ("  engine in server", "http_engine_took_ms"),
    ):
        row = report[key]
        print(f"{name:18}{row['p50_ms']:>10.1f}{row['p95_ms']:>10.1f}{row['mean_ms']:>10.1f}")
    verdict = "within" if report["p50_ratio"] <= TARGET_RATIO else "OVER"
    print(
        f"HTTP / in-process p50: {report['p50_ratio']:.2f}x ({verdict} the {TARGET_RATIO}x target)"
    )


if __name__ == "__main__":
    main()
