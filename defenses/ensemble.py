"""Combining a group's outputs into one prediction (FuSE and FIVE)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from arena.classifier import TextInput, check_inputs, softmax

COMBINATIONS = ("logits", "vote")


def check_combination(how: str) -> str:
    """``how`` if it is a known combination, else a clear error."""
    if how not in COMBINATIONS:
        raise ValueError(f"combination must be one of {', '.join(COMBINATIONS)} (got {how!r})")
    return how


def combine(logits: np.ndarray, how: str = "logits") -> np.ndarray:
    """One probability row from a group's logits ``(m, k)``.

    ``logits``: softmax of the mean logits (the authors' ``vote_avg_logits`` default);
    ``vote``: the share of members whose argmax is each class.
    """
    if check_combination(how) == "logits":
        return softmax(logits.mean(axis=0, keepdims=True))[0]
    return np.bincount(logits.argmax(axis=1), minlength=logits.shape[1]) / len(logits)


class GroupEnsemble:
    """A stochastic defense that scores each input as a group of variants and combines them.

    Subclasses set ``labels``, ``combination``, ``chunk`` and implement :meth:`group_logits`.
    """

    stochastic = True
    labels: list[str]
    combination: str
    chunk: int

    def group_logits(self, items: list[TextInput]) -> list[np.ndarray]:
        """Per input: the logits ``(m, k)`` of its group (the original first)."""
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[TextInput]) -> np.ndarray:
        """Combined probabilities of each input's group, ``chunk`` inputs at a time."""
        items = check_inputs(texts)
        out = np.zeros((len(items), len(self.labels)))
        for start in range(0, len(items), self.chunk):
            for row, logits in enumerate(self.group_logits(items[start : start + self.chunk])):
                out[start + row] = combine(logits, self.combination)
        return out
