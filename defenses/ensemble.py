"""Combining a group's outputs into one prediction (FuSE and FIVE), and their random streams."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence

import numpy as np

from arena.classifier import TextInput, check_inputs, softmax

COMBINATIONS = ("logits", "vote")


def check_combination(how: str) -> str:
    """``how`` if it is a known combination, else a clear error."""
    if how not in COMBINATIONS:
        raise ValueError(f"combination must be one of {', '.join(COMBINATIONS)} (got {how!r})")
    return how


def check_seed(seed: int, defense: str) -> int:
    """``seed`` if it can seed a defense's random streams (an integer >= 0), else a clear error."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{defense} needs a seed that is an integer >= 0 (--defense-seed; got {seed!r})")
    return int(seed)


def combine(logits: np.ndarray, how: str = "logits") -> np.ndarray:
    """One probability row from a group's logits ``(m, k)``.

    ``logits``: softmax of the mean logits (the authors' ``vote_avg_logits`` default);
    ``vote``: the share of members whose argmax is each class.
    """
    if check_combination(how) == "logits":
        return softmax(logits.mean(axis=0, keepdims=True))[0]
    return np.bincount(logits.argmax(axis=1), minlength=logits.shape[1]) / len(logits)


Stream = tuple[Hashable, int]  # (example id, the number of the query for that example)


def stream_entropy(seed: int, stream: Stream) -> list[int]:
    """Seed material of one query's random stream: the defense's seed, the example id (hashed
    stably, not with Python's per-process ``hash``) and the query's number."""
    owner, number = stream
    return [seed, int.from_bytes(hashlib.sha256(repr(owner).encode()).digest()[:8], "little"), number]


class GroupEnsemble:
    """A stochastic defense that scores each input as a group of variants and combines them.

    Subclasses set ``labels``, ``combination``, ``chunk``, ``seed`` and implement
    :meth:`random_source` and :meth:`group_logits`.
    """

    stochastic = True
    keyed_randomness = True  # the Scorer passes each query's stream: see predict_proba
    labels: list[str]
    combination: str
    chunk: int
    seed: int

    def random_source(self, entropy: list[int] | None):
        """The generator one input draws from: a new one seeded with ``entropy``, or (None) the
        defense's own, shared by every input in call order."""
        raise NotImplementedError

    def group_logits(self, items: list[TextInput], sources: list) -> list[np.ndarray]:
        """Per input: the logits ``(m, k)`` of its group (the original first), its random draws
        from its entry of ``sources``."""
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[TextInput], streams: Sequence[Stream] | None = None) -> np.ndarray:
        """Combined probabilities of each input's group, ``chunk`` inputs at a time.

        With ``streams`` (from the Scorer: each query's example and its number for that example)
        every input draws from its own generator, so an example's results do not depend on which
        other examples share the call: an attack gives the same per-example results at any chunk
        size and after a resume. Without, all inputs draw from the defense's one generator in order.
        """
        items = check_inputs(texts)
        if streams is not None and len(streams) != len(items):
            raise ValueError(f"{len(streams)} random streams for {len(items)} texts")
        shared = self.random_source(None)
        sources = (
            [shared] * len(items)
            if streams is None
            else [self.random_source(stream_entropy(self.seed, s)) for s in streams]
        )
        out = np.zeros((len(items), len(self.labels)))
        for start in range(0, len(items), self.chunk):
            end = start + self.chunk
            for row, logits in enumerate(self.group_logits(items[start:end], sources[start:end])):
                out[start + row] = combine(logits, self.combination)
        return out
