"""Speed of the EfficientNet-Lite visual encoders on the same frames, as ratios.

Usage: python bench/visual_classifiers.py [VIDEO_DIR] [--rounds N]
Each variant decodes the videos once at its own frame size (Lite0 256, Lite1 274,
Lite2 297 pixels short side), then all variants classify their frames in turn for
``--rounds`` rounds, interleaved, so a busy shared machine slows them alike; the table
gives each variant's best round in frames/s, × realtime and time relative to Lite0.
Accuracy is measured where it matters, as visual mAP on the benchmark (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sceneseek import Config
from sceneseek.encoders import visual_encoders
from sceneseek.encoders.base import VisualEncoder
from sceneseek.encoders.visual_effnet import CROPS
from sceneseek.ingest import Encoders
from sceneseek.media.decode import probe, sample_frames
from sceneseek.paths import expand_paths


def frames_of(files: list[Path], fps: float, short_side: int) -> list[np.ndarray]:
    return [
        batch.rgb for path in files for batch in sample_frames(probe(path), fps, short_side, 0.0, 0)
    ]


def seconds_to_classify(visual: VisualEncoder, batches: list[np.ndarray]) -> float:
    started = time.perf_counter()
    for rgb in batches:
        visual.encode_frames(rgb)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="?", default="bench/data/sceneseek-bench/videos")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = Config()
    encoders = Encoders(config)
    files = expand_paths([args.videos])
    duration = sum(probe(f).duration for f in files)
    models = {
        variant: visual_encoders.create(
            f"effnet-{variant}-conse",
            text=encoders.text,
            cache_dir=config.cache_dir,
            threads=config.threads,
        )
        for variant in CROPS
    }
    frames = {
        variant: frames_of(files, config.segment.sample_fps, model.frame_short_side)
        for variant, model in models.items()
    }
    for variant, model in models.items():  # load the weights off the clock
        model.encode_frames(frames[variant][0][:1])
    best = {variant: float("inf") for variant in models}
    for _ in range(args.rounds):
        for variant, model in models.items():
            took = seconds_to_classify(model, frames[variant])
            best[variant] = min(best[variant], took)
    count = sum(len(b) for b in frames["lite0"])
    print(f"{len(files)} videos, {duration:.0f} s, {count} frames, {config.threads} threads")
    print("| model | crop | frames/s | × realtime | time vs Lite0 |\n|---|---|---|---|---|")
    for variant, took in best.items():
        print(
            f"| {variant} | {CROPS[variant]} | {count / took:.1f} | {duration / took:.0f}× |"
            f" {took / best['lite0']:.2f}× |"
        )


if __name__ == "__main__":
    main()
