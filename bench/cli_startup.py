"""Wall time of the installed `sceneseek` entry point: --help, a bad argument, a cold
in-process search, and a search a running `serve` answers (issue #16, item 4).

Usage: python bench/cli_startup.py [--runs N] [--before TREE] [--work DIR]

Each case runs the entry point next to this interpreter (``.venv/bin/sceneseek``) in a
fresh process with PYTHONPATH set to the code measured: this checkout ("after") and,
with ``--before``, another checkout of the package (e.g. ``git archive main`` unpacked),
alternating one run of each so that load drifts hit both alike. Every case runs once
unmeasured first (bytecode compiled, model caches written), then N times; the table has
the median and p90 of each, and the load average before and after. The index is one
10-second sample video (sceneseek.eval.samples), built in --work on the first run.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from sceneseek.eval.samples import build_sample_media
from sceneseek.local_server import read_announcement

ROOT = Path(__file__).resolve().parent.parent
ENTRY = Path(sys.executable).parent / "sceneseek"
QUERY = "a street with bicycles"


def runner(tree: Path) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run([str(ENTRY), *args], env=env, capture_output=True, timeout=600)
        if done.returncode != expect:
            raise RuntimeError(f"{tree}: sceneseek {' '.join(args)}: {done.stderr.decode()}")
        return done

    return run


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(tree: Path, db: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the server runs
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [str(ENTRY), "serve", "--db", str(db), "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                if read_announcement(db) is None:
                    raise RuntimeError("the server did not announce itself in the index dir")
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("server did not answer within 180 s")


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.0f} / {p90:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--before", type=Path, help="another checkout to compare against")
    parser.add_argument("--work", type=Path, default=ROOT / "bench/out/cli-startup")
    args = parser.parse_args()
    trees = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    runs = {name: runner(tree) for name, tree in trees.items()}
    db = args.work / "db"
    if not (db / "index.sqlite").exists():
        samples = build_sample_media(args.work / "media")
        runs["after"]("index", str(samples.silent), "--db", str(db))
    search = ("search", "--db", str(db), QUERY, "--json")
    cases: dict[str, Callable[[Callable[..., object]], object]] = {
        "`sceneseek --help`": lambda run: run("--help"),
        "bad argument (`search --top-k many`, exit 2)": lambda run: run(
            "search", "--db", str(db), "--top-k", "many", QUERY, expect=2
        ),
        "cold `search` in-process (`--json`)": lambda run: run(*search),
    }
    load_before = os.getloadavg()
    times: dict[tuple[str, str], list[float]] = {}
    for case, action in cases.items():
        for run in runs.values():
            action(run)  # unmeasured: bytecode, caches
        for _ in range(args.runs):
            for name, run in runs.items():
                times.setdefault((case, name), []).append(timed(lambda: action(run)))  # noqa: B023
    served = "`search` answered by a running `serve`"
    server = start_server(ROOT, db)
    try:
        runs["after"](*search)
        times[(served, "after")] = [timed(lambda: runs["after"](*search)) for _ in range(args.runs)]
    finally:
        server.terminate()
        server.wait(timeout=60)
    load_after = os.getloadavg()
    columns = list(trees)
    print(f"{args.runs} runs each; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after; {os.cpu_count()} CPUs\n")
    print("| case (wall ms, median / p90) | " + " | ".join(columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for case in [*cases, served]:
        cells = [summary(times[(case, n)]) if (case, n) in times else "—" for n in columns]
        print(f"| {case} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
