"""Part-of-speech tagging for word-swap constraints, offline.

nltk's averaged-perceptron tagger when its data is installed (``nltk.download`` is never
called); otherwise TextBlob's Pattern tagger, whose lexicon ships inside the PyPI package.
Both give Penn Treebank tags (:meth:`PosTagger.penn_tags`, which FireBERT's SWITCH compares),
mapped to the universal tagset that TextFooler compares (:meth:`PosTagger.tags`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

PENN_TO_UNIVERSAL = {
    "NN": "NOUN",
    "NNS": "NOUN",
    "NNP": "NOUN",
    "NNPS": "NOUN",
    "VB": "VERB",
    "VBD": "VERB",
    "VBG": "VERB",
    "VBN": "VERB",
    "VBP": "VERB",
    "VBZ": "VERB",
    "MD": "VERB",
    "JJ": "ADJ",
    "JJR": "ADJ",
    "JJS": "ADJ",
    "RB": "ADV",
    "RBR": "ADV",
    "RBS": "ADV",
    "WRB": "ADV",
    "PRP": "PRON",
    "PRP$": "PRON",
    "WP": "PRON",
    "WP$": "PRON",
    "EX": "PRON",
    "DT": "DET",
    "PDT": "DET",
    "WDT": "DET",
    "IN": "ADP",
    "TO": "PRT",
    "RP": "PRT",
    "POS": "PRT",
    "CC": "CONJ",
    "CD": "NUM",
    "UH": "X",
    "FW": "X",
    "SYM": "X",
    "LS": "X",
}


def to_universal(tag: str) -> str:
    """Penn Treebank tag -> universal tag (punctuation -> '.')."""
    if tag in PENN_TO_UNIVERSAL:
        return PENN_TO_UNIVERSAL[tag]
    return "." if not tag[:1].isalpha() else "X"


class PosTagger:
    """Tags whitespace-split token lists; ``backend`` is ``nltk`` or ``pattern`` (auto-chosen by default)."""

    def __init__(self, backend: str = "auto"):
        if backend == "auto":
            backend = "nltk" if self._nltk_ready() else "pattern"
        if backend == "nltk":
            if not self._nltk_ready():
                raise LookupError(
                    "nltk's averaged_perceptron_tagger_eng data is not installed (FireArena never downloads it)"
                )
            import nltk

            self._tag_tokens = lambda tokens: nltk.pos_tag(list(tokens))
        elif backend == "pattern":
            from textblob.en import tag as pattern_tag

            self._tag_tokens = lambda tokens: pattern_tag(" ".join(tokens), tokenize=False)
        else:
            raise ValueError(f"unknown POS backend {backend!r}; use auto, nltk or pattern")
        self.backend = backend
        self._penn = lru_cache(maxsize=200_000)(self._tag)

    @staticmethod
    def _nltk_ready() -> bool:
        import nltk

        try:
            nltk.data.find("taggers/averaged_perceptron_tagger_eng")
            return True
        except LookupError:
            return False

    def _tag(self, tokens: tuple[str, ...]) -> tuple[str, ...]:
        tagged = self._tag_tokens(tokens)
        if len(tagged) != len(tokens):  # a tagger that re-tokenised: fall back to word-by-word tags
            tagged = [self._tag_tokens((t,))[0] for t in tokens]
        return tuple(tag for _, tag in tagged)

    def tags(self, tokens: Sequence[str]) -> tuple[str, ...]:
        """Universal tags of ``tokens`` (mapped from the memoised Penn tags)."""
        return tuple(map(to_universal, self._penn(tuple(tokens))))

    def penn_tags(self, tokens: Sequence[str]) -> tuple[str, ...]:
        """Penn Treebank tags of ``tokens``, as the tagger gives them (memoised)."""
        return self._penn(tuple(tokens))


def same_pos(
    tags: Callable[[Sequence[str]], Sequence[str]],
    words: Sequence[str],
    position: int,
    candidates: Sequence[str],
    window: int = 4,
    verb_noun_swap: bool = True,
) -> np.ndarray:
    """TextFooler's POS rule, the one check every attack and defense uses: per candidate for
    ``words[position]``, whether its tag (by ``tags``, in context) equals the original word's, or
    both are NOUN/VERB when ``verb_noun_swap``. The context is the ``window`` words either side when
    the text has more than 10 words, else the whole text (a one-word list: the word out of context)."""
    lo, hi = (max(0, position - window), min(len(words), position + window + 1)) if len(words) > 10 else (0, len(words))
    context, at = list(words[lo:hi]), position - lo
    original = tags(context)[at]
    ok = []
    for candidate in candidates:
        tag = tags(context[:at] + [candidate] + context[at + 1 :])[at]
        ok.append(tag == original or (verb_noun_swap and {tag, original} <= {"NOUN", "VERB"}))
    return np.array(ok, dtype=bool)
