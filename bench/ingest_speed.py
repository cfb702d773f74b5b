"""Ingest speed per stage (× realtime) and in-process query latency.

Usage: python bench/ingest_speed.py [VIDEO_DIR] [--db DIR]
Defaults to the benchmark videos (bench/data/sceneseek-bench/videos). Each stage is
timed separately on the same files, then the full ``Library.index`` path, so the
per-modality costs and the end-to-end figure come from one run on one machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time

from sceneseek import Config, Library
from sceneseek.ingest import Encoders, transcribe
from sceneseek.library import expand_paths
from sceneseek.media.decode import decode_audio, probe, sample_frames
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
    "a motorcycle",
    "people walking on a street",
]


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="?", default="bench/data/sceneseek-bench/videos")
    parser.add_argument("--db", default="bench/out/speed-lib")
    args = parser.parse_args()
    config = Config()
    encoders = Encoders(config)
    files = expand_paths([args.videos])
    seconds = {"decode frames": 0.0, "visual encode": 0.0, "decode audio": 0.0, "speech": 0.0}
    duration = 0.0
    encoders.speech.transcribe(decode_audio(probe(files[0]))[:16000])  # load models first
    encoders.visual.summarize(
        encoders.visual.encode_frames(next(sample_frames(probe(files[0]), 1)).rgb)
    )
    for path in files:
        info = probe(path)
        duration += info.duration
        batches, took = timed(
            lambda info=info: list(sample_frames(info, config.segment.sample_fps, 256))
        )
        seconds["decode frames"] += took
        _, took = timed(
            lambda batches=batches: [
                (encoders.visual.encode_frames(b.rgb), colour_histogram(b.rgb)) for b in batches
            ]
        )
        seconds["visual encode"] += took
        _, took = timed(lambda info=info: decode_audio(info))
        seconds["decode audio"] += took
        _, took = timed(lambda info=info: transcribe(info, encoders.speech))
        seconds["speech"] += took
    shutil.rmtree(args.db, ignore_errors=True)
    library = Library(args.db, config)
    _, total = timed(lambda: library.index(files))
    print(f"{len(files)} videos, {duration:.0f} s of video, {config.threads} threads")
    print("| stage | seconds | × realtime |\n|---|---|---|")
    for stage, took in seconds.items():
        print(f"| {stage} | {took:.1f} | {duration / took:.0f}× |")
    print(f"| **full index (all stages + text + store)** | {total:.1f} | {duration / total:.1f}× |")
    latencies = []
    for _ in range(5):
        for query in QUERIES:
            _, took = timed(lambda query=query: library.search(query, top_k=10))
            latencies.append(took * 1000)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"\nquery latency over {len(latencies)} queries: p50 {p50:.0f} ms, p95 {p95:.0f} ms")


if __name__ == "__main__":
    main()
