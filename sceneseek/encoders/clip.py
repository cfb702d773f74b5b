"""Optional CLIP/SigLIP visual encoder (Hugging Face ``transformers``) for users who have
weights: a local directory or a hub id (the hub only works where it can be reached).
Frames and queries then meet in CLIP's own joint space, which beats ConSE on open-ended
scenes; speech and other text keep using the configured text encoder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from sceneseek.encoders.base import (
    EncoderInfo,
    FrameFeatures,
    VisualSummary,
    unit,
    visual_encoders,
)


class ClipEncoder:
    def __init__(self, model: str, threads: int | None = None) -> None:
        import torch
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._model = AutoModel.from_pretrained(model).eval()
        self._tokenizer = AutoTokenizer.from_pretrained(model)
        self._processor = AutoImageProcessor.from_pretrained(model)
        self.frame_short_side = 224  # the processor resizes and crops further
        self.info = EncoderInfo("clip", _model_identity(model, self._model.config.to_dict()))

    def encode_frames(self, rgb: np.ndarray) -> FrameFeatures:
        inputs = self._processor(images=list(rgb), return_tensors="pt")
        with self._torch.inference_mode():
            embeds = unit(_as_array(self._model.get_image_features(**inputs)))
        return FrameFeatures(image=embeds, semantic=embeds)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        inputs = self._tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with self._torch.inference_mode():
            return unit(_as_array(self._model.get_text_features(**inputs)))

    def summarize(self, features: FrameFeatures) -> VisualSummary:
        pooled = unit(features.semantic.mean(axis=0))
        return VisualSummary(text_vector=pooled, image_vector=pooled, labels=[])


def _as_array(output: object) -> np.ndarray:
    """transformers 5 returns a model output object; older versions a tensor."""
    tensor = getattr(output, "pooler_output", output)
    return tensor.float().numpy()  # type: ignore[attr-defined]


def _model_identity(model: str, config: dict[str, object]) -> str:
    """Hub id or directory name plus a digest of the config, so two different checkpoints
    under the same folder name still count as different encoders."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    return f"{Path(model).name}+cfg.{digest.hexdigest()[:8]}"


@visual_encoders.register("clip")
def _clip(clip_model: str | None = None, threads: int | None = None, **_: object) -> ClipEncoder:
    if not clip_model:
        raise ValueError("visual encoder 'clip' needs encoders.clip_model (a path or hub id)")
    return ClipEncoder(clip_model, threads)
