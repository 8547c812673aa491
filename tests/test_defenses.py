from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from conftest import tiny_gpt2_classifier

from arena.classifier import CallableClassifier, ClassifierError, HFClassifier, run_identity
from arena.data import Example, LabelledData
from arena.evaluate import evaluate
from arena.scorer import Scorer
from arena.store import IDENTITY_KEYS, Store
from arena.synonyms import NeighbourTable
from arena.words import WordView
from arena.zoo import build_defender, defender_name
from attackers.textfooler import TextFooler
from defenses.ensemble import combine
from defenses.five import FIVE
from defenses.fuse import FuSE
from defenses.switch import Switch, SwitchConfig, gradient_importance

TABLE = NeighbourTable(
    {
        "movie": ["film", "picture", "flick"],
        "great": ["fine", "nice", "superb"],
        "acting": ["performance", "playing"],
        "plot": ["story", "storyline"],
    }
)
TEXT = "the movie had great acting but a thin plot"


class FakeTagger:
    def tags(self, tokens):
        return tuple("NOUN" for _ in tokens)

    penn_tags = tags  # SWITCH compares Penn tags; every word the same tag here


def make_switch(clf, **config):
    return Switch(clf, TABLE, None, FakeTagger(), SwitchConfig(**{"perturb_words": 2, **config}))


def test_gradient_importance_only_scores_the_perturbable_segment(tiny_classifier):
    result = gradient_importance(tiny_classifier, [("premise words here", "the hypothesis")])
    words, scores = result.words[0], result.scores[0]
    ids = result.encoded[0]["input_ids"]
    tokens = tiny_classifier.tokenizer.convert_ids_to_tokens(ids)
    hypothesis = [i for i, w in enumerate(words) if w is not None]
    assert [tokens[i] for i in hypothesis] == ["the", "hypothesis"]
    assert (scores[[i for i in range(len(words)) if words[i] is None]] == 0).all() and (scores[hypothesis] > 0).all()


def test_gradient_importance_of_a_batch_is_that_of_each_input_alone(tiny_classifier, monkeypatch):
    texts = [TEXT, "great acting", "the plot was thin but the movie had great acting and a fine cast"]
    monkeypatch.setattr(tiny_classifier, "token_budget", 24)  # several length buckets
    together = gradient_importance(tiny_classifier, texts)
    for row, text in enumerate(texts):
        alone = gradient_importance(tiny_classifier, [text])
        assert together.encoded[row] == alone.encoded[0] and together.words[row] == alone.words[0]
        assert np.allclose(together.scores[row], alone.scores[0], atol=1e-5)
        assert np.allclose(together.logits[row], alone.logits[0], atol=1e-5)


def test_gradient_importance_of_a_last_token_pooling_judge_ignores_padding(tiny_lm_dir):
    # a GPT-2 style head reads each row at its last non-pad token, which it finds from input_ids only
    judge = tiny_gpt2_classifier(tiny_lm_dir, tokenizer_pad=False, config_pad=1)
    texts = ["the movie was good", "the plot was dull but the acting was very good and fun"]
    together = gradient_importance(judge, texts)
    for row, text in enumerate(texts):
        alone = gradient_importance(judge, [text])
        assert np.allclose(together.logits[row], alone.logits[0], atol=1e-5)
        assert np.allclose(together.scores[row], alone.scores[0], atol=1e-5)
    assert np.allclose(together.logits, judge.logits_from_encoded(judge.encode(texts)), atol=1e-5)


def test_gradient_importance_leaves_no_gradients_on_a_trainable_judge(tiny_model_dir):
    judge = HFClassifier.from_pretrained(tiny_model_dir, device="cpu")
    for parameter in judge.model.parameters():
        parameter.requires_grad_(True)  # e.g. a model being fine-tuned
    gradient_importance(judge, [TEXT, "great acting"])
    assert all(parameter.grad is None for parameter in judge.model.parameters())


def test_switch_changes_only_chosen_words_and_keeps_original_candidate(tiny_classifier):
    switch = make_switch(tiny_classifier, total_alternatives=6, multiplier=3)
    (positions,) = switch.ranked_words([TEXT])
    assert len(positions) == 2
    chosen = {WordView.of(TEXT).words[p] for p in positions}
    assert chosen <= {"movie", "great", "acting", "plot"}  # stop words and unknown words are never chosen
    assert switch.candidates("Movie")[-1] == "Movie" and switch.candidates("Movie")[0] == "Film"
    (alternatives,) = switch.alternatives([TEXT], [np.random.default_rng(0)])
    assert 0 < len(alternatives) <= 6
    original = WordView.of(TEXT).words
    for alternative in alternatives:
        words = WordView.of(alternative).words
        changed = {i for i, (a, b) in enumerate(zip(original, words)) if a != b}
        assert changed <= set(positions)


