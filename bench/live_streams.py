"""Live lag with several streams at once: phrase said → searchable, per number of streams.

Usage: python bench/live_streams.py [--dataset DIR] [--streams 1,2,4,6] [--seconds 150]
       [--chunk-seconds 6] [--work DIR] [--json FILE]

For each N, N ffmpeg senders stream benchmark videos (re-encoded once to 25 fps,
640x360, a keyframe a second, looped to the run's length) in real time (``-re``) as
MPEG-TS over loopback TCP into ONE ``sceneseek watch --stream camK=URL ...`` process
(a fresh index, every modality, the product defaults). The videos' English speech
queries (dataset.json: text and interval) are the phrases: each time one has been sent
(its end, on the sender's own clock), this process, which is not the watcher, searches
the index for it every ``--poll`` seconds, on its camera, until a moment with speech
evidence holding the phrase's last second (wall clock) comes back; the lag is the time
from the phrase's end to that search. The watcher's log gives each chunk's indexing time and
its lag (chunk end → indexed); the slope of that lag over the run says whether the queue
is growing (the machine holds N streams only while it stays flat).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek import Library
from sceneseek.errors import SceneseekError
from sceneseek.eval.camera import LoopbackCamera
from sceneseek.media.decode import probe

TOLERANCE_S = 1.5  # a found moment may reach past the phrase's end this far
LAST_S = 1.0  # it must hold the phrase's last second: a phrase is searchable once all of it is
GIVE_UP_S = 90.0  # a phrase not searchable this long after it was said is missed
GROWING_S_PER_MIN = 3.0  # chunk lag rising faster than this over a run: a growing queue


@dataclass(frozen=True)
class Phrase:
    query: str
    start: float  # seconds into the source video
    end: float


@dataclass
class Sender:
    """One stream: a camera id, the clip its loopback camera sends, the phrases in it."""

    camera: str
    split: str  # the benchmark half its video belongs to
    clip: Path
    loop_s: float  # the source video's length: the clip repeats it
    phrases: list[Phrase]
    sending: LoopbackCamera | None = None

    def start(self) -> None:
        self.sending = LoopbackCamera(self.clip)

    @property
    def url(self) -> str:
        assert self.sending is not None
        return self.sending.url

    @property
    def anchor(self) -> float | None:
        return self.sending.anchor if self.sending else None

    def said(self, until: float) -> list[tuple[int, Phrase, float, float]]:
        """Every phrase occurrence fully sent by wall time ``until``: (repetition,
        phrase, wall start, wall end)."""
        if self.anchor is None:
            return []
        found = []
        for loop in range(int((until - self.anchor) // self.loop_s) + 1):
            base = self.anchor + loop * self.loop_s
            found += [(loop, p, base + p.start, base + p.end) for p in self.phrases]
        return [said for said in found if said[3] <= until]

    def stop(self) -> None:
        if self.sending:
            self.sending.kill()


@dataclass
class Run:
    streams: int
    lags: list[tuple[float, str]] = field(default_factory=list)  # phrase end → found, half
    missed: int = 0
    chunks: list[dict[str, Any]] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    rss_mb: float = 0.0  # peak resident memory of the watcher (models, Python)
    ffmpeg_rss_mb: float = 0.0  # peak total of its ffmpeg recorders

    def summary(self, seconds: float) -> dict[str, Any]:
        lags = [lag for lag, _ in self.lags]
        chunk_lags = [c["lag"] for c in self.chunks]
        index_s = [c["seconds"] for c in self.chunks]
        times = np.array([c["at"] for c in self.chunks])
        slope = 0.0
        if len(times) > 2:  # least squares, seconds of lag per minute of run
            slope = float(np.polyfit(times - times[0], chunk_lags, 1)[0] * 60)
        return {
            "streams": self.streams,
            "phrases_found": len(lags),
            "phrases_missed": self.missed,
            "lag_p50": percentile(lags, 50),
            "lag_p95": percentile(lags, 95),
            "lag_max": max(lags, default=None),
            **{
                f"{half}_lag_p{q}": percentile([lag for lag, s in self.lags if s == half], q)
                for half in ("tune", "test")
                for q in (50, 95)
            },
            "chunks": len(self.chunks),
            "chunk_lag_p50": percentile(chunk_lags, 50),
            "chunk_lag_p95": percentile(chunk_lags, 95),
            "chunk_index_s_mean": statistics.fmean(index_s) if index_s else None,
            "chunk_index_s_p95": percentile(index_s, 95),
            "busy": sum(index_s) / seconds,  # indexer's share of the run's wall time
            "chunk_lag_slope_s_per_min": slope,
            "grows": slope > GROWING_S_PER_MIN,
            "max_waiting": max((c["waiting"] for c in self.chunks), default=0),
            "load_mean": statistics.fmean(self.load) if self.load else None,
            "watch_rss_mb": self.rss_mb,
            "ffmpeg_rss_mb": self.ffmpeg_rss_mb,
            "lags": [round(lag, 2) for lag, _ in self.lags],
        }


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def english_phrases(dataset: dict[str, Any]) -> dict[str, list[Phrase]]:
    """Per video file, its English speech queries and their intervals (one query per
    interval: the first that names it)."""
    phrases: dict[str, dict[tuple[float, float], Phrase]] = {}
    for query in dataset["queries"]:
        if query["modality"] != "speech" or query["lang"] != "en":
            continue
        for hit in query["relevant"]:
            span = (hit["start"], hit["end"])
            phrases.setdefault(hit["file"], {}).setdefault(span, Phrase(query["text"], *span))
    return {file: sorted(by_span.values(), key=lambda p: p.start) for file, by_span in
            phrases.items()}  # fmt: skip


def stream_clip(video: Path, out: Path, seconds: float) -> Path:
    """The video as a camera sends it (25 fps, 640x360, H.264 with a 1 s GOP, AAC),
    repeated to ``seconds``; built once per work folder."""
    if not out.is_file():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(video),
             "-t", f"{seconds:g}", "-vf", "scale=640:360,fps=25", "-c:v", "libx264",
             "-preset", "veryfast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
             "-c:a", "aac", "-f", "mpegts", str(out) + ".part"],
            check=True, timeout=900,
        )  # fmt: skip
        os.replace(str(out) + ".part", out)
    return out


def resident_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def found(library: Library, camera: str, phrase: Phrase, start: float, end: float) -> bool:
    """Whether searching the phrase on its camera returns a moment with speech evidence
    holding the end of the span it was said in (a phrase cut by a chunk boundary counts
    once its second part is searchable)."""
    try:
        results = library.search(
            phrase.query, top_k=5, camera=camera, parse=False,
            after=datetime.fromtimestamp(start - 30).astimezone(),
        ).results  # fmt: skip
    except SceneseekError:  # nothing indexed yet
        return False
    for moment in results:
        wall = moment.segments[0].wall_start
        if wall is None or moment.segments[0].camera != camera or "speech" not in moment.evidence:
            continue
        said_from, said_to = wall.timestamp() + moment.start, wall.timestamp() + moment.end
        if said_from < end + TOLERANCE_S and said_to > end - LAST_S:
            return True
    return False


def chunk_records(log_path: Path, started: float) -> list[dict[str, Any]]:
    """The watcher's per-chunk lines: when (s into the run), indexing seconds, lag,
    chunks still waiting."""
    records = []
    for line in log_path.read_text(errors="replace").splitlines():
        if " searchable " not in line or " indexed " not in line:
            continue
        stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        words = line.split()
        records.append({
            "at": stamp - started,
            "seconds": float(words[words.index("in") + 1]),
            "lag": float(words[words.index("searchable") + 1]),
            "waiting": int(words[words.index("chunks") - 1]),
        })  # fmt: skip
    return records


def run_streams(senders: list[Sender], args: argparse.Namespace, work: Path) -> Run:
    n = len(senders)
    db, log_path = work / f"db-{n}", work / f"watch-{n}.log"
    subprocess.run(["rm", "-rf", str(db)], check=True)
    run = Run(n)
    for sender in senders:
        sender.start()
    command = [
        sys.executable, "-m", "sceneseek.cli", "--log-format", "text", "watch", "--db", str(db),
        "--chunk-seconds", f"{args.chunk_seconds:g}",
        *[f"--stream={s.camera}={s.url}" for s in senders],
    ]  # fmt: skip
    with log_path.open("wb") as log_file:
        watcher = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    library = Library(db)
    pending: dict[tuple[str, str, int], tuple[Sender, Phrase, float, float]] = {}
    done: set[tuple[str, str, int]] = set()
    try:
        deadline = time.monotonic() + 120
        while any(s.anchor is None for s in senders):  # models load, then it connects
            if time.monotonic() > deadline or watcher.poll() is not None:
                raise RuntimeError(f"the watcher never connected: see {log_path}")
            time.sleep(0.2)
        started = min(s.anchor for s in senders if s.anchor is not None)
        stop_sending = started + args.seconds
        next_sample = 0.0
        while True:
            now = time.time()
            if now >= stop_sending:
                for sender in senders:
                    sender.stop()
            if now >= next_sample:
                next_sample = now + 5
                run.load.append(os.getloadavg()[0])
                run.rss_mb = max(run.rss_mb, resident_mb(watcher.pid))
                recorders = sum(resident_mb(c) for c in children(watcher.pid))
                run.ffmpeg_rss_mb = max(run.ffmpeg_rss_mb, recorders)
            for sender in senders:
                for loop, phrase, start, end in sender.said(min(now, stop_sending)):
                    key = (sender.camera, phrase.query, loop)
                    if key not in done:
                        pending.setdefault(key, (sender, phrase, start, end))
            for key, (sender, phrase, start, end) in list(pending.items()):
                if found(library, sender.camera, phrase, start, end):
                    run.lags.append((time.time() - end, sender.split))
                    done.add(key)
                    del pending[key]
                elif time.time() - end > GIVE_UP_S:
                    run.missed += 1
                    print(f"  missed: {sender.camera} {phrase.query!r} said at "
                          f"{start - started:.0f} s", file=sys.stderr)  # fmt: skip
                    done.add(key)
                    del pending[key]
            if now >= stop_sending and not pending:
                break
            time.sleep(args.poll)
    finally:
        for sender in senders:
            sender.stop()
        library.close()
        watcher.send_signal(signal.SIGTERM)
        try:
            watcher.wait(120)
        except subprocess.TimeoutExpired:
            watcher.kill()
    run.chunks = chunk_records(log_path, started)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("bench/data/sceneseek-bench"))
    parser.add_argument("--streams", default="1,2,4,6", help="comma-separated Ns")
    parser.add_argument("--seconds", type=float, default=150.0, help="sending time per N")
    parser.add_argument("--chunk-seconds", type=float, default=6.0)
    parser.add_argument("--poll", type=float, default=0.5, help="search interval per phrase")
    parser.add_argument("--work", type=Path, default=Path("/tmp/sceneseek-live-bench"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    dataset = json.loads((args.dataset / "dataset.json").read_text())
    halves = {video["file"]: video["split"] for video in dataset["videos"]}
    phrases = english_phrases(dataset)
    counts = [int(n) for n in args.streams.split(",")]
    # The videos with most phrases first; each stream gets its own.
    videos = sorted(phrases, key=lambda f: (-len(phrases[f]), f))[: max(counts)]
    if len(videos) < max(counts):
        parser.error(f"only {len(videos)} videos have English speech queries")
    args.work.mkdir(parents=True, exist_ok=True)
    senders = []
    for number, file in enumerate(videos, 1):
        source = args.dataset / file
        clip = stream_clip(source, args.work / f"{Path(file).stem}-{args.seconds:g}s.ts",
                           args.seconds + 30)  # fmt: skip
        camera, half = f"cam{number}", halves[file]
        senders.append(Sender(camera, half, clip, probe(source).duration, phrases[file]))
        print(f"{camera}: {file} ({half}), {len(phrases[file])} phrases", file=sys.stderr)
    results = []
    for n in counts:
        run = run_streams(senders[:n], args, args.work)
        results.append(run.summary(args.seconds))
        print(json.dumps(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "videos": videos, "runs": results}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
