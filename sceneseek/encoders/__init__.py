"""Encoders, registered by name. Each built-in one is imported when it is first created
(see ``sceneseek.registry``), so importing this package loads no model library."""

from sceneseek.encoders.base import (
    audio_taggers,
    frame_readers,
    speech_encoders,
    text_encoders,
    visual_encoders,
)

__all__ = [
    "audio_taggers",
    "frame_readers",
    "speech_encoders",
    "text_encoders",
    "visual_encoders",
]
