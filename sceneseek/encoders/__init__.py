"""Encoders, registered by name. Importing this package registers the built-in ones."""

from sceneseek.encoders import clip, text_e5, visual_effnet, speech_whisper  # noqa: F401
from sceneseek.encoders.base import (
    speech_encoders,
    text_encoders,
    visual_encoders,
)

__all__ = ["speech_encoders", "text_encoders", "visual_encoders"]
