"""Wall time of the installed `sceneseek` entry point: --help, a bad argument, a cold
in-process search, and a search a running `serve` answers (issue #16, item 4).

Usage: python bench/cli_startup.py [--runs N] [--before TREE] [--work DIR]

Each case runs the entry point next to this interpreter (``.venv/bin/sceneseek``) in a
fresh process with PYTHONPATH set to the code measured: this checkout ("after") and,
with ``--before``, another checkout of the package (e.g. ``git archive main`` unpacked),
alternating one run of each so that load drifts hit both alike. Every case runs once
unmeasured first (bytecode compiled, model caches written), then N times; the table has
the median and p90 of each, wall and CPU (user + system), and the load average before
and after. The index is one
10-second sample video (sceneseek.eval.samples), built in --work on the first run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_latency import free_port, percentile, start_server  # noqa: E402

from sceneseek.eval.samples import build_sample_media  # noqa: E402
from sceneseek.local_server import read_announcement  # noqa: E402

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


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU (user + system, of the child) milliseconds of one run: on a loaded
    machine the CPU time is the steadier figure."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    action()
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall * 1000, cpu * 1000


def summary(runs: list[tuple[float, float]]) -> str:
    wall, cpu = [w for w, _ in runs], [c for _, c in runs]
    return (
        f"{statistics.median(wall):.0f} / {percentile(wall, 0.9):.0f}"
        f" ({statistics.median(cpu):.0f} / {percentile(cpu, 0.9):.0f})"
    )


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
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for case, action in cases.items():
        for run in runs.values():
            action(run)  # unmeasured: bytecode, caches
        for _ in range(args.runs):
            for name, run in runs.items():
                times.setdefault((case, name), []).append(timed(lambda: action(run)))  # noqa: B023
    served = "`search` answered by a running `serve`"
    server = start_server(db, free_port())  # this checkout's serve
    try:
        if read_announcement(db) is None:
            raise RuntimeError(f"the server did not announce itself in {db}")
        runs["after"](*search)
        times[(served, "after")] = [timed(lambda: runs["after"](*search)) for _ in range(args.runs)]
    finally:
        server.terminate()
        server.wait(timeout=60)
    load_after = os.getloadavg()
    columns = list(trees)
    print(
        f"{args.runs} runs each; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; {os.cpu_count()} CPUs\n"
    )
    print("| case: wall ms, median / p90 (CPU ms, median / p90) | " + " | ".join(columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for case in [*cases, served]:
        cells = [summary(times[(case, n)]) if (case, n) in times else "—" for n in columns]
        print(f"| {case} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
