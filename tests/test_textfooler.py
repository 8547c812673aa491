from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from arena.classifier import CallableClassifier
from arena.data import Example, LabelledData, load_data
from arena.match import mark_changes, restore_texts, run_match
from arena.scorer import Scorer
from arena.store import Store
from arena.synonyms import NeighbourTable
from attackers.textfooler import TextFooler

WEIGHTS = {
    "good": 2.0,
    "great": 3.0,
    "fine": 0.1,
    "decent": 0.8,
    "nice": 0.0,
    "lovely": 2.5,
    "bad": -2.0,
    "awful": -3.0,
    "dull": -1.5,
    "poor": -1.0,
    "weak": -0.8,
    "superb": 3.0,
    "ok": 0.2,
    "boring": -2.0,
}
TABLE = NeighbourTable(
    {
        "good": ["fine", "decent", "ok"],
        "great": ["nice", "superb"],
        "lovely": ["nice", "fine"],
        "bad": ["poor", "weak"],
        "awful": ["dull", "poor"],
        "boring": ["dull"],
        "film": ["movie"],
        "superb": ["great"],
    }
)


def keyword_probs(texts):
    """P(positive) = sigmoid(sum of word weights - 0.5); a transparent black box."""
    scores = np.array([sum(WEIGHTS.get(w, 0.0) for w in t.lower().split()) - 0.5 for t in texts])
    pos = 1 / (1 + np.exp(-scores))
    return np.stack([1 - pos, pos], axis=1)


class FakeSimilarity:
    """Similarity 1.0, or ``low`` when the second window contains a word in ``penalised``."""

    def __init__(self, penalised=(), low=0.1, scores=None):
        self.penalised = set(penalised)
        self.low = low
        self.scores = scores or {}

    def similarity(self, a, b):
        out = []
        for _, y in zip(a, b):
            words = set(y.split())
            value = min([self.scores[w] for w in words if w in self.scores] or [1.0])
            out.append(self.low if words & self.penalised else value)
        return np.array(out)


class FakeTagger:
    """Every word is a NOUN except those mapped otherwise."""

    def __init__(self, tags=None):
        self.map = tags or {}

    def tags(self, tokens):
        return tuple(self.map.get(t.lower(), "NOUN") for t in tokens)

    penn_tags = tags  # what SWITCH compares (FuSE in the app tests)


def attack_one(text, label=1, sim=None, pos=None, **options):
    clf = CallableClassifier(keyword_probs, ["negative", "positive"])
    scorer = Scorer(clf)
    attacker = TextFooler(TABLE, sim or FakeSimilarity(), pos or FakeTagger(), **options)
    (result,) = list(attacker.attack([(0, Example(text, label, None, "x"))], scorer))
    return result, attacker, scorer


def test_settings_that_cannot_attack_are_refused_when_built():
    for bad in ({"max_candidates": 0}, {"chunk_size": 0}, {"window": 0}, {"sim_threshold": 1.5}, {"min_cos": -2.0}):
        with pytest.raises(ValueError, match="TextFooler needs max_candidates"):
            TextFooler(TABLE, FakeSimilarity(), FakeTagger(), **bad)


def test_importance_ranking_by_deletion_drops_stopwords():
    clf = CallableClassifier(keyword_probs, ["negative", "positive"])
    scorer = Scorer(clf)
    attacker = TextFooler(TABLE, FakeSimilarity(), FakeTagger())
    states = attacker._start([(0, Example("the good film was lovely and great", 1, None, "x"))], scorer)
    attacker._rank(states, scorer)
    words = states[0].original.words
    assert [words[p] for p, _ in states[0].queue] == [
        "great",
        "lovely",
        "good",
        "film",
    ]  # 'the', 'was', 'and' are stop words


def test_importance_includes_flip_bonus():
    """Deleting 'beta' lowers p_y more than deleting 'alpha' and flips the label: the flip bonus doubles its score."""
    table = {
        "alpha beta gamma": [0.1, 0.9],
        "<oov> beta gamma": [0.35, 0.65],
        "alpha <oov> gamma": [0.55, 0.45],
        "alpha beta <oov>": [0.1, 0.9],
    }
    clf = CallableClassifier(lambda texts: np.array([table.get(t, [0.1, 0.9]) for t in texts]), ["n", "p"])
    attacker = TextFooler(
        NeighbourTable({"alpha": ["x"], "beta": ["y"], "gamma": ["z"]}), FakeSimilarity(), FakeTagger()
    )
    scorer = Scorer(clf)
    states = attacker._start([(0, Example("alpha beta gamma", 1, None, "x"))], scorer)
    attacker._rank(states, scorer)
    # importance: alpha = 0.25; beta = 0.45 + (0.55 - 0.1) = 0.9 (flip); gamma = 0
    assert [p for p, _ in states[0].queue] == [1, 0, 2]


