"""Wall time of the installed `sceneseek` entry point: --help, a bad argument, a cold
in-process search, and a search a running `serve` answers (issue #16, item 4); then
where a cold search's time goes, step by step.

Usage: python bench/cli_startup.py [--runs N] [--before TREE] [--work DIR] [--search-only]

Each case runs the entry point next to this interpreter (``.venv/bin/sceneseek``) in a
fresh process with PYTHONPATH set to the code measured: this checkout ("after") and,
with ``--before``, another checkout of the package (e.g. ``git archive main`` unpacked),
alternating one run of each so that load drifts hit both alike. Every case runs once
unmeasured first (bytecode compiled, model caches written), then N times; the table has
the median and p90 of each, wall and CPU (user + system), and the load average before
and after. The index is one
10-second sample video (sceneseek.eval.samples), built in --work on the first run.
Bytecode is written and used (PYTHONDONTWRITEBYTECODE is dropped), as in an install.

The steps table runs the search's stages through the Python API in a fresh interpreter
per run (``STEPS``), with the collector off in both trees so that each row shows the
work itself rather than where a collection happened to fall; the interpreter's own
start (``python -c pass``) is its first row.
"""

from __future__ import annotations

import argparse
import json
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


# One cold search through the API, stage by stage: wall and CPU ms of each, as JSON.
STEPS = """
import gc, json, sys, time
gc.disable()
marks, start, cpu = [], time.perf_counter(), time.process_time()
def mark(step):
    marks.append((step, (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000))
import sceneseek.cli
mark("import the CLI (typer, rich)")
from sceneseek.config import Config
config = Config()
mark("read the config (pydantic-settings)")
from sceneseek.library import Library
mark("import the library (numpy, index, search)")
library = Library(sys.argv[1], config)
library.index_store
mark("open the index")
library.encoders.versions()
mark("make every encoder for its version (loads e5)")
library.query_translation(sys.argv[2])
mark("read the query's language (langid)")
response = library.search(sys.argv[2])
mark("search (embed, score, fuse, explain)")
json.dumps(response.to_dict())
library.close()
mark("print and close")
print(json.dumps(marks))
"""


def child_env(tree: Path) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**kept, "PYTHONPATH": str(tree)}


def runner(tree: Path) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    env = child_env(tree)

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
    parser.add_argument(
        "--search-only",
        action="store_true",
        help="the cold in-process search alone: short enough to fit a quiet spell",
    )
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
    if args.search_only:
        cases = {case: action for case, action in cases.items() if case.startswith("cold")}
    load_before = os.getloadavg()
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for case, action in cases.items():
        for run in runs.values():
            action(run)  # unmeasured: bytecode, caches
        for _ in range(args.runs):
            for name, run in runs.items():
                times.setdefault((case, name), []).append(timed(lambda: action(run)))  # noqa: B023
    served = "`search` answered by a running `serve`"
    if not args.search_only:
        times[(served, "after")] = served_times(db, runs["after"], search, args.runs)
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
    if not args.search_only:
        print_steps(trees, db, args.runs)


def served_times(
    db: Path, run: Callable[..., object], search: tuple[str, ...], runs: int
) -> list[tuple[float, float]]:
    """A search with this checkout's `serve` running on the index, ``runs`` times."""
    server = start_server(db, free_port())
    try:
        if read_announcement(db) is None:
            raise RuntimeError(f"the server did not announce itself in {db}")
        run(*search)
        return [timed(lambda: run(*search)) for _ in range(runs)]
    finally:
        server.terminate()
        server.wait(timeout=60)


def print_steps(trees: dict[str, Path], db: Path, runs: int) -> None:
    """Median wall and CPU ms of each stage of a cold search, per tree."""
    steps: dict[tuple[str, str], list[tuple[float, float]]] = {}
    order: list[str] = ["start the interpreter"]
    for attempt in range(runs + 1):  # the first: unmeasured
        for name, tree in trees.items():
            wall, cpu = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
            done = subprocess.run(  # -P: the tree's package, not the one in the cwd
                [sys.executable, "-P", "-c", STEPS, str(db), QUERY],
                env=child_env(tree),
                capture_output=True,
                check=True,
                timeout=600,
            )
            if not attempt:
                continue
            steps.setdefault(("start the interpreter", name), []).append((wall, cpu))
            previous = (0.0, 0.0)
            for step, step_wall, step_cpu in json.loads(done.stdout):
                if step not in order:
                    order.append(step)
                took = (step_wall - previous[0], step_cpu - previous[1])
                steps.setdefault((step, name), []).append(took)
                previous = (step_wall, step_cpu)
    columns = list(trees)
    print("\n| step of a cold search: wall ms (CPU ms), median | " + " | ".join(columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for step in order:
        cells = []
        for name in columns:
            taken = steps[(step, name)]
            wall = statistics.median(w for w, _ in taken)
            cpu = statistics.median(c for _, c in taken)
            cells.append(f"{wall:.0f} ({cpu:.0f})")
        print(f"| {step} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