def test_switch_gives_no_slot_to_a_word_the_table_lists_without_neighbours(tiny_classifier):
    table = NeighbourTable({**TABLE.table, "thin": [], "had": ["had"]})  # no neighbours but itself counts as none
    default = Switch(tiny_classifier, table, None, FakeTagger(), SwitchConfig(perturb_words=9))
    kept = Switch(tiny_classifier, table, None, FakeTagger(), SwitchConfig(perturb_words=9, empty_slots=True))
    words = WordView.of(TEXT).words
    (chosen,) = default.ranked_words([TEXT])
    (with_empty,) = kept.ranked_words([TEXT])
    assert {words[p] for p in chosen} == {"movie", "great", "acting", "plot"}
    assert {words[p] for p in with_empty} == {"movie", "great", "acting", "plot", "thin", "had"}


def test_switch_sampling_is_seeded(tiny_classifier):
    switch = make_switch(tiny_classifier, total_alternatives=8, multiplier=3)
    a = switch.alternatives([TEXT], [np.random.default_rng(1)])
    b = switch.alternatives([TEXT], [np.random.default_rng(1)])
    c = switch.alternatives([TEXT], [np.random.default_rng(2)])
    assert a == b and a != c


def test_switch_pairs_perturb_only_hypothesis(tiny_classifier):
    switch = make_switch(tiny_classifier)
    (alternatives,) = switch.alternatives(
        [("the great movie premise", "a movie with great acting")], [np.random.default_rng(0)]
    )
    assert alternatives and all(p == "the great movie premise" for p, _ in alternatives)


def test_switch_similarity_filter_and_rank(tiny_classifier):
    from arena.similarity import SentenceSimilarity

    sim = SentenceSimilarity(device="cpu")
    for method in ("filter", "rank"):
        switch = Switch(tiny_classifier, TABLE, sim, FakeTagger(), SwitchConfig(method=method, total_alternatives=4))
        (alternatives,) = switch.alternatives([TEXT], [np.random.default_rng(0)])
        assert 0 < len(alternatives) <= 4
        if method == "rank":
            (sims,) = switch._similarities([(WordView.of(TEXT), [WordView.of(a) for a in alternatives])])
            assert list(sims) == sorted(sims, reverse=True)


class TableSimilarity:
    """Unit vectors by text: similarity 1 to the original, -1 (filtered out) for texts holding 'fine'."""

    def __init__(self):
        self.embedded = set()

    def embed(self, texts):
        self.embedded.update(texts)
        return np.array([[0.0, 1.0] if "fine" in t.split() else [1.0, 0.0] for t in texts])


def test_switch_lazy_filter_keeps_what_the_full_filter_keeps(tiny_classifier):
    switch = Switch(
        tiny_classifier, TABLE, TableSimilarity(), FakeTagger(), SwitchConfig(method="filter", total_alternatives=3)
    )
    sampled = [TEXT, "a fine movie", "a nice movie", "a fine film", "a superb film", "a nice film", "one more"]
    (kept,) = switch._select([WordView.of(TEXT)], [[WordView.of(t) for t in sampled]])
    passing = [t for t in sampled if "fine" not in t.split()]
    assert [v.text for v in kept] == passing[1:4]  # the first passing text is the original: dropped, then truncated
    assert "one more" not in switch.similarity.embedded  # stopped embedding once it had enough


def test_switch_similarity_window_checks_the_words_around_each_change(tiny_classifier):
    similarity = TableSimilarity()
    switch = Switch(tiny_classifier, TABLE, similarity, FakeTagger(), SwitchConfig(similarity_window=3))
    original = WordView.of("one two three four five six seven eight nine ten")
    variants = [
        original.replace(1, "fine"),
        original.replace(8, "nice"),
        original,
        original.replace(1, "fine").replace(8, "nice"),
    ]
    (sims,) = switch._similarities([(original, variants)])
    assert (
        sims[0] < 0 and sims[1] == pytest.approx(1.0) and sims[2] == 1.0 and sims[3] == sims[0]
    )  # lowest window counts
    assert similarity.embedded == {"one two three", "one fine three", "eight nine ten", "eight nice ten"}