def test_flip_branch_picks_most_similar_flipping_candidate():
    # "great" -> nice / superb: neither flips, nice lowers p_y most; then "good" -> fine / ok flip, decent does not
    result, _, _ = attack_one("great good film", sim=FakeSimilarity(scores={"fine": 0.9, "ok": 0.95, "decent": 0.99}))
    assert result.status == "succeeded"
    changed = {old: new for _, old, new in result.extra["changed"]}
    assert changed["great"] == "nice"  # non-flip branch: lowest p_y among nice/superb
    assert changed["good"] == "ok"  # flip branch: fine, decent and ok all flip; ok is most similar
    assert result.perturbed_pred == 0 and result.perturbed_text == "nice ok film"


def test_non_flip_branch_commits_only_when_below_original():
    result, _, _ = attack_one(
        "superb superb superb film"
    )  # every swap keeps p_y near 1: superb -> great changes nothing
    assert result.status == "failed"
    assert result.extra["changed"] == []  # great scores the same as superb: not below the original p_y


def test_similarity_constraint_rejects_flip_in_long_text():
    filler = "x " * 16
    text = filler + "good film"
    ok, _, _ = attack_one(text)
    assert ok.status == "succeeded"
    rejected, _, _ = attack_one(text, sim=FakeSimilarity(penalised={"fine", "decent", "ok"}))
    assert rejected.status == "failed"
    short, _, _ = attack_one("good film", sim=FakeSimilarity(penalised={"fine", "decent", "ok"}))
    assert short.status == "succeeded"  # texts shorter than the 15-word window skip the check


def test_pos_constraint_rejects_but_allows_noun_verb_swap():
    blocked, _, _ = attack_one(
        "good film", pos=FakeTagger({"good": "ADJ", "fine": "ADV", "decent": "ADV", "ok": "ADV"})
    )
    assert blocked.status == "failed"
    allowed, _, _ = attack_one(
        "good film", pos=FakeTagger({"good": "VERB", "fine": "NOUN", "decent": "NOUN", "ok": "NOUN"})
    )
    assert allowed.status == "succeeded"


def test_skipped_when_already_wrong_and_query_counting():
    skipped, _, _ = attack_one("awful film", label=1)
    assert skipped.status == "skipped" and skipped.queries == 1 and skipped.perturbed_text is None
    result, _, scorer = attack_one("good film")
    # 1 original + 2 deletions + 3 candidates for "good" (flip found there)
    assert result.queries == 6 and result.words_changed == 1 and result.words_total == 2


def test_examples_settled_by_the_first_prediction_come_out_before_the_ranking():
    clf = CallableClassifier(keyword_probs, ["negative", "positive"])
    scorer = Scorer(clf)
    attacker = TextFooler(TABLE, FakeSimilarity(), FakeTagger(), chunk_size=8)
    items = [(0, Example("good film", 1, None, "a")), (1, Example("awful film", 1, None, "b"))]
    results = attacker.attack(items, scorer)
    first = next(results)
    assert (first.example_id, first.status, scorer.stats.model_calls) == (
        "b",
        "skipped",
        1,
    )  # only the first prediction so far
    assert [r.status for r in results] == ["succeeded"]


def test_batched_equals_one_at_a_time():
    data = load_data("builtin")
    items = list(enumerate(data.examples))
    clf = CallableClassifier(keyword_probs, ["negative", "positive"])

    def run(chunk):
        attacker = TextFooler(TABLE, FakeSimilarity(scores={"ok": 0.5}), FakeTagger(), chunk_size=chunk)
        return {r.example_id: r for r in attacker.attack(items, Scorer(clf))}

    batched, single = run(64), run(1)
    assert batched.keys() == single.keys()
    for key in batched:
        a, b = batched[key], single[key]
        assert (a.status, a.perturbed_text, a.queries, a.words_changed) == (
            b.status,
            b.perturbed_text,
            b.queries,
            b.words_changed,
        )
    assert any(r.status == "succeeded" for r in batched.values())


def test_the_ranking_in_bounded_calls_gives_the_same_attack(monkeypatch):
    import attackers.textfooler as textfooler

    items = list(enumerate(load_data("builtin").examples))
    clf = CallableClassifier(keyword_probs, ["negative", "positive"])

    def run():
        attacker = TextFooler(TABLE, FakeSimilarity(scores={"ok": 0.5}), FakeTagger(), chunk_size=64)
        return {r.example_id: (r.status, r.perturbed_text, r.queries) for r in attacker.attack(items, Scorer(clf))}

    calls = []
    original = Scorer.predict_proba
    monkeypatch.setattr(
        Scorer, "predict_proba", lambda self, texts, *a, **k: calls.append(len(texts)) or original(self, texts, *a, **k)
    )
    whole, calls_whole = run(), len(calls)
    monkeypatch.setattr(textfooler, "RANK_WORDS_PER_CALL", 40)  # a few texts per ranking call
    assert run() == whole and len(calls) - calls_whole > calls_whole


