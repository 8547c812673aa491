"""Adaptive attacks on randomized defenders: expectation over draws (--eot), the majority check of a
final text (--verify), the noise canary that must not look robust, randomized user classifiers."""

from __future__ import annotations

import numpy as np
import pytest
from test_textfooler import TABLE, FakeSimilarity, FakeTagger, keyword_probs

from arena.attack import FAILED, SUCCEEDED
from arena.classifier import CallableClassifier, HTTPClassifier
from arena.data import Example, LabelledData
from arena.match import run_match, verified
from arena.scorer import Scorer
from arena.store import ExampleResult, Store
from arena.zoo import AttackOptions, match_key
from attackers.textfooler import TextFooler
from defenses.noise import Noise


class Coin:
    """A stochastic callable: class 1 with probability ``p`` on each text, independently; counts the texts it saw."""

    stochastic = True

    def __init__(self, p: float, seed: int = 0):
        self.p, self.seen, self.rng = p, 0, np.random.default_rng(seed)

    def __call__(self, texts):
        self.seen += len(texts)
        hits = self.rng.random(len(texts)) < self.p
        return np.stack([~hits, hits], axis=1).astype(float)


def test_eot_averages_k_draws_and_charges_k_queries():
    coin = Coin(0.5)
    scorer = Scorer(CallableClassifier(coin, ["a", "b"]), eot=200)
    assert not scorer.caching and scorer.eot == 200
    probs = scorer.predict_proba(["x", "y"], ["e1", "e2"])
    assert coin.seen == 400 and scorer.queries("e1") == scorer.queries("e2") == 200
    assert np.allclose(probs.sum(axis=1), 1) and np.all(np.abs(probs[:, 1] - 0.5) < 0.15)  # means, not one-hots
    assert scorer.draws(["x"], "e1", 3).shape == (1, 3, 2) and scorer.queries("e1") == 203
    deterministic = Scorer(CallableClassifier(keyword_probs, ["neg", "pos"]), eot=8)
    assert deterministic.eot == 1 and deterministic.caching  # more draws of a deterministic model change nothing


def _result(status=SUCCEEDED) -> ExampleResult:
    return ExampleResult(
        idx=0, example_id="e", label=0, original_text="a film", status=status, perturbed_text="a movie"
    )


@pytest.mark.parametrize("p_wrong, kept", [(0.95, SUCCEEDED), (0.05, FAILED)])
def test_verify_keeps_a_success_only_if_most_fresh_draws_are_wrong(p_wrong, kept):
    scorer = Scorer(CallableClassifier(Coin(p_wrong), ["a", "b"]))  # label 0: a draw of class 1 is wrong
    for status in (SUCCEEDED, FAILED):  # the final text decides, whatever the attacker concluded
        (result,) = verified([_result(status)], scorer, 5)
        assert result.status == kept and result.extra["verify"]["draws"] == 5
    (untouched,) = verified([_result()], scorer, 1)
    assert untouched.status == SUCCEEDED and "verify" not in untouched.extra


def canary_match(tmp_path, attacker_name: str, make_attacker) -> tuple[dict, dict]:
    """Accuracy under attack and mean queries of plain, the noise canary attacked adaptively and the
    canary attacked with one draw, on a keyword classifier's toy reviews."""
    words = [
        "good film",
        "a great cast",
        "lovely story",
        "superb and good",
        "good acting",
        "a great film",
        "bad film",
        "an awful cast",
        "boring story",
        "bad and awful",
        "bad acting",
        "an awful film",
    ]
    data = LabelledData(
        [Example(t, int(i % 12 < 6), None, f"x{i}") for i, t in enumerate(words * 2)], ["neg", "pos"], "mem"
    )
    base = CallableClassifier(keyword_probs, ["neg", "pos"])
    accuracy, queries = {}, {}
    with Store(tmp_path / "a.db") as store:
        for name, defender, stochastic, options in (
            ("plain", base, False, AttackOptions()),
            ("adaptive", Noise(base, p=0.3), True, AttackOptions()),
            ("one draw", Noise(base, p=0.3), True, AttackOptions(eot=1, verify=1)),
        ):
            key = match_key(name, attacker_name, options, "mem", stochastic=stochastic)
            summary = run_match(defender, make_attacker(options), data, store, **key, progress=False)
            accuracy[name], queries[name] = summary["accuracy_under_attack"], summary["avg_queries"]
    return accuracy, queries


def test_noise_canary_is_not_robust_under_the_adaptive_attack(tmp_path):
    accuracy, queries = canary_match(
        tmp_path, "textfooler", lambda options: TextFooler(TABLE, FakeSimilarity(), FakeTagger())
    )
    assert accuracy["adaptive"] <= accuracy["plain"] + 0.1
    assert queries["adaptive"] > 8 * queries["plain"]  # every answer a mean of 8 draws, and the flips drawn again


def test_noise_canary_is_not_robust_under_an_adaptive_textattack_recipe(tmp_path):
    from arena.zoo import build_attacker

    accuracy, queries = canary_match(
        tmp_path, "textattack:deepwordbug", lambda options: build_attacker("textattack:deepwordbug", options)
    )
    assert accuracy["adaptive"] <= accuracy["plain"] + 0.1
    assert (
        queries["adaptive"] > 8 * queries["plain"]
    )  # every TextAttack query a mean of 8 draws, and the successes drawn again


