"""Combining a group's outputs into one prediction (FuSE and FIVE)."""
from __future__ import annotations

import numpy as np

from arena.classifier import softmax

COMBINATIONS = ("logits", "vote")


def combine(logits: np.ndarray, how: str = "logits") -> np.ndarray:
    """One probability row from a group's logits ``(m, k)``.

    ``logits``: softmax of the mean logits (the authors' ``vote_avg_logits`` default);
    ``vote``: the share of members whose argmax is each class.
    """
    if how == "logits":
        return softmax(logits.mean(axis=0, keepdims=True))[0]
    if how == "vote":
        return np.bincount(logits.argmax(axis=1), minlength=logits.shape[1]) / len(logits)
    raise ValueError(f"combination must be one of {', '.join(COMBINATIONS)}")
