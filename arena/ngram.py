"""A bag-of-n-grams classifier (TF-IDF over word uni/bigrams + logistic regression).

The offline *judge* of RL attackers (spec ``ngram``: the packaged model, trained on SST-2 by
``arena train judge``; ``ngram:DIR`` for one you trained). It shares no tokenizer, encoder or
weights with the neural defenders: its score is a sum of per-n-gram weights, so text can only
move it by adding or removing words that carry sentiment, not through the sub-word and
embedding quirks that fool a transformer. Saved as ``ngram_model.safetensors`` (idf, coef,
intercept) plus ``ngram_model.json`` (vocabulary, labels, settings): no pickle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PACKAGED_JUDGE_DIR = Path(__file__).resolve().parent / "assets" / "ngram_judge"
WEIGHTS_FILE = "ngram_model.safetensors"
META_FILE = "ngram_model.json"


class NgramClassifier:
    """``predict_proba`` over TF-IDF n-gram features; deterministic; plain-text inputs only."""

    def __init__(
        self,
        vocabulary: Sequence[str],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        labels: Sequence[str],
        ngram_range: tuple[int, int] = (1, 2),
        name: str = "ngram",
    ):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.labels = list(labels)
        self.name = name
        self.ngram_range = tuple(ngram_range)
        self.coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        self.intercept = np.asarray(intercept, dtype=np.float64).reshape(-1)
        if self.coef.shape[0] not in (1, len(self.labels)) or self.coef.shape[1] != len(vocabulary):
            raise ValueError(
                f"n-gram model shapes disagree: coef {self.coef.shape}, {len(vocabulary)} n-grams, labels {self.labels}"
            )
        self.vectorizer = TfidfVectorizer(
            ngram_range=self.ngram_range, sublinear_tf=True, vocabulary={g: i for i, g in enumerate(vocabulary)}
        )
        self.vectorizer.idf_ = np.asarray(idf, dtype=np.float64)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[int],
        label_names: Sequence[str],
        *,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
        c: float = 10.0,
        name: str = "ngram",
    ) -> NgramClassifier:
        """Fit TF-IDF (sublinear tf) and an L2 logistic regression (inverse strength ``c``)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) < 2:
            raise ValueError("training an n-gram classifier needs examples of at least two labels")
        vectorizer = TfidfVectorizer(ngram_range=ngram_range, min_df=min_df, sublinear_tf=True)
        features = vectorizer.fit_transform(list(texts))
        model = LogisticRegression(C=c, max_iter=2000).fit(features, np.asarray(labels))
        if list(model.classes_) != list(range(len(label_names))):
            raise ValueError(f"the training labels {list(model.classes_)} do not cover all of {list(label_names)}")
        vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)  # n-grams by column
        return cls(vocabulary, vectorizer.idf_, model.coef_, model.intercept_, label_names, ngram_range, name)

    def predict_proba(self, texts: Sequence) -> np.ndarray:
        """(n, labels) probabilities: sigmoid of the binary score, softmax otherwise."""
        if any(not isinstance(t, str) for t in texts):
            raise TypeError("the n-gram classifier scores single texts, not (premise, hypothesis) pairs")
        if not len(texts):
            return np.zeros((0, len(self.labels)))
        scores = np.asarray(self.vectorizer.transform(list(texts)) @ self.coef.T) + self.intercept
        if self.coef.shape[0] == 1:
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        scores -= scores.max(axis=1, keepdims=True)
        odds = np.exp(scores)
        return odds / odds.sum(axis=1, keepdims=True)

    def save(self, folder: str | Path, extra: dict | None = None) -> None:
        """Write the weights (safetensors) and the vocabulary/labels (JSON) into ``folder``."""
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vocabulary = sorted(self.vectorizer.vocabulary_, key=self.vectorizer.vocabulary_.get)
        save_file(
            {
                "idf": self.vectorizer.idf_.astype(np.float32),
                "coef": self.coef.astype(np.float32),
                "intercept": self.intercept.astype(np.float32),
            },
            str(folder / WEIGHTS_FILE),
        )
        meta = {"labels": self.labels, "ngram_range": list(self.ngram_range), "vocabulary": vocabulary} | (extra or {})
        (folder / META_FILE).write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: str | Path = PACKAGED_JUDGE_DIR) -> NgramClassifier:
        """Read a model written by :meth:`save` (default: the packaged SST-2 judge)."""
        from safetensors.numpy import load_file

        folder = Path(folder)
        if not (folder / WEIGHTS_FILE).exists() or not (folder / META_FILE).exists():
            raise FileNotFoundError(
                f"no n-gram model in {folder}: train one with `arena train judge --data PATH --out {folder}`"
            )
        meta = json.loads((folder / META_FILE).read_text())
        weights = load_file(str(folder / WEIGHTS_FILE))
        name = "ngram" if folder.resolve() == PACKAGED_JUDGE_DIR else f"ngram:{folder}"
        return cls(
            meta["vocabulary"],
            weights["idf"],
            weights["coef"],
            weights["intercept"],
            meta["labels"],
            tuple(meta["ngram_range"]),
            name,
        )
