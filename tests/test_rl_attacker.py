"""The attacker task's reward, the attacker training task and ``--attacker rl:DIR`` in matches."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import tiny_attacker_run

from arena.classifier import CallableClassifier
from policies.lm import PolicyLM
from policies.tasks import AttackerTask, AttackReward

LABELS = ["negative", "positive"]


def defender_probs(texts):
    """P(positive) = 0.9 unless the text contains 'but', then 0.2."""
    p = np.array([0.2 if "but" in t.split() else 0.9 for t in texts])
    return np.stack([1 - p, p], 1)


def judge_probs(texts):
    """Judge: P(positive) 0.8 unless the text contains 'awful' (0.1)."""
    p = np.array([0.1 if "awful" in t.split() else 0.8 for t in texts])
    return np.stack([1 - p, p], 1)


class FixedSimilarity:
    def __init__(self, value=0.5):
        self.value = value

    def similarity(self, a, b):
        return np.full(len(a), self.value)

    def embed(self, texts):
        """Unit vectors by the text's first word: equal words, equal vectors (orthogonal otherwise)."""
        words = sorted({t.split()[0] if t.split() else "" for t in texts})
        return np.eye(len(words))[[words.index(t.split()[0] if t.split() else "") for t in texts]]


def make_reward(sim=0.5):
    return AttackReward(
        CallableClassifier(defender_probs, LABELS),
        CallableClassifier(judge_probs, ["NEGATIVE", "POSITIVE"]),
        FixedSimilarity(sim),
    )


def test_attack_reward_on_hand_made_cases():
    reward = make_reward(sim=0.5)
    parts = reward.parts(["good film"] * 3, ["good film but", "good film but awful", "good film fun"], [1, 1, 1])
    assert np.allclose(parts["p_wrong"], [0.8, 0.8, 0.1])
    assert np.allclose(parts["p_judge"], [0.8, 0.1, 0.8])
    assert np.allclose(parts["reward"], [0.8 * 0.8 * 0.5, 0.8 * 0.1 * 0.5, 0.1 * 0.8 * 0.5])
    assert parts["fooled"].tolist() == [True, True, False] and parts["judge_keeps"].tolist() == [True, False, True]
    reward.labels["good film"] = 1
    r, p_wrong = reward(["good film but"], ["good film"])
    assert r[0] == pytest.approx(0.32) and p_wrong[0] == pytest.approx(0.8)
    with pytest.raises(KeyError, match="not one of the task's texts"):
        reward(["x y"], ["x"])
    with pytest.raises(ValueError, match="lack the defender"):
        AttackReward(
            CallableClassifier(defender_probs, LABELS), CallableClassifier(judge_probs, ["a", "b"]), FixedSimilarity()
        )


def test_novelty_bonus_pays_a_new_attack_more_than_a_repeat():
    reward = AttackReward(
        CallableClassifier(defender_probs, LABELS),
        CallableClassifier(judge_probs, ["NEGATIVE", "POSITIVE"]),
        FixedSimilarity(0.5),
        {"good film": 1},
        novelty=1.0,
    )
    first, _ = reward(["good film but so"], ["good film"])  # nothing remembered yet: full bonus
    assert first[0] == pytest.approx(2 * 0.32) and reward.memory == ["but so"]
    again, _ = reward(["good film but so", "good film fun but"], ["good film"] * 2)
    assert again[0] == pytest.approx(0.32) and again[1] == pytest.approx(
        2 * 0.32
    )  # a repeat earns no bonus, a new attack does
    assert reward.memory == ["but so", "but so", "fun but"]
    plain = make_reward(0.5)
    plain.labels["good film"] = 1
    assert plain(["good film but so"], ["good film"])[0][0] == pytest.approx(0.32) and plain.memory == []
    with pytest.raises(ValueError, match="novelty weight"):
        AttackReward(
            CallableClassifier(defender_probs, LABELS),
            CallableClassifier(judge_probs, LABELS),
            FixedSimilarity(),
            novelty=-1,
        )


def test_attacker_task_metrics():
    task = AttackerTask([("good film", 1), ("nice plot", 1)], [("fine acting", 1)], make_reward(0.9))
    m = task.metrics(["good film but", "nice plot but awful"], ["but", "but awful"], None, ["good film", "nice plot"])
    assert m["success"] == 1.0 and m["judge"] == 0.5 and m["gap"] == 0.5 and m["similarity"] == pytest.approx(0.9)
    assert task.heldout_prompts(5) == ["fine acting"]


