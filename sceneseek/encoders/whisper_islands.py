"""The faster-whisper pieces of island-by-island transcription: cutting audio into speech
islands and a model that encodes an island's own length instead of a padded 30 s window.
A module of its own so that importing the encoders (as search does) does not import
faster-whisper (~0.3 s)."""

from __future__ import annotations

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.vad import VadOptions, get_speech_timestamps

SAMPLE_RATE = 16_000
# A pause longer than 0.7 s ends an island: long enough not to split a sentence at a
# breath, short enough to part two speakers or languages (espeak-ng and Asterisk prompt
# fixtures). 30 s caps an island at one Whisper window, so each gets one language guess.
ISLAND_VAD = VadOptions(min_silence_duration_ms=700, speech_pad_ms=200, max_speech_duration_s=30)
# Mel frames (10 ms each) of the padding kept after an island's last frame: Whisper puts
# its end-of-text timestamp there. With 1 s a 2.6 s prompt ("No directory entries match
# your search") looped as "No No No ..."; 3 s decoded it as the full 30 s window does.
CONTEXT_MARGIN_FRAMES = 300


def speech_islands(audio: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) sample indices of the stretches of speech in 16 kHz mono audio."""
    if audio.size == 0:
        return []
    return [(s["start"], s["end"]) for s in get_speech_timestamps(audio, ISLAND_VAD)]


class IslandWhisperModel(WhisperModel):
    """faster-whisper's model, encoding only the island's frames (plus a margin) of each
    window it is given. faster-whisper zero-pads every window to 30 s, so a 3 s island
    paid for 30 s of encoder: base took ~1 s per island on two cores, the trimmed
    encoder ~0.04 s. whisper.cpp offers the same trade as ``audio_ctx``; on the
    fixtures the words and times stayed as good (docs/BENCHMARKS.md, issue 13)."""

    def encode(self, features: np.ndarray):  # type: ignore[no-untyped-def]
        spoken = np.flatnonzero(features.reshape(-1, features.shape[-1]).any(axis=0))
        frames = int(spoken[-1]) + 1 + CONTEXT_MARGIN_FRAMES if spoken.size else 1
        return super().encode(features[..., :frames])
