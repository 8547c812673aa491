"""The Scorer: the single gateway every attacker, defense and metric uses to query a classifier.

- inputs from many examples go into one call (``example_ids`` says whose each text is);
- HF-backed classifiers: each text is tokenised once, then batched by length under a token
  budget (never padded to the max length), under ``torch.inference_mode`` with bf16/fp16
  autocast on CUDA (see :class:`arena.classifier.HFClassifier`);
- other classifiers (callables, HTTP) get the cache misses in chunks of ``max_batch``;
- an LRU cache keyed by input (off for stochastic defenses: ``cache_size=0``);
- a stochastic defense with keyed randomness (FuSE, FIVE) gets each query's random stream,
  (example id, the query's number for that example), when every text names its example: an
  example's draws then do not depend on which examples share a call (chunk size, resume);
- expectation over a stochastic classifier's randomness (``eot`` K: each answer the mean of K
  draws, K queries), the adaptive attack on randomized defenses (Athalye et al. 2018);
- per-example query counting and an optional per-example query budget that raises
  :class:`QueryBudgetExceeded`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from arena.classifier import Classifier, ClassifierError, HFClassifier, TextInput, check_inputs, to_probabilities
from arena.time_limit import check_time_limit


class QueryBudgetExceeded(RuntimeError):
    """An example asked for more model queries than its budget allows."""

    def __init__(self, example_id: Hashable, budget: int, used: int, requested: int):
        super().__init__(
            f"example {example_id!r}: query budget {budget} exceeded ({used} used, {requested} more requested)"
        )
        self.example_id = example_id
        self.budget = budget
        self.used = used
        self.requested = requested


@dataclass
class ScorerStats:
    """Counters over the Scorer's lifetime."""

    requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    model_calls: int = 0


