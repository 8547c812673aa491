"""What an attacker is to the arena: examples and a Scorer in, one result per example out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from arena.data import Example
from arena.results import ExampleResult
from arena.scorer import Scorer

SUCCEEDED, FAILED, SKIPPED = "succeeded", "failed", "skipped"


class Attacker(Protocol):
    """An attack: yields each example's :class:`ExampleResult` as soon as it is final.

    Results carry status ``succeeded`` / ``failed`` / ``skipped`` (skipped = the defender
    was already wrong on the clean input), the perturbed text of the attacked segment, queries,
    words changed, similarity and seconds; ``extra["changed"]`` lists ``[position, old, new]``.
    An attacker may set ``independent_examples = True`` when an example's result does not depend
    on the others passed with it: ``arena match --workers`` then hands examples out as it goes,
    and ``replayable_swaps = True`` when a result's perturbed text is the attacked segment with the
    swaps of ``extra["changed"]`` made, word for word: results stored without texts
    (``arena merge --no-texts``) then get it back (:func:`arena.match.restore_texts`).
    """

    name: str

    def attack(self, items: Sequence[tuple[int, Example]], scorer: Scorer) -> Iterator[ExampleResult]:
        """Attack ``(idx, example)`` pairs through ``scorer``; order of results may differ from input."""
        ...
