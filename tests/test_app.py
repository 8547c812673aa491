"""The app's pure parts: input caps, highlighting, candidate ranking, defenders' members, leaderboard,
the RL policy attacker's and the generator policy's views (over a tiny GPT-2 policy)."""

from __future__ import annotations

import json

import gradio as gr
import numpy as np
import pytest
import torch
from test_textfooler import TABLE, FakeSimilarity, FakeTagger, keyword_probs

from app import (
    AppError,
    AttackTimeout,
    Limits,
    Models,
    PolicyGenerator,
    attack_segments,
    build_app,
    changed_positions,
    check_generation,
    check_text,
    defend,
    describe_attack,
    describe_generation,
    diff_segments,
    fact_folder,
    generation_frame,
    hardened_defenders,
    heatmap,
    heatmap_html,
    leaderboard_rows,
    members_frame,
    probability_frame,
    rank_candidates,
    read_policy,
    run_attack,
    segment_position,
    shown_errors,
    token_segments,
    tournament_view,
    votes,
    word_choices,
)
from arena.classifier import CallableClassifier, HFClassifier
from arena.lexicon import VaderClassifier
from arena.scorer import Scorer
from arena.store import ExampleResult, Store
from arena.synonyms import NeighbourTable
from attackers.textfooler import TextFooler


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
    for bad, message in [
        ("", "Type or paste"),
        ("   ", "Type or paste"),
        ("!!! ???", "no words"),
        ("x" * 41, "41 characters; this app takes at most 40"),
        ("one two three four five six", "6 words; this app takes at most 5"),
    ]:
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
    run_attack(
        "a good film", keyword_models.base, keyword_models.attacker("textfooler"), seconds=30, on_scored=seen.append
    )
    assert seen and seen == sorted(seen)  # progress: texts scored so far


def test_attack_time_limit_holds_inside_a_defenders_own_model_calls(keyword_models):
    import time

    from arena.classifier import CallableClassifier

    def slow(texts):
        time.sleep(0.05)
        return [[0.2, 0.8] if "good" in t else [0.9, 0.1] for t in texts]

    class Voting:  # as FuSE: one call of the defender makes many calls of its model
        labels = ["negative", "positive"]
        inner = CallableClassifier(slow, ["negative", "positive"])

        def predict_proba(self, texts):
            return np.vstack([self.inner.predict_proba([text]) for text in texts for _ in range(3)][::3])

    start = time.monotonic()
    with pytest.raises(AttackTimeout, match="stopped at its 0.3 s limit"):
        run_attack(
            "a good film and a good cast and a good story " * 3,
            Voting(),
            keyword_models.attacker("textfooler"),
            seconds=0.3,
        )
    assert time.monotonic() - start < 0.3 + 0.5  # one model call (50 ms) past the limit, and the rest of the step


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


def test_defend_shows_members_of_every_defender(tiny_classifier, tiny_model_dir):
    table = NeighbourTable({"movie": ["film", "picture"], "great": ["fine", "nice"], "acting": ["performance"]})
    fact = HFClassifier.from_pretrained(tiny_model_dir, device="cpu")  # a FACT stand-in: the tiny model, head shifted
    with torch.no_grad():
        fact.model.classifier.bias += torch.tensor([3.0, 0.0, -3.0])
    defenders = hardened_defenders(tiny_classifier, fact, table, FakeTagger())
    assert list(defenders) == ["plain", "FuSE", "FIVE", "FACT", "FuSE(FACT)", "FIVE(FACT)"]
    assert (
        defenders["FuSE(FACT)"].base is fact
        and defenders["FIVE(FACT)"].base is fact
        and defenders["FuSE"].base is tiny_classifier
    )
    text = "the movie had great acting"
    views = {v.name: v for v in defend(text, defenders)}
    labels = list(tiny_classifier.labels)
    assert len(views["plain"].members) == 1
    assert [what for what, _ in views["FIVE"].members] == ["original"] + [f"noise sample {i}" for i in range(1, 11)]
    fuse = views["FuSE"].members
    assert fuse[0][0] == "original: " + text and 1 < len(fuse) <= 13 and all("[[" in what for what, _ in fuse[1:])
    # each FuSE's members are scored by the model it wraps: FuSE(FACT)'s by the FACT model
    assert np.allclose(fuse[0][1], tiny_classifier.predict_proba([text])[0])
    assert np.allclose(views["FuSE(FACT)"].members[0][1], fact.predict_proba([text])[0])
    assert not np.allclose(fact.predict_proba([text])[0], tiny_classifier.predict_proba([text])[0])
    for view in views.values():
        assert sum(votes(view, labels).values()) == len(view.members)
        assert np.allclose(view.proba.sum(), 1)
        assert list(members_frame(view, labels).columns) == ["member", "vote", *labels]