def test_examples_over_max_words_are_refused_when_the_data_loads(tmp_path):
    from arena.data import DataError

    path = tmp_path / "long.txt"
    path.write_text("0 short and bad\n1 " + "good " * 30 + "\n")
    assert len(load_data(str(path), max_words=30)) == 2
    with pytest.raises(DataError, match="example long.txt:2 has 30 words, more than --max-words 29"):
        load_data(str(path), max_words=29)


def test_match_resume_after_crash_gives_same_totals(tmp_path):
    data = load_data("builtin")
    clf = CallableClassifier(keyword_probs, ["negative", "positive"])

    class CrashAfter:
        name = "textfooler"

        def __init__(self, limit):
            self.inner = TextFooler(TABLE, FakeSimilarity(), FakeTagger(), chunk_size=8)
            self.limit = limit

        def attack(self, items, scorer):
            for count, result in enumerate(self.inner.attack(items, scorer)):
                if count == self.limit:
                    raise KeyboardInterrupt("simulated crash")
                yield result

    kwargs = dict(defender_name="kw", attacker_name="textfooler", data_name="builtin", progress=False)
    with Store(tmp_path / "a.db") as store:
        with pytest.raises(KeyboardInterrupt):
            run_match(clf, CrashAfter(20), data, store, **kwargs)
        resumed = run_match(clf, CrashAfter(10**9), data, store, **kwargs)
        rows = store.conn.execute("SELECT COUNT(*), COUNT(DISTINCT example_id) FROM results").fetchone()
    with Store(tmp_path / "b.db") as store:
        clean = run_match(clf, CrashAfter(10**9), data, store, **kwargs)
    assert resumed["resumed"] == 20 and tuple(rows) == (120, 120)
    for key in (
        "n",
        "succeeded",
        "failed",
        "skipped",
        "accuracy_under_attack",
        "avg_queries",
        "avg_perturbed_words_pct",
    ):
        assert resumed[key] == clean[key], key


def _keyword_match():
    """The built-in data, the keyword classifier, a TextFooler on the toy table and run_match's names."""
    data = load_data("builtin")
    clf = CallableClassifier(keyword_probs, ["negative", "positive"])
    attacker = TextFooler(TABLE, FakeSimilarity(), FakeTagger(), chunk_size=8)
    return (
        data,
        clf,
        attacker,
        dict(defender_name="kw", attacker_name="textfooler", data_name="builtin", progress=False),
    )


def test_match_shards_over_two_stores_merge_into_the_single_process_run(tmp_path):
    data, clf, attacker, kwargs = _keyword_match()
    with Store(tmp_path / "single.db") as store:
        single = run_match(clf, attacker, data, store, **kwargs)
        expected = {
            r.example_id: (r.idx, r.status, r.perturbed_text, r.queries) for r in store.results(single["run_id"])
        }
    with Store(tmp_path / "b.db") as other:  # a second machine: shards 1/3 and 2/3
        for k in (1, 2):
            part = run_match(clf, attacker, data, other, shard=(k, 3), **kwargs)
        assert not part["complete"] and other.run(part["run_id"])["finished_at"] is None
    with Store(tmp_path / "a.db") as store:  # this machine: shard 0/3, then the other machine's store
        first = run_match(clf, attacker, data, store, shard=(0, 3), **kwargs)
        assert first["n"] == 40 and {r.idx % 3 for r in store.results(first["run_id"])} == {0}
        assert store.merge(tmp_path / "b.db") == {"runs": 0, "results": 80}
        assert store.merge(tmp_path / "b.db") == {"runs": 0, "results": 0}  # merging again adds nothing
        whole = run_match(clf, attacker, data, store, **kwargs)  # attacks nothing, finishes the run
        merged = {r.example_id: (r.idx, r.status, r.perturbed_text, r.queries) for r in store.results(whole["run_id"])}
        assert whole["complete"] and whole["resumed"] == 120 and store.run(whole["run_id"])["finished_at"] is not None
        with pytest.raises(ValueError, match="into itself"):
            store.merge(tmp_path / "a.db")
        with pytest.raises(ValueError, match="0 <= K < N"):
            run_match(clf, attacker, data, store, shard=(3, 3), **kwargs)
    assert first["run_id"] == part["run_id"] == whole["run_id"] == single["run_id"] and merged == expected
    for key in (
        "n",
        "succeeded",
        "failed",
        "skipped",
        "accuracy_under_attack",
        "avg_queries",
        "avg_perturbed_words_pct",
    ):
        assert whole[key] == single[key], key


