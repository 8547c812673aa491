from __future__ import annotations

import numpy as np
import pytest
import torch

from arena.batching import length_bucketed_batches
from arena.classifier import CallableClassifier, ClassifierError
from arena.scorer import QueryBudgetExceeded, Scorer

TEXTS = [
    "short",
    "a somewhat longer sentence about a film that was fine",
    "mid length text here",
    "word " * 60,
    "another one",
    "the plot was thin but the acting was lovely and the music was great " * 3,
    "ok",
    "a",
]


def unbatched(clf, texts):
    rows = []
    for text in texts:
        enc = clf.tokenizer([text], truncation=True, max_length=clf.max_length, return_tensors="pt")
        with torch.inference_mode():
            rows.append(torch.softmax(clf.model(**enc).logits, -1)[0].numpy())
    return np.stack(rows)


def test_scorer_matches_unbatched_forward_and_keeps_order(tiny_classifier):
    scorer = Scorer(tiny_classifier)
    got = scorer.predict_proba(TEXTS)
    assert np.allclose(got, unbatched(tiny_classifier, TEXTS), atol=1e-5)
    reversed_got = Scorer(tiny_classifier).predict_proba(TEXTS[::-1])
    assert np.allclose(reversed_got[::-1], got, atol=1e-6)


def test_length_buckets_respect_budget_and_cover_all():
    lengths = [5, 50, 7, 300, 6, 51, 8, 49]
    batches = length_bucketed_batches(lengths, token_budget=160, max_batch=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 160
    # similar lengths share batches: the three ~50-token texts travel together
    assert sorted(batches[1]) == [1, 5, 7]


def test_cache_hits_and_misses(tiny_classifier):
    scorer = Scorer(tiny_classifier)
    scorer.predict_proba(TEXTS[:4])
    assert (scorer.stats.cache_hits, scorer.stats.cache_misses) == (0, 4)
    scorer.predict_proba(TEXTS[2:6] + [TEXTS[5]])
    assert (scorer.stats.cache_hits, scorer.stats.cache_misses) == (2, 6)


def test_cache_is_lru_bounded(tiny_classifier):
    scorer = Scorer(tiny_classifier, cache_size=2)
    scorer.predict_proba(["a", "b", "c"])
    scorer.predict_proba(["a"])
    assert scorer.stats.cache_hits == 0 and len(scorer._cache) == 2


def test_cache_off_for_stochastic_classifiers():
    calls = []

    def noisy(texts):
        calls.append(len(texts))
        return np.random.default_rng(len(calls)).dirichlet([1, 1], size=len(texts))

    scorer = Scorer(CallableClassifier(noisy, ["a", "b"]), cache_size=0)
    first = scorer.predict_proba(["x", "x"], example_ids="e")
    second = scorer.predict_proba(["x"], example_ids="e")
    assert not np.allclose(first[0], second[0]) and scorer.stats.cache_hits == 0
    assert scorer.queries("e") == 3  # without a cache every request is a real query


def test_per_example_query_counting_across_one_batched_call(tiny_classifier):
    scorer = Scorer(tiny_classifier)
    scorer.predict_proba(["a", "b", "c", "a"], example_ids=["e1", "e1", "e2", "e1"])
    assert scorer.queries("e1") == 2 and scorer.queries("e2") == 1
    scorer.predict_proba(["b", "d"], example_ids="e1")
    assert scorer.queries("e1") == 3
    scorer.forget("e1")
    assert scorer.queries("e1") == 0
    with pytest.raises(ValueError, match="2 example ids for 3 texts"):
        scorer.predict_proba(["a", "b", "c"], example_ids=["x", "y"])


def test_query_budget_raises_before_querying(tiny_classifier):
    scorer = Scorer(tiny_classifier, query_budget=3)
    scorer.predict_proba(["a", "b"], example_ids="e")
    misses = scorer.stats.cache_misses
    with pytest.raises(QueryBudgetExceeded) as err:
        scorer.predict_proba(["c", "d"], example_ids="e")
    assert err.value.example_id == "e" and err.value.used == 2 and err.value.budget == 3
    assert scorer.stats.cache_misses == misses  # nothing was sent to the model
    scorer.predict_proba(["c"], example_ids="e")  # exactly at the budget is fine
    scorer.predict_proba(["z"] * 5, example_ids="other")  # budgets are per example
    with pytest.raises(ValueError, match="at least 1 query"):
        Scorer(tiny_classifier, query_budget=0)


def test_generic_classifier_chunks_and_errors():
    sizes = []

    def fn(texts):
        sizes.append(len(texts))
        return np.tile([0.5, 0.5], (len(texts), 1))

    scorer = Scorer(CallableClassifier(fn, ["a", "b"]), max_batch=3)
    assert scorer.predict_proba([str(i) for i in range(7)]).shape == (7, 2)
    assert sizes == [3, 3, 1]

    def nan(texts):
        return np.full((len(texts), 2), np.nan)

    with pytest.raises(ClassifierError, match="NaN"):
        Scorer(CallableClassifier(nan, ["a", "b"])).predict_proba(["x"])


def test_scorer_rejects_bad_input(tiny_classifier):
    scorer = Scorer(tiny_classifier)
    with pytest.raises(TypeError, match="not a single text"):
        scorer.predict_proba("just a string")
    with pytest.raises(TypeError, match="input 1 is int"):
        scorer.predict_proba(["ok", 3])
    assert scorer.predict_proba([]).shape == (0, 3)