def _store_run(store: Store, defender: str, attacker: str, data: str, statuses: list[str], finish: bool = True) -> str:
    run_id = store.start_run("match", defender, data, {"n": len(statuses)}, attacker=attacker)
    store.add_results(
        run_id,
        [
            ExampleResult(i, f"e{i}", 1, "t", status, original_pred=1, queries=5, words_changed=1, words_total=4)
            for i, status in enumerate(statuses)
        ],
    )
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
    assert (
        by_defender[("plain", "builtin")]["accuracy under attack"] == 0.5
        and by_defender[("plain", "builtin")]["status"] == "finished"
    )
    assert by_defender[("<b>five</b>", "builtin")]["status"] == "partial (2/2)"
    defenders, attackers, cells = heatmap(rows, "builtin")
    assert defenders == ["<b>five</b>", "plain"] and attackers == ["textfooler"] and len(cells) == 2
    page = heatmap_html(rows, "builtin")
    assert "&lt;b&gt;five&lt;/b&gt;" in page and "<b>five" not in page  # names from the store are escaped
    assert "0.500" in page and "1.000" in page and "hsl(120," in page
    assert "No match runs" in heatmap_html(rows, "imdb")


def _store_tournament(store: Store, data: str = "builtin") -> str:
    """A tournament recorded by hand on ``data``: plain and five, clean and against textfooler."""
    table = {"clean": {}, "matches": {}}
    for defender, statuses in (
        ("plain", ["succeeded", "succeeded", "failed", "failed"]),
        ("five", ["failed", "failed", "skipped", "failed"]),
    ):
        clean = store.start_run("eval", defender, data, {"n": 4})
        store.add_results(
            clean,
            [
                ExampleResult(
                    i, f"e{i}", 1, "t", "wrong" if s == "skipped" else "correct", original_pred=int(s != "skipped")
                )
                for i, s in enumerate(statuses)
            ],
        )
        table["clean"][defender] = clean
        table["matches"][defender] = {"textfooler": _store_run(store, defender, "textfooler", data, statuses)}
    tid = store.start_run(
        "tournament",
        "plain,five",
        data,
        {"defenders": ["plain", "five"], "attackers": ["textfooler"]},
        attacker="textfooler",
    )
    store.finish_run(tid, table)
    return tid


def test_tournament_view_shows_the_newest_leaderboard(tmp_path):
    db = tmp_path / "arena.db"
    assert tournament_view(db) is None and not db.exists()
    with Store(db) as store:
        _store_run(store, "plain", "textfooler", "builtin", ["succeeded"])
    assert tournament_view(db) is None  # match runs only: the match-runs view alone
    with Store(db) as store:
        _store_tournament(store, "mr")
        newest = _store_tournament(store)
    text, figure = tournament_view(db)
    assert text.startswith(f"2 tournament(s) in `{db}`") and f"tournament {newest}" in text
    # 3 of 4 kept against 2 of 4 is no significant lead on 4 examples: one rank, listed by clean accuracy
    assert text.index("| 1 | plain | 1.000 | 0.500 | 0.500 (textfooler) |") < text.index(
        "| 1 | five | 0.750 | 0.750 | 0.750 (textfooler) |"
    )
    assert figure.axes[0].get_title() == "accuracy (clean, under attack)"
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["clean", "textfooler"]


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


def test_fact_folder_defaults_to_the_packaged_model_for_the_default_classifier():
    from arena.resources import FACT_CLASSIFIER_DIR

    assert fact_folder("auto", "default") == str(FACT_CLASSIFIER_DIR)
    assert fact_folder("auto", "my/model") is None and fact_folder("none", "default") is None
    assert fact_folder("runs/fact", "my/model") == "runs/fact"


def test_arena_demo_passes_options_to_the_app(capsys, tmp_path):
    from arena.cli import main

    with pytest.raises(SystemExit) as exit_help:
        main(["demo", "--help"])
    assert exit_help.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: arena demo") and "--attack-seconds" in out and "--fact PATH" in out
    assert "--rl-attacker DIR" in out and "--generator DIR" in out
    with pytest.raises(SystemExit) as exit_error:
        main(["demo", "--classifier", str(tmp_path / "missing"), "--port", "1"])
    assert exit_error.value.code == 2
    assert "arena demo: error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_policy:  # policy folders are checked before any model loads
        main(["demo", "--generator", str(tmp_path), "--port", "1"])
    assert exit_policy.value.code == 2 and "is not a saved policy" in capsys.readouterr().err


