"""The n-gram judge: fit, probabilities, save/load without pickle, registry names, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from arena.classifier import load_classifier
from arena.ngram import META_FILE, WEIGHTS_FILE, NgramClassifier

TEXTS = [
    "a great fun film",
    "great acting and a fun plot",
    "truly great",
    "fun and moving",
    "a dull boring film",
    "boring acting and a dull plot",
    "truly awful",
    "awful and dull",
]
LABELS = [1, 1, 1, 1, 0, 0, 0, 0]


def test_fit_separates_the_training_words():
    model = NgramClassifier.fit(TEXTS, LABELS, ["negative", "positive"], min_df=1)
    probs = model.predict_proba(["great fun", "dull and awful", "zzz unseen"])
    assert probs.shape == (3, 2) and np.allclose(probs.sum(1), 1)
    assert probs[0, 1] > 0.5 > probs[1, 1]
    assert probs[2, 1] == pytest.approx(1 / (1 + np.exp(-model.intercept[0])))  # no known n-gram: the bias alone
    assert model.predict_proba([]).shape == (0, 2)
    with pytest.raises(TypeError, match="single texts"):
        model.predict_proba([("premise", "hypothesis")])


def test_multiclass_uses_softmax():
    model = NgramClassifier.fit(
        TEXTS + ["stocks fell", "markets rose on stocks"], LABELS + [2, 2], ["neg", "pos", "finance"], min_df=1
    )
    probs = model.predict_proba(["stocks", "great fun"])
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1) and probs[0].argmax() == 2 and probs[1].argmax() == 1


def test_fit_rejects_a_single_label():
    with pytest.raises(ValueError, match="at least two labels"):
        NgramClassifier.fit(TEXTS[:4], LABELS[:4], ["negative", "positive"])


def test_save_load_roundtrip_and_registry(tmp_path):
    model = NgramClassifier.fit(TEXTS, LABELS, ["negative", "positive"], min_df=1)
    model.save(tmp_path / "judge")
    assert {p.name for p in (tmp_path / "judge").iterdir()} == {WEIGHTS_FILE, META_FILE}
    loaded = load_classifier(f"ngram:{tmp_path / 'judge'}")
    assert loaded.labels == ["negative", "positive"] and loaded.name == f"ngram:{tmp_path / 'judge'}"
    assert np.allclose(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="arena train judge"):
        load_classifier(f"ngram:{tmp_path / 'missing'}")


def test_packaged_judge_reads_sentiment():
    judge = load_classifier("ngram")
    assert judge.name == "ngram" and judge.labels == ["negative", "positive"]
    probs = judge.predict_proba(["a moving , beautifully acted film", "a dull , tedious mess"])
    assert probs[0, 1] > 0.8 and probs[1, 1] < 0.2


def test_cli_train_judge(tmp_path, capsys):
    from arena.cli import main

    (tmp_path / "d.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in zip(TEXTS, LABELS)))
    assert (
        main(
            [
                "train",
                "judge",
                "--data",
                str(tmp_path / "d.tsv"),
                "--out",
                str(tmp_path / "j"),
                "--min-df",
                "1",
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["examples"] == 8 and summary["train_accuracy"] == 1.0 and summary["ngrams"] > 10
    assert load_classifier(f"ngram:{tmp_path / 'j'}").predict_proba(["great"])[0, 1] > 0.5
