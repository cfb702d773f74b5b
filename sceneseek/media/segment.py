"""Cut a video into short, searchable segments.

Shots are found from colour-histogram change between sampled frames; shots shorter than
``min_seconds`` join a neighbour and shots longer than ``max_seconds`` are split evenly,
so a single-shot two-hour file still yields short segments (the fixed-window fallback).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sceneseek.config import SegmentConfig


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


def colour_histogram(rgb: np.ndarray, bins: int = 8) -> np.ndarray:
    """Joint RGB histogram per frame, normalised to sum 1: (N, bins**3)."""
    quantised = (rgb.astype(np.uint16) * bins // 256).reshape(len(rgb), -1, 3)
    codes = (quantised[..., 0] * bins + quantised[..., 1]) * bins + quantised[..., 2]
    hist = np.stack([np.bincount(c, minlength=bins**3) for c in codes]).astype(np.float32)
    return hist / hist.sum(axis=1, keepdims=True)


class Segmenter(Protocol):
    def segment(self, times: np.ndarray, histograms: np.ndarray, duration: float) -> list[Span]:
        """Spans covering [0, duration) in order, without gaps."""
        ...


class ShotSegmenter:
    """Histogram shot detection with min/max length bounds (see module docstring)."""

    def __init__(self, config: SegmentConfig) -> None:
        self.config = config

    def boundaries(self, times: np.ndarray, histograms: np.ndarray) -> list[float]:
        if len(times) < 2:
            return []
        change = 0.5 * np.abs(np.diff(histograms, axis=0)).sum(axis=1)
        cut = np.flatnonzero(change > self.config.shot_threshold)
        return [float((times[i] + times[i + 1]) / 2) for i in cut]

    def segment(self, times: np.ndarray, histograms: np.ndarray, duration: float) -> list[Span]:
        edges = [0.0, *self.boundaries(times, histograms), duration]
        shots = [Span(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]
        return [
            piece
            for shot in _merge_short(shots, self.config.min_seconds)
            for piece in _split_long(shot, self.config.max_seconds)
        ]


def _merge_short(shots: list[Span], min_seconds: float) -> list[Span]:
    """Fold each too-short shot into the previous one (or the next, for the first)."""
    merged: list[Span] = []
    for shot in shots:
        if merged and (shot.length < min_seconds or merged[-1].length < min_seconds):
            merged[-1] = Span(merged[-1].start, shot.end)
        else:
            merged.append(shot)
    return merged


def _split_long(shot: Span, max_seconds: float) -> list[Span]:
    pieces = max(1, math.ceil(shot.length / max_seconds - 1e-9))
    step = shot.length / pieces
    return [
        Span(shot.start + i * step, shot.end if i == pieces - 1 else shot.start + (i + 1) * step)
        for i in range(pieces)
    ]
