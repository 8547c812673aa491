"""VADER (Hutto & Gilbert 2014) as an arena classifier: a rule-based sentiment lexicon.

Offline (the PyPI package ``vaderSentiment`` ships its lexicon) and independent of the neural
classifiers by construction: hand-rated word valences plus rules for negation, intensifiers,
"but" and punctuation, with no training data in common with a fine-tuned encoder. That makes it
the default *judge* of RL policies: text that a neural reward model calls positive while VADER
does not is a sign of reward hacking. P(positive) = (compound + 1) / 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class VaderClassifier:
    """Labels ``negative, positive``; deterministic; plain-text inputs only."""

    labels = ["negative", "positive"]
    name = "vader"

    def __init__(self):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()

    def predict_proba(self, texts: Sequence) -> np.ndarray:
        """(n, 2) probabilities from VADER's compound score."""
        if any(not isinstance(t, str) for t in texts):
            raise TypeError("vader scores single texts, not (premise, hypothesis) pairs")
        pos = np.array(
            [(self.analyzer.polarity_scores(t)["compound"] + 1) / 2 for t in texts], dtype=np.float64
        ).reshape(-1)
        return np.stack([1 - pos, pos], axis=1) if len(pos) else np.zeros((0, 2))
