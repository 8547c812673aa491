"""The app's pure parts: input caps, highlighting, candidate ranking, defenders' members, leaderboard."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from app import (AppError, AttackTimeout, Limits, Models, build_app, changed_positions, check_text, defend, describe_attack,
                 diff_segments, heatmap, heatmap_html, leaderboard_rows, members_frame, probability_frame, rank_candidates,
                 run_attack, segment_position, shown_errors, token_segments, votes, word_choices)
from arena.classifier import CallableClassifier
from arena.scorer import Scorer
from arena.store import ExampleResult, Store
from attackers.synonyms import NeighbourTable
from attackers.textfooler import TextFooler
from defenses.five import FIVE
from defenses.fuse import FuSE
from defenses.switch import SwitchConfig
from test_textfooler import TABLE, FakeSimilarity, FakeTagger, keyword_probs


class Noisy:
    """A stochastic defender stand-in (never probed word by word)."""

    labels = ["negative", "positive"]
    stochastic = True


@pytest.fixture
def keyword_models() -> Models:
    """The app's models over the keyword classifier: plain only, TextFooler with fake similarity and tagger."""
    clf = CallableClassifier(keyword_probs, ["negative", "positive"])
    return Models({"plain": clf}, {"textfooler": lambda: TextFooler(TABLE, FakeSimilarity(), FakeTagger())}, TABLE)


def test_check_text_caps_characters_and_words():
    limits = Limits(max_chars=40, max_words=5)
    assert check_text("  a good film \n", limits) == "a good film"
    for bad, message in [("", "Type or paste"), ("   ", "Type or paste"), ("!!! ???", "no words"),
                         ("x" * 41, "41 characters; this app takes at most 40"), ("one two three four five six", "6 words; this app takes at most 5")]:
        with pytest.raises(AppError, match=message):
            check_text(bad, limits)


def test_diff_segments_highlight_swapped_words_and_keep_text():
    original, adversarial = diff_segments("A good film, truly good.", "A fine film, truly good.")
    assert original == [("A ", None), ("good", "replaced"), (" film, truly good.", None)]
    assert adversarial == [("A ", None), ("fine", "swapped"), (" film, truly good.", None)]
    assert "".join(s for s, _ in adversarial) == "A fine film, truly good."
    # different word counts (character/insertion attacks): aligned, only the differing run is marked
    old, new = changed_positions("a good film", "a very good film")
    assert old == set() and new == {1}
    assert diff_segments("same text", "same text")[1] == [("same text", None)]


def test_rank_candidates_biggest_move_first_case_kept(keyword_models):
    scorer = Scorer(keyword_models.base)
    ranked = rank_candidates(scorer, TABLE, "A Good film", 1)
    # weights: fine 0.1 < ok 0.2 < decent 0.8: replacing good (2.0) by fine lowers P(positive) most
    assert [c.word for c in ranked] == ["fine", "ok", "decent"]
    assert ranked[0].text == "A Fine film"
    drops = [c.drop for c in ranked]
    assert drops == sorted(drops, reverse=True) and drops[0] > 0
    before = keyword_probs(["a good film"])[0, 1]
    assert ranked[0].drop == pytest.approx(before - keyword_probs(["a fine film"])[0, 1])
    assert rank_candidates(scorer, TABLE, "A Good film", 0) == []  # "a" has no synonyms
    with pytest.raises(AppError, match="No word at position 7"):
        rank_candidates(scorer, TABLE, "A Good film", 7)
    assert word_choices("A Good film", TABLE) == [("1: Good", 1), ("2: film", 2)]


def test_token_segments_one_per_word_and_positions_round_trip():
    original, current = "a good film, really.", "a fine film, really."
    segments = token_segments(original, current, selected=2)
    assert [s for s, _ in segments] == ["a", " ", "fine", " ", "film", ", ", "really", "."]
    assert [label for _, label in segments] == ["word", None, "swapped", None, "selected", None, "word", None]
    positions = [segment_position(current, i) for i in range(len(segments))]
    assert positions == [0, None, 1, None, 2, None, 3, None]
    assert segment_position(current, 99) is None
    assert segment_position(" leading space", 0) is None and segment_position(" leading space", 1) == 0


def test_run_attack_flips_the_defenders_own_prediction(keyword_models):
    result = run_attack("a good film", keyword_models.base, keyword_models.attacker("textfooler"), seconds=30)
    assert result.status == "succeeded" and result.label == 1 and result.perturbed_pred == 0
    text = describe_attack(result, ["negative", "positive"], 0.5)
    assert "Attack succeeded" in text and f"{result.queries} queries" in text and "**positive**" in text
    frame = probability_frame(["negative", "positive"], result.original_proba, result.perturbed_proba)
    assert list(frame["text"]) == ["original", "original", "adversarial", "adversarial"]
    assert frame.groupby("text")["probability"].sum().to_dict() == pytest.approx({"original": 1.0, "adversarial": 1.0})


def test_attack_time_limit_is_a_clear_message(keyword_models):
    with pytest.raises(AttackTimeout, match="stopped at its 0 s limit"):
        run_attack("a good film", keyword_models.base, keyword_models.attacker("textfooler"), seconds=0)
    seen: list[int] = []
    run_attack("a good film", keyword_models.base, keyword_models.attacker("textfooler"), seconds=30, on_scored=seen.append)
    assert seen and seen == sorted(seen)  # progress: texts scored so far