def test_switch_use_similarity_false_skips_the_check(tiny_classifier):
    similarity = TableSimilarity()
    config = SwitchConfig(method="filter", total_alternatives=3, multiplier=3, use_similarity=False)
    unchecked = Switch(tiny_classifier, TABLE, similarity, FakeTagger(), config).alternatives(
        [TEXT], [np.random.default_rng(0)]
    )
    without = Switch(tiny_classifier, TABLE, None, FakeTagger(), config).alternatives(
        [TEXT], [np.random.default_rng(0)]
    )
    checked = Switch(
        tiny_classifier,
        TABLE,
        TableSimilarity(),
        FakeTagger(),
        SwitchConfig(method="filter", total_alternatives=3, multiplier=3),
    ).alternatives([TEXT], [np.random.default_rng(0)])
    assert unchecked == without and not similarity.embedded
    assert any("fine" in t.split() for t in unchecked[0]) and not any("fine" in t.split() for t in checked[0])


def test_group_rows_are_the_base_logits_of_their_members(tiny_classifier):
    texts = [TEXT, "great acting", "the plot was thin but the movie had great acting and a fine cast"]
    fuse = FuSE(
        tiny_classifier,
        TABLE,
        None,
        FakeTagger(),
        SwitchConfig(perturb_words=2, total_alternatives=6, multiplier=1),
        seed=0,
    )
    for text, group, alternatives in zip(texts, fuse.group_logits(texts, [fuse.rng] * len(texts)), fuse.last_groups):
        expected = tiny_classifier.logits_from_encoded(tiny_classifier.encode([text, *alternatives]))
        assert group.shape == (1 + len(alternatives), 3) and np.allclose(group, expected, atol=1e-5)
    five = FIVE(tiny_classifier, std=1e-9, samples=3, seed=0)  # noise too small to matter: every copy is the original
    for text, group in zip(texts, five.group_logits(texts, [five.generator] * len(texts))):
        expected = tiny_classifier.logits_from_encoded(tiny_classifier.encode([text]))
        assert group.shape == (4, 3) and np.allclose(group, expected, atol=1e-5)


def test_combine_logit_average_and_vote():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 1.5]])
    assert combine(logits, "logits") == pytest.approx(torch.softmax(torch.tensor([2 / 3, 2.5 / 3]), 0).numpy())
    assert list(combine(logits, "vote")) == pytest.approx([1 / 3, 2 / 3])
    with pytest.raises(ValueError):
        combine(logits, "median")


def test_five_noise_only_at_chosen_positions(tiny_classifier):
    five = FIVE(tiny_classifier, embeddings=2, std=2.0, samples=4, seed=0)
    embeds = torch.randn(7, 32)
    copies = five.noisy_embeddings(embeds, [1, 4])
    assert copies.shape == (4, 7, 32)
    unchanged = [0, 2, 3, 5, 6]
    assert torch.equal(copies[:, unchanged], embeds[unchanged].expand(4, -1, -1))
    assert not torch.allclose(copies[:, [1, 4]], embeds[[1, 4]].expand(4, -1, -1))
    assert not torch.allclose(copies[0, 1], copies[1, 1])  # every copy draws its own noise


def test_five_runs_a_last_token_pooling_base_on_its_input_ids(tiny_lm_dir, monkeypatch):
    judge = tiny_gpt2_classifier(tiny_lm_dir, tokenizer_pad=False, config_pad=1)
    forwards = []
    original = judge.model.forward
    monkeypatch.setattr(judge.model, "forward", lambda **kw: forwards.append(sorted(kw)) or original(**kw))
    five = FIVE(judge, std=1e-6, samples=3)
    five.predict_proba(["a fine film", "the plot is thin and the acting is worse"])
    assert forwards and all(
        "inputs_embeds" not in keys for keys in forwards
    )  # GPT-2 finds a row's end only from input_ids
    for group in five.last_groups:  # noise too small to move a label: each copy scores as the original
        np.testing.assert_allclose(group[1:], np.repeat(group[:1], 3, axis=0), atol=1e-5)


