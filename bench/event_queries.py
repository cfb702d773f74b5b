"""What a query on people events costs in a library with many of them (issue #18's event
search at the size of a month of footage): it ranks the distinct event sentences, which
say durations, so the sentences to embed at query time grew with the library until they
were ranked without their durations (``without_durations``).

``build`` indexes the first 66 s of OpenCV's vtest.avi with the benchmark's "exit" zone
(as tests/test_events.py does), then copies its events into ``--events`` more, each with
its own duration (log-uniform, 10 s to 2 h) and one of four zones, as a month of a busy
site would have them. ``measure`` opens the library in a fresh process and times event
queries: the first (nothing embedded yet, what every CLI query pays) and the median of
the next four. Run it with each checkout on ``PYTHONPATH`` to compare them on one library:

    python bench/event_queries.py build W --events 50000
    for tree in OLD NEW; do PYTHONPATH=$tree python bench/event_queries.py measure W; done
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from sceneseek import Config, Library
from sceneseek.eval.assets import AssetCache

EXIT = "0.8,0.5 1,0.52 1,0.87 0.8,0.745"  # bench/events/labels.toml's "exit"
ZONES = ("exit", "gate", "parking", "lobby")
QUERIES = (
    "a person loitering in the exit zone for more than 30 seconds",
    "someone lingering at the gate zone for more than 2 minutes",
    "alguien merodeando en la zona parking más de 1 minuto",
    "a person standing still in the lobby zone for more than 5 minutes",
    "a person stops for more than 20 seconds",
)


def config() -> Config:
    zones = {name: EXIT for name in ZONES}
    return Config(
        modalities=["people"],
        encoders={"people_loiter_seconds": 10},  # type: ignore[arg-type]
        metadata={"cameras": {"gate": {"zones": zones}}},  # type: ignore[arg-type]
    )


def build(work: Path, events: int) -> None:
    # Here, not at the top: ``measure`` runs with checkouts from before these existed.
    from sceneseek.encoders.people import spoken_duration, without_durations

    tree, _ = AssetCache().debian_package("opencv-doc")
    vtest = tree / "usr/share/doc/opencv-doc/examples/data/vtest.avi"
    with tempfile.TemporaryDirectory() as scratch:
        clip = Path(scratch) / "loiter.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-i", str(vtest), "-t", "66", "-an", str(clip)],
            check=True,
        )
        library = Library(work, config())
        start = datetime.fromisoformat("2026-11-28T22:30:00+01:00")
        report = library.index([clip], camera="gate", start=start)
        library.close()
    if not report.indexed:
        raise SystemExit(f"indexing the clip failed: {report.failed}")
    rng = random.Random(0)
    db = sqlite3.connect(work / "index.sqlite")
    columns = "video_id, kind, zone, start, end, dwell, count, direction, text, tracks"
    stays = db.execute(f"SELECT {columns} FROM events WHERE dwell IS NOT NULL").fetchall()
    if not stays:
        raise SystemExit("the clip gave no loiter or stop events to copy")
    copies = []
    for _ in range(events):
        video, kind, zone, begin, _, _, count, way, text, tracks = rng.choice(stays)
        dwell = 10 * 720 ** rng.random()  # 10 s to 2 h
        place = rng.choice(ZONES) if zone else None
        said = without_durations(text).replace("a while", spoken_duration(dwell))
        if zone:
            said = said.replace(f"the {zone} zone", f"the {place} zone")
        copies.append((video, kind, place, begin, begin + dwell, dwell, count, way, said, tracks))
    with db:
        db.executemany(f"INSERT INTO events ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?)", copies)
    total, distinct = db.execute("SELECT count(*), count(DISTINCT text) FROM events").fetchone()
    db.close()
    print(json.dumps({"events": total, "distinct sentences": distinct}))


def measure(work: Path) -> None:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    library = Library(work, config())
    opened = time.perf_counter() - started
    times, found = [], []
    for query in QUERIES:
        started = time.perf_counter()
        response = library.search(query, 10)
        times.append((time.perf_counter() - started) * 1000)
        found.append(len(response.results))
    library.close()
    out = {
        "open_s": round(opened, 2),
        "first_ms": round(times[0]),
        "next_median_ms": round(float(np.median(times[1:]))),
        "results": found,
        "load": [round(load, 1), round(os.getloadavg()[0], 1)],
    }
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("build", "measure"))
    parser.add_argument("work", type=Path)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    if args.step == "build":
        build(args.work, args.events)
    else:
        measure(args.work)


if __name__ == "__main__":
    main()