class Scorer:
    """Batched, cached, budgeted access to a :class:`Classifier`."""

    def __init__(
        self,
        classifier: Classifier,
        *,
        cache_size: int = 100_000,
        query_budget: int | None = None,
        max_batch: int = 256,
        eot: int = 1,
    ):
        self.classifier = classifier
        self.labels = list(classifier.labels)
        stochastic = bool(getattr(classifier, "stochastic", False))
        self.cache_size = 0 if stochastic else cache_size  # stochastic defenses: never cached
        if eot < 1:
            raise ValueError(f"--eot is a number of draws, at least 1 (got {eot})")
        self.eot = eot if stochastic else 1  # a deterministic classifier gives the same answer every draw
        if query_budget is not None and query_budget < 1:
            raise ValueError(f"a query budget is at least 1 query per example (got {query_budget})")
        self.query_budget = query_budget
        self.max_batch = max_batch
        self.stats = ScorerStats()
        self._cache: OrderedDict[TextInput, np.ndarray] = OrderedDict()
        self._queries: dict[Hashable, int] = {}
        self._seen: dict[Hashable, set[TextInput]] = {}
        self._calls: dict[Hashable, int] = {}  # per example: calls that drew several times (:meth:`_draw_streams`)

    @property
    def caching(self) -> bool:
        """Whether results are cached (False for stochastic classifiers)."""
        return self.cache_size > 0

    def queries(self, example_id: Hashable) -> int:
        """Model queries charged to an example so far (distinct inputs when caching, all inputs otherwise)."""
        return self._queries.get(example_id, 0)

    def forget(self, example_id: Hashable) -> None:
        """Drop an example's query count (when it is finished)."""
        self._queries.pop(example_id, None)
        self._seen.pop(example_id, None)
        self._calls.pop(example_id, None)

    def _charge(self, items: list[TextInput], owners: list[Hashable | None]) -> None:
        new: dict[Hashable, list[TextInput]] = {}
        for item, owner in zip(items, owners):
            if owner is None:
                continue
            if self.caching:
                seen = self._seen.setdefault(owner, set())
                if item in seen or item in new.get(owner, ()):
                    continue
            new.setdefault(owner, []).append(item)
        if self.query_budget is not None:
            for owner, fresh in new.items():
                used = self._queries.get(owner, 0)
                if used + len(fresh) > self.query_budget:
                    raise QueryBudgetExceeded(owner, self.query_budget, used, len(fresh))
        for owner, fresh in new.items():
            self._queries[owner] = self._queries.get(owner, 0) + len(fresh)
            if self.caching:
                self._seen[owner].update(fresh)

    def _keyed(self, owners: list[Hashable | None]) -> bool:
        """Whether queries get random streams: an uncached defense with keyed randomness, every text
        naming its example."""
        return not self.caching and getattr(self.classifier, "keyed_randomness", False) and None not in owners

    def _streams(self, owners: list[Hashable | None]) -> list[tuple[Hashable, int]] | None:
        """Per text, for an uncached defense with keyed randomness when every text names its
        example: (example, the number of this query for it), counted before this call is charged."""
        if not self._keyed(owners):
            return None
        streams, earlier = [], {}  # earlier: this call's texts already numbered, per example
        for owner in owners:
            streams.append((owner, self._queries.get(owner, 0) + earlier.get(owner, 0)))
            earlier[owner] = earlier.get(owner, 0) + 1
        return streams

    def _score_uncached(self, items: list[TextInput], streams: list[tuple[Hashable, int]] | None = None) -> np.ndarray:
        """Run the model. HF classifiers bucket by length themselves; others get chunks of ``max_batch``
        (with their ``streams`` when given)."""
        if isinstance(self.classifier, HFClassifier):
            self.stats.model_calls += 1
            return self.classifier.proba_from_encoded(self.classifier.encode(items))
        name = getattr(self.classifier, "name", type(self.classifier).__name__)
        parts = []
        for start in range(0, len(items), self.max_batch):
            chunk = items[start : start + self.max_batch]
            self.stats.model_calls += 1
            try:
                raw = (
                    self.classifier.predict_proba(chunk)
                    if streams is None
                    else self.classifier.predict_proba(chunk, streams=streams[start : start + self.max_batch])
                )
            except ClassifierError:
                raise
            except Exception as exc:
                raise ClassifierError(f"classifier {name!r} raised {type(exc).__name__}: {exc}") from exc
            parts.append(to_probabilities(raw, len(chunk), len(self.labels), f"classifier {name!r}"))
        return np.concatenate(parts)

    def predict_proba(
        self, texts: Sequence[TextInput], example_ids: Hashable | list[Hashable] | None = None
    ) -> np.ndarray:
        """Probabilities for ``texts`` in order.

        ``example_ids`` is one id for all texts, or a list with one id per text; queries are
        charged to those examples (and checked against the budget) before the model runs. With
        ``eot`` K > 1 (a stochastic classifier), each row is the mean of K independent draws
        (expectation over the defense's randomness), charged as K queries.
        """
        check_time_limit()
        items, owners = self._owned(texts, example_ids)
        if self.eot > 1:
            return self._draws(items, owners, self.eot).mean(axis=1)
        return self._predict(items, owners)

    def draws(self, texts: Sequence[TextInput], example_ids: Hashable | list[Hashable] | None, m: int) -> np.ndarray:
        """``(len(texts), m, k)``: ``m`` independent draws of each text (one query each), not averaged."""
        items, owners = self._owned(texts, example_ids)
        return self._draws(items, owners, m)

    def _draws(self, items: list[TextInput], owners: list[Hashable | None], m: int) -> np.ndarray:
        repeated = self._predict(
            [item for item in items for _ in range(m)],
            [owner for owner in owners for _ in range(m)],
            self._draw_streams(owners, m),
        )
        return repeated.reshape(len(items), m, len(self.labels))

    def _draw_streams(self, owners: list[Hashable | None], m: int) -> list[tuple[Hashable, int]] | None:
        """The random streams of ``m`` draws per text, for a defense with keyed randomness: draw j of
        every text of one example in one call comes from the same stream ((example, "draw", the
        example's call number), j). The texts compared in one call (an attack step's candidates)
        then share the defense's randomness (common random numbers): their means differ by the
        texts, not by the luck of the draws. Every call draws afresh, and the m draws of a text are
        independent of each other."""
        if not self._keyed(owners):
            return None
        call = {}
        for owner in dict.fromkeys(owners):
            call[owner] = self._calls.get(owner, 0)
            self._calls[owner] = call[owner] + 1
        return [((owner, "draw", call[owner]), j) for owner in owners for j in range(m)]

    @staticmethod
    def _owned(
        texts: Sequence[TextInput], example_ids: Hashable | list[Hashable] | None
    ) -> tuple[list[TextInput], list[Hashable | None]]:
        items = check_inputs(texts)
        if isinstance(example_ids, list):
            if len(example_ids) != len(items):
                raise ValueError(f"{len(example_ids)} example ids for {len(items)} texts")
            return items, example_ids
        return items, [example_ids] * len(items)

    def _predict(
        self, items: list[TextInput], owners: list[Hashable | None], streams: list[tuple[Hashable, int]] | None = None
    ) -> np.ndarray:
        """One draw per text (from ``streams`` when given): charged, then from the cache or the model."""
        streams = streams or self._streams(owners)
        self._charge(items, owners)
        self.stats.requests += len(items)
        if not items:
            return np.empty((0, len(self.labels)), dtype=np.float64)
        if not self.caching:
            self.stats.cache_misses += len(items)
            return self._score_uncached(items, streams)
        out = np.empty((len(items), len(self.labels)), dtype=np.float64)
        missing: dict[TextInput, list[int]] = {}
        for i, item in enumerate(items):
            hit = self._cache.get(item)
            if hit is None:
                missing.setdefault(item, []).append(i)
                continue
            self._cache.move_to_end(item)
            out[i] = hit
            self.stats.cache_hits += 1
        if missing:
            unique = list(missing)
            self.stats.cache_misses += len(unique)
            for item, row in zip(unique, self._score_uncached(unique)):
                out[missing[item]] = row
                self._cache[item] = row
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return out

    def predict(self, texts: Sequence[TextInput], example_ids: Hashable | list[Hashable] | None = None) -> np.ndarray:
        """Argmax class ids."""
        return self.predict_proba(texts, example_ids).argmax(axis=1)