def test_five_and_fuse_predict_groups(tiny_classifier):
    five = FIVE(tiny_classifier, samples=5, seed=0)
    probs = five.predict_proba([TEXT, "great acting"])
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1)
    assert [g.shape for g in five.last_groups] == [(6, 3), (6, 3)]
    (importance, positions) = five.chosen_positions([TEXT])
    tokens = tiny_classifier.tokenizer.convert_ids_to_tokens(importance.encoded[0]["input_ids"])
    assert tokens[positions[0][0]] not in ("the", "had", "but", "a", "[CLS]", "[SEP]")
    fuse = FuSE(
        tiny_classifier,
        TABLE,
        None,
        FakeTagger(),
        SwitchConfig(perturb_words=2, total_alternatives=3, multiplier=2),
        seed=0,
    )
    probs = fuse.predict_proba([TEXT])
    assert probs.shape == (1, 3) and len(fuse.last_groups[0]) <= 3


def test_five_is_seeded_and_never_cached(tiny_classifier):
    a = FIVE(tiny_classifier, std=8.0, seed=3).predict_proba([TEXT])
    b = FIVE(tiny_classifier, std=8.0, seed=3).predict_proba([TEXT])
    assert np.allclose(a, b)
    scorer = Scorer(FIVE(tiny_classifier, std=8.0, seed=3))
    first, second = scorer.predict_proba([TEXT]), scorer.predict_proba([TEXT])
    assert scorer.caching is False and not np.array_equal(first, second)


def small_fuse(classifier) -> FuSE:
    return FuSE(
        classifier, TABLE, None, FakeTagger(), SwitchConfig(perturb_words=2, total_alternatives=4, multiplier=1), seed=0
    )


class RecordingFIVE(FIVE):
    """FIVE that keeps every batch of noisy input embeddings it makes."""

    def noisy_embeddings(self, embeds, positions, generator=None):
        copies = super().noisy_embeddings(embeds, positions, generator)
        self.__dict__.setdefault("made", []).append(copies)
        return copies


def test_streams_give_each_input_draws_of_its_own(tiny_classifier):
    def draws(make, texts, streams):  # per input: its SWITCH alternatives (FuSE) or noisy embeddings (FIVE)
        defense = make()
        defense.predict_proba(texts, streams=streams)
        return defense.last_groups if isinstance(defense, FuSE) else defense.made

    for make in (lambda: small_fuse(tiny_classifier), lambda: RecordingFIVE(tiny_classifier, std=8.0, seed=0)):
        (_, together), (alone,) = (
            draws(make, ["great plot and great acting", TEXT], [("b", 0), ("a", 0)]),
            draws(make, [TEXT], [("a", 0)]),
        )
        (next_query,) = draws(make, [TEXT], [("a", 1)])
        same = (lambda x, y: x == y) if isinstance(alone, list) else torch.equal
        assert same(together, alone)  # the same draws, whatever shares the call
        assert not same(alone, next_query)  # a later query of the same example draws afresh


class OneSimilarity:
    def similarity(self, a, b):
        return np.ones(len(a))


def test_attack_on_a_stochastic_defense_does_not_depend_on_chunking_or_order(tiny_classifier):
    """The Scorer gives FuSE each query's (example, number) stream: an example's attack is the same
    alone, in a chunk with others, or attacked after the others (as when a run resumes)."""
    texts = [TEXT, "a great movie", "great plot and great acting", "the acting was great", "a movie with a plot"]
    labels = tiny_classifier.predict_proba(texts).argmax(axis=1)
    items = [(i, Example(t, int(label), None, f"e{i}")) for i, (t, label) in enumerate(zip(texts, labels))]

    def attack(chunk: int, order: list[int]) -> dict:
        attacker = TextFooler(TABLE, OneSimilarity(), FakeTagger(), chunk_size=chunk)
        results = attacker.attack([items[i] for i in order], Scorer(small_fuse(tiny_classifier)))
        return {r.example_id: (r.status, r.perturbed_text, r.queries, r.perturbed_pred) for r in results}

    alone = attack(1, [0, 1, 2, 3, 4])
    assert attack(5, [0, 1, 2, 3, 4]) == alone
    assert attack(2, [3, 1, 4, 0, 2]) == alone
    assert sum(queries for _, _, queries, _ in alone.values()) > len(items)  # the attacks did search