# -- RL policies ---------------------------------------------------------------------------------------


def _save_policy(folder, tiny_lm_dir: str, task: dict | None) -> str:
    """The tiny GPT-2 saved as a policy (full weights, no LoRA), with ``task`` as its arena_task.json."""
    import torch

    from policies.lm import PolicyLM

    torch.manual_seed(0)
    PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, device="cpu").save(folder)
    if task is not None:
        (folder / "arena_task.json").write_text(json.dumps(task))
    return str(folder)


@pytest.fixture(scope="module")
def policies(tmp_path_factory, tiny_lm_dir) -> dict[str, str]:
    """An attacker policy (a run folder: DIR/policy), a generator policy and one without arena_task.json."""
    root = tmp_path_factory.mktemp("policies")
    (root / "attacker_run").mkdir()
    return {
        "attacker": _save_policy(
            root / "attacker_run" / "policy", tiny_lm_dir, {"task": "attacker", "judge": "vader", "max_tokens": 4}
        ),
        "generator": _save_policy(
            root / "generator",
            tiny_lm_dir,
            {"task": "generator", "reward": "default", "judge": "vader", "target": "negative", "max_tokens": 5},
        ),
        "bare": _save_policy(root / "bare", tiny_lm_dir, None),
    }


def test_read_policy_checks_the_folder_and_the_task(policies, tmp_path):
    attacker = read_policy(policies["attacker"].removesuffix("/policy"), "attacker")  # a run folder means its policy/
    assert attacker.folder == policies["attacker"] and attacker.max_tokens == 4 and attacker.judge == "vader"
    generator = read_policy(policies["generator"], "generator")
    assert (generator.task, generator.target, generator.max_tokens) == ("generator", "negative", 5)
    bare = read_policy(policies["bare"], "generator")  # saved without arena_task.json: the defaults
    assert (bare.task, bare.judge, bare.target, bare.max_tokens) == (None, "vader", "positive", 16)
    with pytest.raises(FileNotFoundError, match="not a saved policy"):
        read_policy(tmp_path, "attacker")
    with pytest.raises(ValueError, match="trained for the generator task; this option takes a attacker policy"):
        read_policy(policies["generator"], "attacker")


def test_attack_segments_mark_an_appended_continuation():
    def result(perturbed: str, extra: dict) -> ExampleResult:
        return ExampleResult(0, "input", 1, "a good film", "succeeded", perturbed_text=perturbed, extra=extra)

    original, adversarial = attack_segments(result("a good films are dull", {"added_tokens": 3}))
    assert original == [("a good film", None)]
    assert adversarial == [
        ("a good ", None),
        ("films", "appended"),
        (" ", None),
        ("are", "appended"),
        (" ", None),
        ("dull", "appended"),
    ]
    _, adversarial = attack_segments(result("a good film, dull", {"added_tokens": 2}))
    assert adversarial == [("a good film, ", None), ("dull", "appended")]
    # word swaps (no continuation) keep the swap view even when the text happens to extend the original
    assert attack_segments(result("a good films", {})) == diff_segments("a good film", "a good films")


def test_rl_policy_attacker_in_the_app(keyword_models, policies):
    from policies.players import RLPolicyAttacker

    keyword_models.attackers["rl"] = lambda: RLPolicyAttacker(
        read_policy(policies["attacker"], "attacker").folder, samples=16, device="cpu"
    )
    text = "the film was great"  # words of the tiny policy's vocabulary: its tokenizer round-trips them
    result = run_attack(text, keyword_models.base, keyword_models.attacker("rl"), seconds=60)
    assert result.status in ("succeeded", "failed") and result.perturbed_text.startswith(text + " ")
    original, adversarial = attack_segments(result)
    assert original == [(text, None)]
    assert "".join(s for s, _ in adversarial) == result.perturbed_text
    appended = [s for s, label in adversarial if label == "appended"]
    assert appended == result.perturbed_text[len(text) :].split() and len(appended) == result.words_changed
    summary = describe_attack(result, ["negative", "positive"], 1.0, "vader")
    assert f"{result.words_changed} word(s) appended (4 tokens) to 4" in summary and "The judge (vader)" in summary


