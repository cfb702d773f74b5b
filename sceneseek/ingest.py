"""Ingest one video: decode → segment → encode every modality → segment records.

One function per stage, each usable alone; ``analyse`` chains them for the library.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from sceneseek.config import Config
from sceneseek.encoders import speech_encoders, text_encoders, visual_encoders
from sceneseek.encoders.base import (
    FrameFeatures,
    Observation,
    SpeechEncoder,
    TextEncoder,
    Transcript,
    VisualEncoder,
    cached_passages,
)
from sceneseek.encoders.vocabulary import load_class_names
from sceneseek.index.base import SegmentRecord, transcript_text
from sceneseek.media.decode import MediaInfo, decode_audio, sample_frames
from sceneseek.media.segment import ShotSegmenter, Span, colour_histogram


class Encoders:
    """The configured encoders, each loaded on first use (search needs only text)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @cached_property
    def text(self) -> TextEncoder:
        return text_encoders.create(self.config.encoders.text, threads=self.config.threads)

    @cached_property
    def visual(self) -> VisualEncoder:
        enc = self.config.encoders
        return visual_encoders.create(
            enc.visual,
            text=self.text,
            cache_dir=self.config.cache_dir,
            top_labels=enc.visual_top_labels,
            clip_model=enc.clip_model,
            threads=self.config.threads,
        )

    @cached_property
    def speech(self) -> SpeechEncoder:
        return speech_encoders.create(self.config.encoders.speech, threads=self.config.threads)

    @cached_property
    def background(self) -> np.ndarray:
        """Text-space embeddings of a broad vocabulary: the reference against which a
        query's similarities are standardised while a library is still small."""
        return cached_passages(self.text, load_class_names(), self.config.cache_dir)

    def versions(self) -> dict[str, str]:
        return {
            "text": str(self.text.info),
            "visual": str(self.visual.info),
            "speech": str(self.speech.info),
        }


@dataclass
class SampledVideo:
    times: np.ndarray
    histograms: np.ndarray
    features: FrameFeatures


def sample_video(info: MediaInfo, config: Config, visual: VisualEncoder) -> SampledVideo:
    """Decode frames at ``segment.sample_fps``; keep a histogram and visual features of each."""
    times, hists, images, semantics = [], [], [], []
    for batch in sample_frames(info, config.segment.sample_fps, short_side=visual.frame_short_side):
        features = visual.encode_frames(batch.rgb)
        times.append(batch.times)
        hists.append(colour_histogram(batch.rgb))
        images.append(features.image)
        semantics.append(features.semantic)
    return SampledVideo(
        times=np.concatenate(times),
        histograms=np.concatenate(hists),
        features=FrameFeatures(np.concatenate(images), np.concatenate(semantics)),
    )


def transcribe(info: MediaInfo, speech: SpeechEncoder) -> Transcript:
    return speech.transcribe(decode_audio(info))


def build_segments(
    spans: list[Span],
    sampled: SampledVideo,
    transcript: Transcript,
    encoders: Encoders,
) -> list[SegmentRecord]:
    """Pool frames per span, attach the utterances each span overlaps, embed."""
    records = []
    for span in spans:
        frames = _frames_in(sampled.times, span)
        summary = encoders.visual.summarize(
            FrameFeatures(sampled.features.image[frames], sampled.features.semantic[frames])
        )
        middle = (span.start + span.end) / 2
        keyframe = float(sampled.times[frames][np.argmin(np.abs(sampled.times[frames] - middle))])
        records.append(
            SegmentRecord(
                start=span.start,
                end=span.end,
                utterances=[u for u in transcript.utterances if _overlaps(u, span)],
                labels=summary.labels,
                keyframe=keyframe,
                vectors={"visual": summary.text_vector, "image": summary.image_vector},
            )
        )
    spoken = [r for r in records if r.utterances]
    vectors = encoders.text.embed_passages([transcript_text(r.utterances) for r in spoken])
    for record, vector in zip(spoken, vectors, strict=True):
        record.vectors["speech"] = vector
    return records


def _frames_in(times: np.ndarray, span: Span) -> np.ndarray:
    """Indices of frames inside the span, or the nearest frame when none falls inside."""
    inside = np.flatnonzero((times >= span.start) & (times < span.end))
    if inside.size:
        return inside
    return np.array([int(np.argmin(np.abs(times - (span.start + span.end) / 2)))])


def _overlaps(utterance: Observation, span: Span) -> bool:
    return utterance.start < span.end and utterance.end > span.start


def analyse(info: MediaInfo, config: Config, encoders: Encoders) -> tuple[list[SegmentRecord], str]:
    """All segments of one probed video, and its spoken language."""
    sampled = sample_video(info, config, encoders.visual)
    spans = ShotSegmenter(config.segment).segment(sampled.times, sampled.histograms, info.duration)
    transcript = transcribe(info, encoders.speech)
    return build_segments(spans, sampled, transcript, encoders), transcript.language


def display_path(path: Path) -> str:
    """How a video is recorded in the index: absolute, so results open from anywhere."""
    return str(path.expanduser().resolve())