def test_clean_eval_of_a_stochastic_defense_gives_each_example_the_attacks_first_draw(tiny_classifier, tmp_path):
    """Clean evaluation scores each example from its own stream: the same predictions at any chunk
    size and on a subset, and each one the prediction the attack starts from."""
    texts = [TEXT, "a great movie", "great plot and great acting", "the acting was great", "a movie with a plot"]
    data = LabelledData([Example(t, i % 2, None, f"e{i}") for i, t in enumerate(texts)], tiny_classifier.labels, "tiny")

    def predictions(chunk: int, examples: list[Example]) -> dict:
        with Store(tmp_path / f"eval{chunk}-{len(examples)}.db") as store:
            run = evaluate(
                small_fuse(tiny_classifier),
                LabelledData(examples, data.label_names, "tiny"),
                store,
                classifier_name="fuse",
                data_name="tiny",
                chunk_size=chunk,
                progress=False,
            )
            return {r.example_id: r.original_proba for r in store.results(run["run_id"])}

    whole = predictions(5, data.examples)
    assert predictions(2, data.examples) == whole and predictions(1, data.examples[3:]) == {
        k: whole[k] for k in ("e3", "e4")
    }
    attacked = TextFooler(TABLE, OneSimilarity(), FakeTagger(), chunk_size=5).attack(
        list(enumerate(data.examples)), Scorer(small_fuse(tiny_classifier))
    )
    assert {r.example_id: [round(float(p), 6) for p in r.original_proba] for r in attacked} == whole


def test_registry_names(tiny_model_dir):
    options = {"device": "cpu"}
    assert isinstance(build_defender("plain", tiny_model_dir, **options), HFClassifier)
    assert isinstance(build_defender("five", tiny_model_dir, **options), FIVE)
    assert isinstance(build_defender("fact:" + tiny_model_dir, **options), HFClassifier)
    assert isinstance(build_defender("five+fact:" + tiny_model_dir, **options), FIVE)
    assert isinstance(build_defender(tiny_model_dir, **options), HFClassifier)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "'fuse+fact': the packaged FACT model is co-tuned from the default classifier's encoder, not for --base"
        ),
    ):
        build_defender("fuse+fact", tiny_model_dir)
    with pytest.raises(
        ValueError, match=re.escape(f"'five:{tiny_model_dir}': five defends the --base classifier and takes no :PATH")
    ):
        build_defender(f"five:{tiny_model_dir}")
    with pytest.raises(
        ValueError, match=re.escape("'fuse+five': no such defense; the defenses are plain, fuse, five, fact[:PATH]")
    ):
        build_defender("fuse+five", tiny_model_dir)


@pytest.mark.slow
def test_packaged_fact_hardens_the_default_classifier():
    from arena.data import align_labels, load_data

    fact, plain = build_defender("fact"), build_defender("plain")
    five = build_defender("five+fact?samples=2")
    assert fact.name == "fact" and fact.labels == plain.labels == ["negative", "positive"]
    assert isinstance(five, FIVE) and five.base.name == "fact" and five.samples == 2
    data = align_labels(load_data("builtin"), fact.labels)
    texts = [ex.text for ex in data]
    probs = fact.predict_proba(texts)
    assert (probs.argmax(1) == np.array([ex.label for ex in data])).mean() >= 0.85
    assert not np.allclose(probs, plain.predict_proba(texts), atol=1e-3)  # its own weights, not the default's


def test_fuse_without_its_similarity_check_is_stored_apart_from_fuse_with_it(tiny_classifier, tmp_path):
    """``fuse`` once meant the check: a run made then never resumes under today's default."""
    off = FuSE(tiny_classifier, TABLE, None, FakeTagger(), SwitchConfig(use_similarity=False))
    on = FuSE(tiny_classifier, TABLE, TableSimilarity(), FakeTagger(), SwitchConfig())
    assert run_identity(off) == {"similarity_check": False} and run_identity(on) == {}
    assert set(run_identity(off)) <= set(IDENTITY_KEYS)  # so `arena runs` shows it beside the name
    data = LabelledData([Example("a good movie", 1, None, "e0")], tiny_classifier.labels, "toy")
    with Store(tmp_path / "s.db") as store:
        ids = {
            evaluate(fuse, data, store, classifier_name="fuse", data_name="toy", progress=False)["run_id"]
            for fuse in (off, on)
        }
    assert len(ids) == 2