def test_match_limit_attacks_the_first_examples_and_the_run_goes_on_from_there(tmp_path):
    data, clf, attacker, kwargs = _keyword_match()
    with Store(tmp_path / "a.db") as store:
        first = run_match(clf, attacker, data, store, limit=10, **kwargs)
        stored = {r.example_id for r in store.results(first["run_id"])}
        unfinished = store.run(first["run_id"])["finished_at"]
        whole = run_match(clf, attacker, data, store, **kwargs)
        finished = store.run(whole["run_id"])["finished_at"]
    with Store(tmp_path / "b.db") as store:
        clean = run_match(clf, attacker, data, store, **kwargs)
    assert first["n"] == 10 and stored == {ex.id for ex in data.examples[:10]} and unfinished is None
    with Store(tmp_path / "c.db") as store:  # "stored": the first examples already done, one after another
        assert run_match(clf, attacker, data, store, limit="stored", **kwargs)["n"] == 0
        run_id = run_match(clf, attacker, data, store, limit=10, **kwargs)["run_id"]
        store.conn.execute("DELETE FROM results WHERE run_id=? AND example_id=?", (run_id, data.examples[6].id))
        again = run_match(clf, attacker, data, store, limit="stored", **kwargs)
        assert again["n"] == 6 and len(store.results(run_id)) == 9  # the gap at 6 ends the prefix; nothing attacked
    assert whole["run_id"] == first["run_id"] and whole["resumed"] == 10 and finished is not None
    for key in ("n", "succeeded", "failed", "accuracy_under_attack", "avg_queries"):
        assert whole[key] == clean[key], key


def test_mark_changes():
    changed = [[1, "good", "ok"]]
    assert mark_changes("a good film", changed, "original") == "a [[good]] film"
    assert mark_changes("a ok film", changed, "perturbed") == "a [[ok]] film"


def test_pairs_perturb_only_the_hypothesis():
    clf = CallableClassifier(lambda pairs: keyword_probs([h for _, h in pairs]), ["negative", "positive"])
    attacker = TextFooler(TABLE, FakeSimilarity(), FakeTagger())
    (result,) = list(attacker.attack([(0, Example("a good premise", 1, "good film", "x"))], Scorer(clf)))
    assert result.status == "succeeded"
    assert (result.original_text, result.text_pair) == ("a good premise", "good film")
    assert result.perturbed_text != "good film" and "film" in result.perturbed_text
    blank = replace(
        result, original_text="", text_pair=None, perturbed_text=None
    )  # as `arena merge --no-texts` stores it
    data = LabelledData([Example("a good premise", 1, "good film", "x")], ["negative", "positive"], "pairs")
    assert restore_texts([blank], data, replay=True) == [result]
    assert (
        restore_texts([blank], data, replay=False)[0].perturbed_text is None
    )  # an attacker whose swaps cannot be replayed
    other = LabelledData([Example("a good premise", 1, "fine film", "x")], ["negative", "positive"], "other")
    with pytest.raises(ValueError, match="other data than other"):
        restore_texts([blank], other, replay=True)


def test_commit_rule_original_vs_current():
    """superb -> great and film -> movie leave p_y where it is: below the original's (released code commits them) but
    not below the current text's (TextAttack's greedy rule does not)."""
    original, _, _ = attack_one("great superb film", commit="original")
    current, _, _ = attack_one("great superb film", commit="current")
    assert original.status == current.status == "failed"
    assert [old for _, old, _ in original.extra["changed"]] == ["great", "superb", "film"]  # no-op swaps kept
    assert [old for _, old, _ in current.extra["changed"]] == ["great"]
    with pytest.raises(ValueError, match="commit must be"):
        attack_one("good film", commit="best")


class FlakyClassifier(CallableClassifier):
    """keyword_probs, except that a text with 'nice' reads as positive from the second time it is scored."""

    stochastic = True

    def __init__(self):
        self.seen: dict[str, int] = {}
        super().__init__(self._probs, ["negative", "positive"])

    def _probs(self, texts):
        out = keyword_probs(texts)
        for i, text in enumerate(texts):
            self.seen[text] = self.seen.get(text, 0) + 1
            if "nice" in text.split() and self.seen[text] > 1:
                out[i] = [0.1, 0.9]
        return out


def test_stochastic_defender_final_text_is_rescored():
    """Released-code final label: a flip that does not hold on a fresh draw is a failed attack."""
    clf = FlakyClassifier()
    scorer = Scorer(clf)
    assert not scorer.caching
    attacker = TextFooler(TABLE, FakeSimilarity(), FakeTagger())
    (result,) = list(attacker.attack([(0, Example("a lovely film", 1, None, "x"))], scorer))
    assert result.status == "failed" and "fresh draw" in result.extra["note"]
    assert result.perturbed_pred == 1 and result.perturbed_text == "a nice film" and clf.seen["a nice film"] == 2
