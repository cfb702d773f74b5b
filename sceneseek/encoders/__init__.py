"""Encoders, registered by name. Importing this package registers the built-in ones."""

from sceneseek.encoders import (  # noqa: F401
    attributes,
    clip,
    ocr,
    people,
    sound_yamnet,
    speech_whisper,
    text_e5,
    visual_effnet,
)
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
