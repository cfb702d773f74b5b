"""Ingest speed per stage (× realtime, wall and CPU seconds) and in-process query latency.

Usage: python bench/ingest_speed.py [VIDEO_DIR] [--db DIR] [--ray-workers N]
       python bench/ingest_speed.py [VIDEO_DIR] --speech NAME --speech NAME ...
       python bench/ingest_speed.py [VIDEO_DIR] --full-only   # any older checkout too
Defaults to the benchmark videos (bench/data/sceneseek-bench/videos). Each stage is
timed alone, one after the other, on the same files (decoding, visual, each frame reader,
VAD, ASR, sound, the e5 embedding of the observation texts), then the full
``Library.index`` path with every modality on, whose index writes are timed too; so
per-stage costs and the end-to-end figure come from one run. CPU seconds (user + system,
all threads) beside wall seconds say how much of a core each stage keeps busy, and stay
readable when other processes share the machine. The stage table runs each stage alone;
the full index overlaps them (audio, frame readers and the visual model in threads of
their own), so its wall time is less than the stages' sum. With
``--ray-workers N`` the same files are then indexed again on a local Ray cluster with N
workers (each loading the models, on the clock as in the single-process run).
With ``--speech`` only the speech stage runs, once per named speech encoder on the same
decoded audio, taking turns file by file so machine load falls on each alike.
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
from sceneseek.encoders import speech_encoders
from sceneseek.encoders.base import FrameSession, Observation, VisualEncoder
from sceneseek.index.base import observation_text
from sceneseek.ingest import Encoders, reader_rates
from sceneseek.ingest_ray import RayCluster, connect
from sceneseek.media.decode import FrameBatch, RateClock, decode_audio, probe, sample_frames
from sceneseek.media.segment import colour_histogram

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
    """Accumulates wall and CPU (user + system, every thread of the process) seconds per
    stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def run(self, stage: str, fn: Callable[..., T], *args: Any) -> T:
        started, cpu = time.perf_counter(), _cpu()
        result = fn(*args)
        self.seconds[stage] += time.perf_counter() - started
        self.cpu[stage] += _cpu() - cpu
        return result

    def timed(self, stage: str, fn: Callable[..., T]) -> Callable[..., T]:
        """``fn``, timed under ``stage`` on every call."""
        return lambda *args: self.run(stage, fn, *args)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def feed_all(session: FrameSession, batches: list[FrameBatch], fps: float) -> list[Observation]:
    """The detail frames this reader's rate picks, as ingest feeds them."""
    clock = RateClock(fps)
    for batch in batches:
        for time_s, rgb in batch.detail:
            if clock.due(time_s):
                session.feed(time_s, rgb)
    return session.finish()


def look(visual: VisualEncoder, batch: FrameBatch) -> None:
    visual.encode_frames(batch.rgb)
    colour_histogram(batch.rgb)


def stage_seconds(files: list[Path], config: Config, encoders: Encoders) -> Stopwatch:
    from sceneseek.encoders.whisper_islands import speech_islands

    watch = Stopwatch()
    seg = config.segment
    rates = reader_rates(config, encoders.frame_readers)
    for path in files:
        info = probe(path)
        side = encoders.visual.frame_short_side
        fastest = max(rates.values(), default=0.0)
        frames = sample_frames(info, seg.sample_fps, side, fastest, seg.detail_short_side)
        batches: list[FrameBatch] = watch.run("decode + sample frames", list, frames)
        for batch in batches:
            visual = encoders.visual
            watch.run(f"visual ({visual.info.name} + histograms)", look, visual, batch)
        observations = {
            modality: watch.run(
                f"{modality} ({reader.info.name}, {rates[modality]:g} fps)",
                feed_all,
                reader.session(),
                batches,
                rates[modality],
            )
            for modality, reader in encoders.frame_readers.items()
        }
        audio = watch.run("decode audio", decode_audio, info)
        watch.run("speech: VAD islands", speech_islands, audio)
        transcript = watch.run(
            f"speech: VAD + language + ASR ({encoders.speech.info.name})",
            encoders.speech.transcribe,
            audio,
        )
        observations["speech"] = transcript.utterances
        observations["sound"] = watch.run(
            f"sound ({encoders.sound.info.name})", encoders.sound.tag, audio
        )
        texts = [observation_text([o]) for items in observations.values() for o in items]
        watch.run("text embedding (e5) of observations", encoders.text.embed_passages, texts)
    return watch


def speech_seconds(files: list[Path], config: Config, names: list[str]) -> dict[str, float]:
    """Seconds each speech encoder spends on the same audio (models loaded off the clock)."""
    encoders = {
        name: speech_encoders.create(name, threads=config.threads, cache_dir=config.cache_dir)
        for name in names
    }
    audio = [decode_audio(info) for info in map(probe, files) if info.has_audio]
    for encoder in encoders.values():
        encoder.transcribe(audio[0])  # warm-up
    watch = Stopwatch()
    for clip in audio:
        for name, encoder in encoders.items():
            watch.run(name, encoder.transcribe, clip)
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
    parser.add_argument(
        "--speech", action="append", help="time only speech, with each encoder named (repeat)"
    )
    parser.add_argument(
        "--full-only",
        action="store_true",
        help="time only the full index (runs on older checkouts, to compare in one session)",
    )
    args = parser.parse_args()
    config = Config()
    files = sorted(Path(args.videos).glob("*.mp4"))  # no sceneseek.paths: older checkouts run it
    duration = sum(probe(f).duration for f in files)
    if args.speech:
        speech = speech_seconds(files, config, args.speech)
        first = args.speech[0]
        print(f"{len(files)} videos, {duration:.0f} s of video, {config.threads} threads")
        print(f"| speech encoder | seconds | × realtime | time vs {first} |\n|---|---|---|---|")
        for name, took in speech.items():
            ratio = took / speech[first]
            print(f"| {name} | {took:.1f} | {duration / took:.0f}× | {ratio:.2f}× |")
        return
    stages = Stopwatch()
    if not args.full_only:
        encoders = Encoders(config)
        stage_seconds(files[:1], config, encoders)  # warm-up: load every model off the clock
        stages = stage_seconds(files, config, encoders)
    warm = Library(f"{args.db}-warm", config)
    warm.index(files[:1])  # loads every model and builds caches, off the clock
    warm.close()
    shutil.rmtree(f"{args.db}-warm", ignore_errors=True)
    shutil.rmtree(args.db, ignore_errors=True)
    Library(args.db, config).index_store.close()  # created first: a new one reopens once
    library = Library(args.db, config)
    library.encoders = warm.encoders
    vars(warm.encoders).get("_passages", {}).clear()  # a fresh process has embedded nothing
    writes = "index write (SQLite + vectors)"
    store = library.index_store
    store.replace_video = stages.timed(writes, store.replace_video)  # type: ignore[method-assign]
    whole = Stopwatch()
    whole.run("index", library.index, files)
    total = whole.seconds["index"]
    print(f"{len(files)} videos, {duration:.0f} s of video, {config.threads} threads")
    print("| stage | wall s | × realtime | CPU s |\n|---|---|---|---|")
    for stage, took in stages.seconds.items():
        print(f"| {stage} | {took:.1f} | {duration / took:.0f}× | {stages.cpu[stage]:.1f} |")
    print(
        f"| **full index, all modalities** | {total:.1f} | **{duration / total:.1f}×** |"
        f" {whole.cpu['index']:.1f} |"
    )
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
