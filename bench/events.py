"""People entering, leaving and loitering in zones, scored against hand labels.

Usage: python bench/events.py [--labels bench/events/labels.toml] [--fps 1,2,3] [--json]
                             [--set NAME=VALUE ...]

At each detail frame rate, runs the people reader (detector, tracker, zone events) over
the labelled footage once per setting of the grid below, picks the setting with the best
F1 on the tune half (events starting before ``split_at``), and prints precision, recall
and start/end error per event kind for that setting on both halves, tune and test, plus
processing speed in × real time (best of ``--rounds``, the rates' timings interleaved;
decoding excluded: the ingest decodes once for every reader).
A detection matches a label of the same kind and zone whose start and end are both within
2 s, each label at most once, closest first; ``uncertain`` labels absorb detections
without counting.
bench/events/labels.toml says how the labels were made and why the split is by time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek.config import CameraConfig
from sceneseek.encoders.people import HogPeopleReader, PeopleSettings
from sceneseek.encoders.zones import ZoneEvent, camera_zones
from sceneseek.eval.assets import AssetCache
from sceneseek.media.decode import probe, sample_frames

TOLERANCE = 2.0  # seconds, on start and on end
KINDS = ("enter", "leave", "loiter")
# Tracker and zone hysteresis: seconds a track survives unseen (death), how much colour
# counts in matching, seconds on the new side of a zone edge before a crossing counts,
# how far back a new track may follow its moving blob to the picture's edge (0: no lead-in),
# seconds of hits a track's velocity is fitted over (0: its last two). Stitching lost tracks
# back together within 2 s was tried and never chosen at 1, 2 or 3 fps, and 2 frames before
# a track counts (birth) never beat 1, so they went.
GRID = {
    "max_gap": (1.5, 3.0),
    "looks_weight": (0.0, 3.0),
    "zone_confirm_seconds": (0.0, 0.7),
    "lead_in_seconds": (0.0, 5.0),
    "velocity_seconds": (0.0, 1.0),
}


@dataclass(frozen=True)
class Label:
    kind: str
    zone: str
    start: float
    end: float


@dataclass
class Score:
    labelled: int = 0
    found: int = 0
    hits: int = 0
    start_errors: list[float] | None = None
    end_errors: list[float] | None = None

    @property
    def precision(self) -> float:
        return self.hits / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.labelled if self.labelled else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def row(self) -> dict[str, float | int]:
        return {
            "labelled": self.labelled,
            "found": self.found,
            "hits": self.hits,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "start_error_s": round(float(np.mean(self.start_errors)), 2)
            if self.start_errors
            else 0.0,
            "end_error_s": round(float(np.mean(self.end_errors)), 2) if self.end_errors else 0.0,
        }


def close(a: Label | ZoneEvent, b: Label) -> bool:
    return (
        a.kind == b.kind
        and a.zone == b.zone
        and abs(a.start - b.start) <= TOLERANCE
        and abs(a.end - b.end) <= TOLERANCE
    )


def score(found: list[ZoneEvent], labels: list[Label], uncertain: list[Label]) -> Score:
    """Greedy one-to-one matching, smallest summed time error first."""
    pairs = sorted(
        (abs(f.start - g.start) + abs(f.end - g.end), fi, gi)
        for fi, f in enumerate(found)
        for gi, g in enumerate(labels)
        if close(f, g)
    )
    matched_found: set[int] = set()
    matched_labels: set[int] = set()
    result = Score(labelled=len(labels), start_errors=[], end_errors=[])
    for _, fi, gi in pairs:
        if fi in matched_found or gi in matched_labels:
            continue
        matched_found.add(fi)
        matched_labels.add(gi)
        assert result.start_errors is not None and result.end_errors is not None
        result.start_errors.append(abs(found[fi].start - labels[gi].start))
        result.end_errors.append(abs(found[fi].end - labels[gi].end))
    result.hits = len(matched_found)
    spare = [f for i, f in enumerate(found) if i not in matched_found]
    result.found = result.hits + sum(not any(close(f, u) for u in uncertain) for f in spare)
    return result


def halves(items: list[Label], split: float) -> dict[str, list[Label]]:
    return {
        "tune": [e for e in items if e.start < split],
        "test": [e for e in items if e.start >= split],
    }


def run(
    frames: list[tuple[float, np.ndarray]], settings: PeopleSettings, camera: CameraConfig
) -> tuple[list[ZoneEvent], float]:
    """Zone events of one pass, and the seconds it took."""
    session = HogPeopleReader(settings).session(camera_zones(camera))
    started = time.perf_counter()
    for t, rgb in frames:
        session.feed(t, rgb)
    session.finish()
    return session.zone_events(), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=Path("bench/events/labels.toml"))
    parser.add_argument("--fps", default="1,2,3", help="detail frames per second, comma list")
    parser.add_argument("--short-side", type=int, default=480, help="detail frame size cap")
    parser.add_argument("--rounds", type=int, default=3, help="timings of each chosen setting")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PeopleSettings value held fixed in every run (e.g. redetect_seconds=0)",
    )
    args = parser.parse_args()
    spec = tomllib.loads(args.labels.read_text())
    video = spec["video"]
    tree, version = AssetCache().debian_package(video["package"])
    info = probe(tree / video["path"])
    camera = CameraConfig(zones=spec["zones"])
    labels = halves([Label(*row[:4]) for row in spec["events"]], video["split_at"])
    uncertain = [Label(*row[:4]) for row in spec["uncertain"]]
    fixed = {name: float(value) for name, _, value in (s.partition("=") for s in args.set)}
    base = replace(PeopleSettings(loiter_seconds=spec["loiter_seconds"]), **fixed)

    def by_kind(found: list[ZoneEvent], half: str) -> dict[str, Score]:
        mine = [e for e in found if (e.start < video["split_at"]) == (half == "tune")]
        return {
            kind: score(
                [e for e in mine if e.kind == kind],
                [g for g in labels[half] if g.kind == kind],
                [u for u in uncertain if u.kind == kind],
            )
            for kind in KINDS
        }

    def overall(scores: dict[str, Score]) -> Score:
        return Score(
            labelled=sum(s.labelled for s in scores.values()),
            found=sum(s.found for s in scores.values()),
            hits=sum(s.hits for s in scores.values()),
            start_errors=[e for s in scores.values() for e in s.start_errors or []],
            end_errors=[e for s in scores.values() for e in s.end_errors or []],
        )

    rates = [float(f) for f in args.fps.split(",")]
    frames = {
        fps: [
            detail
            for batch in sample_frames(info, 0.5, detail_fps=fps, detail_short_side=args.short_side)
            for detail in batch.detail
        ]
        for fps in rates
    }
    chosen: dict[float, tuple[dict[str, Any], list[ZoneEvent]]] = {}
    for fps in rates:
        grid = []
        for values in itertools.product(*GRID.values()):
            setting: dict[str, Any] = dict(zip(GRID, values, strict=True))
            found, _ = run(frames[fps], replace(base, **setting), camera)
            tune = overall(by_kind(found, "tune")).f1
            grid.append((tune, setting, found))
            if not args.json:
                print(f"{fps:g} fps, {setting}: tune F1 {tune:.3f}")
        _, setting, found = max(grid, key=lambda g: g[0])  # ties: the first in GRID order
        chosen[fps] = setting, found
    # Timed apart from the grid and interleaved, so a shared machine's load falls alike.
    seconds = dict.fromkeys(rates, float("inf"))
    for _ in range(args.rounds):
        for fps in rates:
            took = run(frames[fps], replace(base, **chosen[fps][0]), camera)[1]
            seconds[fps] = min(seconds[fps], took)
    reports: list[dict[str, Any]] = [
        {
            "video": f"{video['name']} ({video['package']} {version}), {info.duration:.1f} s",
            "fps": fps,
            "chosen_on_tune": setting,
            "realtime": round(info.duration / seconds[fps], 1),
            "halves": {
                half: {kind: s.row() for kind, s in by_kind(found, half).items()}
                | {"all": overall(by_kind(found, half)).row()}
                for half in ("tune", "test")
            },
        }
        for fps, (setting, found) in chosen.items()
    ]
    if args.json:
        print(json.dumps(reports, indent=2))
        return
    for report in reports:
        print(f"\n{report['video']}, {report['fps']:g} detail fps; chosen on tune:")
        print(f"{report['chosen_on_tune']}; {report['realtime']}x real time (no decoding)")
        print(
            "| half | kind | labelled | found | hits | precision | recall | start err | end err |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for half, rows in report["halves"].items():
            for kind, row in rows.items():
                cells = " | ".join(str(v) for v in row.values())
                print(f"| {half} | {kind} | {cells} |")


if __name__ == "__main__":
    main()