def test_rl_policy_attacker_in_a_match(tmp_path, tiny_lm_dir, capsys):
    from arena.cli import main

    torch.manual_seed(0)
    policy = PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, device="cpu")
    policy.save(tmp_path / "policy")
    (tmp_path / "policy" / "arena_task.json").write_text(
        json.dumps({"task": "attacker", "judge": "vader", "max_tokens": 4})
    )
    (tmp_path / "defender.py").write_text(
        "import numpy as np\n"
        "def predict(texts):\n"
        "    p = np.array([0.2 if 'bad' in t.split() or 'dull' in t.split() else 0.9 for t in texts])\n"
        "    return np.stack([1 - p, p], 1)\n"
        "predict.labels = ['negative', 'positive']\n"
    )
    (tmp_path / "d.tsv").write_text(
        "text\tlabel\n"
        + "".join(
            f"{t}\t1\n"
            for t in ["the film was great", "the acting is fun", "the plot", "a very good movie", "the movie is bad"]
        )
    )
    args = [
        "match",
        "--classifier",
        f"{tmp_path}/defender.py:predict",
        "--attacker",
        f"rl:{tmp_path}/policy",
        "--rl-samples",
        "16",
        "--data",
        str(tmp_path / "d.tsv"),
        "--db",
        str(tmp_path / "a.db"),
        "--json",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n"] == 5 and summary["skipped"] == 1  # 'the movie is bad' is already wrong
    assert (
        summary["succeeded"] >= 1 and summary["avg_added_tokens"] == 4.0
    )  # 16 samples of 4 tokens over 22 words: 'bad'/'dull' turn up
    assert (
        "judge_agreement" not in summary and "eval_judge_agreement" not in summary
    )  # vader selected the texts: it does not report
    assert (
        main(args) == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"] == summary["run_id"]
    )  # resumed
    judged = [*args[:-3], "--db", str(tmp_path / "j.db"), "--json", "--eval-judge", "ngram"]
    assert main(judged) == 0
    assert (
        0.0 <= json.loads(capsys.readouterr().out.strip().splitlines()[-1])["eval_judge_agreement"] <= 1.0
    )  # an independent judge
    assert main([*judged[:-1], "vader"]) == 2 and "the judge that trains and selects" in capsys.readouterr().err
    with torch.no_grad():
        next(policy.model.parameters()).add_(0.01)  # "retrained": the stored results must not be reused
    policy.save(tmp_path / "policy")
    assert (
        main(args) == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"] != summary["run_id"]
    )


def test_train_attacker_task_end_to_end(tmp_path, tiny_lm_dir):
    from policies.train import PolicyRunConfig, train_policy

    (tmp_path / "defender.py").write_text(
        "import numpy as np\n"
        "def predict(texts):\n"
        "    p = np.array([0.2 if 'bad' in t.split() else 0.9 for t in texts])\n"
        "    return np.stack([1 - p, p], 1)\n"
        "predict.labels = ['negative', 'positive']\n"
    )
    (tmp_path / "d.tsv").write_text(
        "text\tlabel\n"
        + "".join(
            f"{t}\t1\n"
            for t in [
                "the film was great",
                "the acting is fun",
                "the plot",
                "a very good movie",
                "the movie is bad",
                "great fun",
            ]
        )
    )
    cfg = tiny_attacker_run(
        out=str(tmp_path / "run"),
        algo="cory",
        policy=tiny_lm_dir,
        reward=f"{tmp_path}/defender.py:predict",
        data=str(tmp_path / "d.tsv"),
        iterations=2,
    )
    summary = train_policy(cfg, progress=False)
    assert {"reward", "success", "judge", "gap", "similarity"} <= set(summary["final"])
    assert json.loads((tmp_path / "run" / "policy" / "arena_task.json").read_text())["task"] == "attacker"
    with pytest.raises(ValueError, match="defender and judge classify correctly"):
        train_policy(PolicyRunConfig(**{**cfg.__dict__, "out": str(tmp_path / "r2"), "heldout": 3}), progress=False)


def test_generator_policy_match_reports_the_reward_hacking_gap(tmp_path, tiny_lm_dir, capsys):
    from arena.cli import main
    from arena.store import Store

    torch.manual_seed(0)
    PolicyLM.from_pretrained(tiny_lm_dir, lora_r=0, device="cpu").save(tmp_path / "gen")
    (tmp_path / "gen" / "arena_task.json").write_text(
        json.dumps({"task": "generator", "target": "positive", "judge": "vader", "max_tokens": 4})
    )
    (tmp_path / "defender.py").write_text(
        "import numpy as np\n"
        "def predict(texts):\n"
        "    p = np.array([0.9 if 'film' in t.split() else 0.3 for t in texts])\n"
        "    return np.stack([1 - p, p], 1)\n"
        "predict.labels = ['negative', 'positive']\n"
    )
    (tmp_path / "d.tsv").write_text(
        "text\tlabel\n"
        + "".join(f"{t}\t1\n" for t in ["the film was great", "the acting is fun", "the plot", "a movie"])
    )
    db = tmp_path / "g.db"
    assert (
        main(
            [
                "match",
                "--classifier",
                f"{tmp_path}/defender.py:predict",
                "--attacker",
                f"gen:{tmp_path}/gen",
                "--data",
                str(tmp_path / "d.tsv"),
                "--db",
                str(db),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with Store(db) as store:
        results = store.results(summary["run_id"])
    gaps = [r.extra["defender_p"] - r.extra["judge_p"] for r in results]
    assert summary["reward_hacking_gap"] == round(float(np.mean(gaps)), 4) and len(results) == 4
    hacks = [
        r.extra["defender_p"] > 0.5 and r.extra["judge_p"] <= 0.5 for r in results
    ]  # a neutral judge (tie) does not confirm
    assert summary["succeeded"] == sum(hacks)