def test_check_generation_caps_prompts_samples_and_tokens():
    limits = Limits(max_prompt_chars=20, max_samples=6, max_new_tokens=8)
    assert check_generation(" the film\n\n  the plot \n", 3, 8.0, limits) == (["the film", "the plot"], 3, 8)
    for prompts, samples, tokens, message in [
        ("", 1, 1, "at least one prompt"),
        ("\n \n", 1, 1, "at least one prompt"),
        ("ok\n" + "x" * 21, 1, 1, "Prompt 2 has 21 characters; this app takes at most 20"),
        ("a", 0, 1, "at least 1"),
        ("a", 1, None, "at least 1"),
        ("a", 1, 9, "9 tokens per sample; this app generates at most 8"),
        ("a\nb\nc", 3, 1, "3 prompt\\(s\\) x 3 sample\\(s\\) = 9 samples; this app generates at most 6"),
    ]:
        with pytest.raises(AppError, match=message):
            check_generation(prompts, samples, tokens, limits)


def test_generation_frame_and_summary():
    table = generation_frame(["p", "p"], ["p a", "p b"], [0.9, 0.4], [0.5, 0.6], "positive")
    assert list(table.columns) == ["prompt", "text", "defender P (positive)", "judge P (positive)", "gap"]
    assert table["gap"].tolist() == [0.4, -0.2]
    line = describe_generation(table, "plain", "vader", "positive")
    assert line.startswith("2 sample(s). Mean P(positive): defender **plain** 0.650, judge **vader** 0.550, gap +0.100")


def test_policy_generator_scores_samples_by_defender_and_judge(keyword_models, policies, tiny_classifier):
    generator = PolicyGenerator(read_policy(policies["generator"], "generator"), VaderClassifier(), device="cpu")
    table = generator.generate(["the film", "the plot was"], 3, 5, keyword_models.base, seed=1)
    assert len(table) == 6 and table["prompt"].tolist() == ["the film"] * 3 + ["the plot was"] * 3
    assert all(
        text.startswith(prompt + " ") and len(text.split()) == len(prompt.split()) + 5
        for prompt, text in zip(table["prompt"], table["text"])
    )
    texts = table["text"].tolist()
    assert table["defender P (negative)"].tolist() == pytest.approx(
        keyword_models.base.predict_proba(texts)[:, 0], abs=1e-3
    )
    assert table["judge P (negative)"].tolist() == pytest.approx(VaderClassifier().predict_proba(texts)[:, 0], abs=1e-3)
    assert table["gap"].tolist() == pytest.approx((table.iloc[:, 2] - table.iloc[:, 3]).tolist(), abs=2e-3)
    assert generator.generate(["the film", "the plot was"], 3, 5, keyword_models.base, seed=1).equals(table)  # seeded
    with pytest.raises(AppError, match="target class 'negative' is not one of the classifier's labels"):
        generator.generate(["the film"], 1, 2, tiny_classifier)  # an NLI model has no 'negative'


def test_app_shows_the_rl_attacker_and_generate_tab_only_when_given(keyword_models, policies, tmp_path):
    def tabs_and_attackers(models: Models) -> tuple[list[str], list]:
        blocks = build_app(models, Limits(), tmp_path / "none.db").blocks.values()
        attacker = next(b for b in blocks if getattr(b, "elem_id", None) == "attacker")
        return [b.label for b in blocks if isinstance(b, gr.Tab)], [value for _, value in attacker.choices]

    tabs, attackers = tabs_and_attackers(keyword_models)
    assert tabs == ["Attack", "Perturb by hand", "Defend", "Leaderboard"] and attackers == ["textfooler"]
    keyword_models.attackers["rl"] = lambda: pytest.fail("built on first use only")
    keyword_models.generator = PolicyGenerator(
        read_policy(policies["generator"], "generator"), VaderClassifier(), device="cpu"
    )
    tabs, attackers = tabs_and_attackers(keyword_models)
    assert tabs == ["Attack", "Perturb by hand", "Defend", "Generate", "Leaderboard"] and attackers == [
        "textfooler",
        "rl",
    ]
    assert keyword_models.generator._policy is None  # the policy loads on the first Generate click


def test_serving_beyond_this_machine_needs_a_login_or_a_word_for_it(capsys):
    from app import access

    assert access("127.0.0.1", None, False) is None and capsys.readouterr().err == ""
    assert access("localhost", "ann:secret", False) == ("ann", "secret")
    with pytest.raises(ValueError, match="give --auth USER:PASSWORD"):
        access("0.0.0.0", None, False)
    assert access("0.0.0.0", "ann:secret", False) == ("ann", "secret")
    assert "can be reached from other machines" in capsys.readouterr().err
    assert access("0.0.0.0", None, True) is None and "with no login" in capsys.readouterr().err
    with pytest.raises(ValueError, match="expected USER:PASSWORD"):
        access("127.0.0.1", "ann", False)
