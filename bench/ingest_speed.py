"""Ingest speed per modality (× realtime) and in-process query latency.

Usage: python bench/ingest_speed.py [VIDEO_DIR] [--db DIR] [--ray-workers N]
Defaults to the benchmark videos (bench/data/sceneseek-bench/videos). Each stage is
timed separately on the same files, then the full ``Library.index`` path with every
modality on, so per-modality costs and the end-to-end figure come from one run. With
``--ray-workers N`` the same files are then indexed again on a local Ray cluster with N
workers (each loading the models, on the clock as in the single-process run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sceneseek import Config, Library
from sceneseek.encoders.base import FrameSession, Observation, VisualEncoder
from sceneseek.ingest import Encoders
from sceneseek.ingest_ray import RayCluster, connect
from sceneseek.media.decode import FrameBatch, decode_audio, probe, sample_frames
from sceneseek.media.segment import colour_histogram
from sceneseek.paths import expand_paths

QUERIES = [
    "a cat",
    "una taza de café",
    "a rocket launch",
    "a dog barking",
    "a horse in a field",
    "the man says the shipment is late",
    "weasels ate the phone system",
    "un panda comiendo",
    "a sign that says Petra",
    "people walking on a street",
]
T = TypeVar("T")


class Stopwatch:
    """Accumulates wall time per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def run(self, stage: str, fn: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        result = fn(*args)
        self.seconds[stage] += time.perf_counter() - started
        return result


def feed_all(session: FrameSession, batches: list[FrameBatch]) -> list[Observation]:
    for batch in batches:
        for time_s, rgb in batch.detail:
            session.feed(time_s, rgb)
    return session.finish()


def look(visual: VisualEncoder, batch: FrameBatch) -> None:
    visual.encode_frames(batch.rgb)
    colour_histogram(batch.rgb)


def stage_seconds(files: list[Path], config: Config, encoders: Encoders) -> dict[str, float]:
    watch = Stopwatch()
    seg = config.segment
    for path in files:
        info = probe(path)
        frames = sample_frames(info, seg.sample_fps, 256, seg.detail_fps, seg.detail_short_side)
        batches: list[FrameBatch] = watch.run("decode frames (analysis + detail)", list, frames)
        for batch in batches:
            watch.run("visual (EfficientNet-Lite0 + histograms)", look, encoders.visual, batch)
        for modality, reader in encoders.frame_readers.items():
            watch.run(f"{modality} ({reader.info.name})", feed_all, reader.session(), batches)
        audio = watch.run("decode audio", decode_audio, info)
        watch.run(f"speech ({encoders.speech.info.name})", encoders.speech.transcribe, audio)
        watch.run(f"sound ({encoders.sound.info.name})", encoders.sound.tag, audio)
    return watch.seconds


def ray_index(files: list[Path], config: Config, db: str, workers: int) -> dict[str, float]:
    """Seconds to start a local Ray cluster, then to index the files on it."""
    watch = Stopwatch()
    ray, _ = watch.run("start", connect, RayCluster())
    shutil.rmtree(db, ignore_errors=True)
    library = Library(db, config)
    library.encoders.versions()  # the driver's own models: loaded off the clock, as above
    watch.run("index", lambda: library.index(files, ray=RayCluster(workers=workers)))
    library.close()
    ray.shutdown()
    return watch.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="?", default="bench/data/sceneseek-bench/videos")
    parser.add_argument("--db", default="bench/out/speed-lib")
    parser.add_argument("--ray-workers", type=int, help="also index on a local Ray cluster")
    args = parser.parse_args()
    config = Config()
    encoders = Encoders(config)
    files = expand_paths([args.videos]).files
    duration = sum(probe(f).duration for f in files)
    stage_seconds(files[:1], config, encoders)  # warm-up: load every model off the clock
    seconds = stage_seconds(files, config, encoders)
    shutil.rmtree(args.db, ignore_errors=True)
    library = Library(args.db, config)
    watch = Stopwatch()
    watch.run("index", library.index, files)
    total = watch.seconds["index"]
    print(f"{len(files)} videos, {duration:.0f} s of video, {config.threads} threads")
    print("| stage | seconds | × realtime |\n|---|---|---|")
    for stage, took in seconds.items():
        print(f"| {stage} | {took:.1f} | {duration / took:.0f}× |")
    print(f"| **full index, all modalities** | {total:.1f} | {duration / total:.1f}× |")
    if args.ray_workers:
        on_ray = ray_index(files, config, f"{args.db}-ray", args.ray_workers)
        took = on_ray["index"]
        print(f"| start a local Ray cluster | {on_ray['start']:.1f} | |")
        print(
            f"| **full index on Ray, {args.ray_workers} workers** | {took:.1f} | "
            f"{duration / took:.1f}× ({total / took:.2f}× single-process) |"
        )
    latencies = []
    for _ in range(5):
        for query in QUERIES:
            started = time.perf_counter()
            library.search(query, top_k=10)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"\nquery latency over {len(latencies)} queries: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine load average (1, 5, 15 min) at the end: {load}")  # shared machines vary


if __name__ == "__main__":
    main()