def test_models_look_up_names_only(keyword_models):
    built = keyword_models.attacker("textfooler")
    assert keyword_models.attacker("textfooler") is built  # built once
    for lookup in (keyword_models.defender, keyword_models.attacker):
        with pytest.raises(AppError, match="Unknown"):
            lookup("/etc/passwd")
    keyword_models.defenders["noisy"] = Noisy()
    assert keyword_models.probes == ["plain"]
    with pytest.raises(AppError, match="cannot be probed"):
        keyword_models.scorer("noisy")


def test_defend_shows_members_of_every_defender(tiny_classifier):
    table = NeighbourTable({"movie": ["film", "picture"], "great": ["fine", "nice"], "acting": ["performance"]})
    defenders = {"plain": tiny_classifier, "FuSE": FuSE(tiny_classifier, table, None, FakeTagger(),
                                                        SwitchConfig(perturb_words=2, total_alternatives=3, multiplier=2)),
                 "FIVE": FIVE(tiny_classifier, samples=4)}
    text = "the movie had great acting"
    views = {v.name: v for v in defend(text, defenders, tiny_classifier)}
    labels = list(tiny_classifier.labels)
    assert len(views["plain"].members) == 1
    assert [what for what, _ in views["FIVE"].members] == ["original"] + [f"noise sample {i}" for i in range(1, 5)]
    fuse = views["FuSE"].members
    assert fuse[0][0] == "original: " + text and 1 < len(fuse) <= 4 and all("[[" in what for what, _ in fuse[1:])
    for view in views.values():
        assert sum(votes(view, labels).values()) == len(view.members)
        assert np.allclose(view.proba.sum(), 1)
        assert list(members_frame(view, labels).columns) == ["member", "vote", *labels]


def _store_run(store: Store, defender: str, attacker: str, data: str, statuses: list[str], finish: bool = True) -> str:
    run_id = store.start_run("match", defender, data, {"n": len(statuses)}, attacker=attacker)
    store.add_results(run_id, [ExampleResult(i, f"e{i}", 1, "t", status, original_pred=1, queries=5, words_changed=1, words_total=4)
                               for i, status in enumerate(statuses)])
    if finish:
        from arena.metrics import attack_summary

        store.finish_run(run_id, {**attack_summary(store.results(run_id)), "run_id": run_id})
    return run_id


def test_leaderboard_table_and_heatmap(tmp_path):
    db = tmp_path / "arena.db"
    assert leaderboard_rows(db) == [] and not db.exists()  # an absent store is reported, not created
    with Store(db) as store:
        _store_run(store, "plain", "textfooler", "builtin", ["succeeded", "failed", "failed", "skipped"])
        _store_run(store, "<b>five</b>", "textfooler", "builtin", ["failed", "failed"], finish=False)
        _store_run(store, "plain", "textattack:pwws", "mr", ["succeeded"])
        eval_run = store.start_run("eval", "plain", "builtin", {"n": 1})
        store.add_results(eval_run, [ExampleResult(0, "e0", 1, "t", "correct", original_pred=1)])
    rows = leaderboard_rows(db)
    assert len(rows) == 3 and {r["attacker"] for r in rows} == {"textfooler", "textattack:pwws"}
    by_defender = {(r["defender"], r["data"]): r for r in rows}
    assert by_defender[("plain", "builtin")]["accuracy under attack"] == 0.5 and by_defender[("plain", "builtin")]["status"] == "finished"
    assert by_defender[("<b>five</b>", "builtin")]["status"] == "partial (2/2)"
    defenders, attackers, cells = heatmap(rows, "builtin")
    assert defenders == ["<b>five</b>", "plain"] and attackers == ["textfooler"] and len(cells) == 2
    page = heatmap_html(rows, "builtin")
    assert "&lt;b&gt;five&lt;/b&gt;" in page and "<b>five" not in page  # names from the store are escaped
    assert "0.500" in page and "1.000" in page and "hsl(120," in page
    assert "No match runs" in heatmap_html(rows, "imdb")


def test_shown_errors_become_gradio_messages():
    @shown_errors
    def fails():
        raise AppError("too long")

    with pytest.raises(gr.Error, match="too long"):
        fails()


def test_app_builds_with_plain_only(keyword_models, tmp_path):
    demo = build_app(keyword_models, Limits(), tmp_path / "none.db")
    assert isinstance(demo, gr.Blocks)
    assert not (tmp_path / "none.db").exists()


def test_arena_demo_passes_options_to_the_app(capsys, tmp_path):
    from arena.cli import main

    with pytest.raises(SystemExit) as exit_help:
        main(["demo", "--help"])
    assert exit_help.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: arena demo") and "--attack-seconds" in out and "--fact PATH" in out
    with pytest.raises(SystemExit) as exit_error:
        main(["demo", "--classifier", str(tmp_path / "missing"), "--port", "1"])
    assert exit_error.value.code == 2
    assert "arena demo: error:" in capsys.readouterr().err