def test_registry_settings(tiny_model_dir, tmp_path):
    five = build_defender(
        "five+fact:" + tiny_model_dir + "?std=8.14&samples=8&embeddings=2&combination=vote", device="cpu"
    )
    assert (five.std, five.samples, five.embeddings, five.combination) == (8.14, 8, 2, "vote")
    assert defender_name("five?std=8.14", "default", seed=1) == "five[default]?std=8.14#seed1"
    table = tmp_path / "neighbours.json"
    table.write_text('{"movie": ["film"]}')
    fuse = build_defender("fuse?perturb_words=2", tiny_model_dir, synonyms=f"neighbors:{table}", device="cpu")
    assert (
        fuse.switch.similarity is None and not fuse.switch.config.use_similarity
    )  # FuSE's default: no check, no encoder loaded
    assert (fuse.switch.config.perturb_words, fuse.switch.config.total_alternatives) == (2, 12)
    assert defender_name("fuse?perturb_words=2", "default") == "fuse[default]?perturb_words=2@counterfitted#seed0"
    assert defender_name("fuse?perturb_words=2", "default", "auto") == defender_name(
        "fuse?perturb_words=2", "default"
    )  # one run
    for spec, error in (
        ("five?sdt=2", "unknown setting 'sdt=2'; known: embeddings=1, std=2.29"),
        ("five?samples=many", "samples='many' is not a whole number"),
        ("five?combination=median", "combination must be one of logits, vote"),
        ("five?std=0", "std > 0"),
        ("plain?std=2", "only fuse, five and noise take"),
        ("fuse?match_pos=maybe", "must be true or false"),
        ("fuse?use_similarity=true&similarity_window=-1", "similarity_window must be 0"),
        ("fuse?method=best", "must be 'filter' or 'rank'"),
        (
            "fuse?similarity_window=15",
            "similarity_window=15 acts through the similarity check, which is off: add use_similarity=true",
        ),
        ("fuse?method=rank", "method=rank acts through the similarity check, which is off: add use_similarity=true"),
        (
            "fuse?total_alternatives=0&leave_alone=-1",
            "SWITCH needs total_alternatives >= 1 (got 0), leave_alone >= 0 (got -1)",
        ),
    ):
        with pytest.raises(ValueError, match=re.escape(error)):
            build_defender(spec, tiny_model_dir, device="cpu")
    for spec, name in (("five", "FIVE"), ("fuse", "FuSE")):  # not at the first prediction
        with pytest.raises(
            ValueError, match=re.escape(f"{name} needs a seed that is an integer >= 0 (--defense-seed; got -3)")
        ):
            build_defender(spec, tiny_model_dir, seed=-3, device="cpu")


def test_defenses_reject_black_box_bases():
    black_box = CallableClassifier(lambda texts: np.tile([0.5, 0.5], (len(texts), 1)), ["a", "b"], name="mymod:predict")
    with pytest.raises(ClassifierError, match="'mymod:predict' is a black box"):
        FIVE(black_box)
    with pytest.raises(ClassifierError, match="black box"):
        FuSE(black_box, TABLE, None, None)


def test_defenses_need_a_fast_tokenizer(tiny_classifier, tiny_model_dir):
    from transformers import BertTokenizer

    slow = HFClassifier(tiny_classifier.model, BertTokenizer.from_pretrained(tiny_model_dir), name="slow", device="cpu")
    for defense in (FIVE, lambda base: FuSE(base, TABLE, None, None)):
        with pytest.raises(ClassifierError, match="'slow' loaded a Python one"):
            defense(slow)


def test_switch_pos_filter_compares_penn_tags_by_default(tiny_classifier):
    from arena.pos import PosTagger

    table = NeighbourTable({"movie": ["films", "film", "movies", "cinema"], "walked": ["walking", "strolled", "walks"]})
    tagger = PosTagger("pattern")  # offline: its lexicon ships in the package
    penn = Switch(tiny_classifier, table, None, tagger, SwitchConfig())
    universal = Switch(tiny_classifier, table, None, tagger, SwitchConfig(pos_tags="universal"))
    # the authors' NLTK Penn tags keep number and tense: NN != NNS, VBD != VBG / VBZ
    assert penn.candidates("movie") == ["film", "cinema", "movie"]
    assert universal.candidates("movie") == ["films", "film", "movies", "cinema", "movie"]
    assert penn.candidates("walked") == ["strolled", "walked"]
    assert universal.candidates("walked") == ["walking", "strolled", "walks", "walked"]
    with pytest.raises(ValueError, match="pos_tags"):
        SwitchConfig(pos_tags="ptb")
