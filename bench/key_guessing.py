"""Search latency while clients guess API keys: `sceneseek serve` with keys, real searches
with a valid key, alone and then beside a flood of wrong secrets for that key's id.

Usage: python bench/key_guessing.py [--searches 40] [--guessers 8] [--json]

Starts ``sceneseek serve --modalities visual`` on 127.0.0.1 (a free port) over a fresh
copy of an index of the sample media (built once under bench/out/keyguess-base), adds a
read key, then measures ``--searches`` sequential text searches with that key: first
alone, then while ``--guessers`` threads send requests as fast as they can with keys
of the same id and a random (well-formed) secret, the guess that costs the server one
scrypt (16 MiB, ~50 ms) unless it is rate limited first. Reports search p50/p95 of both
phases and their ratio, and how the guesses were answered (401 checked, 429 limited).
Compare two checkouts by running it with each on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_latency import free_port, percentile, summary  # noqa: E402

from sceneseek import Config, Library  # noqa: E402
from sceneseek.eval.samples import build_sample_media  # noqa: E402
from sceneseek.index.keys import KeyStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["a cat", "a cup of coffee", "street with bicycles", "a rocket launch"]


def base_index(base: Path) -> None:
    """The sample media indexed (visual only: the flood, not the encoders, is measured)."""
    if (base / "index.sqlite").exists():
        return
    samples = build_sample_media(ROOT / "bench/out/keyguess-media")
    library = Library(base, Config(modalities=["visual"]))
    try:
        library.index([samples.root])
    finally:
        library.close()


def start(db: Path, port: int, log: Any) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "sceneseek.cli", "serve", "--db", str(db)]
    # Run from the index's folder: `python -m` puts the working directory first on the
    # path, and PYTHONPATH must decide which checkout serves.
    server = subprocess.Popen(
        [*command, "--port", str(port), "--modalities", "visual"],
        cwd=db.parent,
        stdout=log,
        stderr=log,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited; see its log")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)  # 401 is up
            return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not start")


def searches(url: str, key: str, count: int) -> list[float]:
    took = []
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        for n in range(count):
            started = time.perf_counter()
            response = client.get(f"{url}/api/search", params={"q": QUERIES[n % len(QUERIES)]})
            response.raise_for_status()
            took.append((time.perf_counter() - started) * 1000)
    return took


def guess(url: str, key_id: str, stop: threading.Event, answers: Counter[int]) -> None:
    with httpx.Client(timeout=120) as client:
        while not stop.is_set():
            wrong = f"ssk_{key_id}_{secrets.token_urlsafe(32)}"
            status = client.get(f"{url}/api/health", headers={"X-API-Key": wrong}).status_code
            answers[status] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=40, help="timed searches per phase")
    parser.add_argument("--guessers", type=int, default=8, help="threads guessing keys")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    base = ROOT / "bench/out/keyguess-base"
    base_index(base)
    work = Path(tempfile.mkdtemp(prefix="sceneseek-keyguess-"))
    db = work / "lib"
    shutil.copytree(base, db)
    keys = KeyStore(db)
    key = keys.add("read", "bench")
    keys.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (work / "server.log").open("wb") as log:
        server = start(db, port, log)
        try:
            searches(url, key, 3)  # warm: models loaded, key verified once
            alone = searches(url, key, args.searches)
            stop, answers = threading.Event(), Counter[int]()
            threads = [
                threading.Thread(target=guess, args=(url, key.split("_")[1], stop, answers))
                for _ in range(args.guessers)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            time.sleep(1.0)  # let the flood build up
            flooded = searches(url, key, args.searches)
            stop.set()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(30)
    shutil.rmtree(work, ignore_errors=True)
    result = {
        "sceneseek": os.environ.get("PYTHONPATH", "(installed)"),
        "searches": args.searches,
        "guessers": args.guessers,
        "alone": summary(alone),
        "flooded": summary(flooded),
        "p50_ratio": round(percentile(flooded, 0.5) / percentile(alone, 0.5), 2),
        "guesses": dict(sorted(answers.items())),
        "guesses_per_s": round(sum(answers.values()) / seconds, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"searches alone p50 {result['alone']['p50_ms']} ms p95 {result['alone']['p95_ms']} ms;"
        f" beside {args.guessers} guessers p50 {result['flooded']['p50_ms']} ms"
        f" p95 {result['flooded']['p95_ms']} ms (x{result['p50_ratio']});"
        f" guesses {result['guesses']} at {result['guesses_per_s']}/s"
    )


if __name__ == "__main__":
    main()
