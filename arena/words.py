"""Word-level views of a text that keep its original spacing and punctuation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

WORD = re.compile(r"[\w']+(?:-[\w']+)*")
STOPWORDS = frozenset(  # TextFooler's stop words: never swapped by attacks, never perturbed by FuSE and FIVE
    line.strip()
    for line in (Path(__file__).parent / "assets" / "stopwords.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)


@dataclass(frozen=True)
class WordView:
    """A text split into separators (even indices) and words (odd indices) of ``pieces``."""

    pieces: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> WordView:
        """Split ``text``; joining the pieces gives the text back exactly."""
        pieces: list[str] = []
        last = 0
        for match in WORD.finditer(text):
            pieces += [text[last : match.start()], match.group()]
            last = match.end()
        pieces.append(text[last:])
        return cls(tuple(pieces))

    @property
    def words(self) -> list[str]:
        """The words, in order."""
        return list(self.pieces[1::2])

    def __len__(self) -> int:
        return len(self.pieces) // 2

    @property
    def text(self) -> str:
        """The text, with every separator as it was."""
        return "".join(self.pieces)

    def replace(self, position: int, word: str) -> WordView:
        """A copy with word ``position`` replaced."""
        pieces = list(self.pieces)
        pieces[2 * position + 1] = word
        return WordView(tuple(pieces))

    def delete(self, position: int) -> str:
        """The text with word ``position`` removed (whitespace collapsed around it)."""
        pieces = list(self.pieces)
        pieces[2 * position + 1] = ""
        return re.sub(r"\s{2,}", " ", "".join(pieces)).strip()

    def window(self, position: int, size: int) -> str:
        """``size`` words centred on ``position``, shifted to stay inside the text, joined by spaces."""
        words = self.words
        if len(words) <= size:
            return " ".join(words)
        start = min(max(0, position - size // 2), len(words) - size)
        return " ".join(words[start : start + size])


def match_case(template: str, word: str) -> str:
    """``word`` with the capitalisation pattern of ``template`` (lower, Title or UPPER)."""
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def added_text(original: str, text: str) -> str:
    """What was appended to ``original`` to make ``text`` (all of ``text`` when it does not start with it)."""
    return text[len(original) :].strip() if text.startswith(original) else text