@pytest.mark.parametrize("p_wrong, confirmed", [(0.95, True), (0.05, False)])
def test_a_textattack_success_is_confirmed_on_fresh_draws(p_wrong, confirmed):
    from types import SimpleNamespace

    from attackers.textattack_adapter import AttackedText, ConfirmedGoal

    goal = SimpleNamespace(_is_goal_complete=lambda output, text: int(output.argmax()) != 0)  # label 0: untargeted
    scorer = Scorer(CallableClassifier(Coin(p_wrong), ["a", "b"]), eot=8)
    confirm = ConfirmedGoal(goal, scorer)
    assert goal._is_goal_complete is confirm
    assert confirm(np.array([0.4, 0.6]), AttackedText("a film")) is confirmed and confirm.queries == 8
    assert (
        confirm(np.array([0.6, 0.4]), AttackedText("a film")) is False and confirm.queries == 8
    )  # not reached: no draws


def test_a_textattack_search_compares_candidates_with_their_parent_in_one_call():
    from types import SimpleNamespace

    from attackers.textattack_adapter import AttackedText, RebasedSearch

    scores = {"a film": 0.9, "the film": 0.7, "a movie": 0.95}  # this call's draws: the parent reads 0.9 now
    calls = []

    def get(texts):
        calls.append([t.text for t in texts])
        return [SimpleNamespace(score=scores[t.text], attacked_text=t) for t in texts], False

    search = SimpleNamespace(get_goal_results=get)
    goal = SimpleNamespace(
        use_cache=True,
        _call_model_cache={},
        init_attack_example=lambda text, truth: (SimpleNamespace(score=0.5, attacked_text=text), False),
    )
    rebased = RebasedSearch(search, goal)
    original = AttackedText("a film")
    assert search.get_goal_results is rebased and goal.use_cache is False
    assert goal.init_attack_example(original, 1)[0].score == 0.5  # the search holds 0.5 for the original text
    candidates = [original.replace_word_at_index(0, "the"), original.replace_word_at_index(1, "movie")]
    results, over = search.get_goal_results(candidates)
    assert calls == [["the film", "a movie", "a film"]] and not over  # one call, the parent last
    assert [round(r.score, 6) for r in results] == [0.3, 0.55]  # moved by the parent's change, 0.5 - 0.9
    assert (
        results[1].score > 0.5 > results[0].score
    )  # only the candidate that beats its parent within the call beats it
    other = AttackedText("the movie").replace_word_at_index(0, "a")  # another parent: "a movie"
    scores.update({"a movie": 0.95})
    mixed, _ = search.get_goal_results([candidates[0], other])
    assert calls[-1] == ["the film", "a movie"] and [r.score for r in mixed] == [
        0.7,
        0.95,
    ]  # several parents: not moved


def test_a_textattack_call_against_a_randomized_defender_shares_its_draws():
    from attackers.textattack_adapter import ArenaModelWrapper

    wrapper = ArenaModelWrapper(Scorer(Noise(CallableClassifier(keyword_probs, ["neg", "pos"]), p=0.5), eot=8))
    texts = ["a good film"] * 6
    assert len({tuple(row) for row in wrapper(texts)}) > 1  # no example named: independent draws
    wrapper.owner = "x0"
    assert len({tuple(row) for row in wrapper(texts)}) == 1  # the same draws for every text of the call
    assert not np.array_equal(wrapper(texts[:1]), wrapper(texts[:1]))  # and fresh ones for the next call


def test_the_run_identity_names_eot_and_verify_only_where_they_matter():
    options = AttackOptions()
    adaptive = match_key("five", "textfooler", options, "d")["config"]
    assert (adaptive["eot"], adaptive["verify"]) == (8, 5)
    assert match_key("five", "textfooler", AttackOptions(eot=4), "d")["config"]["eot"] == 4
    one_draw = match_key("five", "textfooler", AttackOptions(eot=1, verify=1), "d")["config"]
    assert "eot" not in one_draw and one_draw == {
        "attack": options.identity(),
        "max_length": 256,
    }  # the runs stored before --eot
    assert "eot" not in match_key("plain", "textfooler", AttackOptions(eot=8), "d")["config"]
    assert match_key("mod:f", "textfooler", options, "d", stochastic=True)["config"]["eot"] == 8


def test_user_classifiers_say_they_are_randomized(monkeypatch):
    assert CallableClassifier(Coin(0.5), ["a", "b"]).stochastic and not CallableClassifier(keyword_probs).stochastic
    endpoint = HTTPClassifier("http://127.0.0.1:9/predict", ["a", "b"])
    monkeypatch.setattr(endpoint, "_request", lambda texts: {"probs": [[0.5, 0.5]] * len(texts), "stochastic": True})
    assert endpoint.stochastic and not Scorer(endpoint).caching
    quiet = HTTPClassifier("http://127.0.0.1:9/predict", ["a", "b"])
    monkeypatch.setattr(quiet, "_request", lambda texts: {"probs": [[0.5, 0.5]] * len(texts)})
    assert not quiet.stochastic
