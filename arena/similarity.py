"""Sentence similarity with the packaged MiniLM encoder (TextAttack-style angular similarity).

``angular similarity = 1 - arccos(cos) / pi`` lies in [0, 1]; TextAttack's textfooler recipe
compares USE windows with threshold 0.840845057 in this form. Embeddings are cached by text,
so windows shared between steps of an attack are encoded once.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

from arena.resources import minilm_path, pick_device


def angular(cos: np.ndarray) -> np.ndarray:
    """Cosine -> normalised angular similarity."""
    return 1.0 - np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi


class SentenceSimilarity:
    """Batched, cached sentence embeddings and pairwise angular similarity."""

    def __init__(self, model: str | None = None, *, device: str | None = None, cache_size: int = 200_000, batch_size: int | None = None):
        from sentence_transformers import SentenceTransformer

        self.model_name = model or "minilm"
        self.model = SentenceTransformer(model or minilm_path(), device=str(pick_device(device)))
        # texts per encoder call: on a CPU small batches stay in cache (one thread, MR sentences:
        # 32 per call ~1.5x faster than 128)
        self.batch_size = batch_size or (128 if self.model.device.type == "cuda" else 32)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.encoded = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings, one row per text; only uncached texts reach the encoder (in one call)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.model.encode(missing, batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
            self.encoded += len(missing)
            for text, vector in zip(missing, vectors):
                self._cache[text] = vector
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    def clear_cache(self) -> None:
        """Forget every cached embedding (for timing a cold pass)."""
        self._cache.clear()

    def similarity(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Angular similarity of ``a[i]`` and ``b[i]`` for each i (all texts embedded in one call)."""
        if len(a) != len(b):
            raise ValueError("similarity needs two lists of equal length")
        if not a:
            return np.zeros(0)
        vectors = self.embed(list(a) + list(b))
        cos = (vectors[: len(a)] * vectors[len(a):]).sum(axis=1)
        return angular(cos)
