"""Segmentation rules on synthetic histograms (pure functions, no media needed)."""

from __future__ import annotations

import numpy as np

from sceneseek.config import SegmentConfig
from sceneseek.media.segment import ShotSegmenter, colour_histogram


def frames(colours: list[int], per_colour: int) -> np.ndarray:
    return np.concatenate([np.full((per_colour, 8, 8, 3), c, dtype=np.uint8) for c in colours])


def test_cuts_at_shot_boundaries() -> None:
    rgb = frames([0, 255, 90], per_colour=8)  # three 4-second shots at 2 fps
    times = np.arange(len(rgb)) / 2
    spans = ShotSegmenter(SegmentConfig()).segment(times, colour_histogram(rgb), 12.0)
    assert [(round(s.start, 2), round(s.end, 2)) for s in spans] == [
        (0.0, 3.75),
        (3.75, 7.75),
        (7.75, 12.0),
    ]


def test_single_shot_two_hour_file_still_yields_short_segments() -> None:
    config = SegmentConfig(max_seconds=6.0)
    spans = ShotSegmenter(config).segment(np.array([0.0]), colour_histogram(frames([7], 1)), 7200)
    assert len(spans) == 1200
    assert max(s.length for s in spans) <= 6.0
    assert spans[0].start == 0 and spans[-1].end == 7200
    assert all(a.end == b.start for a, b in zip(spans, spans[1:], strict=False))


def test_flashes_shorter_than_min_length_merge_into_a_neighbour() -> None:
    rgb = np.concatenate([frames([0], 8), frames([255], 1), frames([0], 8)])
    times = np.arange(len(rgb)) / 2
    spans = ShotSegmenter(SegmentConfig(min_seconds=1.0)).segment(times, colour_histogram(rgb), 8.5)
    assert all(s.length >= 1.0 for s in spans)
    assert spans[0].start == 0 and spans[-1].end == 8.5
