"""Sentence similarity with the packaged MiniLM encoder (TextAttack-style angular similarity).

``angular similarity = 1 - arccos(cos) / pi`` lies in [0, 1]; TextAttack's textfooler recipe
compares USE windows with threshold 0.840845057 in this form. Embeddings are cached by text,
so windows shared between steps of an attack are encoded once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from arena.batching import length_bucketed_batches
from arena.resources import minilm_path, pick_device
from arena.time_limit import check_time_limit
from arena.words import WordView


def angular(cos: np.ndarray, scale: float = np.pi) -> np.ndarray:
    """Cosine -> angular similarity ``1 - arccos(cos) / scale``: normalised to [0, 1] with the
    default pi (TextAttack's form); ``scale=1`` is the USE form FireBERT's SWITCH uses."""
    return 1.0 - np.arccos(np.clip(cos, -1.0, 1.0)) / scale


def cosines(encoder, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """Cosine of ``a[i]`` and ``b[i]`` for each i, from ``encoder.embed`` (unit vectors; all texts in one call)."""
    vectors = encoder.embed(list(a) + list(b))
    return (vectors[: len(a)] * vectors[len(a) :]).sum(axis=1)


def window_texts(pairs: Sequence[tuple[WordView, WordView, int]], size: int) -> tuple[list[str], list[str]]:
    """The ``size``-word windows around ``position`` of each ``(a, b, position)``
    (:meth:`arena.words.WordView.window`): what TextFooler's constraint and SWITCH's
    ``similarity_window`` compare."""
    return [a.window(p, size) for a, _, p in pairs], [b.window(p, size) for _, b, p in pairs]


class SentenceSimilarity:
    """Batched, cached sentence embeddings and pairwise angular similarity."""

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        cache_size: int = 200_000,
        batch_size: int | None = None,
        token_budget: int | None = None,
    ):
        from sentence_transformers import SentenceTransformer

        self.model_name = model or "minilm"
        self.model = SentenceTransformer(model or minilm_path(), device=str(pick_device(device)))
        # texts per encoder call, grouped by length: on a CPU small batches stay in cache (one
        # thread: MR sentences 32 per call ~1.5x faster than 128; IMDB reviews ~4 per call (1024
        # tokens) ~1.1x faster than 32)
        cuda = self.model.device.type == "cuda"
        self.batch_size = batch_size or (128 if cuda else 32)
        self.token_budget = token_budget or (16384 if cuda else 1024)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.encoded = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings, one row per text; only uncached texts reach the encoder, in
        length-bucketed batches under the token budget."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            lengths = [
                len(ids)
                for ids in self.model.tokenizer(missing, truncation=True, max_length=self.model.max_seq_length)[
                    "input_ids"
                ]
            ]
            for batch in length_bucketed_batches(lengths, self.token_budget, self.batch_size):
                check_time_limit()
                vectors = self.model.encode(
                    [missing[i] for i in batch],
                    batch_size=len(batch),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                for i, vector in zip(batch, vectors):
                    self._cache[missing[i]] = vector
            self.encoded += len(missing)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    def clear_cache(self) -> None:
        """Forget every cached embedding (for timing a cold pass)."""
        self._cache.clear()

    def similarity(self, a: Sequence[str], b: Sequence[str], scale: float = np.pi) -> np.ndarray:
        """Angular similarity (:func:`angular`, ``scale``) of ``a[i]`` and ``b[i]`` for each i (all
        texts embedded in one call)."""
        if len(a) != len(b):
            raise ValueError("similarity needs two lists of equal length")
        if not a:
            return np.zeros(0)
        return angular(cosines(self, a, b), scale)
