"""The modality names: a module of its own so that the CLI's help, which lists them,
needs neither pydantic nor the config."""

from __future__ import annotations

from typing import Literal

Modality = Literal["visual", "speech", "ocr", "sound", "people", "attributes"]
ALL_MODALITIES: tuple[Modality, ...] = ("visual", "speech", "ocr", "sound", "people", "attributes")
TEXT_MODALITIES: tuple[Modality, ...] = ("speech", "ocr", "sound", "people", "attributes")
