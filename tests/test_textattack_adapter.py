from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import arena
from arena.classifier import CallableClassifier
from arena.data import Example
from arena.resources import ResourceMissing
from arena.scorer import Scorer
from arena.zoo import AttackOptions, build_attacker
from attackers import textattack_adapter as ta

WEIGHTS = {"good": 2.0, "great": 3.0, "fine": 0.1, "decent": 0.8, "nice": 0.0, "superb": 3.0, "ok": 0.2, "bad": -2.0}
TABLE = {"good": ["fine", "decent", "ok"], "great": ["nice", "superb"], "superb": ["great"], "film": ["movie"]}


def keyword_probs(texts):
    """P(positive) = sigmoid(sum of word weights - 0.5) of the text, or of the hypothesis of a pair."""
    segments = [t if isinstance(t, str) else t[1] for t in texts]
    scores = np.array([sum(WEIGHTS.get(w, 0.0) for w in s.lower().split()) - 0.5 for s in segments])
    pos = 1 / (1 + np.exp(-scores))
    return np.stack([1 - pos, pos], axis=1)


@pytest.fixture()
def clf() -> CallableClassifier:
    return CallableClassifier(keyword_probs, ["negative", "positive"])


@pytest.fixture()
def options(tmp_path: Path) -> AttackOptions:
    table = tmp_path / "table.json"
    table.write_text(json.dumps(TABLE))
    return AttackOptions(synonyms=f"neighbors:{table}")


def test_prepare_is_idempotent_and_writes_nltk_stopwords():
    ta.prepare_textattack_offline()
    ta.prepare_textattack_offline()
    stopwords = Path(arena.resources.cache_dir()) / "nltk_data" / "corpora" / "stopwords" / "english"
    assert len(stopwords.read_text().split()) == 179
    assert (Path(os.environ["TA_CACHE_DIR"]) / "post_install_check_3").exists()


@pytest.mark.slow
def test_import_textattack_offline_in_a_fresh_cache(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TA_CACHE_DIR", "NLTK_DATA", "HF_HOME")}
    env["FIREARENA_CACHE"] = str(tmp_path)
    code = (
        "import os, attackers.textattack_adapter, nltk; "
        "print(len(nltk.corpus.stopwords.words('english')), os.environ.get('HF_HOME'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[1],
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["179", "None"]  # stop words found; TextAttack's HF_HOME redirect undone
    assert "nltk_data" not in out.stderr and "Downloading" not in out.stderr


def test_wrapper_returns_the_classifier_probabilities(clf):
    texts = ["a good film", "a bad film", "nothing"]
    pairs = [("premise", "a good film"), ("premise", "a bad film")]
    wrapper = arena.to_textattack(clf)
    assert isinstance(wrapper, ta.ArenaModelWrapper)
    np.testing.assert_allclose(wrapper(texts), clf.predict_proba(texts))
    np.testing.assert_allclose(wrapper(pairs), clf.predict_proba(pairs))
    scorer = Scorer(clf)
    np.testing.assert_allclose(ta.to_textattack(scorer)(texts), clf.predict_proba(texts))
    assert scorer.stats.requests == len(texts)


def test_textfooler_recipe_with_local_pieces_succeeds(clf, options):
    attack = ta.build_recipe("textfooler", ta.to_textattack(clf), options)
    assert isinstance(attack.transformation, ta.SynonymWordSwap)
    assert any(isinstance(c, ta.ArenaPartOfSpeech) for c in attack.constraints)
    result = attack.attack("a good film", 1)
    assert type(result).__name__ == "SuccessfulAttackResult"
    assert result.perturbed_result.attacked_text.text == "a fine film"


def test_stock_recipes_build_and_run_offline(clf, options):
    wrapper = ta.to_textattack(clf)
    result = ta.build_recipe("deepwordbug", wrapper, options).attack("a good film", 1)
    assert type(result).__name__ == "SuccessfulAttackResult"
    try:
        pwws = ta.build_recipe("pwws", wrapper, options)
    except ResourceMissing as exc:  # no WordNet files on this machine
        pytest.skip(str(exc))
    assert isinstance(pwws.transformation, ta.SynonymWordSwap)
    assert type(pwws.attack("a good film", 1)).__name__ in ("SuccessfulAttackResult", "FailedAttackResult")


def test_recipe_errors_name_the_problem(clf, options):
    with pytest.raises(ValueError, match="unknown TextAttack recipe 'nope'.*textfooler"):
        ta.build_recipe("nope", ta.to_textattack(clf), options)
    with pytest.raises(ValueError, match="unknown TextAttack recipe"):
        build_attacker("textattack:nope", options)
    with pytest.raises(ValueError, match="gradients"):
        ta.build_recipe("hotflip", ta.to_textattack(clf), options)


def test_textattack_recipe_yields_arena_results(clf, options):
    attacker = build_attacker("textattack:textfooler", options)
    assert attacker.name == "textattack:textfooler"
    items = [
        (0, Example("a good film", 1, None, "win")),
        (1, Example("a bad film", 1, None, "wrong")),
        (2, Example("a great superb film", 1, None, "hard")),
        (3, Example("the good premise", 1, "a good film", "pair")),
    ]
    results = {r.example_id: r for r in attacker.attack(items, Scorer(clf))}
    win, wrong, hard, pair = (results[k] for k in ("win", "wrong", "hard", "pair"))
    assert (win.status, wrong.status, hard.status, pair.status) == ("succeeded", "skipped", "failed", "succeeded")
    assert win.perturbed_text == "a fine film" and win.extra["changed"] == [[1, "good", "fine"]]
    assert (win.words_changed, win.words_total, win.original_pred, win.perturbed_pred) == (1, 3, 1, 0)
    assert win.queries > 0 and 0 < win.similarity <= 1 and win.seconds > 0
    assert wrong.perturbed_text is None and wrong.similarity is None and wrong.queries == 1
    assert hard.queries > win.queries and hard.perturbed_pred == 1
    assert (pair.original_text, pair.text_pair, pair.perturbed_text) == (
        "the good premise",
        "a good film",
        "a fine film",
    )


def test_random_recipes_repeat_per_example(clf, options):
    """DeepWordBug draws its character edits at random: seeded per example, runs repeat."""
    import random

    attacker = build_attacker("textattack:deepwordbug", options)
    items = [(0, Example("a good great film", 1, None, "a")), (1, Example("a great good film", 1, None, "b"))]
    runs = []
    for state in (1, 2):
        random.seed(state)
        np.random.seed(state)
        runs.append([(r.perturbed_text, r.queries) for r in attacker.attack(items, Scorer(clf))])
    assert runs[0] == runs[1]
    resumed = [(r.perturbed_text, r.queries) for r in attacker.attack(items[1:], Scorer(clf))]
    assert resumed == runs[0][1:]


def test_query_budget_of_the_scorer_is_respected(clf, options):
    attacker = ta.TextAttackRecipe("textfooler", options)
    (result,) = attacker.attack([(0, Example("a great superb film", 1, None, "x"))], Scorer(clf, query_budget=3))
    assert result.status == "failed" and result.queries <= 3


def test_word_changes_aligns_texts_of_different_lengths():
    assert ta.word_changes("a good film", "a fine film") == [[1, "good", "fine"]]
    assert ta.word_changes("a good film here", "a go od film here") == [[1, "good", "go od"]]


def test_the_recipe_tables_match_textattack():
    """attackers/recipes.py describes TextAttack without importing it: its tables must be TextAttack's."""
    import sys
    from importlib import import_module

    from textattack.attack_args import ATTACK_RECIPE_NAMES

    from attackers import recipes

    assert {name: path.rpartition(".")[2] for name, path in ATTACK_RECIPE_NAMES.items()} == recipes.RECIPE_CLASSES
    for name, path in ATTACK_RECIPE_NAMES.items():
        module = sys.modules[getattr(import_module(path.rpartition(".")[0]), path.rpartition(".")[2]).__module__]
        named = tuple(piece for piece in recipes.UNREPLACEABLE if hasattr(module, piece))
        assert named == recipes.RECIPE_PIECES.get(name, ()), name
